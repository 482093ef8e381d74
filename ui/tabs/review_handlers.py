"""What the review tab's events do: plain functions from widget values to widget updates,
so they can be timed (benchmarks/review_latency.py) and tested without a browser.

    handlers = ReviewHandlers(Stores("sessions"), SharedExecutor())
    out = handlers.open(Inputs(session="demo", reviewer="ana", state=new_state()))
    out = handlers.approve(Inputs(session="demo", reviewer="ana", state=out[0], code=...))

Every handler returns the tuple `OUTPUTS` names, in that order. The per-browser state is a
dict: the session, the record shown and the review version it was shown at (what an action
is checked against), the last edit run, and a pending bulk plan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gradio as gr

from persd.review import (
    BulkPlan,
    ReviewConflict,
    ReviewRefused,
    ReviewView,
    apply_bulk,
    approve,
    plan_bulk,
    reject,
    review_view,
    save_edit,
    skip,
    undo,
)
from persd.store import QueueFilters, StoreError
from ui.tabs import SharedExecutor, Stores
from ui.tabs import review_render as render

OUTPUTS = ("state", "counts", "header", "message", "task", "feedback", "attempt", "editor",
           "run", "metrics", "diff", "reference_diff", "confirm_row", "confirm_text",
           "confirm_button", "error_type_choices", "record_area")
ANY = "any"
_LAST = 2**62  # "before this id" = from the end of the queue
_NOUNS = {"approved": "approval", "edited": "edit", "rejected": "rejection", "skipped": "skip"}


def _record_area(shown: bool) -> Any:
    # Collapsed by a class, not visible=False: the code editors inside must stay laid out,
    # or CodeMirror measures nothing and draws its line numbers out of step when shown.
    return gr.update(elem_classes=[] if shown else ["persd-collapsed"])


def new_state() -> dict[str, Any]:
    return {"session": None, "id": None, "version": 0, "checked": None, "bulk": None}


def filters_from(status: str | None = "pending", error_type: str | None = ANY,
                 validated: str | None = ANY, round_: str | int | None = None,
                 search: str | None = "", max_diff: str | int | None = None) -> QueueFilters:
    """QueueFilters from the filter widgets' values ("any" and empty mean no filter);
    ValueError with a readable message for a number that is not one."""
    return QueueFilters(
        status=None if status in (None, "", ANY) else status,
        error_type=None if error_type in (None, "", ANY) else error_type,
        validated={"yes": True, "no": False}.get(validated or ANY),
        round=_whole(round_, "Round"),
        search=(search or "").strip() or None,
        max_diff_lines=_whole(max_diff, "Max diff lines"),
    )


def _whole(value: str | int | None, name: str) -> int | None:
    text = str(value if value is not None else "").strip()
    if text in ("", ANY):
        return None
    if not text.isdigit():
        raise ValueError(f"{name}: expected a whole number or nothing, not {text!r}")
    return int(text)


@dataclass
class Inputs:
    session: str | None
    reviewer: str
    state: dict[str, Any]
    filters: QueueFilters = field(default_factory=lambda: filters_from())
    show_reference: bool = False
    code: str = ""
    override: bool = False
    reason: str = ""


class ReviewHandlers:
    def __init__(self, stores: Stores, executor: SharedExecutor) -> None:
        self.stores, self.executor = stores, executor

    # -- navigation --------------------------------------------------------------------

    def open(self, i: Inputs) -> tuple:
        """A session was picked or the filters changed: show the first matching record."""
        state = {**new_state(), "session": i.session}
        if not i.session:
            return self._empty(state, "", render.NO_SESSION)
        try:
            store = self.stores.get(i.session)
        except StoreError as error:
            return self._empty(state, render.message("error", str(error)))
        first = store.review_queue(i.filters, limit=1)
        choices = [ANY, *store.error_types()]
        return self._show(i, state, first[0].refinement_id if first else None, "",
                          error_choices=gr.update(choices=choices))

    def next(self, i: Inputs) -> tuple:
        return self._show(i, i.state, self._after(i, i.state["id"]), "")

    def prev(self, i: Inputs) -> tuple:
        store = self.stores.get(i.session)
        rows = store.review_queue(i.filters, before_id=i.state["id"] or _LAST, limit=1)
        rows = rows or store.review_queue(i.filters, before_id=_LAST, limit=1)
        return self._show(i, i.state, rows[0].refinement_id if rows else None, "")

    def refresh(self, i: Inputs) -> tuple:
        """Show the current record again (e.g. the reference diff was toggled)."""
        return self._show(i, i.state, i.state["id"], "", keep_editor=True)

    # -- actions on the current record ---------------------------------------------------

    def approve(self, i: Inputs) -> tuple:
        """Accept what the editor holds: the teacher's code as is, or an edit (re-run)."""
        return self._act(i, lambda store, rid, v: self._accept(i, store, rid, v, advance=True),
                         advance=True)

    def save_edit(self, i: Inputs) -> tuple:
        """Re-run the edited code and store it as "edited"; stay on the record."""
        return self._act(i, lambda store, rid, v: self._accept(i, store, rid, v, advance=False),
                         advance=False)

    def reject(self, i: Inputs) -> tuple:
        done = "Rejected" + (f" ({i.reason.strip()})" if i.reason.strip() else "")
        return self._act(i, lambda store, rid, v: (reject(
            store, rid, reviewer=i.reviewer, expected_version=v, reason=i.reason), done, None),
            advance=True)

    def skip(self, i: Inputs) -> tuple:
        return self._act(i, lambda store, rid, v: (skip(
            store, rid, reviewer=i.reviewer, expected_version=v), "Skipped", None), advance=True)

    def undo(self, i: Inputs) -> tuple:
        store = self.stores.get(i.session)
        state = {**i.state, "checked": None, "bulk": None}
        try:
            event = store.last_action(i.reviewer)
            if event is None:
                return self._show(i, state, state["id"], render.message(
                    "info", f"Nothing to undo: {i.reviewer} has no action left to revert."),
                    keep_editor=True)
            restored = undo(store, i.reviewer)
        except (ReviewConflict, ReviewRefused) as error:
            return self._show(i, state, state["id"], render.message("error", str(error)),
                              keep_editor=True)
        task_id = store.refinement(event.refinement_id).task_id
        noun = _NOUNS.get(event.new_status, event.new_status)
        if event.batch:
            text = f"Undid your bulk {noun}: {task_id} and the rest of that batch are back."
        else:
            text = f"Undid your {noun} of {task_id}: it is {restored.status} again."
        return self._show(i, state, restored.refinement_id, render.message("ok", text))

    # -- bulk ----------------------------------------------------------------------------

    def bulk_ask(self, i: Inputs, status: str) -> tuple:
        store = self.stores.get(i.session)
        plan = plan_bulk(store, i.filters, status, override=i.override)
        if plan.count == 0:
            note = f"No record to {status[:-1] if status.endswith('ed') else status} here"
            note += f" ({plan.left_out} fail their tests; tick override)." if plan.left_out else "."
            return self._show(i, {**i.state, "bulk": None}, i.state["id"],
                              render.message("info", note), keep_editor=True)
        state = {**i.state, "bulk": {"status": status, "versions": plan.versions,
                                     "left_out": plan.left_out}}
        verb = {"approved": "approve", "rejected": "reject", "skipped": "skip"}[status]
        return self._show(
            i, state, i.state["id"], "", keep_editor=True,
            confirm=(render.bulk_question(status, plan.count, plan.left_out, i.reviewer),
                     f"Yes, {verb} {plan.count}"))

    def bulk_confirm(self, i: Inputs) -> tuple:
        bulk = i.state.get("bulk")
        state = {**i.state, "bulk": None, "checked": None}
        if not bulk:
            return self._show(i, state, state["id"], "", keep_editor=True)
        store = self.stores.get(i.session)
        outcome = apply_bulk(store, BulkPlan(**bulk), reviewer=i.reviewer, reason=i.reason)
        text = f"{outcome.status.capitalize()} {outcome.updated} records."
        if outcome.conflicts:
            text += (f" {len(outcome.conflicts)} were changed by someone else since you asked "
                     "and were left as they are.")
        kind = "warn" if outcome.conflicts else "ok"
        return self._show(i, state, self._at_or_after(i, state["id"]),
                          render.message(kind, text))

    def bulk_cancel(self, i: Inputs) -> tuple:
        return self._show(i, {**i.state, "bulk": None}, i.state["id"],
                          render.message("info", "Bulk action cancelled."), keep_editor=True)

    # -- internals -----------------------------------------------------------------------

    def _act(self, i: Inputs, action, advance: bool) -> tuple:
        rid, version = i.state["id"], i.state["version"]
        if rid is None:
            return self._show(i, i.state, None, render.message("info", "No record selected."))
        store = self.stores.get(i.session)
        state = {**i.state, "bulk": None}
        try:
            review, done, checked = action(store, rid, version)
        except ReviewConflict as error:
            return self._show(i, state, rid, render.message("error", f"Conflict: {error}"),
                              keep_editor=True)
        except ReviewRefused as error:
            if error.execution is not None:
                state["checked"] = {"id": rid, "program": i.code,
                                    "execution_id": error.execution.id}
            return self._show(i, state, rid, render.message("error", str(error)),
                              keep_editor=True)
        task_id = store.refinement(rid).task_id
        text = f"{done}: {task_id} (version {review.version}, by {i.reviewer})."
        state = {**state, "checked": None if advance else checked}
        target = self._after(i, rid) if advance else rid
        return self._show(i, state, target, render.message("ok", text), keep_editor=not advance)

    def _accept(self, i: Inputs, store, rid: int, version: int, advance: bool):
        """Approve the teacher's code, keep a saved edit, or save the editor's code as an
        edit (re-run first, reusing this browser's last run of the same code)."""
        refinement, review = store.refinement(rid), store.review(rid)
        stored = review.edited_program or refinement.program or ""
        if i.code.rstrip() == stored.rstrip():
            if not advance:
                raise ReviewRefused("No change to save: edit the refinement first.")
            if review.status == "edited":
                if review.version != version:
                    raise ReviewConflict(review, version)
                return review, "Kept the saved edit", None
            return approve(store, rid, reviewer=i.reviewer, expected_version=version,
                           override=i.override), "Approved", None
        checked = i.state.get("checked") or {}
        earlier = None
        if checked.get("id") == rid and checked.get("program") == i.code:
            earlier = store.execution(checked["execution_id"])
        outcome = save_edit(store, self.executor(), rid, i.code, reviewer=i.reviewer,
                            expected_version=version, override=i.override, execution=earlier)
        checked = {"id": rid, "program": i.code, "execution_id": outcome.execution.id}
        verdict = "passes" if outcome.execution.passed else "FAILS (override)"
        return outcome.review, f"Saved edit ({verdict} the hidden tests)", checked

    def _after(self, i: Inputs, rid: int | None) -> int | None:
        store = self.stores.get(i.session)
        rows = store.review_queue(i.filters, after_id=rid, limit=1) if rid is not None else []
        rows = rows or store.review_queue(i.filters, limit=1)
        return rows[0].refinement_id if rows else None

    def _at_or_after(self, i: Inputs, rid: int | None) -> int | None:
        return self._after(i, None if rid is None else rid - 1)

    def _empty(self, state: dict[str, Any], note: str, empty: str = "") -> tuple:
        hidden = gr.update(visible=False)
        return (state, "", render.header(None, False, empty), note, "", "", "", "", "", "", "",
                gr.update(value="", visible=False), hidden, "", gr.update(), gr.update(),
                _record_area(False))

    def _show(self, i: Inputs, state: dict[str, Any], rid: int | None, note: str, *,
              keep_editor: bool = False, confirm: tuple[str, str] | None = None,
              error_choices: Any = None) -> tuple:
        """Render record `rid` (None: the view is empty) and the counts."""
        store = self.stores.get(i.session)
        simulated = store.simulated
        view = review_view(store, rid, with_reference=i.show_reference) if rid else None
        same = rid == i.state.get("id")
        state = {**state, "session": i.session, "id": rid,
                 "version": view.version if view else 0}
        if not same:
            state["checked"] = None
        counts = render.counts(store.review_counts(filters=i.filters),
                               store.review_queue_count(i.filters), simulated)
        editor = gr.update() if keep_editor and same else (view.current_program if view else "")
        return (
            state, counts, render.header(view, simulated, source=store.import_source(rid) if rid else None), note,
            view.description if view else "", render.attempt_feedback(view),
            view.attempt_program if view else "", editor, self._run_html(store, state, view, i),
            render.metrics(view), view.diff_html if view else "",
            gr.update(value=(view.reference_diff_html or "") if view else "",
                      visible=bool(view and i.show_reference)),
            gr.update(visible=confirm is not None), confirm[0] if confirm else "",
            gr.update(value=confirm[1]) if confirm else gr.update(),
            error_choices if error_choices is not None else gr.update(),
            _record_area(view is not None),
        )

    def _run_html(self, store, state: dict[str, Any], view: ReviewView | None, i: Inputs) -> str:
        if view is None:
            return ""
        checked = state.get("checked")
        if checked and checked.get("id") == view.refinement_id:
            run = store.execution(checked["execution_id"])
            return render.run_result("Your edit", run.passed, run.status, run.feedback,
                                     run.tests_passed, run.tests_total)
        if view.edit_execution is not None:
            run = view.edit_execution
            return render.run_result("Saved edit", run.passed, run.status, run.feedback,
                                     run.tests_passed, run.tests_total)
        if view.validated:
            return render.run_result("Teacher refinement", True, "passed", "")
        return render.run_result("Teacher refinement", False, "failed",
                                 view.validation_feedback)
