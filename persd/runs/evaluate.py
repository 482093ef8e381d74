"""An evaluation run: the student loaded, the sandbox opened, every task scored, the run
recorded in the session when one is given.

    report = eval_run(EvalConfig(samples=5), tasks, model="models/tiny", adapter="runs/r1",
                      store=store, meta={"round": 1})

What `persd eval` (and so the app's eval jobs, which run it) and the loop's evaluation run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from persd.evaluate import EvalConfig, EvalReport, evaluate
from persd.execution import make_executor
from persd.store import SessionStore
from persd.student.backends import build_student
from persd.tasks import Task


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
