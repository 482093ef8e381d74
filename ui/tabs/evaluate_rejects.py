"""Evaluate's refinement signatures, acted on: the Review filter that selects the
refinements failing with one, and rejecting them all at once after asking (a person's
decisions named first). A collaborator of `EvaluateHandlers` (`handlers.rejects`); each
method returns a dict keyed by the Evaluate tab's component names."""

from __future__ import annotations

from typing import Any

import gradio as gr

from persd.analysis.signatures import review_filter
from persd.review import BulkPlan, ReviewRefused, apply_bulk, plan_bulk
from persd_app.tabs.review_query import ANY, SIGNATURE_PREFIX, write_query
from persd_app.tabs.review_render import decided_note, esc, message

REJECT_BUTTONS = ("reject_confirm", "reject_undecided", "reject_cancel")


class SignatureRejects:
    def __init__(self, stores) -> None:
        self.stores = stores

    def review_drill(self, session, row: dict[str, Any]) -> dict[str, Any]:
        """A refinement signature row: the Review filter selecting its refinements."""
        signature = row["signature"]
        filters = review_filter(self.stores.get(session), signature)
        ids = list(filters.refinement_ids or ())
        link = "?" + write_query(session, None, {"f_status": ANY,
                                                 "f_search": f"{SIGNATURE_PREFIX}{signature}"})
        text = message("info", f"{len(ids)} refinements still fail with “{signature}”: refinement "
                               f"ids {', '.join(map(str, ids[:20]))}{' …' if len(ids) > 20 else ''}"
                               ". Reject them all at once below, or")
        opened = (f'<a class="persd-review-link" data-testid="open-in-review" href="{esc(link)}">'
                  f"open them in Review</a> (the Review tab filtered by this signature).")
        return {"review_filter": text.replace("</div>", f" {opened}</div>", 1),
                "chosen_signature": signature}

    def reject_signature_ask(self, session, signature) -> dict[str, Any]:
        """The question before rejecting every refinement failing with `signature`: how
        many, and by task id which of them a person already decided (an edit is among
        them when a reviewer fixed one)."""
        if not session or not signature:
            return {"review_filter": message("info", "Pick a row of the table first.")}
        store = self.stores.get(session)
        plan = plan_bulk(store, review_filter(store, signature), "rejected")
        if not plan.count:
            return {"review_filter": message("info", f"No refinement fails with “{signature}”.")}
        question = (f'<div class="persd-confirm" data-count="{plan.count}" '
                    f'data-decided="{len(plan.decided)}">Reject <b>{plan.count}</b> '
                    f'refinement{"s" if plan.count != 1 else ""} failing with '
                    f'“{esc(signature)}”? Undo in Review reverts the whole batch.'
                    f'{decided_note(plan.decided)}</div>')
        return {"review_filter": question, "reject_plan": plan,
                "reject_confirm": _shown(f"Yes, reject {plan.count}"),
                "reject_undecided": _shown(f"Only the undecided ({plan.count - len(plan.decided)})",
                                           bool(plan.decided)),
                "reject_cancel": _shown("Cancel")}

    def reject_signature(self, session, plan: BulkPlan | None, reviewer,
                         undecided_only: bool = False) -> dict[str, Any]:
        """Apply the plan the user confirmed (records changed since are left alone)."""
        done = {"reject_plan": None, **{name: _shown(None, False) for name in REJECT_BUTTONS}}
        if not session or plan is None:
            return {**done, "review_filter": message("info", "Nothing to confirm.")}
        try:
            outcome = apply_bulk(self.stores.get(session),
                                 plan.undecided() if undecided_only else plan,
                                 reviewer=reviewer, reason="fails with a failure signature")
        except ReviewRefused as error:
            return {**done, "review_filter": message("error", str(error))}
        text = f"Rejected {outcome.updated} refinements (undo in Review)."
        if outcome.conflicts:
            text += (f" {len(outcome.conflicts)} were changed by someone else since you asked "
                     "and were left as they are.")
        return {**done, "review_filter": message("warn" if outcome.conflicts else "ok", text)}

    def reject_cancel(self) -> dict[str, Any]:
        return {"reject_plan": None, **{name: _shown(None, False) for name in REJECT_BUTTONS},
                "review_filter": message("info", "Nothing was rejected.")}


def _shown(label: str | None, visible: bool = True) -> dict[str, Any]:
    """A button's new label (None: unchanged) and visibility."""
    return gr.update(visible=visible) if label is None else gr.update(visible=visible,
                                                                      value=label)
