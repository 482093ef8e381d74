"""The Review tab: one record on one screen (header and actions, the attempt against the
refinement as a diff, why the attempt failed beside it), an editor on demand, the queue's
filters, and the counts.

Layout and wiring only; what each event does lives in `persd_app.tabs.review_handlers` (and
below it `persd.review`). Keys, the editor's mode, the draft-follows-typing pause, the
URL and the remembered reviewer name are assets/shortcuts.js, which finds the elements
by the elem_ids used here.
"""

from __future__ import annotations

import gradio as gr

from persd.analysis.signatures import refinements_matching
from persd.review_reasons import REASON_KINDS
from persd.store import StoreError
from persd_app.tabs import AppContext
from persd_app.tabs import review_render as render
from persd_app.tabs.keyed import Keyed
from persd_app.tabs.review_handlers import (
    ANY, DEFAULT_FILTERS, FILTER_NAMES, OUTPUTS, RECORD_OUTPUTS, Inputs, ReviewHandlers,
    filters_from, new_state,
)

TITLE = "Review"
# (elem_id, label, key shown in the list of keys)
ACTIONS = {
    "approve": ("persd-approve", "Approve (A)", "A"), "edit": ("persd-edit", "Edit (E)", "E"),
    "save": ("persd-save", "Save (Ctrl+S)", "Ctrl+S"),
    "reject": ("persd-reject", "Reject (R)", "R"), "skip": ("persd-skip", "Skip (S)", "S"),
    "undo": ("persd-undo", "Undo (U)", "U"), "prev": ("persd-prev", "◀ Prev (K)", "K"),
    "next": ("persd-next", "Next (J) ▶", "J"),
}
POLL_S = 3.0      # how often a view looks for other reviewers' changes
EDITOR_LINES = 26
KEYS_HELP = (
    '<div class="persd-keys" data-testid="keys">Keys (outside text boxes): <kbd>A</kbd> approve '
    '(a draft is saved first) · <kbd>E</kbd> edit · <kbd>Ctrl</kbd>+<kbd>S</kbd> or '
    '<kbd>Ctrl</kbd>+<kbd>Enter</kbd> save the edit · <kbd>Esc</kbd> leave the editor, again '
    'to close it · <kbd>R</kbd> reject · <kbd>S</kbd> skip · <kbd>U</kbd> undo · <kbd>K</kbd> '
    '/ <kbd>J</kbd> previous / next</div>')
# Gives the open handler the page's query string (a reload keeps the view, a link opens a
# record); `N` and `AT` are filled in once the inputs are known.
_URL_JS = "(...args) => { const a = args.slice(0, N); a[AT] = window.location.search; return a; }"
# A new view (the page's, a filter's, My queue's) on its way: J/K wait for it (shortcuts.js).
_VIEW_CHANGING_JS = ("(...args) => { window.persdMoves && window.persdMoves.viewChanging(); "
                     "return args.slice(0, N); }")
_VIEW_LANDED_JS = "() => { window.persdMoves && window.persdMoves.viewLanded(); }"


def _button(name: str, variant: str = "secondary") -> gr.Button:
    elem_id, label, _ = ACTIONS[name]
    return gr.Button(label, elem_id=elem_id, variant=variant, size="md", min_width=80,
                     elem_classes=["persd-action"])


def build(ctx: AppContext) -> None:
    handlers = ReviewHandlers(ctx.stores, ctx.executor)
    state = gr.State(new_state())
    drafts = gr.BrowserState({}, storage_key="persd-review-drafts")
    url = gr.Textbox(visible=False)
    editor_of = gr.Textbox(visible=False)  # which record the editor's text belongs to
    counts = gr.HTML(elem_id="persd-counts")

    with gr.Accordion("Filters and bulk actions", open=False, elem_id="persd-filters"):
        with gr.Row(equal_height=True):
            status = gr.Dropdown([ANY, *render.STATUSES], value="pending", label="Status",
                                 elem_id="persd-f-status", min_width=120)
            error_type = gr.Dropdown([ANY], value=ANY, label="Attempt error",
                                     elem_id="persd-f-error", min_width=140,
                                     allow_custom_value=True)
            validated = gr.Dropdown([ANY, "yes", "no"], value=ANY, label="Teacher code passes",
                                    elem_id="persd-f-validated", min_width=120)
            round_ = gr.Textbox(label="Round", placeholder="any", elem_id="persd-f-round",
                                min_width=80)
            search = gr.Textbox(label="Task id (exact; * for a prefix; text: words; sig: failure; "
                                "mine: my queue)",
                                placeholder="HumanEval/12", elem_id="persd-f-search",
                                min_width=220)
            max_diff = gr.Textbox(label="Max diff lines", placeholder="any",
                                  elem_id="persd-f-maxdiff", min_width=100)
            apply = gr.Button("Apply filters", elem_id="persd-f-apply", min_width=100)
            my_queue = gr.Button("My queue", elem_id="persd-f-mine", min_width=100)
        with gr.Row():
            bulk_approve = gr.Button("Approve all filtered…", elem_id="persd-bulk-approve",
                                     scale=0, min_width=240)
            bulk_reject = gr.Button("Reject all filtered…", elem_id="persd-bulk-reject",
                                    variant="stop", scale=0, min_width=240)
        with gr.Row(elem_id="persd-confirm-row"):  # shown while it holds a question (CSS)
            confirm_text = gr.HTML(elem_id="persd-confirm-text")
            confirm_button = gr.Button("Confirm", variant="primary", elem_id="persd-confirm",
                                       size="sm", min_width=140)
            confirm_undecided = gr.Button("Only the undecided", visible=False, size="sm",
                                          elem_id="persd-confirm-undecided", min_width=160)
            cancel_button = gr.Button("Cancel", elem_id="persd-cancel", size="sm")

    header = gr.HTML(elem_id="persd-header")
    with gr.Row(elem_id="persd-actions", equal_height=True):
        approve, edit, save = _button("approve", "primary"), _button("edit"), _button("save")
        reject = _button("reject", "stop")
        reason_kind = gr.Dropdown([("reason kind…", ""), *REASON_KINDS.values()], value="",
                                  show_label=False,
                                  container=False, elem_id="persd-reason-kind", min_width=150)
        reason = gr.Textbox(placeholder="reject reason",
                            show_label=False, container=False, elem_id="persd-reason", scale=2,
                            min_width=160)
        skip, undo, prev, nxt = (_button(name) for name in ("skip", "undo", "prev", "next"))
    note = gr.HTML(elem_id="persd-message")

    # Collapsed in CSS while the header shows no record, not visible=False: the code
    # editor inside must stay laid out, or CodeMirror measures nothing and draws out of step.
    with gr.Column(elem_id="persd-record-area"):
        with gr.Row(equal_height=False, elem_id="persd-record"):
            with gr.Column(scale=5, min_width=560, elem_id="persd-main"):
                with gr.Row(equal_height=True, elem_id="persd-diff-bar"):
                    metrics = gr.HTML(elem_id="persd-metrics")
                    hide_blank = gr.Checkbox(label="Hide blank-line changes", value=True,
                                             elem_id="persd-hide-blank", container=False)
                    show_reference = gr.Checkbox(
                        label="Also diff the attempt against the reference", value=False,
                        elem_id="persd-show-reference", container=False)
                with gr.Row(equal_height=False, elem_id="persd-work"):
                    with gr.Column(elem_id="persd-diff-col", min_width=300):
                        diff = gr.HTML(elem_id="persd-diff", apply_default_css=False)
                        reference_diff = gr.HTML(elem_id="persd-reference-diff", visible=False,
                                                 apply_default_css=False)
                    with gr.Column(elem_id="persd-editor-col", min_width=300):
                        editor = gr.Code(language="python", label="Refinement: your edit",
                                         interactive=True, lines=EDITOR_LINES,
                                         max_lines=EDITOR_LINES, elem_id="persd-editor")
                        with gr.Row():
                            discard = gr.Button("Discard draft", size="sm",
                                                elem_id="persd-discard", min_width=120)
                            close = gr.Button("Close editor (Esc)", size="sm",
                                              elem_id="persd-close-editor", min_width=120)
            with gr.Column(scale=3, min_width=360, elem_id="persd-side"):
                failure = gr.HTML(elem_id="persd-failure")
                run = gr.HTML(elem_id="persd-run")
                override = gr.Checkbox(label="Override: let Approve / Save edit accept code that "
                                       "fails the hidden tests", value=False,
                                       elem_id="persd-override", container=False)
                with gr.Accordion("Task description", open=False, elem_id="persd-task-box"):
                    task = gr.Code(language="python", interactive=False, show_label=False,
                                   max_lines=24, elem_id="persd-task", wrap_lines=True)
                gr.HTML(KEYS_HELP)
    live = gr.Button("live", elem_id="persd-live", elem_classes=["persd-offscreen"])
    timer = ctx.timer(POLL_S)

    widgets = dict(state=state, drafts=drafts, counts=counts, header=header, message=note,
                   reason=reason, failure=failure, run=run, task=task, editor=editor,
                   editor_of=editor_of,
                   metrics=metrics, diff=diff, reference_diff=reference_diff,
                   confirm_text=confirm_text,
                   confirm_button=confirm_button, confirm_undecided=confirm_undecided,
                   error_type_choices=error_type,
                   f_status=status, f_error=error_type,
                   f_validated=validated, f_round=round_, f_search=search, f_maxdiff=max_diff)
    out = Keyed(**{name: widgets[name] for name in OUTPUTS})
    record_out = out.only(*RECORD_OUTPUTS)
    inputs = [ctx.session, status, error_type, validated, round_, search, max_diff,
              show_reference, hide_blank, editor, editor_of, override, reason, reason_kind,
              ctx.reviewer, state, drafts, url]

    # Keys and the editor send fewer inputs: the filters are those last applied (kept in
    # the state), not the widgets' (a filter typed but not applied does not change J).
    record_inputs = [ctx.session, show_reference, hide_blank, editor, editor_of, override,
                     reason, reason_kind, ctx.reviewer, state, drafts]

    def call(method, names, raw, typed, request, **given) -> dict:
        state, drafts = given.pop("state") or new_state(), dict(given.pop("drafts") or {})
        i = Inputs(reviewer=ctx.reviewer_name(typed, request), state=state, raw_filters=raw,
                   drafts=dict(drafts), **given)
        try:
            i.filters = filters_from(*(raw[name] for name in FILTER_NAMES),
                                     signature_ids=lambda sig: refinements_matching(
                                         ctx.stores.get(i.session), sig), reviewer=i.reviewer)
            changed = method(i)
        except (StoreError, ValueError) as error:  # a bad filter, a vanished session
            changed = {"message": render.message("error", str(error))}
        if changed.get("drafts") == drafts:
            del changed["drafts"]  # unchanged: rewriting browser storage costs the page time
        return {name: value for name, value in changed.items() if name in names}

    def wire(method, names=OUTPUTS):
        def handler(session, status, error_type, validated, round_, search, max_diff,
                    show_reference, hide_blank, code, code_of, override, reason, reason_kind,
                    typed, state, drafts, url, request: gr.Request):
            raw = dict(zip(FILTER_NAMES, (status, error_type, validated, round_, search,
                                          max_diff)))
            return call(method, names, raw, typed, request, session=session, code=code,
                        editor_of=code_of or "",
                       show_reference=bool(show_reference), hide_blank=bool(hide_blank),
                       override=bool(override), reason=reason or "", url=url or "",
                       reason_kind=reason_kind,
                       state=state, drafts=drafts)
        return out.wire(handler)

    def wire_record(method):
        def handler(session, show_reference, hide_blank, code, code_of, override, reason,
                    reason_kind, typed, state, drafts, request: gr.Request):
            raw = {**DEFAULT_FILTERS, **((state or {}).get("filters") or {})}
            return call(method, RECORD_OUTPUTS, raw, typed, request, session=session,
                       code=code, editor_of=code_of or "", show_reference=bool(show_reference),
                       hide_blank=bool(hide_blank), override=bool(override),
                       reason=reason or "", reason_kind=reason_kind, state=state,
                       drafts=drafts)
        return record_out.wire(handler)

    options = dict(inputs=inputs, outputs=out.list, show_progress="hidden")
    url_js = _URL_JS.replace("N", str(len(inputs))).replace("AT", str(inputs.index(url)))
    view_js = _VIEW_CHANGING_JS.replace("N", str(len(inputs)))
    ctx.on_session(wire(handlers.open_from_url), js=url_js, inputs=inputs, outputs=out.list,
                   show_progress="hidden")
    # always_last: a second filter changed while the first is still loading is applied
    # after it (the default, "once", would drop it and leave the view on stale filters).
    filtered = gr.on([status.input, error_type.input, validated.input, round_.submit,
                      search.submit, max_diff.submit, apply.click], wire(handlers.open),
                     trigger_mode="always_last", js=view_js, **options)
    mine = my_queue.click(wire(handlers.my_queue), trigger_mode="always_last", js=view_js,
                          **options)
    for view in (filtered, mine):
        view.then(None, js=_VIEW_LANDED_JS)
    # Keys and the editor redraw the record only: fewer outputs, less work in the page.
    record = dict(options, inputs=record_inputs, outputs=record_out.list)
    gr.on([show_reference.input, hide_blank.input], wire_record(handlers.refresh), **record)
    drawn = live.click(wire_record(handlers.live), trigger_mode="always_last", **record)
    checked = drawn.then(wire_record(handlers.run_draft), trigger_mode="always_last", **record)
    polled = timer.tick(wire_record(handlers.poll), **record)
    # Anything that redraws the record cancels a draft's diff or run, or a poll, still under
    # way: arriving late, it would draw (and keep in the state) the record left behind.
    options["cancels"] = record["cancels"] = [drawn, checked, polled]
    # A key pressed again before its first event finished: J/K/U run once more after it
    # ("always_last"; the default, "once", dropped the press). A/R/S run at once on the
    # record shown ("multiple"): a repeat of one's own decision reads as done, and a key
    # never decides a record that has not been drawn yet.
    for button, method, mode in ((approve, handlers.approve, "multiple"),
                                 (reject, handlers.reject, "multiple"),
                                 (skip, handlers.skip, "multiple"),
                                 (undo, handlers.undo, "always_last"),
                                 (prev, handlers.prev, "always_last"),
                                 (nxt, handlers.next, "always_last")):
        button.click(wire_record(method), trigger_mode=mode, **record)
    save.click(wire_record(handlers.save_edit),
               **dict(record, show_progress="minimal", show_progress_on=[run]))
    edit.click(None, js="() => window.persdEditor && window.persdEditor.open()")
    close.click(None, js="() => window.persdEditor && window.persdEditor.close()")
    discard.click(wire_record(handlers.discard), **record)
    bulk_approve.click(wire(lambda i: handlers.bulk_ask(i, "approved")), **options)
    bulk_reject.click(wire(lambda i: handlers.bulk_ask(i, "rejected")), **options)
    confirm_button.click(wire(handlers.bulk_confirm), **options)
    confirm_undecided.click(wire(lambda i: handlers.bulk_confirm(i, undecided_only=True)),
                            **options)
    cancel_button.click(wire(handlers.bulk_cancel), **options)
