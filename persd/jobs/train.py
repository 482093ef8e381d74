"""Training as a child process, one job at a time per session, owned by the store.

    from persd.jobs import TrainJobs
    jobs = TrainJobs()
    job = jobs.start(store, config, rows, request={"selection": "approved"})  # RunBusy if busy
    job = jobs.refresh(store)            # the active run (or one by id): status, loss, log
    jobs.abort(store, job.run.id)        # SIGTERM: the child checkpoints and stops cleanly

The run is recorded with `store.runs.add("train", ..., exclusive=True)`, so a second start from
any browser (or `persd train --session`) gets RunBusy. The run row holds the child's pid
(with its start time), its metrics file and its output folder, so a reloaded page, or a
restarted app, re-attaches to a job still running by reading the active run.

Each child is started, and waited for, by a thread of its own that lives as long as the
child: the thread records how the run ended (the metrics file's end line, else the exit
code) whether or not a browser is watching, and the child's death signal, which follows
the thread that forked it, fires only when the app itself dies. A run whose process is
gone without such a record (the app was killed) is recorded as failed, saying so, by
`refresh` (the app, and `persd train --session` before it starts a run).
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from persd.jobs.snapshot import JobError, RunSnapshot, record_end, run_or_none
from persd.launch import start_in_own_thread
from persd.runs.ended import STALE_QUEUED_S, record_train_end, settle_queued, trainer_alive
from persd.store import RunRecord, SessionStore
from persd.store.db import now_iso
from persd.store.runs import process_alive
from persd.text import log_tail
from persd.train import TrainConfig, TrainError, normalise_rows, read_metrics, start_training
from persd.train.outdir import prepare_output_dir
from persd.train.runner import check_model_path

LOG_TAIL_BYTES = 6000


@dataclass
class TrainJob(RunSnapshot):
    """A snapshot of one training run, as the app shows it."""

    metrics: list[dict[str, Any]] = field(default_factory=list)
    log_tail: str = ""

    @property
    def losses(self) -> list[tuple[int, float]]:
        return [(m["step"], m["loss"]) for m in self.metrics if m.get("loss") is not None]

    @property
    def eval_losses(self) -> list[tuple[int, float]]:
        return [(m["step"], m["eval_loss"]) for m in self.metrics
                if m.get("eval_loss") is not None]

    @property
    def total_steps(self) -> int | None:
        start = next((m for m in self.metrics if m.get("event") == "start"), None)
        return start.get("total_steps") if start else None

    def describe(self) -> str:
        """One line: run id, status, step, loss."""
        steps = self.losses
        where = f"step {steps[-1][0]}" + (f"/{self.total_steps}" if self.total_steps else "") \
            if steps else "starting (loading the model)"
        loss = f", loss {steps[-1][1]:.4f}" if steps else ""
        status = "stopping" if self.stopping else self.status
        error = (self.run.result or {}).get("error")
        tail = f": {error}" if error and self.status == "failed" else ""
        if not self.active:
            where = f"{len(steps)} logged steps" if steps else "no steps logged"
        return f"Train run {self.run.id} {status}: {where}{loss}{tail}"


class TrainJobs:
    """Starts, watches and stops training children. One object serves every session of an
    app (it keeps the children's handles so they can be reaped); the one-at-a-time rule
    and everything a reload needs live in the session store."""

    def __init__(self) -> None:
        self._children: dict[tuple[str, int], subprocess.Popen] = {}
        self._lock = threading.Lock()

    def start(self, store: SessionStore, config, rows: list[dict[str, Any]],
              request: dict[str, Any] | None = None, launcher: str | None = None) -> TrainJob:
        """Record a train run and start its child. RunBusy while another runs; JobError
        (the run recorded as failed) when the settings, model or output folder are bad."""
        if not rows:
            raise JobError("no training examples: nothing to train on")
        try:  # bad input is refused before a run is recorded
            check_model_path(config.student)
            prepare_output_dir(config, normalise_rows(rows), write=False)
        except TrainError as error:
            raise JobError(str(error)) from error
        # The same shape as `persd train --session` records, plus what the app adds.
        settings = {**config.to_dict(), "data": f"session:{config.variant}",
                    "rows": len(rows), **(request or {})}
        run_id = store.runs.add("train", settings, status="queued", exclusive=True)
        metrics_path = Path(config.output_dir) / "metrics.jsonl"

        def start() -> subprocess.Popen:
            child = start_training(config, rows, metrics_path=metrics_path, launcher=launcher)
            with self._lock:
                self._children[(str(store.path), run_id)] = child
            store.runs.update(run_id, status="running", pid=child.pid,
                             metrics_path=str(metrics_path), output=config.output_dir)
            return child

        try:
            start_in_own_thread(start, lambda child: record_end(store.path, run_id, self._reap),
                                f"persd-train-{run_id}")
        except BaseException as error:
            store.runs.update(run_id, status="failed", result={"error": str(error)})
            if isinstance(error, (TrainError, OSError, ValueError)):
                raise JobError(str(error)) from error
            raise
        return TrainJob(store.runs.get(run_id))

    def refresh(self, store: SessionStore, run_id: int | None = None) -> TrainJob | None:
        """The run `run_id` (default: the session's active train run, if any), reaped and
        recorded as ended if its child has exited, with its metrics and log tail."""
        run = store.runs.active("train") if run_id is None else run_or_none(store, run_id)
        if run is None:
            return None
        if run.status in ("queued", "running"):
            run = self._reap(store, run)
        return _snapshot(run)

    def abort(self, store: SessionStore, run_id: int) -> TrainJob:
        """Ask the run's child to stop (SIGTERM: it saves a checkpoint, then exits)."""
        run = store.runs.get(run_id)
        if (run.status not in ("queued", "running") or run.pid is None
                or not process_alive(run.pid, run.process_start)):  # not a reused pid's owner
            return self.refresh(store, run_id)
        try:
            os.kill(run.pid, signal.SIGTERM)
        except ProcessLookupError:
            return self.refresh(store, run_id)
        result = {**(run.result or {}), "abort_requested_at": now_iso()}
        store.runs.update(run_id, result=result)
        return self.refresh(store, run_id)

    def history(self, store: SessionStore, limit: int = 20) -> list[TrainJob]:
        """The session's train runs, newest first, each with its metrics."""
        runs = store.runs.list(kind="train")[-limit:]
        return [self.refresh(store, run.id) for run in reversed(runs)]

    # -- reaping ----------------------------------------------------------------------

    def _reap(self, store: SessionStore, run: RunRecord) -> RunRecord:
        if run.pid is None:
            return settle_queued(store, run, STALE_QUEUED_S)
        key = (str(store.path), run.id)
        with self._lock:
            child = self._children.get(key)
        if child is not None:
            code = child.poll()
            alive = code is None
        else:  # started by another runner or an earlier app: not ours to wait for
            alive, code = trainer_alive(run), None
        if alive:
            return run
        with self._lock:
            self._children.pop(key, None)
        return record_train_end(store, run, code)


def _snapshot(run: RunRecord) -> TrainJob:
    metrics = []
    if run.metrics_path and Path(run.metrics_path).is_file():
        metrics = read_metrics(run.metrics_path)
    return TrainJob(run, metrics, _log_tail(run.output))


def _log_tail(output_dir: str | None, size: int = LOG_TAIL_BYTES) -> str:
    return log_tail(Path(output_dir) / "train.log" if output_dir else None, size)


_FLAGS = {"epochs": "--epochs", "max_steps": "--max-steps", "learning_rate": "--lr",
          "batch_size": "--batch-size", "gradient_accumulation": "--grad-accum",
          "lora_r": "--lora-r", "lora_alpha": "--lora-alpha", "max_length": "--max-length",
          "seed": "--seed", "prompt_format": "--prompt-format", "prompt_style": "--prompt-style"}


def train_command(config, session: str | None, variant: str, selection: str = "auto",
                  sessions_dir: str | Path | None = None) -> str:
    """The `persd train ...` command line equivalent to starting `config` from the app.
    Given `sessions_dir` (the app's), it is pasteable in any folder: it names that folder
    and gives local paths (student folder, output) absolute."""

    defaults = TrainConfig(student="x", output_dir="x", full=config.full)
    parts = ["persd", "train"]
    if session:
        parts += ["--session", session]
    parts += ["--variant", variant]
    if selection != "auto" and session:
        parts += ["--selection", selection]
    student, output = config.student, config.output_dir
    if sessions_dir is not None:
        student, output = absolute_if_local(student), str(Path(output).resolve())
    parts += ["--student", student, "--output", output]
    for name, flag in _FLAGS.items():
        value = getattr(config, name)
        if value != getattr(defaults, name):
            parts += [flag, _number(value)]
    for flag in ("full", "merge", "resume", "overwrite"):
        if getattr(config, flag):
            parts.append(f"--{flag}")
    if session and sessions_dir is not None:
        parts += ["--sessions-dir", str(Path(sessions_dir).resolve())]
    return " ".join(shlex.quote(str(p)) for p in parts)


def absolute_if_local(model: str) -> str:
    """A model folder that exists here as its absolute path; a Hugging Face id as it is."""
    return str(Path(model).resolve()) if model and Path(model).exists() else model


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1:
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)
