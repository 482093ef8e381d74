// Keyboard shortcuts of the review tab, passed to launch(js=...) by ui/theme.py.
// A key clicks the button with that elem_id, only while the button is visible, never while
// the user types (text boxes, the code editor) and never with Ctrl/Alt/Meta held.
() => {
  const keys = {a: "persd-approve", e: "persd-edit", r: "persd-reject", s: "persd-skip",
                u: "persd-undo", j: "persd-next", k: "persd-prev"};
  const typing = (el) => !!el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)
      || !!(el.closest && el.closest(".cm-editor, [contenteditable='true']")));
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.altKey || event.metaKey || event.repeat) return;
    if (typing(event.target) || typing(document.activeElement)) return;
    const id = keys[event.key.toLowerCase()];
    if (!id) return;
    const button = document.getElementById(id);
    if (!button || button.offsetParent === null || button.disabled) return;
    event.preventDefault();
    button.click();
  });
}
