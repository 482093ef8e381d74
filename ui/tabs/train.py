"""The Train tab: fine-tune the student on the session's curated examples, or export them.

Layout and wiring only; `persd_app.tabs.train_handlers` does the work (the rows, the child
process through `persd.jobs.TrainJobs`, one training job at a time per session, the loss
curves, the export). A gr.Timer polls the running job; a reloaded page re-attaches to it.
The student field lists the local model folders and can create the tiny offline model;
a model that is neither a local folder nor loadable from the Hub is refused before a run
starts. Output goes only under the operator's runs folder (`persd app --runs-dir`).
"""

from __future__ import annotations

import gradio as gr

from persd.data import VARIANTS
from persd_app.roles import operator_only
from persd_app.tabs import AppContext
from persd_app.tabs.form_fields import prompt_format, prompt_style, reveal_after
from persd_app.tabs.form_memory import FormMemoryPanel
from persd_app.tabs.keyed import Keyed
from persd_app.tabs.train_handlers import (
    IDLE_POLL_S,
    OUTPUTS,
    HISTORY_COLUMNS,
    TrainForm,
    TrainHandlers,
)

TITLE = "Train"
SELECTIONS = [("auto", "auto"), ("approved by reviewers", "approved"),
              ("validated by the tests", "validated"), ("all teacher results", "all")]
SELECTION_INFO = ("auto: the approved and edited ones once anything is reviewed, else the "
                  "ones that pass the hidden tests")
VARIANT_INFO = ("persd: task -> the teacher's refinement of the student's attempt · "
                "persd-refine: task + attempt + feedback -> refinement · persd-combined: both "
                "· stand: task -> the teacher's own solution, every task · inpd: the same, "
                "failed tasks only")
FORMATS = [("JSONL", "jsonl"), ("Parquet", "parquet"), ("datasets folder (zipped)", "hf")]
ONE_AT_A_TIME = ('<div class="persd-msg persd-msg-info">One training job at a time per '
                 'session: the session records it, so every browser sees the same job, and '
                 'a reloaded page re-attaches to it. Abort stops it cleanly (a resumable '
                 'checkpoint is saved).</div>')


def build(ctx: AppContext) -> None:
    handlers = TrainHandlers(ctx.stores, ctx.runs_dir, ctx.models_dir,
                             data_dirs=ctx.data_dirs)
    w: dict = {}
    gr.HTML(ONE_AT_A_TIME)
    with gr.Row(equal_height=True):
        variant = gr.Dropdown(list(VARIANTS), value="persd", label="Variant",
                              info=VARIANT_INFO, elem_id="persd-train-variant", min_width=140,
                              scale=2)
        selection = gr.Dropdown(SELECTIONS, value="auto", label="Teacher results to train on",
                                info=SELECTION_INFO, elem_id="persd-train-selection",
                                min_width=260, scale=2)
    w["examples"] = gr.HTML(elem_id="persd-train-examples")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            w["student"] = gr.Dropdown(
                handlers.models(), value=None, allow_custom_value=True, label="Student model",
                info=f"a local model folder (under {ctx.models_dir}, the sessions or the runs "
                     "folder) or a Hugging Face id", elem_id="persd-train-student")
            tiny = gr.Button(f"Create the tiny offline model in {ctx.models_dir / 'tiny'}",
                             size="sm", elem_id="persd-train-create-tiny")
        w["output"] = gr.Textbox(label="Output name",
                                 info=f"a new folder in {ctx.runs_dir} for the adapter, "
                                      "checkpoints, metrics and model card (letters, digits, "
                                      ". _ -)", elem_id="persd-train-output", scale=2)
    with gr.Row(equal_height=True):
        epochs = gr.Number(3, label="Epochs", info="passes over the examples", minimum=0,
                           elem_id="persd-train-epochs", min_width=90)
        max_steps = gr.Number(-1, label="Max steps", info="-1: as many as the epochs take",
                              precision=0, minimum=-1, elem_id="persd-train-max-steps",
                              min_width=120)
        lr = gr.Textbox(label="Learning rate", info="empty: the default for the method",
                        placeholder="2e-4 (LoRA), 5e-6 (full)", elem_id="persd-train-lr",
                        min_width=150)
        batch = gr.Number(8, label="Batch size", info="examples per step", precision=0,
                          minimum=1, elem_id="persd-train-batch", min_width=90)
        lora_r = gr.Number(16, label="LoRA r", info="adapter rank", precision=0, minimum=1,
                           elem_id="persd-train-lora-r", min_width=80)
        with gr.Column(min_width=160):
            full = gr.Checkbox(False, label="Full fine-tuning", elem_id="persd-train-full")
            overwrite = gr.Checkbox(False, label="Overwrite the output folder",
                                    elem_id="persd-train-overwrite")
    with gr.Row(equal_height=True):  # how the rows' prompts are written
        prompt_fmt = prompt_format("persd-train", scale=2)
        style = prompt_style("persd-train", scale=1)
    # The output name is left out: a finished run's folder is not reused without asking.
    memory = FormMemoryPanel(ctx, "train", dict(
        variant=variant, selection=selection, student=w["student"], epochs=epochs,
        max_steps=max_steps, lr=lr, batch=batch, lora_r=lora_r, full=full, prompt_format=prompt_fmt,
        prompt_style=style))
    memory.build()
    w["command"] = gr.Code(language="shell", label="Equivalent command", interactive=False,
                           lines=2, elem_id="persd-train-command")
    with gr.Row():
        start = gr.Button("Start training", variant="primary", elem_id="persd-train-start")
        abort = gr.Button("Abort", variant="stop", elem_id="persd-train-abort")
    # What the last click did (kept until the next one) apart from the job's status,
    # which the timer redraws every second.
    w["notice"] = gr.HTML(elem_id="persd-train-notice")
    w["status"] = gr.HTML(elem_id="persd-train-status")
    with gr.Row(equal_height=False):
        w["curve"] = gr.Plot(show_label=False, elem_id="persd-train-loss")
        w["log"] = gr.Textbox(label="Log (tail of train.log)", interactive=False, lines=16,
                              max_lines=16, autoscroll=True, elem_id="persd-train-log")
    w["timer"] = ctx.timer(IDLE_POLL_S)
    w["watched"] = gr.State(None)  # the running job this page follows (None: none)
    with gr.Accordion("Past runs of this session", open=True):
        w["history"] = gr.Dataframe(headers=HISTORY_COLUMNS, interactive=False,
                                    max_height=260, elem_id="persd-train-history")
        w["history_curves"] = gr.Plot(show_label=False, elem_id="persd-train-history-curves")
    with gr.Accordion("Export the training examples", open=False):
        with gr.Row(equal_height=True):
            fmt = gr.Radio(FORMATS, value="jsonl", label="Format",
                           info=f"the variant and selection above; written to "
                                f"{ctx.runs_dir / 'exports'}", elem_id="persd-train-format")
            export = gr.Button("Export", elem_id="persd-train-export", scale=0, min_width=120)
        w["export_file"] = gr.File(label="Exported file", visible=False, interactive=False,
                                   elem_id="persd-train-export-file")

    out = Keyed(**{name: w[name] for name in OUTPUTS})
    form = [ctx.session, variant, selection, w["student"], w["output"], epochs, max_steps, lr,
            batch, lora_r, full, overwrite, prompt_fmt, style]

    def as_form(fn):
        def handler(*values):
            return fn(TrainForm(*values))
        return handler

    quiet = dict(show_progress="hidden")
    # The form at once (a later fill would overwrite what the user types); the count, which
    # builds the training set from the whole session, only while the tab is shown.
    attached = ctx.on_session(out.wire(handlers.attach), [ctx.session, variant, w["student"]],
                              out.list, **quiet)
    memory.wire(attached)  # the values this session's form last held, after the defaults
    # Opening the tab counts again (lazy): reviews made meanwhile change what "auto" selects.
    ctx.on_session(out.wire(handlers.count), [ctx.session, variant, selection], out.list,
                   lazy=True, **quiet)
    gr.on([variant.change, selection.change], out.wire(handlers.count),
          [ctx.session, variant, selection], out.list, **quiet)
    # The command follows the form while the tab is shown, and is drawn when it is opened.
    line = out.only("command")
    ctx.follow_form(form, line.wire(as_form(handlers.preview)), form, line.list, **quiet)
    tiny.click(out.wire(operator_only(ctx, handlers.create_tiny_model, "create the tiny model")),
               None, out.list, show_progress="minimal", show_progress_on=[w["notice"]])
    started = start.click(out.wire(operator_only(ctx, as_form(handlers.start), "start training")),
                          form, out.list, show_progress="minimal")
    memory.remember_after(started)
    reveal_after(started, "persd-train-status")  # the notice sits just above it
    abort.click(out.wire(operator_only(ctx, handlers.abort, "abort a training run")),
                [ctx.session, w["watched"]], out.list, **quiet)
    w["timer"].tick(out.wire(handlers.tick), [ctx.session, w["watched"]], out.list, **quiet)
    export.click(out.wire(operator_only(ctx, handlers.export, "export the data")), [ctx.session, variant, selection, fmt, style], out.list,
                 show_progress="minimal", show_progress_on=[w["notice"]])
