"""The Evaluate tab: evaluate the base student or a trained adapter, see what changed,
browse the evaluation samples and why they fail.

Wiring only: `persd_app.tabs.evaluate_handlers.EvaluateHandlers` holds the event logic (each
handler returns values keyed by the component names below); `persd.jobs.evaluate` writes a
job file and runs it with `persd.runs.child` in a child process recorded in the session (one evaluation at a time per
session; a reloaded page re-attaches). gr.Plot has no click event in Gradio 6, so the
tables beside the figures are the drill-down: a click on a row filters the sample browser
(or, for refinements, gives the Review filter).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from persd.evaluate.config import PRESETS, EvalConfig
from persd.settings import default_of
from persd_app.roles import operator_only
from persd_app.tabs import AppContext
from persd_app.tabs.evaluate_handlers import (
    ANY,
    CUSTOM,
    IDLE_POLL_S,
    PRESET,
    TABLE_COLUMNS,
    EvaluateHandlers,
)
from persd_app.tabs.form_fields import prompt_format, prompt_style, reveal_after
from persd_app.tabs.form_memory import FormMemoryPanel
from persd_app.tabs.keyed import Keyed

PAPER = PRESETS["paper"]

TITLE = "Evaluate"
ONE_AT_A_TIME = ('<div class="persd-msg persd-msg-info">One evaluation at a time per session: '
                 'it runs in its own child process (a job file run by <code>persd.runs.child</code>), '
                 'recorded in the session, so every browser sees it and a reloaded page '
                 're-attaches.</div>')


def build(ctx: AppContext) -> None:
    handlers = EvaluateHandlers(ctx.stores, ctx.sessions_dir, ctx.runs_dir,
                                data_dirs=ctx.data_dirs)
    c: dict[str, Any] = {}
    gr.HTML(ONE_AT_A_TIME)
    with gr.Row(equal_height=True):
        c["student"] = gr.Textbox(label="Student model", info="Hugging Face id or local folder",
                                  elem_id="persd-ev-student", scale=2)
        c["adapter"] = gr.Dropdown([("base (no adapter)", "")], value="", label="Adapter",
                                   info="the session's finished train runs",
                                   elem_id="persd-ev-adapter", scale=2)
        c["round"] = gr.Number(0, label="Round", info="0: the base student", precision=0,
                               minimum=0, elem_id="persd-ev-round", min_width=90)
    with gr.Row(equal_height=True):
        c["preset"] = gr.Radio([PRESET, CUSTOM], value=PRESET, label="Protocol",
                               elem_id="persd-ev-preset", scale=2)
        c["samples"] = gr.Number(PAPER["samples"], label="Samples n", precision=0, minimum=1,
                                 elem_id="persd-ev-samples", min_width=90, interactive=False)
        c["temperature"] = gr.Number(PAPER["temperature"], label="Temperature", minimum=0, min_width=90,
                                     elem_id="persd-ev-temperature", interactive=False)
        c["top_p"] = gr.Number(PAPER["top_p"], label="top_p", minimum=0, maximum=1, min_width=90,
                               elem_id="persd-ev-top-p", interactive=False)
        c["refine_steps"] = gr.Number(1, label="Repair steps K", precision=0, minimum=0,
                                      elem_id="persd-ev-refine-steps", min_width=110)
        c["max_new_tokens"] = gr.Number(default_of(EvalConfig, "max_new_tokens"), label="Max new tokens", precision=0, minimum=1,
                                        elem_id="persd-ev-max-new-tokens", min_width=110)
    with gr.Row(equal_height=True):
        c["tasks"] = gr.Textbox("humaneval", label="Eval tasks",
                                info="humaneval, a JSONL file or mbpp:PATH",
                                elem_id="persd-ev-tasks", scale=2)
        c["limit"] = gr.Number(None, label="First N tasks", info="empty or 0: all",
                               precision=0, elem_id="persd-ev-limit", min_width=110)
        c["prompt_format"] = prompt_format("persd-ev", scale=2)
        c["prompt_style"] = prompt_style("persd-ev", scale=1)
    form_names = ("student", "adapter", "round", "preset", "samples", "temperature", "top_p",
                  "refine_steps", "max_new_tokens", "tasks", "limit", "prompt_format",
                  "prompt_style")
    memory = FormMemoryPanel(ctx, "evaluate", {n: c[n] for n in form_names},
                             fits=handlers.fitting_form)
    memory.build()
    c["contamination"] = gr.HTML(elem_id="persd-ev-contamination")
    c["command"] = gr.Code(language="shell", label="Equivalent command", interactive=False,
                           lines=2, elem_id="persd-ev-command")
    with gr.Row():
        start = gr.Button("Start evaluation", variant="primary", elem_id="persd-ev-start")
        abort = gr.Button("Abort", variant="stop", elem_id="persd-ev-abort")
    c["notice"] = gr.HTML(elem_id="persd-ev-notice")
    c["status"] = gr.HTML(elem_id="persd-ev-status")
    with gr.Accordion("Log (tail of eval.log)", open=False):
        c["log"] = gr.Textbox(show_label=False, interactive=False, lines=8, max_lines=8,
                              autoscroll=True, elem_id="persd-ev-log")
    c["timer"] = ctx.timer(IDLE_POLL_S)
    c["watched"] = gr.State(None)

    gr.Markdown("### Before and after")
    c["results_note"] = gr.HTML(elem_id="persd-ev-results-note")
    with gr.Row(equal_height=True):
        c["changes_plot"] = gr.Plot(show_label=False, elem_id="persd-ev-changes-plot")
        c["mix_plot"] = gr.Plot(show_label=False, elem_id="persd-ev-mix-plot")
    with gr.Row(equal_height=True):
        c["repair_plot"] = gr.Plot(show_label=False, elem_id="persd-ev-repair-plot")
        c["eval_sig_plot"] = gr.Plot(show_label=False, elem_id="persd-ev-sig-plot")
    gr.Markdown("Click a row to open the samples behind it in the browser below.")
    with gr.Row(equal_height=False):
        c["changes_table"] = gr.Dataframe(label="Per task, round to round", interactive=False,
                                          max_height=260, elem_id="persd-ev-changes-table")
        c["repair_table"] = gr.Dataframe(label="What repair fixed, per error type",
                                         interactive=False, max_height=260,
                                         elem_id="persd-ev-repair-table")
    with gr.Row(equal_height=False):
        c["mix_table"] = gr.Dataframe(label="Error mix per run (step 0)", interactive=False,
                                      max_height=260, elem_id="persd-ev-mix-table")
        c["eval_sig_table"] = gr.Dataframe(label="Failure signatures (latest run)",
                                           interactive=False, max_height=260, wrap=True,
                                           elem_id="persd-ev-sig-table")

    gr.Markdown("### Evaluation samples")
    with gr.Row(equal_height=True):
        c["f_run"] = gr.Dropdown([], label="Eval run", elem_id="persd-ev-f-run", scale=2)
        c["f_step"] = gr.Dropdown([ANY], value=ANY, label="Step", elem_id="persd-ev-f-step",
                                  min_width=90)
        c["f_outcome"] = gr.Radio([ANY, "passed", "failed"], value=ANY, label="Outcome",
                                  elem_id="persd-ev-f-outcome")
        c["f_error"] = gr.Dropdown([ANY], value=ANY, label="Error type",
                                   elem_id="persd-ev-f-error")
        c["f_signature"] = gr.Dropdown([ANY], value=ANY, label="Signature", scale=2,
                                       elem_id="persd-ev-f-signature")
        c["f_task"] = gr.Textbox(label="Task contains", elem_id="persd-ev-f-task")
    c["browser_count"] = gr.HTML(elem_id="persd-ev-browser-count")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=420):
            c["samples_table"] = gr.Dataframe(interactive=False, max_height=520, wrap=True,
                                              show_label=False, elem_id="persd-ev-samples-table")
        with gr.Column(scale=1, min_width=360):
            c["sample_detail"] = gr.HTML(elem_id="persd-ev-sample-detail")

    gr.Markdown("### Why refinements still fail")
    c["ref_sig_table"] = gr.Dataframe(label="Teacher refinements failing the hidden tests, "
                                            "by signature (click a row)", interactive=False,
                                      max_height=260, wrap=True, elem_id="persd-ev-ref-sigs")
    c["review_filter"] = gr.HTML(elem_id="persd-ev-review-filter")
    c["chosen_signature"] = gr.State("")
    c["reject_plan"] = gr.State(None)
    with gr.Row():
        reject = gr.Button("Reject every refinement failing with this signature…", size="sm",
                           variant="stop", elem_id="persd-ev-reject-signature", scale=0,
                           min_width=380)
        c["reject_confirm"] = gr.Button("Confirm", visible=False, size="sm", variant="stop",
                                        elem_id="persd-ev-reject-confirm", scale=0,
                                        min_width=160)
        c["reject_undecided"] = gr.Button("Only the undecided", visible=False, size="sm",
                                          elem_id="persd-ev-reject-undecided", scale=0,
                                          min_width=200)
        c["reject_cancel"] = gr.Button("Cancel", visible=False, size="sm", scale=0,
                                       elem_id="persd-ev-reject-cancel", min_width=100)

    form = [c[n] for n in form_names]
    filters = [c[n] for n in ("f_run", "f_step", "f_outcome", "f_error", "f_signature",
                              "f_task")]
    out = Keyed(**c)
    wrap, outputs = out.wire, out.list

    def drill(table: str):
        def on_select(session, run_id, evt: gr.SelectData):
            row = dict(zip(TABLE_COLUMNS[table], evt.row_value or []))
            return wrap(handlers.drill)(session, table, row, run_id)
        return on_select

    def open_row(session, evt: gr.SelectData):
        return wrap(handlers.open_sample)(session, (evt.row_value or [None])[0])

    def review_row(session, evt: gr.SelectData):
        row = dict(zip(TABLE_COLUMNS["ref_sig"], evt.row_value or []))
        return wrap(handlers.rejects.review_drill)(session, row)

    def custom(preset):
        editable = preset == CUSTOM
        return [gr.update(interactive=editable)] * 3

    quiet = dict(show_progress="hidden")
    session = ctx.session
    # The form at once (a later fill would overwrite what the user types), then the values
    # this session's form last held; the contamination check (loads the tasks) after them,
    # so that its message says the form has landed; the figures, which read every eval
    # sample, only while the tab is shown.
    attached = ctx.on_session(wrap(handlers.attach), [session], outputs, **quiet)
    memory.wire(attached).then(wrap(handlers.contamination), [session, c["tasks"], c["limit"]],
                               outputs, **quiet)
    ctx.on_session(wrap(handlers.results), [session], outputs, lazy=True, **quiet)
    gr.on([c["tasks"].blur, c["limit"].change], wrap(handlers.contamination),
          [session, c["tasks"], c["limit"]], outputs, **quiet)
    c["adapter"].change(wrap(handlers.pick_adapter), [session, c["adapter"]], outputs, **quiet)
    c["preset"].change(custom, [c["preset"]], [c["samples"], c["temperature"], c["top_p"]],
                       **quiet)
    # The command follows the form while the tab is shown, and is drawn when it is opened.
    line = out.only("command")
    ctx.follow_form(form, line.wire(handlers.preview), [session, *form], line.list, **quiet)
    started = start.click(wrap(operator_only(ctx, handlers.start, "start an evaluation")),
                          [session, *form], outputs, show_progress="minimal")
    memory.remember_after(started)
    reveal_after(started, "persd-ev-status")  # the notice sits just above it
    # Named: "/stop" is the Loop tab's Stop (tests/test_roles.py calls it by name).
    abort.click(wrap(operator_only(ctx, handlers.stop, "stop an evaluation")),
                [session, c["watched"]], outputs, api_name="stop_evaluation", **quiet)
    c["timer"].tick(wrap(handlers.tick), [session, c["watched"]], outputs, **quiet)
    gr.on([f.change for f in filters], wrap(handlers.samples), [session, *filters], outputs,
          **quiet)
    c["samples_table"].select(open_row, [session], outputs, **quiet)
    for table in ("changes", "repair", "mix", "eval_sig"):
        c[f"{table}_table"].select(drill(table), [session, c["f_run"]], outputs, **quiet)
    c["ref_sig_table"].select(review_row, [session], outputs, **quiet)

    def reject_all(undecided_only: bool):
        def confirmed(session_name, plan, typed, request: gr.Request):
            reviewer = ctx.reviewer_name(typed, request)
            return wrap(handlers.rejects.reject_signature)(session_name, plan, reviewer, undecided_only)
        return confirmed

    # Asked first, naming the records a person already decided (issue 25, defect 1).
    reject.click(wrap(handlers.rejects.reject_signature_ask), [session, c["chosen_signature"]], outputs,
                 **quiet)
    for button, undecided_only in ((c["reject_confirm"], False), (c["reject_undecided"], True)):
        button.click(reject_all(undecided_only), [session, c["reject_plan"], ctx.reviewer],
                     outputs, **quiet)
    c["reject_cancel"].click(wrap(handlers.rejects.reject_cancel), None, outputs, **quiet)

