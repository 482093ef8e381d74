"""What the Train tab's events do, testable without a browser.

    handlers = TrainHandlers(Stores("sessions"), runs_dir=Path("runs"), models_dir=Path("models"))
    handlers.count("demo", "persd", "auto")      # {"examples": html}: how many, and a warning
    handlers.start(TrainForm(session="demo", student="models/tiny", output="r1", max_steps=5))
    handlers.tick("demo", run_id)                # status, loss curve, log, history
    handlers.create_tiny_model()                 # writes models/tiny and selects it
    handlers.export("demo", "persd", "auto", "jsonl")   # a file under runs/exports to download

Each handler returns {output name: value} for the names in `OUTPUTS` it changes.
`persd.data.build_examples` picks the rows, `persd.jobs.TrainJobs` runs the child process
(one training job at a time per session, the store's rule), `persd.analysis.figures`
draws the loss curves. Output goes only under the runs folder, named by the app or by a
plain name the user types.
"""

from __future__ import annotations

import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from persd.analysis.figures import loss_curves
from persd.data import DataError, build_examples, export
from persd.data_dirs import EVERYWHERE, DataDirs, PathRefused
from persd.demo.tiny_model import TinyModelError, write_tiny_model
from persd.jobs import JobError, TrainJob, TrainJobs, train_command
from persd.runs.ended import age_s
from persd.settings import default_of
from persd.store import RunBusy, StoreError
from persd.train import TrainConfig, TrainError
from persd_app.tabs import Stores
from persd_app.tabs.review_render import esc, message
from persd_app.tabs.timing import timing
from persd_app.tabs.train_models import TINY_NAME, local_models, model_problem

OUTPUTS = ("student", "output", "examples", "command", "notice", "status", "curve", "log",
           "timer", "watched", "history", "history_curves", "export_file")
POLL_S = 1.0       # while this page watches a running job
IDLE_POLL_S = 3.0  # otherwise: notice a job started elsewhere (another browser, the CLI)
SMALL = 50         # fewer examples than this: say what the selection holds
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
HISTORY_COLUMNS = ["run", "status", "variant", "selection", "rows", "steps", "final loss",
                   "output", "started"]
EXPORT_SUFFIX = {"jsonl": ".jsonl", "parquet": ".parquet", "hf": ""}


@dataclass
class TrainForm:
    session: str | None = None
    variant: str = "persd"
    selection: str = "auto"
    student: str = ""
    output: str = ""
    epochs: float | None = 3
    max_steps: int | float | None = -1
    lr: str = ""
    batch: int | float | None = 8
    lora_r: int | float | None = 16
    full: bool = False
    overwrite: bool = False
    prompt_format: str = default_of(TrainConfig, "prompt_format")
    prompt_style: str = default_of(TrainConfig, "prompt_style")


class TrainHandlers:
    def __init__(self, stores: Stores, runs_dir: Path, models_dir: Path = Path("models"),
                 jobs: TrainJobs | None = None, data_dirs: DataDirs | None = None) -> None:
        self.stores, self.runs_dir, self.models_dir = stores, Path(runs_dir), Path(models_dir)
        self.data_dirs = data_dirs or EVERYWHERE  # the folders the Student model field may name
        self.jobs = jobs or TrainJobs()

    # -- the form ------------------------------------------------------------------------

    def models(self) -> list[str]:
        """Local model folders: the models folder, the sessions folder, the runs folder."""
        return local_models([self.models_dir, self.stores.sessions_dir, self.runs_dir])

    def attach(self, session: str | None, variant: str, student: str | None) -> dict[str, Any]:
        """On page load / session pick: defaults, and the running job if there is one."""
        models = self.models()
        if not session:
            return {"student": gr.update(choices=models), "output": "",
                    **self._live(None, ""), **self._past(None)}
        try:
            store = self.stores.get(session)
            job = self.jobs.refresh(store) or _latest(self.jobs, store)
            config = store.config()
        except StoreError as error:
            return {"student": gr.update(choices=models), "output": "",
                    **self._live(None, message("error", str(error))), **self._past(None)}
        default = "" if store.simulated else str(config.get("student") or "")
        tiny = _shown_tiny(self.models_dir, models)
        suggested = student or default or tiny
        # No value when there is nothing to suggest: this answer can land after the user
        # typed a model, and an empty value would wipe it.
        picked = gr.update(choices=models, value=suggested) if suggested else \
            gr.update(choices=models)
        return {"student": picked,
                "output": default_name(session, variant), **self._live(job, ""),
                **self._past(session)}

    def count(self, session: str | None, variant: str, selection: str) -> dict[str, Any]:
        """How many examples the selection gives, and what it leaves out when it is small."""
        if not session:
            return {"examples": ""}
        try:
            store = self.stores.get(session)
            rows = build_examples(store, variant, selection=selection)
        except (DataError, StoreError) as error:
            return {"examples": message("error", str(error))}
        sim = ", SIMULATED data" if store.simulated else ""
        head = f"{len(rows)} training example{'s' if len(rows) != 1 else ''} " \
               f"({variant}, {selection}{sim})"
        if len(rows) >= SMALL:
            return {"examples": message("ok", head)}
        why = selection_note(store, variant, selection)
        return {"examples": f'<div class="persd-msg persd-msg-warn" role="status" '
                            f'data-testid="train-small-selection"><b>{esc(head)}</b>: a small '
                            f'set (under {SMALL}). {esc(why)}</div>'}

    def preview(self, form: TrainForm) -> dict[str, Any]:
        if not (form.student or "").strip():
            return {"command": "# give the student model above to see the command"}
        try:
            return {"command": train_command(self.config_of(form), form.session, form.variant,
                                             form.selection, self.stores.sessions_dir)}
        except TrainError as error:
            return {"command": f"# {error}"}

    def create_tiny_model(self) -> dict[str, Any]:
        """Write the tiny offline model to <models>/tiny (or reuse it) and select it."""
        folder = self.models_dir / TINY_NAME
        if (folder / "config.json").is_file():
            note = message("info", f"The tiny model is already in {folder}: selected.")
        else:
            try:
                write_tiny_model(folder)
            except (TinyModelError, OSError) as error:
                return {"notice": message("error", f"Could not create the tiny model: {error}")}
            note = message("ok", f"Created the tiny model in {folder} (random weights: it "
                                 "writes noise until trained) and selected it.")
        models = self.models()
        return {"student": gr.update(choices=models, value=_shown_tiny(self.models_dir, models)),
                "notice": note}

    # -- the job -------------------------------------------------------------------------

    def start(self, form: TrainForm) -> dict[str, Any]:
        if not form.session:
            return {"notice": message("error", "Pick a session first.")}
        try:
            problem = model_problem(self.data_dirs.model("Student model", form.student))
        except PathRefused as error:
            problem = str(error)
        if problem:
            return {"notice": message("error", f"Cannot start: {problem}.")}
        store = self.stores.get(form.session)
        try:
            config = self.config_of(form)
            rows = build_examples(store, form.variant, selection=form.selection)
            if not rows:
                raise JobError(f"no {form.variant} examples with selection {form.selection!r} "
                               f"in session {form.session}: review some refinements or pick "
                               "another selection")
            job = self.jobs.start(store, config, rows, request={
                "selection": form.selection,
                "command": train_command(config, form.session, form.variant, form.selection,
                                         self.stores.sessions_dir)})
        except RunBusy:
            running = self.jobs.refresh(store)
            return {"notice": message("error", (
                f"A training run is already running in this session (run "
                f"{running.run.id if running else '?'}): one at a time. Watch it below or "
                "abort it first."))}
        except (JobError, TrainError, DataError, StoreError) as error:
            return {"notice": message("error", f"Cannot start: {error}")}
        return {**self._live(job, message("ok", f"Started train run {job.run.id}.")),
                **self._past(form.session)}

    def tick(self, session: str | None, run_id: int | None) -> dict[str, Any]:
        if not session:
            return {}
        store = self.stores.get(session)
        job = self.jobs.refresh(store, run_id) if run_id is not None else self.jobs.refresh(store)
        if job is None:
            return {}
        if job.active:
            return self._live(job)
        return {**self._live(job), **self._past(session)}  # it ended: the final state, once

    def abort(self, session: str | None, run_id: int | None) -> dict[str, Any]:
        store = self.stores.get(session) if session else None
        active = store.runs.active("train") if store is not None else None
        if run_id is None and active is None:
            return {"notice": message("info", "No running training job to abort.")}
        job = self.jobs.abort(store, run_id if run_id is not None else active.id)
        return {**self._live(job, message("warn", "Abort requested: the run saves a "
                                                  "checkpoint and stops after the current "
                                                  "step.")), **self._past(session)}

    # -- export --------------------------------------------------------------------------

    def export(self, session: str | None, variant: str, selection: str, fmt: str,
               prompt_style: str | None = None) -> dict[str, Any]:
        """The curated examples as JSONL, Parquet or a `datasets` folder (zipped for the
        download) under <runs>/exports, with a name the app chooses; their prompts in the
        form's prompt style."""
        if not session:
            return {"notice": message("error", "Pick a session first.")}
        name = f"{session}-{variant}-{selection}-{time.strftime('%Y%m%d-%H%M%S')}"
        target = self.runs_dir / "exports" / f"{name}{EXPORT_SUFFIX.get(fmt, '')}"
        try:
            rows = build_examples(self.stores.get(session), variant, selection=selection,
                                  prompt_style=prompt_style or TrainForm.prompt_style)
            written = export(rows, target, fmt)
            offered = Path(shutil.make_archive(str(written), "zip", written)) \
                if fmt == "hf" else written
        except (DataError, StoreError, OSError) as error:
            return {"notice": message("error", f"Cannot export: {error}"),
                    "export_file": gr.update(value=None, visible=False)}
        what = f"a datasets folder {written} (load_from_disk), zipped for the download" \
            if fmt == "hf" else str(written)
        return {"notice": message("ok", f"Exported {len(rows)} examples to {what}."),
                "export_file": gr.update(value=str(offered), visible=True)}

    # -- internals -----------------------------------------------------------------------

    def config_of(self, form: TrainForm) -> TrainConfig:
        return TrainConfig(
            student=(form.student or "").strip(),
            output_dir=str(output_folder(self.runs_dir, (form.output or "").strip()
                                         or default_name(form.session, form.variant))),
            variant=form.variant, session=form.session, epochs=float(form.epochs or 0),
            max_steps=int(form.max_steps if form.max_steps is not None else -1),
            learning_rate=_rate(form.lr), batch_size=int(form.batch or 1),
            lora_r=int(form.lora_r or 1), full=bool(form.full),
            overwrite=bool(form.overwrite),
            prompt_format=form.prompt_format or TrainForm.prompt_format,
            prompt_style=form.prompt_style or TrainForm.prompt_style)

    def _live(self, job: TrainJob | None, note: str | None = None) -> dict[str, Any]:
        """notice (unless None), status, curve, log, timer and watched for one job."""
        out: dict[str, Any] = {} if note is None else {"notice": note}
        if job is None:
            return {**out, "status": message("info", "No training run in this session yet."),
                    "curve": loss_curves([]), "log": "", "timer": gr.Timer(IDLE_POLL_S),
                    "watched": None}
        kind = {"running": "info", "queued": "info", "finished": "ok", "stopped": "warn",
                "failed": "error"}[job.status]
        said = job.describe()
        if job.active:  # issue 25: "step 15/30" alone for minutes
            done = job.losses[-1][0] if job.losses else 0
            said += " · " + timing(age_s(job.run.created_at), done, job.total_steps, "steps")
        html = (f'<div class="persd-msg persd-msg-{kind}" data-testid="train-status" '
                f'data-status="{esc(job.status)}">{esc(said)}</div>')
        figure = loss_curves([(f"run {job.run.id}", job.losses, job.eval_losses)],
                             title=f"Training loss, run {job.run.id}",
                             total_steps=job.total_steps)
        return {**out, "status": html, "curve": figure, "log": job.log_tail,
                "timer": gr.Timer(POLL_S if job.active else IDLE_POLL_S),
                "watched": job.run.id if job.active else None}

    def _past(self, session: str | None) -> dict[str, Any]:
        if not session:
            return {"history": pd.DataFrame(columns=HISTORY_COLUMNS),
                    "history_curves": gr.update(visible=False)}
        runs = self.jobs.history(self.stores.get(session))
        rows = [[j.run.id, j.status, j.run.config.get("variant"),
                 j.run.config.get("selection") or j.run.config.get("data") or "auto",
                 j.run.config.get("rows"), _steps_cell(j),
                 round(j.losses[-1][1], 4) if j.losses and not j.active else None,
                 j.run.output, j.run.created_at[:19].replace("T", " ")] for j in runs]
        # The running job has its own live chart above; this one holds the ended runs, so
        # it never reads "No loss logged yet" because the newest run has just started.
        ended = [j for j in runs if not j.active and j.losses]
        figure = loss_curves([(f"run {j.run.id}", j.losses, j.eval_losses) for j in ended],
                             title="Loss of this session's ended runs")
        # No runs yet: the empty table says so; a blank chart would only take room.
        return {"history": pd.DataFrame(rows, columns=HISTORY_COLUMNS),
                "history_curves": gr.update(value=figure, visible=bool(ended))}


def selection_note(store, variant: str, selection: str) -> str:
    """What a selection holds and what it leaves out, in one or two sentences."""
    method = {"stand": "stand", "inpd": "inpd"}.get(variant, "persd")
    results = [r for r in store.refinements.list(method=method) if r.program is not None]
    reviews = store.reviews.by_refinement(None)
    status = {r.id: (reviews[r.id].status if r.id in reviews else "pending") for r in results}
    approved = sum(status[r.id] in ("approved", "edited") for r in results)
    validated = sum(bool(r.validated) for r in results)
    unreviewed = sum(bool(r.validated) and status[r.id] == "pending" for r in results)
    reviewed = any(s != "pending" for s in status.values())
    if selection == "auto" and reviewed:
        return (f"auto = reviewers' approvals once any exist: {approved} approved or edited; "
                f"{unreviewed} validated but unreviewed are left out. Choose 'validated by "
                "the tests' to use them, or review more.")
    if selection in ("auto", "validated"):
        rule = "auto = the validated results while nothing is reviewed" \
            if selection == "auto" else "validated"
        return (f"{rule}: {validated} of {len(results)} teacher results pass the hidden "
                "tests. Collect more tasks to grow it.")
    if selection == "approved":
        return (f"{approved} of {len(results)} teacher results are approved or edited; "
                f"{unreviewed} validated ones wait for review.")
    return f"The session holds {len(results)} teacher results for {variant}."


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


def _shown_tiny(models_dir: Path, models: list[str]) -> str | None:
    tiny = local_models([models_dir / TINY_NAME])
    return tiny[0] if tiny and tiny[0] in models else None


def _rate(text: str | None) -> float | None:
    text = (text or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise TrainError(f"learning rate {text!r} is not a number (e.g. 2e-4)") from None


def _steps_cell(job: TrainJob) -> int | str:
    """The last logged step of an ended run; a running one is shown live above, not as a
    frozen count taken when it started."""
    if job.active:
        return "running (live above)"
    return job.losses[-1][0] if job.losses else "none logged"


def _latest(jobs: TrainJobs, store) -> TrainJob | None:
    runs = store.runs.list(kind="train")
    return jobs.refresh(store, runs[-1].id) if runs else None
