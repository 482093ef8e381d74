"""What the review tab's events do: plain functions from widget values to widget updates,
so they can be timed (benchmarks/review_latency.py) and tested without a browser.

    handlers = ReviewHandlers(Stores("sessions"), SharedExecutor())
    out = handlers.open(Inputs(session="demo", reviewer="ana", state=new_state()))
    out = handlers.approve(Inputs(session="demo", reviewer="ana", state=out["state"],
                                  code=out["editor"]))

Every handler returns a dict keyed by the names in `OUTPUTS` holding only what changed;
the tab maps the names to its components. The per-browser state is a dict: the session,
the record shown, the review version it was shown at (what an action is checked against),
the program it showed (`base`: an editor holding anything else is a draft), the filters
last applied (the keys' events read them from here, not from the filter widgets), a
pending bulk plan and the newest review event seen (for `poll`). Drafts live apart, in the
browser's localStorage (`drafts`: "session:record id" -> code), so they outlive moving on
and a reload. Bulk decisions and the poll are in `persd_app.tabs.review_session`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Any

import gradio as gr

from persd.analysis.signatures import refinements_matching
from persd.code.diffing import diff_size, side_by_side, similarity
from persd.review import (
    ReviewConflict, ReviewRefused, approve, conflict_message, reject, review_view, run_edit,
    save_edit, skip, undo,
)
from persd.review_reasons import compose
from persd.store import StoreError
from persd_app.tabs import SharedExecutor, Stores
from persd_app.tabs import review_render as render
from persd_app.tabs.review_diff import diff_html
from persd_app.tabs.review_session import SessionWideActions
from persd_app.tabs.review_query import (
    ANY, DEFAULT_FILTERS, FILTER_NAMES, Inputs, describe, editor_key, filters_from, new_state,
    read_query, write_query,
)

__all__ = ["ANY", "DEFAULT_FILTERS", "FILTER_NAMES", "OUTPUTS", "RECORD_OUTPUTS", "Inputs",
           "ReviewHandlers", "filters_from", "new_state"]

# What a record's events redraw. Layout blocks (rows, columns) are never outputs: Gradio's
# page walks every output's subtree several times per event, which cost a key press more
# than the server did. Whether the record area and the bulk question show follows the
# header and the question's text, in CSS (assets/app.css).
RECORD_OUTPUTS = ("state", "drafts", "counts", "header", "message", "reason", "failure", "run",
                  "task", "editor", "editor_of", "metrics", "diff", "reference_diff",
                  "confirm_text")
OUTPUTS = (*RECORD_OUTPUTS, "confirm_button", "confirm_undecided", "error_type_choices",
           *FILTER_NAMES)
_RUNS_KEPT = 512
_LIVE = ("state", "drafts", "header", "metrics", "diff", "run")
_LAST = 2**62  # "before this id" = from the end of the queue
_NOUNS = {"approved": "approval", "edited": "edit", "rejected": "rejection", "skipped": "skip"}


class ReviewHandlers(SessionWideActions):
    def __init__(self, stores: Stores, executor: SharedExecutor) -> None:
        self.stores, self.executor = stores, executor
        # (session, record, program) -> its stored sandbox run: a draft run while typing is
        # not run again on saving. Kept here, not in the browser's state: the run finishes
        # after the reviewer may have moved on, and must not write a stale state back.
        self._runs: OrderedDict[tuple[str, int, str], int] = OrderedDict()
        self._runs_lock = threading.Lock()

    def _run_of(self, session: str | None, rid: int, code: str) -> int | None:
        with self._runs_lock:
            return self._runs.get((session or "", rid, code))

    def _remember_run(self, session: str | None, rid: int, code: str, execution_id: int) -> None:
        with self._runs_lock:
            self._runs[(session or "", rid, code)] = execution_id
            while len(self._runs) > _RUNS_KEPT:
                self._runs.popitem(last=False)

    # -- navigation --------------------------------------------------------------------

    def open_from_url(self, i: Inputs) -> dict:
        """The page loaded or another session was picked: filters and record from the URL
        (`?session=demo&record=12&status=any`) when it names this session."""
        wanted = read_query(i.url, i.session, lambda sig: refinements_matching(
            self._store(i), sig), i.reviewer)
        if wanted is None:
            return self.open(i)
        i.raw_filters, i.filters = wanted.raw, wanted.filters
        out = self.open(i, record=wanted.record)
        raw = dict(wanted.raw)
        error_type = raw.pop("f_error")  # one widget: its choices and value in one update
        out = {**out, **raw}
        out["error_type_choices"] = {**out.get("error_type_choices", {}), "value": error_type}
        return out

    def open(self, i: Inputs, record: int | None = None) -> dict:
        """A session was picked or the filters changed: show the first matching record."""
        state = {**new_state(), "session": i.session}
        if not i.session:
            return self._empty(state, "", render.NO_SESSION)
        try:
            store = self.stores.get(i.session)
        except StoreError as error:
            return self._empty(state, render.message("error", str(error)))
        self._stash(i)
        note = ""
        if record is not None:
            try:
                store.refinement(record)
            except StoreError:
                note, record = render.message("warn", f"The link's record {record} is not in "
                                              f"this session; showing the first one."), None
        if record is None:
            first = store.review_queue(i.filters, limit=1)
            record = first[0].refinement_id if first else None
        out = self._show(i, {**state, "event": store.last_review_event_id()}, record, note)
        return {**out, "error_type_choices": gr.update(choices=[ANY, *store.error_types()])}

    def next(self, i: Inputs) -> dict:
        self._stash(i)
        rid = i.state["id"]
        rows = self._store(i).review_queue(i.filters, after_id=rid, limit=1) if rid else []
        if rid and not rows:
            return self._show(i, i.state, rid, render.message(
                "info", "This is the last record in this view: J does not wrap. K goes back; "
                "change the filters to see others."), keep_editor=True)
        return self._show(i, i.state, rows[0].refinement_id if rows else self._after(i, None),
                          "")

    def prev(self, i: Inputs) -> dict:
        self._stash(i)
        rid = i.state["id"]
        rows = self._store(i).review_queue(i.filters, before_id=rid or _LAST, limit=1)
        if rid and not rows:
            return self._show(i, i.state, rid, render.message(
                "info", "This is the first record in this view: K does not wrap. J goes on."),
                keep_editor=True)
        return self._show(i, i.state, rows[0].refinement_id if rows else None, "")

    def refresh(self, i: Inputs) -> dict:
        """Show the current record again (a display toggle changed)."""
        self._stash(i)
        out = self._show(i, i.state, i.state["id"], "", keep_editor=True)
        if not i.show_reference:
            out["reference_diff"] = gr.update(value="", visible=False)
        return out

    # -- editing -------------------------------------------------------------------------

    def live(self, i: Inputs) -> dict:
        """The editor paused: keep its text as the record's draft and redraw the diff."""
        if i.state.get("id") is None:
            return {}
        self._stash(i)
        out = self._show(i, i.state, i.state["id"], "", keep_editor=True, run_draft=False)
        # Only what the draft changes: a message from an action must stay readable.
        return {name: out[name] for name in _LIVE if name in out}

    def run_draft(self, i: Inputs) -> dict:
        """After `live`: the draft's run against the hidden tests, in the sandbox."""
        rid = i.state.get("id")
        code = i.code or ""
        if rid is None or code.rstrip() == (i.state.get("base") or "").rstrip():
            return {}
        store = self._store(i)
        known = self._run_of(i.session, rid, code)
        try:
            run = store.execution(known) if known else run_edit(store, self.executor(), rid, code)
        except ReviewRefused as error:
            return {"run": render.message("info", str(error))}
        self._remember_run(i.session, rid, code, run.id)
        return {"run": render.run_panel("Your draft", run, record=rid)}

    def discard(self, i: Inputs) -> dict:
        self._drafts_drop(i)
        i.code = None
        out = self._show(i, i.state, i.state["id"], render.message("info", "Draft discarded."))
        return out

    # -- actions on the current record ---------------------------------------------------

    def approve(self, i: Inputs) -> dict:
        """Accept what the editor holds: the teacher's code as is, or a draft (re-run)."""
        return self._act(i, lambda store, rid, v: self._accept(i, store, rid, v, advance=True),
                         advance=True, repeats=("approved", "edited"))

    def save_edit(self, i: Inputs) -> dict:
        """Re-run the edited code and store it as "edited"; stay on the record."""
        return self._act(i, lambda store, rid, v: self._accept(i, store, rid, v, advance=False),
                         advance=False)

    def reject(self, i: Inputs) -> dict:
        reason = compose(i.reason_kind, i.reason) or ""
        done = "Rejected" + (f" ({reason})" if reason else "")
        return self._act(i, lambda store, rid, v: (reject(
            store, rid, reviewer=i.reviewer, expected_version=v, reason=reason), done, None),
            advance=True, repeats=("rejected",))

    def skip(self, i: Inputs) -> dict:
        self._stash(i)  # a skipped record keeps its draft for later
        return self._act(i, lambda store, rid, v: (skip(
            store, rid, reviewer=i.reviewer, expected_version=v), "Skipped", None), advance=True,
            repeats=("skipped",))

    def undo(self, i: Inputs) -> dict:
        store = self._store(i)
        state = {**i.state, "bulk": None}
        self._stash(i)
        try:
            event = store.last_action(i.reviewer)
            if event is None:
                return self._show(i, state, state["id"], render.message(
                    "info", f"Nothing of {i.reviewer}'s left to revert."), keep_editor=True)
            restored = undo(store, i.reviewer)
        except ReviewConflict as error:
            return self._show(i, state, state["id"], render.message(
                "error", "Cannot undo: " + conflict_message(store, error)), keep_editor=True)
        except ReviewRefused as error:
            return self._show(i, state, state["id"], render.message("error", str(error)),
                              keep_editor=True)
        task_id = store.refinement(event.refinement_id).task_id
        noun = _NOUNS.get(event.new_status, event.new_status)
        if event.batch:
            text = f"Undid your bulk {noun}: {task_id} and the rest of that batch are back."
        else:
            text = f"Undid your {noun} of {task_id}: it is {restored.status} again."
        return self._show(i, state, restored.refinement_id, render.message("ok", text))

    # -- internals -----------------------------------------------------------------------

    def _store(self, i: Inputs):
        return self.stores.get(i.session)

    def _key(self, i: Inputs, rid: int | None = None) -> str:
        return editor_key(i.session, i.state.get("id") if rid is None else rid)

    def _stash(self, i: Inputs) -> None:
        """Keep the editor's text as the shown record's draft (or forget a draft that went
        back to the stored program)."""
        if i.code is None or i.state.get("id") is None or i.state.get("session") != i.session:
            return
        if not i.code.strip() or i.code.rstrip() == (i.state.get("base") or "").rstrip():
            i.drafts.pop(self._key(i), None)  # a blank editor is no draft to keep
        else:
            i.drafts[self._key(i)] = i.code

    def _drafts_drop(self, i: Inputs, rid: int | None = None) -> None:
        i.drafts.pop(self._key(i, rid), None)

    def _act(self, i: Inputs, action, advance: bool, repeats: tuple[str, ...] = ()) -> dict:
        """Run `action` on the record shown. `repeats`: the statuses this action sets; a
        conflict that is only this reviewer's own same decision (the key pressed again
        before the next record was drawn) is not an error: the view moves on as once."""
        rid, version = i.state["id"], i.state["version"]
        if rid is None:
            return {"message": render.message("info", "No record selected.")}
        store = self._store(i)
        state = {**i.state, "bulk": None}
        try:
            review, done, checked = action(store, rid, version)
        except ReviewConflict as error:
            if _own_repeat(error, i.reviewer, version, repeats):
                return self._show(i, state, self._after(i, rid), render.message(
                    "ok", f"Already {error.current.status}: {store.refinement(rid).task_id} "
                    f"(version {error.current.version}, by {i.reviewer})."))
            self._stash(i)
            text = "Conflict: " + conflict_message(store, error)
            return self._show(i, state, rid, render.message("error", text), keep_editor=True)
        except StoreError as error:  # a read-only session, a full disk
            self._stash(i)
            return self._show(i, state, rid, render.message("error", str(error)),
                              keep_editor=True)
        except ReviewRefused as error:
            self._stash(i)
            if error.execution is not None:
                self._remember_run(i.session, rid, i.code or "", error.execution.id)
            return self._show(i, state, rid, render.message("error", str(error)),
                              keep_editor=True)
        task_id = store.refinement(rid).task_id
        # The review's own author: pressing A on another reviewer's edit keeps theirs.
        text = f"{done}: {task_id} (version {review.version}, by {review.reviewer or i.reviewer})."
        if review.status in ("approved", "edited"):
            self._drafts_drop(i, rid)
        elif self._key(i, rid) in i.drafts:
            text += " Your draft of it is kept."
        target = self._after(i, rid) if advance else rid
        i.code = None  # the editor shows the record as stored now
        return self._show(i, state, target, render.message("ok", text))

    def _accept(self, i: Inputs, store, rid: int, version: int, advance: bool):
        """Approve the teacher's code, keep a saved edit, or save the editor's code as an
        edit (re-run first, reusing this browser's last run of the same code)."""
        refinement, review = store.refinement(rid), store.review(rid)
        stored = review.edited_program or refinement.program or ""
        code = i.code if i.code is not None else stored
        if code.rstrip() == stored.rstrip():
            if not advance:
                raise ReviewRefused("No change to save: press E and edit the refinement first.")
            if review.status == "edited":
                if review.version != version:
                    raise ReviewConflict(review, version)
                return review, "Kept the saved edit", None
            return approve(store, rid, reviewer=i.reviewer, expected_version=version,
                           override=i.override), "Approved", None
        known = self._run_of(i.session, rid, code)
        earlier = store.execution(known) if known else None
        outcome = save_edit(store, self.executor(), rid, code, reviewer=i.reviewer,
                            expected_version=version, override=i.override, execution=earlier)
        self._remember_run(i.session, rid, code, outcome.execution.id)
        verdict = "passes" if outcome.execution.passed else "FAILS (override)"
        return outcome.review, f"Saved edit ({verdict} the hidden tests)", None

    def _after(self, i: Inputs, rid: int | None) -> int | None:
        """The next record after an action took `rid` out of the way (wrapping: records
        before it may still be left)."""
        store = self._store(i)
        rows = store.review_queue(i.filters, after_id=rid, limit=1) if rid is not None else []
        rows = rows or store.review_queue(i.filters, limit=1)
        return rows[0].refinement_id if rows else None

    def _counts(self, i: Inputs, store) -> str:
        return render.counts(store.review_counts(), store.review_queue_count(i.filters),
                             describe(i.filters), store.simulated)

    def _empty(self, state: dict[str, Any], note: str, empty: str = "") -> dict:
        return {"state": state, "counts": "", "header": render.header(None, False, empty),
                "message": note, "reason": "", "failure": "", "run": "", "task": "",
                "editor": "", "editor_of": "", "metrics": "", "diff": "",
                "reference_diff": gr.update(value="", visible=False),
                "confirm_text": ""}

    def _show(self, i: Inputs, state: dict[str, Any], rid: int | None, note: str, *,
              keep_editor: bool = False, run_draft: bool = True) -> dict:
        """Render record `rid` (None: the view is empty) and the counts. Moving to another
        record clears the reject reason: it belonged to the last one."""
        store = self._store(i)
        view = review_view(store, rid, with_reference=i.show_reference) if rid else None
        same = rid == i.state.get("id") and i.session == i.state.get("session")
        key = self._key(i, rid)
        if view is None:
            code = ""
        elif same and keep_editor and i.code is not None:
            code = i.code
        else:
            code = i.drafts.get(key) or view.current_program  # a blank one kept earlier: none
        draft = view is not None and code.rstrip() != view.current_program.rstrip()
        state = {**state, "session": i.session, "id": rid, "filters": dict(i.raw_filters),
                 "version": view.version if view else 0,
                 "base": view.current_program if view else "",
                 "event": max(state.get("event") or 0, store.last_review_event_id())}
        query = write_query(i.session, rid, i.raw_filters)
        out = {"state": state, "drafts": dict(i.drafts), "counts": self._counts(i, store),
               "header": render.header(view, store.simulated, self._no_match(i, store, view),
                                       draft=draft, query=query,
                                       source=store.import_source(rid) if rid else None),
               "message": note, "confirm_text": ""}
        if not same:
            out["reason"] = ""
        if view is None:
            blank = dict.fromkeys(("failure", "run", "task", "editor", "editor_of", "metrics", "diff"), "")
            return {**out, **blank, "reference_diff": gr.update(value="", visible=False)}
        if not (same and keep_editor):
            out["editor"], out["editor_of"] = code, key
        right = ("Your draft (unsaved)" if draft else "Edited refinement"
                 if view.current_program != view.refinement_program else view.refinement_label)
        shown = replace(view, similarity=similarity(view.attempt_program, code),
                        diff_size=diff_size(view.attempt_program, code)) if draft else view
        out.update(
            failure=render.failure(view), task=view.description, metrics=render.metrics(shown),
            diff=diff_html(side_by_side(view.attempt_program, code), "Student attempt", right,
                           hide_blank=i.hide_blank))
        if i.show_reference:  # else it stays hidden (`refresh` hides it when unticked)
            out["reference_diff"] = gr.update(value=view.reference_diff_html or "", visible=True)
        if run_draft or not draft:
            out["run"] = self._run_html(i, store, view, code, draft)
        else:
            out["run"] = render.message("info", "Your draft: running the hidden tests…")
        return out

    def _run_html(self, i: Inputs, store, view, code: str, draft: bool) -> str:
        if draft:
            known = self._run_of(i.session, view.refinement_id, code)
            if known:
                return render.run_panel("Your draft", store.execution(known))
            return render.message("info", "Your draft has not been run yet: pause typing, or "
                                  "Ctrl+S saves it (it is run first).")
        if view.edit_execution is not None:
            return render.run_panel("Saved edit", view.edit_execution)
        return render.run_panel(view.refinement_label, view.refinement_run, view.validated,
                                view.validation_feedback)


def _own_repeat(error: ReviewConflict, reviewer: str, version: int,
                repeats: tuple[str, ...]) -> bool:
    current = error.current
    return (current.reviewer == reviewer and current.status in repeats
            and current.version == version + 1)
