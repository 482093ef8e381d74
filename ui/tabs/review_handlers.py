"""What the review tab's events do: plain functions from widget values to widget updates,
so they can be timed (benchmarks/review_latency.py) and tested without a browser.

    handlers = ReviewHandlers(Stores("sessions"), SharedExecutor())
    out = handlers.open(Inputs(session="demo", reviewer="ana", state=new_state()))
    out = handlers.approve(Inputs(session="demo", reviewer="ana", state=out["state"],
                                  code=out["editor"]))

Every handler returns a dict keyed by the names in `OUTPUTS` holding only what changed;
the tab maps the names to its components with `Keyed`. The per-browser state is a dict: the session,
the record shown, the review version it was shown at (what an action is checked against),
the program it showed (`base`: an editor holding anything else is a draft), the filters
last applied (the keys' events read them from here, not from the filter widgets), a
pending bulk plan and the newest review event seen (for `poll`). Drafts live apart, in the
browser's localStorage (`drafts`: "session:record id" -> code), so they outlive moving on
and a reload. Drawing a record is `persd_app.tabs.review_record.RecordScreen`'s; bulk
decisions and the poll are `persd_app.tabs.review_session.SessionWideActions`'.
"""

from __future__ import annotations

import gradio as gr

from persd.analysis.signatures import refinements_matching
from persd.review import (
    ReviewConflict, ReviewRefused, approve, conflict_message, reject, run_edit, save_edit, skip,
    undo,
)
from persd.review_reasons import compose
from persd.store import StoreError
from persd_app.tabs import SharedExecutor, Stores
from persd_app.tabs import review_render as render
from persd_app.tabs.review_record import RecordScreen
from persd_app.tabs.review_session import SessionWideActions
from persd_app.tabs.review_query import (
    ANY, DEFAULT_FILTERS, FILTER_NAMES, MINE, Inputs, filters_from, new_state, read_query,
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
_LIVE = ("state", "drafts", "header", "metrics", "diff", "run")
_LAST = 2**62  # "before this id" = from the end of the queue
_NOUNS = {"approved": "approval", "edited": "edit", "rejected": "rejection", "skipped": "skip"}


class ReviewHandlers:
    def __init__(self, stores: Stores, executor: SharedExecutor) -> None:
        self.stores, self.executor = stores, executor
        self.screen = RecordScreen(stores)
        self.session_wide = SessionWideActions(self.screen)

    # -- beyond the record shown (persd_app.tabs.review_session) -------------------------

    def poll(self, i: Inputs) -> dict:
        return self.session_wide.poll(i)

    def bulk_ask(self, i: Inputs, status: str) -> dict:
        return self.session_wide.bulk_ask(i, status)

    def bulk_confirm(self, i: Inputs, undecided_only: bool = False) -> dict:
        return self.session_wide.bulk_confirm(i, undecided_only)

    def bulk_cancel(self, i: Inputs) -> dict:
        return self.session_wide.bulk_cancel(i)

    # -- navigation --------------------------------------------------------------------

    def open_from_url(self, i: Inputs) -> dict:
        """The page loaded or another session was picked: filters and record from the URL
        (`?session=demo&record=12&status=any`) when it names this session."""
        wanted = read_query(i.url, i.session, lambda sig: refinements_matching(
            self.screen.store(i), sig), i.reviewer)
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
            return self.screen.empty(state, "", render.NO_SESSION)
        try:
            store = self.stores.get(i.session)
        except StoreError as error:
            return self.screen.empty(state, render.message("error", str(error)))
        self.screen.stash(i)
        note = ""
        if record is not None:
            try:
                store.refinements.get(record)
            except StoreError:
                note, record = render.message("warn", f"The link's record {record} is not in "
                                              f"this session; showing the first one."), None
        if record is None:
            first = store.queue.list(i.filters, limit=1)
            record = first[0].refinement_id if first else None
        out = self.screen.show(i, {**state, "event": store.reviews.last_event_id()}, record, note)
        return {**out, "error_type_choices": gr.update(choices=[ANY, *store.queue.error_types()])}

    def my_queue(self, i: Inputs) -> dict:
        """The "My queue" button: the records assigned to the signed-in reviewer (review
        assignments and review studies), under the other filters as they stand."""
        i.raw_filters = {**DEFAULT_FILTERS, **i.raw_filters, "f_search": MINE}
        i.filters = filters_from(*(i.raw_filters[name] for name in FILTER_NAMES),
                                 reviewer=i.reviewer)
        return {**self.open(i), "f_search": MINE}

    def next(self, i: Inputs) -> dict:
        self.screen.stash(i)
        rid = i.state["id"]
        rows = self.screen.store(i).queue.list(i.filters, after_id=rid, limit=1) if rid else []
        if rid and not rows:
            return self.screen.show(i, i.state, rid, render.message(
                "info", "This is the last record in this view: J does not wrap. K goes back; "
                "change the filters to see others."), keep_editor=True)
        return self.screen.show(i, i.state, rows[0].refinement_id if rows else self.screen.after(i, None),
                          "")

    def prev(self, i: Inputs) -> dict:
        self.screen.stash(i)
        rid = i.state["id"]
        rows = self.screen.store(i).queue.list(i.filters, before_id=rid or _LAST, limit=1)
        if rid and not rows:
            return self.screen.show(i, i.state, rid, render.message(
                "info", "This is the first record in this view: K does not wrap. J goes on."),
                keep_editor=True)
        return self.screen.show(i, i.state, rows[0].refinement_id if rows else None, "")

    def refresh(self, i: Inputs) -> dict:
        """Show the current record again (a display toggle changed)."""
        self.screen.stash(i)
        out = self.screen.show(i, i.state, i.state["id"], "", keep_editor=True)
        if not i.show_reference:
            out["reference_diff"] = gr.update(value="", visible=False)
        return out

    # -- editing -------------------------------------------------------------------------

    def live(self, i: Inputs) -> dict:
        """The editor paused: keep its text as the record's draft and redraw the diff."""
        if i.state.get("id") is None:
            return {}
        self.screen.stash(i)
        out = self.screen.show(i, i.state, i.state["id"], "", keep_editor=True, run_draft=False)
        # Only what the draft changes: a message from an action must stay readable.
        return {name: out[name] for name in _LIVE if name in out}

    def run_draft(self, i: Inputs) -> dict:
        """After `live`: the draft's run against the hidden tests, in the sandbox."""
        rid = i.state.get("id")
        code = i.code or ""
        if rid is None or code.rstrip() == (i.state.get("base") or "").rstrip():
            return {}
        store = self.screen.store(i)
        known = self.screen.run_of(i.session, rid, code)
        try:
            run = store.executions.get(known) if known else run_edit(store, self.executor(), rid, code)
        except ReviewRefused as error:
            return {"run": render.message("info", str(error))}
        self.screen.remember_run(i.session, rid, code, run.id)
        return {"run": render.run_panel("Your draft", run, record=rid)}

    def discard(self, i: Inputs) -> dict:
        self.screen.drop_draft(i)
        i.code = None
        out = self.screen.show(i, i.state, i.state["id"], render.message("info", "Draft discarded."))
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
        self.screen.stash(i)  # a skipped record keeps its draft for later
        return self._act(i, lambda store, rid, v: (skip(
            store, rid, reviewer=i.reviewer, expected_version=v), "Skipped", None), advance=True,
            repeats=("skipped",))

    def undo(self, i: Inputs) -> dict:
        store = self.screen.store(i)
        state = {**i.state, "bulk": None}
        self.screen.stash(i)
        try:
            event = store.reviews.last_action(i.reviewer)
            if event is None:
                return self.screen.show(i, state, state["id"], render.message(
                    "info", f"Nothing of {i.reviewer}'s left to revert."), keep_editor=True)
            restored = undo(store, i.reviewer)
        except ReviewConflict as error:
            return self.screen.show(i, state, state["id"], render.message(
                "error", "Cannot undo: " + conflict_message(store, error)), keep_editor=True)
        except ReviewRefused as error:
            return self.screen.show(i, state, state["id"], render.message("error", str(error)),
                              keep_editor=True)
        task_id = store.refinements.get(event.refinement_id).task_id
        noun = _NOUNS.get(event.new_status, event.new_status)
        if event.batch:
            text = f"Undid your bulk {noun}: {task_id} and the rest of that batch are back."
        else:
            text = f"Undid your {noun} of {task_id}: it is {restored.status} again."
        return self.screen.show(i, state, restored.refinement_id, render.message("ok", text))

    # -- internals -----------------------------------------------------------------------

    def _act(self, i: Inputs, action, advance: bool, repeats: tuple[str, ...] = ()) -> dict:
        """Run `action` on the record shown. `repeats`: the statuses this action sets; a
        conflict that is only this reviewer's own same decision (the key pressed again
        before the next record was drawn) is not an error: the view moves on as once."""
        rid, version = i.state["id"], i.state["version"]
        if rid is None:
            return {"message": render.message("info", "No record selected.")}
        store = self.screen.store(i)
        state = {**i.state, "bulk": None}
        try:
            review, done, checked = action(store, rid, version)
        except ReviewConflict as error:
            if _own_repeat(error, i.reviewer, version, repeats):
                return self.screen.show(i, state, self.screen.after(i, rid), render.message(
                    "ok", f"Already {error.current.status}: {store.refinements.get(rid).task_id} "
                    f"(version {error.current.version}, by {i.reviewer})."))
            self.screen.stash(i)
            text = "Conflict: " + conflict_message(store, error)
            return self.screen.show(i, state, rid, render.message("error", text), keep_editor=True)
        except StoreError as error:  # a read-only session, a full disk
            self.screen.stash(i)
            return self.screen.show(i, state, rid, render.message("error", str(error)),
                              keep_editor=True)
        except ReviewRefused as error:
            self.screen.stash(i)
            if error.execution is not None:
                self.screen.remember_run(i.session, rid, i.code or "", error.execution.id)
            return self.screen.show(i, state, rid, render.message("error", str(error)),
                              keep_editor=True)
        task_id = store.refinements.get(rid).task_id
        # The review's own author: pressing A on another reviewer's edit keeps theirs.
        text = f"{done}: {task_id} (version {review.version}, by {review.reviewer or i.reviewer})."
        if review.status in ("approved", "edited"):
            self.screen.drop_draft(i, rid)
        elif self.screen.key(i, rid) in i.drafts:
            text += " Your draft of it is kept."
        target = self.screen.after(i, rid) if advance else rid
        i.code = None  # the editor shows the record as stored now
        return self.screen.show(i, state, target, render.message("ok", text))

    def _accept(self, i: Inputs, store, rid: int, version: int, advance: bool):
        """Approve the teacher's code, keep a saved edit, or save the editor's code as an
        edit (re-run first, reusing this browser's last run of the same code)."""
        refinement, review = store.refinements.get(rid), store.reviews.get(rid)
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
        known = self.screen.run_of(i.session, rid, code)
        earlier = store.executions.get(known) if known else None
        outcome = save_edit(store, self.executor(), rid, code, reviewer=i.reviewer,
                            expected_version=version, override=i.override, execution=earlier)
        self.screen.remember_run(i.session, rid, code, outcome.execution.id)
        verdict = "passes" if outcome.execution.result.passed else "FAILS (override)"
        return outcome.review, f"Saved edit ({verdict} the hidden tests)", None



def _own_repeat(error: ReviewConflict, reviewer: str, version: int,
                repeats: tuple[str, ...]) -> bool:
    current = error.current
    return (current.reviewer == reviewer and current.status in repeats
            and current.version == version + 1)
