"""What an evaluation returns: per-sample, per-step and per-task records, the report, and
the table of a session's eval runs side by side."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from persd.evaluate.config import EvalConfig
from persd.evaluate.passk import mean_pass_at_k, pass_at_k
from persd.tables import text_table

if TYPE_CHECKING:
    from persd.execution import ExecutionResult


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
        lines = text_table(header, rows, align="right").split("\n")
        generate = sum(s.generate_s for s in self.steps)
        execute = sum(s.execute_s for s in self.steps)
        lines.append(f"{len(self.tasks)} tasks x {self.config.samples} samples, "
                     f"{self.wall_time_s:.1f} s (generation {generate:.1f} s, "
                     f"tests {execute:.1f} s)")
        if self.config.refine_steps and self.without_visible_tests:
            lines.append(f"{len(self.without_visible_tests)} task(s) without visible tests "
                         "carried forward unrefined")
        return "\n".join(lines)


def build_report(student, tasks, config, history, timings, wall, meta) -> EvalReport:
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



def eval_runs_table(store: Any, k: int = 1) -> str:
    """The session's finished eval runs side by side, in round order: round, objective,
    adapter, the data it was trained on, tasks, pass@k per step, and what the student's
    training cost: teacher tokens (SFT: the API tokens of the teacher's calls in the rounds
    up to this one; distill: the tokens the open teacher scored; grpo: none), training
    steps and training wall time.

    Runs judged under different protocols (strict, paper), or prompted in different styles
    (persd, paper), are never set side by side: each protocol and style gets its own table,
    with a note saying why."""
    runs = [r for r in store.runs.list(kind="eval") if r.status == "finished" and r.result]
    if not runs:
        return f"no finished eval runs in session {store.name}"
    runs.sort(key=lambda r: (r.config.get("round") if r.config.get("round") is not None else 1e9, r.id))
    groups: dict[tuple[str, str], list] = {}
    for run in runs:  # runs recorded before protocols or styles existed: strict, persd
        settings = run.config.get("eval", {})
        key = (settings.get("protocol", "strict"), settings.get("prompt_style", "persd"))
        groups.setdefault(key, []).append(run)
    if len(groups) == 1:
        return _runs_table(store, runs, k)
    protocols = sorted({protocol for protocol, _ in groups})
    styles = sorted({style for _, style in groups})
    apart = []
    if len(protocols) > 1:
        apart.append(f"judged under different protocols ({', '.join(protocols)})")
    if len(styles) > 1:
        apart.append(f"prompted in different styles ({', '.join(styles)})")
    parts = [f"Note: these runs were {' and '.join(apart)}; their pass@k are not comparable, "
             "so each protocol and prompt style has its own table."]
    for protocol, style in sorted(groups):
        parts.append(f"\nprotocol: {protocol} · prompt style: {style}\n"
                     f"{_runs_table(store, groups[(protocol, style)], k)}")
    return "\n".join(parts)


def _runs_table(store: Any, runs: list, k: int) -> str:
    trains = {r.id: r for r in store.runs.list(kind="train")}
    calls = store.teacher_calls.list()
    steps_shown = max(len(r.result.get("steps", [])) for r in runs)
    # "data": what the adapter was trained on, when the run says (e.g. `persd ablate`
    # labels data personalised for another student "session:OTHER").
    header = ["run", "round", "objective", "adapter", "data", "tasks", "n",
              *(f"pass@{k} step {s}" for s in range(steps_shown)),
              "teacher tokens", "train steps", "train s"]
    rows = []
    for run in runs:
        steps = [s["pass_at_k"].get(f"pass@{k}") for s in run.result.get("steps", [])]
        cells = [f"{v:.4f}" if v is not None else "-" for v in steps]
        cells += ["-"] * (steps_shown - len(cells))
        train = _train_run_of(run, trains)
        rows.append([str(run.id), str(run.config.get("round", "-")),
                     (train.config.get("objective", "sft") if train else "base"),
                     str(run.config.get("adapter") or "-"), str(run.config.get("data_source") or "-"),
                     str(len(run.result.get("tasks", []))),
                     str(run.config.get("eval", {}).get("samples", "-")), *cells,
                     _teacher_tokens(run, train, calls),
                     str((train.result or {}).get("steps", "-")) if train else "0",
                     f"{(train.result or {}).get('runtime_s', 0):.1f}" if train else "0"])
    return text_table(header, rows)


def _train_run_of(run: Any, trains: dict[int, Any]) -> Any:
    """The finished train run that made the evaluated adapter: the one the loop recorded,
    else the one whose output folder is the adapter."""
    if run.config.get("train_run") in trains:
        return trains[run.config["train_run"]]
    adapter = run.config.get("adapter")
    if not adapter:
        return None
    found = [t for t in trains.values() if t.status == "finished" and t.config.get("output_dir")
             and Path(t.config["output_dir"]).resolve() == Path(adapter).resolve()]
    return found[-1] if found else None


def _teacher_tokens(run: Any, train: Any, calls: list[Any]) -> str:
    if train is None:
        return "0"
    objective = train.config.get("objective", "sft")
    if objective == "distill":
        return str((train.result or {}).get("teacher_tokens", "-"))
    if objective == "grpo":
        return "0"
    upto = run.config.get("round")
    return str(sum(c.prompt_tokens + c.completion_tokens for c in calls
                   if upto is None or c.round is None or c.round <= upto))
