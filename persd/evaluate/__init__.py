"""Evaluation: pass@k with one-step and multi-step (self-repair) inference.

    from persd.evaluate import EvalConfig, evaluate
    from persd.execution import Executor
    from persd.student import HFStudent, StudentConfig
    with Executor() as ex:
        report = evaluate(HFStudent(StudentConfig(model="out/merged")), tasks,
                          EvalConfig.paper(refine_steps=2), ex)
    print(report.summary_table())            # step | pass@1 | ... | refined | fixed | broken
    report.pass_at(1, step=0)                 # one-step pass@1

Step 0 samples `samples` programs per task and scores them on the hidden tests. Each later
step runs the *visible* tests (docstring examples) on every sample; the ones that fail are
repaired by the student from its refine prompt and the visible feedback, the others carry
forward unchanged, and every step is scored again on the hidden tests. The hidden tests
only ever go to the executor, never into a prompt. Tasks without visible tests cannot be
refined: their samples carry forward and the report lists them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from persd.evaluate.config import PRESETS, EvalConfig
from persd.evaluate.passk import mean_pass_at_k, pass_at_k
from persd.evaluate.repair import run_steps
from persd.evaluate.report import (
    EvalReport, SampleResult, StepSummary, TaskResult, build_report, eval_runs_table,
)

if TYPE_CHECKING:
    from persd.execution import Executor
    from persd.student import Student
    from persd.tasks import Task

__all__ = [
    "PRESETS", "EvalConfig", "EvalReport", "SampleResult", "StepSummary", "TaskResult",
    "evaluate", "eval_runs_table", "mean_pass_at_k", "pass_at_k",
]


def evaluate(
    student: Student, tasks: list[Task], config: EvalConfig, executor: Executor, *,
    store: Any = None, meta: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None, run_id: int | None = None,
) -> EvalReport:
    """Sample, score and (with `config.refine_steps`) repair; see the module docstring.

    With a `store` (a SessionStore) the run is recorded as an "eval" run whose config holds
    `config` and `meta`, and every sample of every step as an eval sample, step by step.
    `run_id` fills in a queued eval run instead (one an app job recorded to hold its place).
    """
    if not tasks:
        raise ValueError("no tasks to evaluate: the task set is empty")
    say = progress or (lambda message: None)
    start = time.perf_counter()
    meta = dict(meta or {})
    if store is not None and run_id is not None:
        store.runs.update(run_id, status="running", pid=os.getpid())
    elif store is not None:
        run_id = store.runs.add("eval", {**meta, "eval": config.to_dict()}, status="running")
    try:
        timings: list[tuple[float, float]] = []
        history = run_steps(student, tasks, config, executor, store, run_id, say, timings)
    except BaseException as error:
        if store is not None:
            stopped = isinstance(error, KeyboardInterrupt)
            store.runs.update(run_id, status="stopped" if stopped else "failed",
                             result={"error": f"{type(error).__name__}: {error}"})
        raise
    report = build_report(student, tasks, config, history, timings, time.perf_counter() - start,
                     meta)
    report.run_id = run_id
    if store is not None:
        store.runs.update(run_id, status="finished", result=report.to_dict(include_samples=False))
    return report
