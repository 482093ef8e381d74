"""An evaluation run: the student loaded, the sandbox opened, every task scored, the run
recorded in the session when one is given; in this process, or as a child job.

    report = eval_run(EvalConfig(samples=5), tasks, model="models/tiny", adapter="runs/r1",
                      store=store, meta={"round": 1})                  # persd eval
    run_id, child = start_eval(store, config, meta, sessions_dir="sessions",
                               output_dir="runs/eval-3")               # the app, the loop
    run = wait_eval(store, run_id, child, echo=print)                  # the loop

`start_eval` records a queued eval run and starts the job runner (persd.runs.child, by
persd.launch, as training is started) on a job file, `eval_job.json` in the output folder
beside `eval.log` and `report.json`; the child runs `eval_run` into that run. Settings go
to the child as the job file's JSON, never as command-line flags.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from persd import private
from persd.launch import start_job

from persd.evaluate import EvalConfig, EvalReport, evaluate
from persd.execution import make_executor
from persd.store import RunRecord, SessionStore
from persd.text import log_tail
from persd.student.backends import build_student
from persd.tasks import Task

LOG, JOB, REPORT = "eval.log", "eval_job.json", "report.json"


def eval_run(config: EvalConfig, tasks: list[Task], *, model: str, adapter: str | None = None,
             backend: str = "hf", store: SessionStore | None = None,
             meta: dict[str, Any] | None = None, progress: Callable[[str], None] | None = None,
             run_id: int | None = None, **student: Any) -> EvalReport:
    """Evaluate `model` (+ `adapter`) on `tasks` at `config`'s sampling and sandbox.

    `student` holds the backend's other settings (batch_size, seed, base_url, ...). Raises
    StudentLoadError or StudentServerError (the student), ValueError (bad settings)."""
    built = build_student(backend, model=model, adapter=adapter, sampling=config.sampling,
                          n=config.samples, **student)
    # Recorded with the run: "auto" resolved to what the student actually does.
    meta = {**(meta or {}), "prompt_format": getattr(built, "prompt_format", "completion")}
    with make_executor(workers=config.workers, timeout_s=config.timeout_s,
                       protocol=config.protocol) as executor:
        return evaluate(built, tasks, config, executor, store=store, meta=meta,
                        progress=progress, run_id=run_id)


def eval_job(config: EvalConfig, meta: dict[str, Any], *, sessions_dir: str, session: str,
             run_id: int, report: str) -> dict[str, Any]:
    """The job file of an evaluation into the session's queued eval run `run_id`, as
    persd.runs.child reads it; `meta` holds the run's model, adapter, task_spec, limit,
    round, batch_size, seed (and prompt_format)."""
    return {"kind": "eval", "eval": config.to_dict(), "meta": meta, "sessions_dir": sessions_dir,
            "session": session, "run_id": run_id, "report": report}


def start_eval(store: SessionStore, config: EvalConfig, meta: dict[str, Any], *,
               sessions_dir: str | Path, output_dir: str | Path, exclusive: bool = True,
               extra: dict[str, Any] | None = None,
               env: dict[str, str] | None = None) -> tuple[int, subprocess.Popen]:
    """Record a queued eval run (config: `meta`, the eval settings, `extra`) and start its
    child. RunBusy (`exclusive`) while another eval of the session runs; OSError, the run
    recorded as failed, when the child cannot start."""
    run_id = store.runs.add("eval", {**meta, "eval": config.to_dict(), **(extra or {})},
                           status="queued", exclusive=exclusive)
    out = Path(output_dir)
    job = eval_job(config, meta, sessions_dir=str(sessions_dir), session=store.name,
                   run_id=run_id, report=str(out / REPORT))
    try:
        private.make_dir(out)
        child = start_job(job, out / JOB, out / LOG, env=env)
    except OSError as error:
        store.runs.update(run_id, status="failed", result={"error": str(error)})
        raise
    store.runs.update(run_id, pid=child.pid, output=str(out))
    return run_id, child


def wait_eval(store: SessionStore, run_id: int, child: subprocess.Popen, *,
              echo: Callable[[str], None] = lambda line: None,
              should_stop: Callable[[], bool] = lambda: False, poll_s: float = 0.5) -> RunRecord:
    """Wait for the eval child, echoing its log's lines; once `should_stop()`, it gets
    SIGINT (the run ends "stopped", its samples kept). The run as recorded, failed (or
    stopped) with the log's last error when the child could not record its end."""
    log, offset, interrupted = Path(store.runs.get(run_id).output or ".") / LOG, 0, False
    while True:
        exited = child.poll() is not None
        offset = _echo_new_lines(log, offset, echo)
        if exited:
            break
        if not interrupted and should_stop():
            child.send_signal(signal.SIGINT)
            interrupted = True
        time.sleep(poll_s)
    run = store.runs.get(run_id)
    if run.status not in ("queued", "running"):
        return run
    error = last_error(log) or f"the eval process exited ({child.returncode})"
    return store.runs.update(run_id, status="stopped" if interrupted else "failed",
                            result={**(run.result or {}), "error": error})


def last_error(log: Path | None) -> str:
    """The log's last line starting "Error" (else its last line): why a child failed."""
    lines = [line.strip() for line in log_tail(log, 6000).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error")]
    return (errors or lines or [""])[-1]


def pass_at_1(run: RunRecord, step: int) -> float | None:
    """pass@1 after `step` (0: one-step, -1: the last) of a finished eval run."""
    steps = (run.result or {}).get("steps") or []
    return steps[step]["pass_at_k"].get("pass@1") if steps else None


def _echo_new_lines(log: Path, offset: int, echo: Callable[[str], None]) -> int:
    try:
        with log.open("rb") as file:
            file.seek(offset)
            chunk = file.read()
    except OSError:
        return offset
    complete = chunk[: chunk.rfind(b"\n") + 1]
    for line in complete.decode("utf-8", "replace").splitlines():
        if line.strip():
            echo(line)
    return offset + len(complete)
