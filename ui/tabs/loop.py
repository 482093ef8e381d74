"""The Loop tab: a session's online loop (persd loop): rounds, the current step and its
progress, pass@1 by round (one-step and multi-step), and a Stop button.

Wiring only: `persd_app.tabs.loop_handlers.LoopHandlers` reads the loop's run in the store; a
timer refreshes the view every few seconds while the tab is shown. An operator starts a
loop from the form (the essential `persd loop` settings; the rest keep the CLI's defaults)
as a child process (`persd.jobs.loop`), or from the command line; either way the view
shows it. Its wait gate goes on once reviewers have decided enough records in Review.
"""

from __future__ import annotations

import gradio as gr

from persd.collect import CollectConfig
from persd.loop import GATES
from persd.loop.config import loop_eval
from persd.settings import default_of
from persd_app.roles import operator_only
from persd_app.tabs import AppContext
from persd_app.tabs.form_fields import prompt_format, prompt_style, reveal_after, teacher_endpoint
from persd_app.tabs.form_memory import FormMemoryPanel
from persd_app.tabs.keyed import Keyed
from persd_app.tabs.loop_handlers import LoopForm, LoopHandlers

TITLE = "Loop"
REFRESH_S = 3.0
EMPTY_CURVE = ('<div class="persd-empty-panel" data-testid="loop-no-curve"><b>pass@1 by round'
               '</b><br>No round evaluated yet: a point per round appears here as the loop '
               'evaluates them.</div>')


TEMPERATURE_HINT = (f"{default_of(CollectConfig, 'temperature')} collecting, "
                    f"{loop_eval().temperature} evaluating")
# Remembered per session (persd.forms); the API key never is.
REMEMBERED = ("student", "tasks", "limit", "eval_tasks", "eval_limit", "base_url",
              "teacher_model", "rounds", "gate", "temperature", "top_p", "max_new_tokens",
              "train_steps", "prompt_format", "prompt_style")


def start_form(ctx: AppContext) -> dict:
    """The start form's fields by LoopForm's names, its presets ("memory") and the
    accordion that holds them ("panel")."""
    f: dict = {}
    with gr.Accordion("Start a loop", open=True, elem_id="persd-loop-start-form") as f["panel"]:
        with gr.Row(equal_height=True):
            f["session"] = gr.Textbox(label="Session", info="new or the picked one",
                                      elem_id="persd-loop-session", min_width=150)
            f["student"] = gr.Textbox(label="Student model", info="Hugging Face id or folder",
                                      elem_id="persd-loop-student", scale=2)
            f["tasks"] = gr.Textbox(LoopForm.tasks, label="Training tasks",
                                    elem_id="persd-loop-tasks", min_width=140)
            f["limit"] = gr.Number(None, label="First N", precision=0, info="0: all",
                                   elem_id="persd-loop-limit", min_width=90)
            f["eval_tasks"] = gr.Textbox(label="Held-out eval tasks", info="a JSONL file, mbpp:PATH",
                                         elem_id="persd-loop-eval-tasks", min_width=160)
            f["eval_limit"] = gr.Number(None, label="First N eval", precision=0, info="0: all",
                                        elem_id="persd-loop-eval-limit", min_width=90)
        with gr.Row(equal_height=True):
            f["base_url"], f["api_key"] = teacher_endpoint(ctx, "persd-loop")
            f["teacher_model"] = gr.Textbox(label="Teacher model", placeholder="e.g. gpt-4o-mini",
                                            elem_id="persd-loop-teacher-model")
            f["prompt_format"] = prompt_format("persd-loop")
            f["prompt_style"] = prompt_style("persd-loop")
        with gr.Row(equal_height=True):
            f["rounds"] = gr.Number(LoopForm.rounds, label="Rounds", precision=0, minimum=1,
                                    elem_id="persd-loop-rounds-n", min_width=80)
            f["gate"] = gr.Dropdown(list(GATES), value=LoopForm.gate, label="Review gate",
                                    info="auto: approve validated · wait: for reviewers",
                                    elem_id="persd-loop-gate", min_width=150)
            # Text, not a number field: blank keeps each part's own default (a blank
            # gr.Number arrives as 0, which is a temperature).
            f["temperature"] = gr.Textbox(label="Temperature", placeholder=TEMPERATURE_HINT,
                                          info="empty: the CLI's", min_width=120,
                                          elem_id="persd-loop-temperature")
            f["top_p"] = gr.Number(LoopForm.top_p, label="top_p", minimum=0, maximum=1,
                                   elem_id="persd-loop-top-p", min_width=80)
            f["max_new_tokens"] = gr.Number(LoopForm.max_new_tokens, label="Max new tokens",
                                            precision=0, elem_id="persd-loop-max-new-tokens",
                                            min_width=100)
            f["train_steps"] = gr.Number(None, label="Train steps per round", precision=0,
                                         info="0: by epochs",
                                         elem_id="persd-loop-train-steps", min_width=110)
            f["start"] = gr.Button("Start loop", variant="primary", elem_id="persd-loop-start",
                                   scale=0, min_width=130)
        f["command"] = gr.Code(language="shell", label="Equivalent command", interactive=False,
                               lines=2, wrap_lines=True, elem_id="persd-loop-command")
        f["note"] = gr.HTML(elem_id="persd-loop-start-note")
        f["memory"] = FormMemoryPanel(ctx, "loop", {n: f[n] for n in REMEMBERED})
        f["memory"].build()
    return f


def build(ctx: AppContext) -> None:
    handlers = LoopHandlers(ctx.stores, ctx.endpoints, ctx.runs_dir, ctx.data_dirs)
    # The running loop first, then the form that starts one (folded while the session
    # has a loop), then its rounds.
    with gr.Row(equal_height=False):
        status = gr.Markdown(elem_id="persd-loop-status")
        stop = gr.Button("Stop loop", variant="stop", size="sm", scale=0, min_width=110,
                         interactive=False, elem_id="persd-loop-stop")
    note = gr.Markdown(elem_id="persd-loop-note")
    form = start_form(ctx)
    progress = gr.Slider(0, 1, label="Current step", interactive=False, elem_id="persd-loop-progress")
    with gr.Row(equal_height=True):
        rounds = gr.Dataframe(label="Rounds", interactive=False, elem_id="persd-loop-rounds")
        with gr.Column():
            # Without points the chart collapses to a line (issue 25): a panel says why
            # instead, until the first round is evaluated.
            curve = gr.LinePlot(x="round", y="pass@1", color="inference",
                                title="pass@1 by round", y_title="pass@1", x_title="round",
                                y_lim=[0, 1], height=300, visible=False,
                                elem_id="persd-loop-curve")
            no_curve = gr.HTML(EMPTY_CURVE, elem_id="persd-loop-no-curve")
    timer = ctx.timer(REFRESH_S)

    view = Keyed(status=status, progress=progress, rounds=rounds, curve=curve,
                 no_curve=no_curve, stop=stop)
    show, outputs = view.wire(handlers.view), view.list
    ctx.on_session(show, [ctx.session], outputs, lazy=True, show_progress="hidden")
    timer.tick(show, [ctx.session], outputs, show_progress="hidden")
    stop.click(Keyed(note=note).wire(operator_only(ctx, handlers.stop, "stop the loop")),
               [ctx.session], [note]).then(show, [ctx.session], outputs)

    names = [n for n in LoopForm.__dataclass_fields__]
    fields = [form[n] for n in names]
    filled = Keyed(**{n: form[n] for n in ("session", "student", "tasks", "teacher_model",
                                            "eval_tasks", "panel")})
    memory = form["memory"]
    memory.wire(ctx.on_session(filled.wire(handlers.prefill), [ctx.session], filled.list,
                               show_progress="hidden"))

    # The command follows the form while the tab is shown, and is drawn when it is opened.
    line = Keyed(command=form["command"])
    ctx.follow_form(fields, line.wire(lambda *values: handlers.command(LoopForm(*values))),
                    fields, line.list, show_progress="hidden")

    def start(*values):
        return handlers.start(LoopForm(*values))

    began = Keyed(note=form["note"], picker=ctx.session)
    started = form["start"].click(began.wire(operator_only(ctx, start, "start a loop")), fields,
                                  began.list, show_progress="minimal",
                                  show_progress_on=[form["note"]])
    memory.remember_after(started.then(show, [ctx.session], outputs, show_progress="hidden"))
    reveal_after(started, "persd-loop-start-note")
