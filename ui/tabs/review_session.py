"""The review tab's actions beyond the record shown: bulk decisions over the filtered
queue, and what other reviewers changed meanwhile (the poll). A collaborator held by
`persd_app.tabs.review_handlers.ReviewHandlers`; it draws with the `RecordScreen` they share.

    actions = SessionWideActions(RecordScreen(stores))
    out = actions.bulk_ask(i, "approved")
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import gradio as gr

from persd.review import BulkPlan, apply_bulk, plan_bulk
from persd.review_reasons import compose
from persd_app.tabs import review_render as render

if TYPE_CHECKING:
    from persd_app.tabs.review_query import Inputs
    from persd_app.tabs.review_record import RecordScreen


class SessionWideActions:
    def __init__(self, screen: RecordScreen) -> None:
        self.screen = screen

    def poll(self, i: Inputs) -> dict:
        """Timer tick: if other reviewers changed anything since this view was drawn, say
        what and redraw the counts (and the record, when it was one of theirs)."""
        if not i.session or i.state.get("session") != i.session:
            return {}
        store = self.screen.store(i)
        events = store.reviews.events_since(i.state.get("event") or 0)
        if not events:
            return {}
        state = {**i.state, "event": events[-1].id}
        said = []
        for event in events[-3:]:
            task = store.refinements.get(event.refinement_id).task_id
            verb = ("undid a decision on" if event.kind == "undo"
                    else f"set {event.new_status}:" if event.new_status else "changed")
            said.append(f"{event.reviewer} {verb} {task}")
        more = f" and {len(events) - 3} more changes" if len(events) > 3 else ""
        mine = any(e.refinement_id == i.state.get("id") for e in events)
        text = "Meanwhile " + "; ".join(said) + more + "."
        if mine:
            text += " That includes this record: it is shown as it is now."
        self.screen.stash(i)
        if mine:
            return self.screen.show(i, state, i.state["id"], render.message("warn", text),
                              keep_editor=True)
        return {"state": state, "counts": self.screen.counts(i, store),
                "message": render.message("info", text)}

    def bulk_ask(self, i: Inputs, status: str) -> dict:
        plan = plan_bulk(self.screen.store(i), i.filters, status, override=i.override)
        if plan.count == 0:
            note = f"No record to {status[:-1] if status.endswith('ed') else status} here"
            note += f" ({plan.left_out} fail their tests; tick override)." if plan.left_out else "."
            return {"state": {**i.state, "bulk": None}, "message": render.message("info", note)}
        state = {**i.state, "bulk": plan}
        verb = {"approved": "approve", "rejected": "reject", "skipped": "skip"}[status]
        return {"state": state, "message": "",
                "confirm_text": render.bulk_question(status, plan.count, plan.left_out,
                                                     i.reviewer, plan.decided),
                "confirm_button": gr.update(value=f"Yes, {verb} {plan.count}"),
                "confirm_undecided": gr.update(
                    visible=bool(plan.decided),
                    value=f"Only the undecided ({plan.count - len(plan.decided)})")}

    def bulk_confirm(self, i: Inputs, undecided_only: bool = False) -> dict:
        plan: BulkPlan | None = i.state.get("bulk")
        state = {**i.state, "bulk": None}
        if not plan:
            return {"state": state, "confirm_text": ""}
        self.screen.stash(i)
        outcome = apply_bulk(self.screen.store(i), plan.undecided() if undecided_only else plan,
                             reviewer=i.reviewer, reason=compose(i.reason_kind, i.reason))
        text = f"{outcome.status.capitalize()} {outcome.updated} records."
        if outcome.conflicts:
            text += (f" {len(outcome.conflicts)} were changed by someone else since you asked "
                     "and were left as they are.")
        kind = "warn" if outcome.conflicts else "ok"
        rid = state["id"]
        return self.screen.show(i, state, self.screen.after(i, None if rid is None else rid - 1),
                          render.message(kind, text))

    def bulk_cancel(self, i: Inputs) -> dict:
        return {"state": {**i.state, "bulk": None}, "confirm_text": "",
                "confirm_undecided": gr.update(visible=False),
                "message": render.message("info", "Bulk action cancelled.")}
