"""The Queue tab: every record of the session in one sortable, filterable table, riskiest
first, with a ✓ column for bulk approve / reject / assign, a click that opens a record in
Review, "My queue" (records assigned to me) and the session's review guidelines.

Layout and wiring only; `persd_app.tabs.queue_handlers` does the work (and below it
`persd.analysis.queue`, `persd.analysis.risk`, `persd.review_reasons`).
"""

from __future__ import annotations

import gradio as gr

from persd.analysis.queue import ORDERS
from persd.analysis.risk import FLAG_KINDS
from persd.review_reasons import REASON_KINDS
from persd.store.records import REVIEW_STATUSES
from persd_app.roles import operator_only
from persd_app.tabs import AppContext
from persd_app.tabs.keyed import Keyed
from persd_app.tabs.queue_handlers import ANY, OUTPUTS, SHOWN, QueueHandlers, View

TITLE = "Queue"


def build(ctx: AppContext) -> None:
    handlers = QueueHandlers(ctx.stores)
    state = gr.State({"selected": [], "plan": None})
    with gr.Accordion("Review guidelines", open=True, elem_id="persd-q-guidelines-box"):
        guidelines_view = gr.Markdown(elem_id="persd-q-guidelines")
    with gr.Row(equal_height=True):
        order = gr.Dropdown(list(ORDERS.values()), value=ORDERS["risk"], label="Order",
                            elem_id="persd-q-order", min_width=160)
        status = gr.Dropdown([ANY, *REVIEW_STATUSES], value=ANY, label="Status",
                             elem_id="persd-q-status", min_width=120)
        flag = gr.Dropdown([ANY, *(label for label, _ in FLAG_KINDS.values())], value=ANY,
                           label="Risk flag", elem_id="persd-q-flag", min_width=200)
        text = gr.Textbox(label="Task, error or signature contains", elem_id="persd-q-text",
                          min_width=200)
        mine = gr.Checkbox(label="My queue (assigned to me)", value=False,
                           elem_id="persd-q-mine", min_width=160)
        refresh = gr.Button("Refresh", size="sm", scale=0, min_width=90, elem_id="persd-q-refresh")
    counts = gr.HTML(elem_id="persd-q-counts")
    table = gr.Dataframe(headers=SHOWN, interactive=True, static_columns=list(range(1, len(SHOWN))),
                         datatype=["bool", "number", "str", "number", *["str"] * (len(SHOWN) - 4)],
                         max_height=520, wrap=False, pinned_columns=3, elem_id="persd-q-table",
                         column_widths=["44px", "60px", "130px", "72px", "240px", "96px", "150px",
                                        "240px", "124px", "84px", "100px", "100px"])
    opened = gr.HTML(elem_id="persd-q-opened")
    with gr.Row(equal_height=False, elem_id="persd-q-bulk"):
        tick_all = gr.Button("Select all filtered", size="sm", scale=0, min_width=150,
                             elem_id="persd-q-select-all")
        untick = gr.Button("Clear selection", size="sm", scale=0, min_width=130,
                           elem_id="persd-q-clear")
        approve = gr.Button("Approve selected…", variant="primary", size="sm", scale=0,
                            min_width=160, elem_id="persd-q-approve")
        reject = gr.Button("Reject selected…", variant="stop", size="sm", scale=0,
                           min_width=150, elem_id="persd-q-reject")
        reason_kind = gr.Dropdown([("reason kind…", ""), *REASON_KINDS.values()], value="",
                                  show_label=False, container=False, min_width=180,
                                  elem_id="persd-q-reason-kind")
        reason = gr.Textbox(placeholder="reject reason", show_label=False, container=False,
                            elem_id="persd-q-reason", min_width=160)
    with gr.Row(elem_id="persd-q-confirm-row", equal_height=True):
        confirm = gr.HTML(elem_id="persd-q-confirm")
        only_new = gr.Button("Confirm", size="sm", variant="primary", scale=0,
                             elem_id="persd-q-only-new", min_width=110)
        overwrite = gr.Button("Confirm, overwriting them", size="sm", variant="stop",
                              elem_id="persd-q-overwrite", scale=0, min_width=220)
        cancel = gr.Button("Cancel", size="sm", scale=0, elem_id="persd-q-cancel", min_width=90)
    with gr.Accordion("Assign records · write the guidelines", open=False,
                      elem_id="persd-q-more"):
        with gr.Row(equal_height=True):
            assignee = gr.Textbox(label="Reviewer", placeholder="ana", elem_id="persd-q-assignee")
            assign = gr.Button("Assign selected to this reviewer", size="sm",
                               elem_id="persd-q-assign")
        guidelines = gr.Textbox(label="Review guidelines (operators write; everyone reads "
                                "them above the table)", lines=5,
                                elem_id="persd-q-guidelines-text")
        save = gr.Button("Save guidelines", size="sm", elem_id="persd-q-guidelines-save")

    out = Keyed(table=table, counts=counts, opened=opened, confirm=confirm, state=state,
                guidelines_view=guidelines_view)
    assert tuple(out.components) == OUTPUTS
    inputs = [ctx.session, ctx.reviewer, order, status, flag, text, mine, state, reason_kind,
              reason]

    def view(session, typed, order, status, flag, text, mine, state, kind, why, request) -> View:
        return View(session=session, reviewer=ctx.reviewer_name(typed, request), order=order,
                    status=status, flag=flag, text=text or "", mine=bool(mine),
                    state=state or {}, reason_kind=kind, reason=why or "")

    # Gradio injects gr.Request and gr.SelectData only into named parameters, not *args.
    def on(fn):
        def handler(session, typed, order, status, flag, text, mine, state, kind, why,
                    request: gr.Request):
            return fn(view(session, typed, order, status, flag, text, mine, state, kind, why,
                           request))
        return out.wire(handler)

    def picked(session, typed, order, status, flag, text, mine, state, kind, why, rows,
               request: gr.Request):
        v = view(session, typed, order, status, flag, text, mine, state, kind, why, request)
        return handlers.pick(v, rows)

    def clicked(session, typed, order, status, flag, text, mine, state, kind, why,
                evt: gr.SelectData, request: gr.Request):
        if evt.index is None or evt.index[1] == 0:  # the ✓ column is handled by `input`
            return {}
        v = view(session, typed, order, status, flag, text, mine, state, kind, why, request)
        return handlers.open(v, int(evt.row_value[1]))

    def assigned(session, typed, order, status, flag, text, mine, state, kind, why, to,
                 request: gr.Request):
        v = view(session, typed, order, status, flag, text, mine, state, kind, why, request)
        return handlers.assign(v, to, by=v.reviewer)

    def saved(session, text, typed, request: gr.Request):
        return handlers.save_guidelines(session, text or "", ctx.reviewer_name(typed, request))

    opts = dict(inputs=inputs, outputs=out.list, show_progress="minimal")
    ctx.on_session(on(handlers.show), lazy=True, **opts)
    gr.on([order.input, status.input, flag.input, text.submit, mine.input, refresh.click],
          on(handlers.show), trigger_mode="always_last", **opts)
    table.input(out.wire(picked), inputs=[*inputs, table], outputs=out.list,
                show_progress="hidden")
    table.select(out.wire(clicked), **opts)
    tick_all.click(on(lambda v: handlers.select_shown(v, True)), **opts)
    untick.click(on(lambda v: handlers.select_shown(v, False)), **opts)
    approve.click(on(lambda v: handlers.ask(v, "approved")), **opts)
    reject.click(on(lambda v: handlers.ask(v, "rejected")), **opts)
    overwrite.click(on(lambda v: handlers.confirm(v, True)), **opts)
    only_new.click(on(lambda v: handlers.confirm(v, False)), **opts)
    cancel.click(on(handlers.cancel), **opts)
    assign.click(out.wire(operator_only(ctx, assigned, "assign records")),
                 inputs=[*inputs, assignee], outputs=out.list)
    save.click(out.wire(operator_only(ctx, saved, "write the review guidelines")),
               inputs=[ctx.session, guidelines, ctx.reviewer], outputs=out.list)

