// The review tab's keys and page state, passed to launch(js=...) by ui/theme.py.
// - Letter keys click the action buttons (only while visible, never while the user types,
//   never with Ctrl/Alt/Meta); J/K pressed in quick succession are queued, none dropped.
//   Ctrl+S / Ctrl+Enter save the edit, also from the editor.
// - E opens the editor (the refinement side of the diff becomes editable), Esc leaves it
//   (a second Esc closes it). While it is open, a pause in typing sends the draft
//   (#persd-live), which redraws the diff and runs the draft in the sandbox.
// - The record header carries the view's query (data-query): it is copied into the
//   address bar, so a reload or a shared link opens the same record and filters.
// - Without logins, the reviewer name is remembered in this browser's localStorage.
() => {
  const keys = {a: "persd-approve", r: "persd-reject", s: "persd-skip", u: "persd-undo",
                j: "persd-next", k: "persd-prev"};
  const byId = (id) => document.getElementById(id);
  const shown = (el) => !!el && el.offsetParent !== null && !el.disabled;
  const inEditor = (el) => !!(el && el.closest && el.closest("#persd-editor"));
  const typing = (el) => !!el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)
      || !!(el.closest && el.closest(".cm-editor, [contenteditable='true']")));
  const click = (id) => { const b = byId(id); if (shown(b)) { b.click(); return true; } return false; };

  // The mode is a class on the record's row, which the server never redraws.
  const mode = (on) => { const row = byId("persd-record"); if (row) row.classList.toggle("persd-editing", on); };
  const editing = () => !!document.querySelector("#persd-record.persd-editing");
  const editor = {
    open() {
      mode(true);
      const focus = () => {
        const content = document.querySelector("#persd-editor .cm-content");
        if (content) content.focus();
      };
      requestAnimationFrame(() => requestAnimationFrame(focus));
    },
    leave() {
      if (document.activeElement) document.activeElement.blur();
      const area = byId("persd-record-area");
      if (area) { area.setAttribute("tabindex", "-1"); area.focus({preventScroll: true}); }
    },
    close() { editor.leave(); mode(false); },
  };
  window.persdEditor = editor;

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const mod = event.ctrlKey || event.metaKey;
    if (mod && !event.altKey && (event.key === "s" || event.key === "S" || event.key === "Enter")) {
      if (!byId("persd-save")) return;
      event.preventDefault();
      flush();
      click("persd-save");
      return;
    }
    if (event.key === "Escape") {
      if (inEditor(target) || inEditor(document.activeElement)) {
        event.preventDefault(); event.stopPropagation(); editor.leave();
      } else if (!typing(target) && editing()) {
        editor.close();
      }
      return;
    }
    if (mod || event.altKey || event.repeat) return;
    if (typing(target) || typing(document.activeElement)) return;
    const key = event.key.toLowerCase();
    if (key === "e" && shown(byId("persd-edit"))) { event.preventDefault(); editor.open(); return; }
    const id = keys[key];
    if (!id || !shown(byId(id))) return;
    event.preventDefault();
    if (key === "j" || key === "k") moves.press(id); else byId(id).click();
  }, true);

  // J and K pressed while a move is on its way are replayed one at a time as each record
  // lands: three quick J's move three records (the app sends a move only from the record
  // it last drew). A header that does not change (J on the last record) frees the queue
  // after a while. Pressed while a new view loads (the page, a filter, My queue), they wait
  // for it: sent at once, a move landed before the view and the view then drew its first
  // record over it. The review tab's view events call viewChanging / viewLanded.
  const drawnRecord = () => {
    const head = document.querySelector("#persd-header .persd-header");
    return head ? head.getAttribute("data-refinement") || head.textContent : null;
  };
  const moves = {
    queue: [], before: null, timer: null, views: 0, viewTimer: null,
    busy() { return this.timer !== null || this.views > 0; },
    press(id) {
      if (this.busy()) { this.queue.push(id); return; }
      this.before = drawnRecord();
      this.timer = setTimeout(() => this.landed(), 3000);
      byId(id).click();
    },
    landed() {
      clearTimeout(this.timer);
      this.timer = null;
      this.replay();
    },
    replay() {
      if (this.busy()) return;
      const next = this.queue.shift();
      if (next && shown(byId(next))) this.press(next);
    },
    redrawn() { if (this.timer !== null && drawnRecord() !== this.before) this.landed(); },
    viewChanging() {
      this.views += 1;
      clearTimeout(this.viewTimer);  // a view that never answers frees the keys after a while
      this.viewTimer = setTimeout(() => { this.views = 0; this.replay(); }, 10000);
    },
    viewLanded() {
      this.views = Math.max(0, this.views - 1);
      if (this.views === 0) { clearTimeout(this.viewTimer); this.replay(); }
    },
  };
  window.persdMoves = moves;

  // A pause in typing sends the draft; only a real change of the text does (compared with
  // the text when the burst of keys began, so arrow keys alone send nothing).
  let timer = null, before = null;
  const editorText = () => {
    const content = document.querySelector("#persd-editor .cm-content");
    return content ? content.innerText : null;
  };
  const flush = () => {
    if (timer) { clearTimeout(timer); timer = null; }
  };
  // Leaving the editor drops a pending send: the next action carries the editor's text
  // itself, and a send fired after it would redraw the record just left.
  document.addEventListener("keydown", (event) => {
    if (!inEditor(event.target) || event.key === "Escape") flush();
    else if (timer === null) before = editorText();
  }, true);
  document.addEventListener("pointerdown", (event) => { if (!inEditor(event.target)) flush(); }, true);
  const later = (event) => {
    if (!inEditor(event.target)) return;
    flush();
    timer = setTimeout(() => {
      timer = null;
      const text = editorText();
      if (text === null || text === before) return;
      before = text;
      const live = byId("persd-live");
      if (live) live.click();
    }, 600);
  };
  for (const name of ["keyup", "paste", "cut", "drop"]) document.addEventListener(name, later, true);

  // The view's query into the address bar; the reviewer name into localStorage.
  const syncUrl = () => {
    const head = document.querySelector("#persd-header .persd-header[data-query]");
    if (!head) return;
    const query = head.getAttribute("data-query");
    if (query && window.location.search !== "?" + query) {
      history.replaceState(null, "", window.location.pathname + "?" + query + window.location.hash);
    }
  };
  // A draft's run that finished after the reviewer moved on belongs to another record.
  const staleRun = () => {
    const run = document.querySelector("#persd-run .persd-run[data-record]");
    const head = document.querySelector("#persd-header .persd-header[data-refinement]");
    if (run && head && run.getAttribute("data-record") !== head.getAttribute("data-refinement")) {
      run.style.display = "none";
    }
  };
  const watch = () => {
    const header = byId("persd-header"), run = byId("persd-run");
    if (!header || !run) return false;
    const options = {childList: true, subtree: true, attributes: true};
    const redrawn = () => { syncUrl(); staleRun(); moves.redrawn(); };
    new MutationObserver(redrawn).observe(header, options);
    new MutationObserver(staleRun).observe(run, {childList: true, subtree: true});
    return true;
  };
  const reviewer = () => document.querySelector("#persd-reviewer textarea, #persd-reviewer input");
  const remember = () => {
    const box = reviewer();
    if (!box || box.offsetParent === null) return false;
    const saved = localStorage.getItem("persd-reviewer");
    if (saved && box.value !== saved) {
      box.value = saved;
      box.dispatchEvent(new Event("input", {bubbles: true}));
    }
    box.addEventListener("input", () => localStorage.setItem("persd-reviewer", box.value.trim()));
    return true;
  };
  let watching = false, remembered = false, tries = 0;
  const setup = setInterval(() => {
    watching = watching || watch();
    remembered = remembered || remember();
    if ((watching && remembered) || ++tries > 100) clearInterval(setup);
  }, 100);
}
