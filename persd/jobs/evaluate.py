"""Evaluation as a child process (`persd eval`), one job at a time per session, owned by
the store.

    from persd.jobs.evaluate import EvalJobs, EvalRequest
    jobs = EvalJobs()
    request = EvalRequest(student="models/tiny", adapter="runs/r1", tasks="humaneval",
                          limit=4, round=1, config=EvalConfig.paper())
    job = jobs.start(store, request, sessions_dir="sessions", output_dir="runs/eval-s-3")
    job = jobs.refresh(store)            # the active eval run: status, samples so far, log
    jobs.abort(store, job.run.id)        # SIGINT: the run ends "stopped", samples kept

The job records a queued eval run (`exclusive=True`: a second start, from any browser,
gets RunBusy) whose config has the shape `persd eval --session` writes, then starts the
job runner on a job file (persd.launch: `python -m persd.runs.child --config
eval_job.json`, the way training runs), which fills that run in: every step's samples go
into the session as the step ends. The run row holds the child's pid and its output
folder (eval_job.json, eval.log, report.json), so a reloaded page or a restarted app
re-attaches; once the child has exited, `refresh` records how it ended if it could not.
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

from persd.evaluate import EvalConfig
from persd.jobs.snapshot import JobError, RunSnapshot, record_end, run_or_none
from persd.launch import start_in_own_thread
from persd.runs.ended import STALE_QUEUED_S, age_s
from persd.runs.evaluate import LOG, last_error, start_eval
from persd.store import RunBusy, RunRecord, SessionStore
from persd.store.db import now_iso
from persd.store.runs import process_alive
from persd.text import log_tail

__all__ = ["EvalJob", "EvalJobs", "EvalRequest", "JobError", "RunBusy", "eval_command"]

@dataclass
class EvalRequest:
    """What to evaluate, as the app's form gives it.

    Parameters:
        student (`str`): the base model, a Hugging Face id or a local folder.
        adapter (`str` or `None`): a peft adapter folder (a finished train run's output).
        tasks (`str`): the evaluation task set spec (`humaneval`, a JSONL file, `mbpp:PATH`).
        limit (`int` or `None`): evaluate the first N tasks only.
        round (`int` or `None`): the distillation round of this student (0: the base).
        config (`EvalConfig`): samples, sampling, refine steps.
        preset (`str` or `None`): the preset the config came from, for the command line.
        seed (`int`, defaults to `0`): sampling seed, so a rerun draws the same samples.
        prompt_format (`str`, defaults to `"completion"`): how the student is prompted
            (`completion`, `chat`, `auto`; persd.student.chat), as `--prompt-format`.
    """

    student: str
    adapter: str | None
    tasks: str
    limit: int | None
    round: int | None
    config: EvalConfig = field(default_factory=EvalConfig)
    preset: str | None = None
    seed: int | None = 0
    batch_size: int = 8
    prompt_format: str = "completion"

    def meta(self) -> dict[str, Any]:
        """The run config's keys besides "eval", as `persd eval --session` records them."""
        return {"model": self.student, "adapter": self.adapter or None,
                "task_spec": self.tasks, "limit": self.limit, "round": self.round,
                "batch_size": self.batch_size, "seed": self.seed,
                "prompt_format": self.prompt_format}


def eval_command(request: EvalRequest, session: str | None = None,
                 sessions_dir: str | None = None, *, run_id: int | None = None,
                 json_path: str | None = None, executable: str = "persd") -> list[str]:
    """The `persd eval ...` argv equivalent to `request` (only non-default settings), for
    the app to show; the job itself runs from a job file (eval_job), not from flags."""
    parts = [*executable.split(), "eval", "--student", request.student]
    if request.adapter:
        parts += ["--adapter", request.adapter]
    parts += ["--tasks", request.tasks]
    if request.limit:
        parts += ["--limit", str(request.limit)]
    config = request.config.to_dict()
    base = EvalConfig.preset(request.preset).to_dict() if request.preset else \
        EvalConfig().to_dict()
    if request.preset:
        parts += ["--preset", request.preset]
    for name, flag in (("samples", "--samples"), ("temperature", "--temperature"),
                       ("top_p", "--top-p"), ("max_new_tokens", "--max-new-tokens"),
                       ("refine_steps", "--refine-steps"), ("timeout_s", "--timeout"),
                       ("workers", "--workers"), ("protocol", "--protocol"),
                       ("prompt_style", "--prompt-style"), ("feedback_tests", "--feedback-tests")):
        if config[name] is not None and config[name] != base[name]:
            parts += [flag, f"{config[name]:g}" if isinstance(config[name], float)
                      else str(config[name])]
    if request.batch_size != EvalRequest.batch_size:
        parts += ["--batch-size", str(request.batch_size)]
    if request.seed is not None:
        parts += ["--seed", str(request.seed)]
    if request.prompt_format != "completion":
        parts += ["--prompt-format", request.prompt_format]
    if session:
        parts += ["--session", session]
        if sessions_dir:
            parts += ["--sessions-dir", str(sessions_dir)]
        if request.round is not None:
            parts += ["--round", str(request.round)]
    if run_id is not None:
        parts += ["--run-id", str(run_id)]
    if json_path:
        parts += ["--json", json_path]
    return parts


def command_line(argv: list[str]) -> str:
    return " ".join(shlex.quote(part) for part in argv)


@dataclass
class EvalJob(RunSnapshot):
    """A snapshot of one eval run, as the app shows it."""

    samples_done: int = 0
    log_tail: str = ""

    @property
    def samples_total(self) -> int | None:
        return (self.run.config or {}).get("expected_samples")

    @property
    def fraction(self) -> float:
        total = self.samples_total
        return min(1.0, self.samples_done / total) if total else 0.0

    def describe(self, name: str | None = None) -> str:
        """One line: run id (or `name`, e.g. "Evaluation 1 (run 2)"), status, samples
        scored, pass@1 when finished."""
        config = self.run.config or {}
        what = Path(config["adapter"]).name if config.get("adapter") else "base"
        status = "stopping" if self.stopping else self.status
        head = f"{name or f'Eval run {self.run.id}'} ({what}, round {config.get('round', '?')}) {status}"
        if self.active:
            if self.run.status == "queued" or not self.samples_done:
                stage = _stage(self.log_tail) or "loading the model"
                return f"{head}: {stage}"
            total = f"/{self.samples_total}" if self.samples_total else ""
            return f"{head}: {self.samples_done}{total} samples scored"
        result = self.run.result or {}
        steps = result.get("steps") or []
        if self.status == "finished" and steps:
            one = steps[0]["pass_at_k"].get("pass@1")
            last = steps[-1]["pass_at_k"].get("pass@1")
            multi = f", after {len(steps) - 1} repair step(s) {last:.1%}" if len(steps) > 1 \
                else ""
            return f"{head}: pass@1 {one:.1%}{multi}"
        error = result.get("error")
        return f"{head}" + (f": {error}" if error else "")


def _stage(log: str) -> str:
    lines = [line.strip() for line in log.splitlines() if line.strip().startswith("step ")]
    return lines[-1] if lines else ""


class EvalJobs:
    """Starts, watches and stops eval children; one object serves every session of an
    app. The one-at-a-time rule and all a reload needs live in the session store."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        self.env = env  # the children's extra environment variables
        self._children: dict[tuple[str, int], subprocess.Popen] = {}
        self._lock = threading.Lock()

    def start(self, store: SessionStore, request: EvalRequest, *, sessions_dir: str | Path,
              output_dir: str | Path, task_count: int | None = None,
              extra: dict[str, Any] | None = None) -> EvalJob:
        """Record a queued eval run and start its child. RunBusy while another eval runs
        in this session; JobError (the run recorded as failed) if the child cannot start.
        `task_count` (tasks after the limit) sizes the progress bar."""
        if not request.student.strip():
            raise JobError("give the student model (a Hugging Face id or a local folder)")
        if request.adapter and not Path(request.adapter).is_dir():
            raise JobError(f"adapter folder {request.adapter} does not exist")
        n, steps = request.config.samples, request.config.refine_steps + 1
        extra = {"expected_samples": task_count * n * steps if task_count else None,
                 **(extra or {})}
        started: dict[str, int] = {}

        def start() -> subprocess.Popen:
            run_id, child = start_eval(store, request.config, request.meta(),
                                       sessions_dir=sessions_dir, output_dir=output_dir,
                                       extra=extra, env=self.env)
            started["run"] = run_id
            with self._lock:
                self._children[(str(store.path), run_id)] = child
            return child

        try:  # a thread of its own: the child's death signal follows it (persd.launch)
            start_in_own_thread(
                start, lambda child: record_end(store.path, started["run"], self._reap),
                "persd-eval")
        except OSError as error:
            raise JobError(f"cannot start the evaluation: {error}") from error
        return self.refresh(store, started["run"])

    def refresh(self, store: SessionStore, run_id: int | None = None) -> EvalJob | None:
        """The run `run_id` (default: the session's active eval run), reaped if its child
        has exited, with the samples scored so far and the log tail."""
        run = store.runs.active("eval") if run_id is None else run_or_none(store, run_id)
        if run is None:
            return None
        if run.status in ("queued", "running"):
            run = self._reap(store, run)
        return EvalJob(run, store.eval_samples.count(run.id), _log_tail(run.output))

    def abort(self, store: SessionStore, run_id: int) -> EvalJob | None:
        """Stop the child: SIGINT first (the run ends "stopped", what is scored is kept),
        SIGKILL when asked again."""
        run = store.runs.get(run_id)
        if run.status not in ("queued", "running") or run.pid is None:
            return self.refresh(store, run_id)
        again = bool((run.result or {}).get("abort_requested_at"))
        try:
            os.kill(run.pid, signal.SIGKILL if again else signal.SIGINT)
        except ProcessLookupError:
            return self.refresh(store, run_id)
        store.runs.update(run_id, result={**(run.result or {}), "abort_requested_at": now_iso()})
        return self.refresh(store, run_id)

    def history(self, store: SessionStore, limit: int = 20) -> list[EvalJob]:
        """The session's eval runs, newest first (also those made with the CLI)."""
        runs = store.runs.list(kind="eval")[-limit:]
        return [self.refresh(store, run.id) for run in reversed(runs)]

    def _reap(self, store: SessionStore, run: RunRecord) -> RunRecord:
        if run.pid is None:
            # A CLI run (`persd eval --session`) records no pid: it is not ours to reap.
            if run.status == "queued" and age_s(run.created_at) > STALE_QUEUED_S:
                return store.runs.update(run.id, status="failed",
                                        result={"error": "the run never started"})
            return run
        key = (str(store.path), run.id)
        with self._lock:
            child = self._children.get(key)
        code = child.poll() if child is not None else None
        alive = code is None if child is not None else process_alive(run.pid, run.process_start)
        if alive:
            return run
        with self._lock:
            self._children.pop(key, None)
        run = store.runs.get(run.id)  # the child may have recorded its end meanwhile
        if run.status not in ("queued", "running"):
            return run
        result = dict(run.result or {})
        if result.get("abort_requested_at"):
            return store.runs.update(run.id, status="stopped", result=result)
        result["error"] = (last_error(Path(run.output) / LOG if run.output else None)
                           or f"the eval process exited ({code})")
        return store.runs.update(run.id, status="failed", result=result)


def _log_tail(output_dir: str | None, size: int = 6000) -> str:
    return log_tail(Path(output_dir) / LOG if output_dir else None, size)
