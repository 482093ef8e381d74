"""The Train tab: fine-tune the student on the session's curated examples.

Wiring only: `persd.data.build_examples` picks the rows, `persd.jobs.TrainJobs` starts the
child process and records it in the session (one training job at a time per session, the
store's rule), a gr.Timer polls its metrics for the live loss curve and the log, and
`persd.analysis.figures.loss_curves` draws them. A reloaded page re-attaches to the
session's running job. Output goes only to a folder under the operator's runs folder
(`persd app --runs-dir`), named by the app or by a plain name the user types.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import gradio as gr
import pandas as pd

from persd.analysis.figures import loss_curves
from persd.data import VARIANTS, DataError, build_examples
from persd.jobs import JobError, TrainJob, TrainJobs, train_command
from persd.store import RunBusy, StoreError
from persd.train import TrainConfig, TrainError
from ui.tabs import AppContext
from ui.tabs.review_render import esc, message

TITLE = "Train"
POLL_S = 1.0      # while this page watches a running job
IDLE_POLL_S = 3.0  # otherwise: notice a job started elsewhere (another browser, the CLI)
SELECTIONS = [("auto", "auto"), ("approved by reviewers", "approved"),
              ("validated by the tests", "validated"), ("all teacher results", "all")]
SELECTION_INFO = ("auto: the approved and edited ones once anything is reviewed, else the "
                  "ones that pass the hidden tests")
ONE_AT_A_TIME = ('<div class="persd-msg persd-msg-info">One training job at a time per '
                 'session: the session records it, so every browser sees the same job, and '
                 'a reloaded page re-attaches to it. Abort stops it cleanly (a resumable '
                 'checkpoint is saved).</div>')
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
HISTORY_COLUMNS = ["run", "status", "variant", "selection", "rows", "steps", "final loss",
                   "output", "started"]


def build(ctx: AppContext) -> None:
    jobs = TrainJobs()
    gr.HTML(ONE_AT_A_TIME)
    with gr.Row(equal_height=True):
        variant = gr.Dropdown(list(VARIANTS), value="persd", label="Variant",
                              elem_id="persd-train-variant", min_width=140)
        selection = gr.Dropdown(SELECTIONS, value="auto", label="Teacher results to train on",
                                info=SELECTION_INFO, elem_id="persd-train-selection",
                                min_width=260)
        examples = gr.HTML(elem_id="persd-train-examples")
    with gr.Row(equal_height=True):
        student = gr.Textbox(label="Student model", info="Hugging Face id or local folder",
                             placeholder="e.g. Qwen/Qwen2.5-Coder-0.5B or models/tiny",
                             elem_id="persd-train-student", scale=2)
        output = gr.Textbox(label="Output name",
                            info=f"a new folder in {ctx.runs_dir} for the adapter, "
                                 "checkpoints, metrics and model card (letters, digits, . _ -)",
                            elem_id="persd-train-output", scale=2)
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
    command = gr.Code(language="shell", label="Equivalent command", interactive=False,
                      lines=2, elem_id="persd-train-command")
    with gr.Row():
        start = gr.Button("Start training", variant="primary", elem_id="persd-train-start")
        abort = gr.Button("Abort", variant="stop", elem_id="persd-train-abort")
    # What the last click did (kept until the next one) apart from the job's status,
    # which the timer redraws every second.
    notice = gr.HTML(elem_id="persd-train-notice")
    status = gr.HTML(elem_id="persd-train-status")
    with gr.Row(equal_height=False):
        curve = gr.Plot(show_label=False, elem_id="persd-train-loss")
        log = gr.Textbox(label="Log (tail of train.log)", interactive=False, lines=16,
                         max_lines=16, autoscroll=True, elem_id="persd-train-log")
    timer = gr.Timer(IDLE_POLL_S)
    watched = gr.State(None)  # the running job this page follows (None: none)
    with gr.Accordion("Past runs of this session", open=True):
        history = gr.Dataframe(headers=HISTORY_COLUMNS, interactive=False, max_height=260,
                               elem_id="persd-train-history")
        history_curves = gr.Plot(show_label=False, elem_id="persd-train-history-curves")

    form = [ctx.session, variant, selection, student, output, epochs, max_steps, lr, batch,
            lora_r, full, overwrite]

    def config_of(session, variant, selection, student, output, epochs, max_steps, lr,
                  batch, lora_r, full, overwrite) -> TrainConfig:
        return TrainConfig(
            student=(student or "").strip(),
            output_dir=str(output_folder(ctx.runs_dir, (output or "").strip()
                                           or default_name(session, variant))),
            variant=variant, session=session, epochs=float(epochs or 0),
            max_steps=int(max_steps if max_steps is not None else -1),
            learning_rate=_rate(lr), batch_size=int(batch or 1),
            lora_r=int(lora_r or 1), full=bool(full), overwrite=bool(overwrite))

    def preview(*values):
        if not (values[3] or "").strip():
            return "# give the student model above to see the command"
        try:
            return train_command(config_of(*values), values[0], values[1], values[2])
        except TrainError as error:
            return f"# {error}"

    def count(session, variant, selection):
        if not session:
            return ""
        try:
            store = ctx.stores.get(session)
            rows = build_examples(store, variant, selection=selection)
        except (DataError, StoreError) as error:
            return message("error", str(error))
        kind = "ok" if rows else "warn"
        sim = ", SIMULATED data" if store.simulated else ""
        return message(kind, f"{len(rows)} training example{'s' if len(rows) != 1 else ''} "
                             f"({variant}, {selection}{sim})")

    def live(job: TrainJob | None, note: str | None = None):
        """notice (None: keep it), status, curve, log, timer, watched for one job."""
        notice = gr.skip() if note is None else note
        if job is None:
            return (notice, message("info", "No training run in this session yet."),
                    loss_curves([]), "", gr.Timer(IDLE_POLL_S), None)
        kind = {"running": "info", "queued": "info", "finished": "ok", "stopped": "warn",
                "failed": "error"}[job.status]
        html = (f'<div class="persd-msg persd-msg-{kind}" data-testid="train-status" '
                f'data-status="{esc(job.status)}">{esc(job.describe())}</div>')
        figure = loss_curves([(f"run {job.run.id}", job.losses, job.eval_losses)],
                             title=f"Training loss, run {job.run.id}",
                             total_steps=job.total_steps)
        watching = job.run.id if job.active else None
        return (notice, html, figure, job.log_tail,
                gr.Timer(POLL_S if job.active else IDLE_POLL_S), watching)

    def refused(text: str):
        """Only the notice changes: the job's status and charts stay as they are."""
        return (message("error", text), *(gr.skip(),) * (len(outputs) - 1))

    def past(session):
        if not session:
            return pd.DataFrame(columns=HISTORY_COLUMNS), gr.Plot(visible=False)
        runs = jobs.history(ctx.stores.get(session))
        rows = [[j.run.id, j.status, j.run.config.get("variant"),
                 j.run.config.get("selection") or j.run.config.get("data") or "auto",
                 j.run.config.get("rows"), j.losses[-1][0] if j.losses else 0,
                 round(j.losses[-1][1], 4) if j.losses else None, j.run.output,
                 j.run.created_at[:19].replace("T", " ")] for j in runs]
        figure = loss_curves([(f"run {j.run.id}", j.losses, j.eval_losses) for j in runs],
                             title="Loss of this session's runs")
        # No runs yet: the empty table says so; a blank chart would only take room.
        return pd.DataFrame(rows, columns=HISTORY_COLUMNS), gr.Plot(figure, visible=bool(runs))

    def attach(session, variant, student_value, output_value):
        """On page load / session pick: defaults, and the running job if there is one."""
        if not session:
            return ("", "", *live(None, ""), *past(None))
        try:
            store = ctx.stores.get(session)
            job = jobs.refresh(store) or _latest(jobs, store)
            config = store.config()
        except StoreError as error:
            return ("", "", *live(None, message("error", str(error))), *past(None))
        default_student = "" if store.simulated else str(config.get("student") or "")
        return (student_value or default_student, default_name(session, variant),
                *live(job, ""),
                *past(session))

    def start_job(*values):
        session, variant, selection = values[0], values[1], values[2]
        if not session:
            return refused("Pick a session first.")
        store = ctx.stores.get(session)
        try:
            config = config_of(*values)
            rows = build_examples(store, variant, selection=selection)
            if not rows:
                raise JobError(f"no {variant} examples with selection {selection!r} in "
                               f"session {session}: review some refinements or pick another "
                               "selection")
            job = jobs.start(store, config, rows, request={
                "selection": selection,
                "command": train_command(config, session, variant, selection)})
        except RunBusy:
            running = jobs.refresh(store)
            return refused(f"A training run is already running in this session (run "
                           f"{running.run.id if running else '?'}): one at a time. Watch it "
                           "below or abort it first.")
        except (JobError, TrainError, DataError, StoreError) as error:
            return refused(f"Cannot start: {error}")
        return (*live(job, message("ok", f"Started train run {job.run.id}.")), *past(session))

    def tick(session, run_id):
        if not session:
            return (gr.skip(),) * len(outputs)
        store = ctx.stores.get(session)
        job = jobs.refresh(store, run_id) if run_id is not None else jobs.refresh(store)
        if job is None:
            return (gr.skip(),) * len(outputs)
        if job.active:
            return (*live(job), gr.skip(), gr.skip())
        return (*live(job), *past(session))  # it ended: the final state, once

    def stop(session, run_id):
        store = ctx.stores.get(session) if session else None
        active = store.active_run("train") if store is not None else None
        if run_id is None and active is None:
            return (message("info", "No running training job to abort."),
                    *(gr.skip(),) * (len(outputs) - 1))
        job = jobs.abort(store, run_id if run_id is not None else active.id)
        return (*live(job, message("warn", "Abort requested: the run saves a checkpoint and "
                                           "stops after the current step.")), *past(session))

    live_outputs = [notice, status, curve, log, timer, watched]
    outputs = [*live_outputs, history, history_curves]
    quiet = dict(show_progress="hidden")
    ctx.on_session(attach, [ctx.session, variant, student, output],
                   [student, output, *outputs], **quiet)
    ctx.on_session(count, [ctx.session, variant, selection], [examples], **quiet)
    gr.on([variant.change, selection.change], count, [ctx.session, variant, selection],
          [examples], **quiet)
    gr.on([c.change for c in form], preview, form, [command], **quiet)
    start.click(start_job, form, outputs, show_progress="minimal")
    abort.click(stop, [ctx.session, watched], outputs, **quiet)
    timer.tick(tick, [ctx.session, watched], outputs, **quiet)


def default_name(session: str | None, variant: str) -> str:
    return f"{session or 'run'}-{variant}-{time.strftime('%Y%m%d-%H%M%S')}"


def output_folder(runs_dir: Path, name: str) -> Path:
    """The folder `name` names under `runs_dir`; TrainError for anything but a plain name
    (a path, `..`, an absolute path): the app writes nowhere else on the host."""
    name = name.strip()
    if not RUN_NAME.fullmatch(name) or ".." in name:
        raise TrainError(f"output name {name!r}: use a plain folder name (letters, digits, "
                         f". _ -, no '/' or '..'); it is created in {runs_dir}")
    folder = (runs_dir / name).resolve()
    if folder.parent != runs_dir.resolve():
        raise TrainError(f"output name {name!r} leaves {runs_dir}")
    return folder


def _rate(text: str | None) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise TrainError(f"learning rate {text!r} is not a number (e.g. 2e-4)") from None


def _latest(jobs: TrainJobs, store) -> TrainJob | None:
    runs = store.runs(kind="train")
    return jobs.refresh(store, runs[-1].id) if runs else None
