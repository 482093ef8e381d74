"""The Study tab: a reviewer's blind pairwise queue, and the owner's tools (set up, reassign,
agreement, adjudication, report and export).

Layout and wiring only; what each event does lives in `persd_app.tabs.study_handlers` (and below it
`persd.studies`). Keys 1 / 2 / T / N click the buttons whose elem_ids `SHORTCUTS` names,
only while they are visible and never while the reviewer types.
"""

from __future__ import annotations

import json

import gradio as gr

from persd.store import StoreError
from persd.studies import StudyError
from persd_app.tabs import AppContext
from persd_app.tabs import study_render as render
from persd_app.tabs.keyed import Keyed
from persd_app.tabs.study_handlers import OWNER, PAIR, REPORT, StudyHandlers, StudyInputs, new_state

TITLE = "Study"
SHORTCUTS = {"1": "persd-study-left", "2": "persd-study-right", "t": "persd-study-tie",
             "n": "persd-study-next"}
TASK_LINES = 12
# Bound once per page (js_on_load runs per mount); same rules as assets/shortcuts.js.
_KEYS_JS = """
if (!window.persdStudyKeys) {
  window.persdStudyKeys = true;
  const keys = %s;
  const typing = (el) => !!el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName)
      || !!(el.closest && el.closest(".cm-editor, [contenteditable='true']")));
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.altKey || event.metaKey || event.repeat) return;
    if (typing(event.target) || typing(document.activeElement)) return;
    const id = keys[event.key.toLowerCase()];
    const button = id && document.getElementById(id);
    if (!button || button.offsetParent === null || button.disabled) return;
    event.preventDefault();
    button.click();
  });
}
""" % json.dumps(SHORTCUTS)


def _button(label: str, elem_id: str) -> gr.Button:
    return gr.Button(label, elem_id=elem_id, scale=0, min_width=120,
                     elem_classes=["persd-study-btn"])


def build(ctx: AppContext) -> None:
    handlers = StudyHandlers(ctx.stores)
    state = gr.State(new_state())
    gr.HTML(render.CSS, js_on_load=_KEYS_JS, elem_id="persd-study-style", padding=False)
    with gr.Row(equal_height=True, elem_id="persd-study-top"):
        study = gr.Dropdown([], label="Study", elem_id="persd-study-pick", scale=1, min_width=200)
        progress = gr.HTML(elem_id="persd-study-progress")
    header = gr.HTML(elem_id="persd-study-header")
    note = gr.HTML(elem_id="persd-study-message")
    with gr.Column(visible=False, elem_id="persd-study-pair") as pair_area:
        with gr.Row(elem_id="persd-study-actions", equal_height=True):
            left = gr.Button("1 · Candidate 1", elem_id=SHORTCUTS["1"], variant="primary",
                             min_width=150)
            right = gr.Button("2 · Candidate 2", elem_id=SHORTCUTS["2"], variant="primary",
                              min_width=150)
            tie = gr.Button("T · Tie", elem_id=SHORTCUTS["t"], min_width=90)
            reason = gr.Textbox(placeholder="why (optional)", show_label=False, container=False,
                                elem_id="persd-study-reason", scale=2, min_width=200)
            nxt = gr.Button("N · Next ▶", elem_id=SHORTCUTS["n"], min_width=100)
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=280):
                task = gr.Code(language="python", label="Task", interactive=False,
                               lines=TASK_LINES, max_lines=TASK_LINES, wrap_lines=True,
                               elem_id="persd-study-task")
                feedback = gr.HTML(elem_id="persd-study-feedback")
            with gr.Column(scale=2, min_width=420):
                left_title = gr.HTML(elem_id="persd-study-left-title")
                left_diff = gr.HTML(elem_id="persd-study-left-diff", apply_default_css=False)
            with gr.Column(scale=2, min_width=420):
                right_title = gr.HTML(elem_id="persd-study-right-title")
                right_diff = gr.HTML(elem_id="persd-study-right-diff", apply_default_css=False)
        gr.HTML(render.KEYS_HELP)

    with gr.Accordion("Owner: set up, reassign, agreement", open=False,
                      elem_id="persd-study-owner"):
        owner_message = gr.HTML(elem_id="persd-study-owner-message")
        with gr.Row(equal_height=False):
            name = gr.Textbox(label="New study", elem_id="persd-study-name", min_width=140)
            kind = gr.Dropdown(["pairwise", "review"], value="pairwise", label="Kind",
                               min_width=110)
            source_a = gr.Textbox("persd", label="Candidate a", min_width=100,
                                  elem_id="persd-study-source-a")
            source_b = gr.Textbox("stand", label="Candidate b", min_width=100,
                                  elem_id="persd-study-source-b",
                                  info="METHOD[@ROUND][:TEACHER], e.g. persd@1")
            reviewers = gr.Textbox(label="Reviewers, comma-separated", min_width=220,
                                   scale=2, elem_id="persd-study-reviewers")
            overlap = gr.Number(2, label="Reviewers per item", precision=0, minimum=1,
                                min_width=130)
            create = _button("Create study", "persd-study-create")
        with gr.Row(equal_height=False):
            from_reviewer = gr.Textbox(label="Move open items of", min_width=140)
            to_reviewer = gr.Textbox(label="to reviewer", min_width=140)
            reassign = _button("Reassign", "persd-study-reassign")
            item = gr.Number(None, label="Item id", precision=0, min_width=90)
            decision = gr.Dropdown(["a", "b", "tie", "approved", "rejected"], value="a",
                                   label="Adjudicated decision", min_width=140)
            adjudicate = _button("Adjudicate", "persd-study-adjudicate")
            show_agreement = _button("Agreement", "persd-study-agreement-button")
        agreement_html = gr.HTML(elem_id="persd-study-agreement")
    with gr.Accordion("Owner: report and export", open=False, elem_id="persd-study-report"):
        make_report = gr.Button("Build the report", elem_id="persd-study-report-button",
                                variant="primary", size="md")
        with gr.Row():
            plot_all = gr.Plot(show_label=False, min_width=300)
            plot_error = gr.Plot(show_label=False, min_width=300)
            plot_diff = gr.Plot(show_label=False, min_width=300)
        table = gr.Dataframe(label="Win rates",
                             interactive=False, wrap=True, elem_id="persd-study-table")
        export_file = gr.File(label="Every judgment (CSV)", elem_id="persd-study-export")

    widgets = dict(state=state, study=study, progress=progress, header=header, task=task,
                   feedback=feedback, left_title=left_title, left_diff=left_diff,
                   right_title=right_title, right_diff=right_diff, message=note,
                   pair_area=pair_area, reason=reason, owner_message=owner_message,
                   agreement=agreement_html, plot_all=plot_all, plot_error=plot_error,
                   plot_diff=plot_diff, table=table, export_file=export_file,
                   source_a=source_a, source_b=source_b)
    inputs = [ctx.session, ctx.reviewer, state, study, reason, name, kind, source_a, source_b,
              reviewers, overlap, from_reviewer, to_reviewer, item, decision]

    everything = Keyed(**widgets)

    def wire(method, names: tuple[str, ...], error_to: str):
        out = everything.only(*names)

        def handler(session, typed, state, study, reason, name, kind, source_a, source_b,
                    reviewers, overlap, from_reviewer, to_reviewer, item, decision,
                    request: gr.Request):
            i = StudyInputs(
                session=session, reviewer=ctx.reviewer_name(typed, request),
                state=state or new_state(), study=study, reason=reason or "", name=name or "",
                kind=kind, source_a=source_a or "", source_b=source_b or "",
                reviewers=reviewers or "", overlap=overlap, from_reviewer=from_reviewer or "",
                to_reviewer=to_reviewer or "", item=item, decision=decision or "")
            try:
                changed = method(i)
            except (StoreError, StudyError, ValueError) as error:
                changed = {error_to: render.message("error", str(error))}
            return {key: value for key, value in changed.items() if key in names}
        return dict(fn=out.wire(handler), inputs=inputs, outputs=out.list,
                    show_progress="hidden")

    # Opened by its tab (refresh, below) or a session picked while it is shown.
    ctx.on_session(**wire(handlers.open, PAIR, "message"), lazy=True, on_select=False)
    # Pairing sources reads every refinement: only once the Study tab is opened.
    ctx.on_session(**wire(handlers.defaults, ("source_a", "source_b", "owner_message"),
                          "owner_message"), lazy=True)
    ctx.tab.select(**wire(handlers.refresh, PAIR, "message"))
    study.input(**wire(handlers.open, PAIR, "message"))
    ctx.reviewer.submit(**wire(handlers.open, PAIR, "message"))
    left.click(**wire(lambda i: handlers.pick(i, "left"), PAIR, "message"))
    right.click(**wire(lambda i: handlers.pick(i, "right"), PAIR, "message"))
    tie.click(**wire(lambda i: handlers.pick(i, "tie"), PAIR, "message"))
    nxt.click(**wire(handlers.next, PAIR, "message"))
    create.click(**wire(handlers.create, (*OWNER, *(n for n in PAIR if n not in OWNER)),
                        "owner_message"))
    reassign.click(**wire(handlers.reassign, OWNER, "owner_message"))
    adjudicate.click(**wire(handlers.adjudicate, OWNER, "owner_message"))
    show_agreement.click(**wire(handlers.agreement, OWNER, "owner_message"))
    make_report.click(**wire(handlers.report, REPORT, "owner_message"))
