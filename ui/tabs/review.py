"""The Review tab: the queue of refinements, one record side by side, and the actions.

Layout and wiring only; what each event does lives in `ui.tabs.review_handlers` (and
below it `persd.review`). Buttons carry their keyboard shortcut in the label; the keys are
bound by assets/shortcuts.js through the buttons' elem_ids (`SHORTCUTS`).
"""

from __future__ import annotations

import gradio as gr

from persd.store import StoreError
from ui.tabs import AppContext
from ui.tabs.review_handlers import ANY, OUTPUTS, Inputs, ReviewHandlers, filters_from, new_state
from ui.tabs.review_render import STATUSES, message

TITLE = "Review"
# key -> (elem_id, label); shortcuts.js reads the same ids.
SHORTCUTS = {
    "a": ("persd-approve", "Approve (A)"), "e": ("persd-edit", "Save edit (E)"),
    "r": ("persd-reject", "Reject (R)"), "s": ("persd-skip", "Skip (S)"),
    "u": ("persd-undo", "Undo (U)"), "k": ("persd-prev", "◀ Prev (K)"),
    "j": ("persd-next", "Next (J) ▶"),
}
CODE_LINES = 22
TASK_LINES = 14
_KEYS_HELP = ('<div class="persd-keys">Keys (not while typing): ' + " ".join(
    f"<kbd>{key.upper()}</kbd> {label.split(' (')[0].strip('◀ ')}"
    for key, (_, label) in SHORTCUTS.items()) + "</div>")


def _button(key: str, variant: str = "secondary") -> gr.Button:
    elem_id, label = SHORTCUTS[key]
    return gr.Button(label, elem_id=elem_id, variant=variant, size="md", min_width=90,
                     elem_classes=["persd-action"])


def build(ctx: AppContext) -> None:
    handlers = ReviewHandlers(ctx.stores, ctx.executor)
    state = gr.State(new_state())
    counts = gr.HTML(elem_id="persd-counts")

    with gr.Accordion("Filters and bulk actions", open=False, elem_id="persd-filters"):
        with gr.Row(equal_height=True):
            status = gr.Dropdown([ANY, *STATUSES], value="pending", label="Status",
                                 elem_id="persd-f-status", min_width=120)
            error_type = gr.Dropdown([ANY], value=ANY, label="Attempt error",
                                     elem_id="persd-f-error", min_width=140)
            validated = gr.Dropdown([ANY, "yes", "no"], value=ANY, label="Teacher code passes",
                                    elem_id="persd-f-validated", min_width=120)
            round_ = gr.Textbox(label="Round", placeholder="any", elem_id="persd-f-round",
                                min_width=80)
            search = gr.Textbox(label="Task id or text", placeholder="HumanEval/12",
                                elem_id="persd-f-search", min_width=160)
            max_diff = gr.Textbox(label="Max diff lines", placeholder="any",
                                  elem_id="persd-f-maxdiff", min_width=100)
            apply = gr.Button("Apply filters", elem_id="persd-f-apply", min_width=100)
        with gr.Row():
            bulk_approve = gr.Button("Approve all filtered…", elem_id="persd-bulk-approve",
                                     scale=0, min_width=240)
            bulk_reject = gr.Button("Reject all filtered…", elem_id="persd-bulk-reject",
                                    variant="stop", scale=0, min_width=240)
        with gr.Row(visible=False, elem_id="persd-confirm-row") as confirm_row:
            confirm_text = gr.HTML(elem_id="persd-confirm-text")
            confirm_button = gr.Button("Confirm", variant="primary", elem_id="persd-confirm",
                                       size="sm", min_width=140)
            cancel_button = gr.Button("Cancel", elem_id="persd-cancel", size="sm")

    header = gr.HTML(elem_id="persd-header")
    with gr.Row(elem_id="persd-actions", equal_height=True):
        approve, edit, reject = _button("a", "primary"), _button("e"), _button("r", "stop")
        reason = gr.Textbox(placeholder="reason for rejecting (optional)", show_label=False,
                            container=False, elem_id="persd-reason", scale=2, min_width=180)
        skip, undo, prev, nxt = _button("s"), _button("u"), _button("k"), _button("j")
    note = gr.HTML(elem_id="persd-message")

    # The record's panes, hidden while there is no record to show (no session, or the
    # filters match nothing).
    with gr.Column(elem_id="persd-record-area") as record_area:
        with gr.Row(equal_height=False, elem_id="persd-record"):
            with gr.Column(scale=1, min_width=300):
                task = gr.Code(language="python", label="Task", interactive=False,
                               lines=TASK_LINES, max_lines=TASK_LINES, elem_id="persd-task",
                               wrap_lines=True)
                feedback = gr.HTML(elem_id="persd-feedback")
            with gr.Column(scale=3, min_width=480):
                with gr.Row(equal_height=True, elem_id="persd-diff-bar"):
                    metrics = gr.HTML(elem_id="persd-metrics")
                    show_reference = gr.Checkbox(
                        label="Also diff the attempt against the reference", value=False,
                        elem_id="persd-show-reference", container=False)
                diff = gr.HTML(elem_id="persd-diff", apply_default_css=False)
                reference_diff = gr.HTML(elem_id="persd-reference-diff", visible=False,
                                         apply_default_css=False)
        with gr.Row(equal_height=False, elem_id="persd-code"):
            with gr.Column(min_width=320):
                attempt = gr.Code(language="python", label="Student attempt", interactive=False,
                                  lines=CODE_LINES, max_lines=CODE_LINES,
                                  elem_id="persd-attempt", show_line_numbers=False)
            with gr.Column(min_width=320):
                editor = gr.Code(language="python", label="Teacher refinement (editable)",
                                 interactive=True, lines=CODE_LINES, max_lines=CODE_LINES,
                                 elem_id="persd-editor")
                run = gr.HTML(elem_id="persd-run")
                override = gr.Checkbox(label="Override: let Approve / Save edit accept code that "
                                       "fails the hidden tests", value=False,
                                       elem_id="persd-override", container=False)
    gr.HTML(_KEYS_HELP)

    widgets = dict(state=state, counts=counts, header=header, message=note, task=task,
                   feedback=feedback, attempt=attempt, editor=editor, run=run, metrics=metrics,
                   diff=diff, reference_diff=reference_diff, confirm_row=confirm_row,
                   confirm_text=confirm_text, confirm_button=confirm_button,
                   error_type_choices=error_type, record_area=record_area)
    outputs = [widgets[name] for name in OUTPUTS]
    inputs = [ctx.session, status, error_type, validated, round_, search, max_diff,
              show_reference, editor, override, reason, ctx.reviewer, state]

    def wire(method):
        def handler(session, status, error_type, validated, round_, search, max_diff,
                    show_reference, code, override, reason, typed, state,
                    request: gr.Request):
            i = Inputs(session=session, reviewer=ctx.reviewer_name(typed, request),
                       state=state or new_state(), show_reference=bool(show_reference),
                       code=code or "", override=bool(override), reason=reason or "")
            try:
                i.filters = filters_from(status, error_type, validated, round_, search,
                                         max_diff)
                return method(i)
            except (StoreError, ValueError) as error:  # a bad filter, a vanished session
                kept = [gr.update()] * len(OUTPUTS)
                kept[OUTPUTS.index("message")] = message("error", str(error))
                return tuple(kept)
        return handler

    options = dict(inputs=inputs, outputs=outputs, show_progress="hidden")
    ctx.on_session(wire(handlers.open), **options)
    # always_last: a second filter changed while the first is still loading is applied
    # after it (the default, "once", would drop it and leave the view on stale filters).
    gr.on([status.input, error_type.input, validated.input, round_.submit, search.submit,
           max_diff.submit, apply.click], wire(handlers.open), trigger_mode="always_last",
          **options)
    show_reference.input(wire(handlers.refresh), **options)
    approve.click(wire(handlers.approve), **options)
    edit.click(wire(handlers.save_edit), inputs=inputs, outputs=outputs,
               show_progress="minimal", show_progress_on=[run])
    reject.click(wire(handlers.reject), **options)
    skip.click(wire(handlers.skip), **options)
    undo.click(wire(handlers.undo), **options)
    prev.click(wire(handlers.prev), **options)
    nxt.click(wire(handlers.next), **options)
    bulk_approve.click(wire(lambda i: handlers.bulk_ask(i, "approved")), **options)
    bulk_reject.click(wire(lambda i: handlers.bulk_ask(i, "rejected")), **options)
    confirm_button.click(wire(handlers.bulk_confirm), **options)
    cancel_button.click(wire(handlers.bulk_cancel), **options)
