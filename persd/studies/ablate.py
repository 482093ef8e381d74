"""Ablations of the training data: which student mistakes teach most, and data personalised
for another student.

    config = AblateConfig(session="s1", student="models/tiny", eval_tasks="humaneval",
                          output_dir="runs/ablate", steps=50, per_type=20)
    result = run_ablation(config, sessions_dir="sessions", echo=print)
    result.table()               # group | examples | steps | pass@1 | gain over base | run
    ablation_figure(result)      # the gain per group, with the sample sizes

`by="error-type"`: one adapter per error type of the attempts, each trained on the same
number (`per_type`) of that type's examples for the same number of steps; types with fewer
examples are left out and listed. `by="data-source"`: one adapter on `session`'s own
personalised data and one on `data_from_session`'s (personalised for another student), the
same number of rows each. `data_from_session` with `by="error-type"` draws the error types
from that session. Every adapter, and the base model, is evaluated on the same tasks with
the same settings; each eval run is recorded in `session` with its data source in the run
config (`data_source`), which `persd eval-compare` shows.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from persd.data import DataError, build_examples
from persd.evaluate import EvalConfig
from persd.runs.evaluate import eval_run
from persd.runs.train import train_run
from persd.settings import Sampling, flat_dict, with_sampling
from persd.store import SessionStore
from persd.tables import text_table
from persd.tasks import load_tasks
from persd.train import TrainConfig, TrainError
from persd.train.rows import write_rows

BY = ("error-type", "data-source")


class AblationError(ValueError):
    """An ablation that cannot run as asked; the message says why."""


@with_sampling
@dataclass
class AblateConfig:
    session: str                  # the student's session: its runs are recorded there
    student: str                  # base model: Hugging Face id or local folder
    eval_tasks: str               # task spec every adapter is evaluated on
    output_dir: str               # one adapter folder per group, plus ablation.json
    steps: int                    # optimizer steps of every adapter (equal by design)
    per_type: int                 # examples per group (K), drawn at random with `seed`
    by: str = "error-type"
    data_from_session: str | None = None  # take the training data from this session
    selection: str = "approved"   # which teacher results count (persd.data SELECTIONS)
    eval_limit: int | None = None
    samples: int = 1
    # the same sampling for every adapter; short completions keep many small evaluations quick
    sampling: Sampling = field(default_factory=lambda: Sampling(temperature=0.2, max_new_tokens=128))
    seed: int = 0
    train: dict[str, Any] = field(default_factory=dict)  # other TrainConfig settings

    def __post_init__(self) -> None:
        if self.by not in BY:
            raise AblationError(f"--by must be one of {', '.join(BY)}, not {self.by!r}")
        if self.by == "data-source" and not self.data_from_session:
            raise AblationError("--by data-source compares the session's own data with "
                                "another's: give --data-from-session NAME")
        if self.steps < 1 or self.per_type < 1:
            raise AblationError("--steps and --per-type must be at least 1")


@dataclass(frozen=True)
class GroupResult:
    group: str
    data_source: str
    examples: int
    adapter: str | None           # None for the base model
    pass_at_1: float
    eval_run: int | None
    train_run: int | None = None


@dataclass
class AblationResult:
    config: AblateConfig
    base: GroupResult
    groups: list[GroupResult]
    skipped: dict[str, int]       # group -> examples available, fewer than per_type

    def table(self) -> str:
        rows = [[g.group, g.data_source, str(g.examples), str(self.config.steps),
                 f"{g.pass_at_1:.4f}", f"{g.pass_at_1 - self.base.pass_at_1:+.4f}",
                 str(g.eval_run or "-")] for g in [self.base, *self.groups]]
        lines = [text_table(["group", "data", "examples", "steps", "pass@1", "gain", "eval run"],
                            rows)]
        if self.skipped:
            lines.append("left out (fewer than %d examples): " % self.config.per_type + ", ".join(
                f"{name} ({n})" for name, n in sorted(self.skipped.items())))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {"config": flat_dict(self.config), "base": asdict(self.base),
                "groups": [asdict(g) for g in self.groups], "skipped": self.skipped}


def ablation_groups(config: AblateConfig, sessions_dir: str | Path
                    ) -> tuple[dict[str, tuple[str, list[dict]]], dict[str, int]]:
    """group -> (data source label, its K training rows), and the groups left out."""
    sources = [config.data_from_session or config.session]
    if config.by == "data-source":
        sources = [config.session, config.data_from_session]
    pools: dict[str, tuple[str, list[dict]]] = {}
    for name in sources:
        with SessionStore.open_to_read(sessions_dir, name) as store:
            try:
                rows = build_examples(store, "persd", selection=config.selection)
            except DataError as error:
                raise AblationError(str(error)) from error
            label = f"session:{name}"
            if config.by == "data-source":
                group = "own data" if name == config.session else f"data from {name}"
                pools[group] = (label, rows)
                continue
            for row in rows:
                kind = _error_type(store, row["refinement_id"]) or "unknown"
                pools.setdefault(kind, (label, []))[1].append(row)
    rng = random.Random(config.seed)
    chosen, skipped = {}, {}
    for group, (label, rows) in sorted(pools.items()):
        if len(rows) < config.per_type:
            skipped[group] = len(rows)
            continue
        picked = rng.sample(rows, config.per_type)
        chosen[group] = (label, [{**row, "source": f"{label}:{group}"} for row in picked])
    if not chosen:
        found = ", ".join(f"{g} ({len(r)})" for g, (_, r) in sorted(pools.items())) or "none"
        raise AblationError(
            f"no group has {config.per_type} {config.selection} examples (found: {found}); "
            "lower --per-type or review more refinements")
    return chosen, skipped


def run_ablation(config: AblateConfig, *, sessions_dir: str | Path,
                 echo: Callable[[str], None] = print) -> AblationResult:
    """Train one adapter per group, evaluate each and the base; see the module docstring."""
    groups, skipped = ablation_groups(config, sessions_dir)
    out = Path(config.output_dir)
    trained: list[tuple[str, str, int, str, int | None]] = []
    for group, (label, rows) in groups.items():
        folder = out / _slug(group)
        folder.mkdir(parents=True, exist_ok=True)
        data = folder.parent / f"{folder.name}.rows.jsonl"
        write_rows(rows, data)
        echo(f"[{group}] training on {len(rows)} examples from {label}, {config.steps} steps")
        try:
            train_config = TrainConfig.from_dict({
                "seed": config.seed, **config.train, "student": config.student,
                "output_dir": str(folder), "max_steps": config.steps, "variant": "persd",
                "session": config.session, "overwrite": True})
            outcome = train_run(train_config, data=str(data), sessions_dir=str(sessions_dir),
                                        echo=echo)
        except TrainError as error:
            raise AblationError(f"[{group}] {error}") from error
        if outcome.status != "finished":
            raise AblationError(f"[{group}] training {outcome.status}: "
                                f"{outcome.end.get('error') or outcome.log_tail}")
        trained.append((group, label, len(rows), str(folder), outcome.run_id))
    base = _evaluate(config, sessions_dir, "base", "-", 0, None, None, echo)
    results = [_evaluate(config, sessions_dir, *entry, echo) for entry in trained]
    result = AblationResult(config, base, results, skipped)
    (out / "ablation.json").write_text(json.dumps(result.to_dict(), indent=1) + "\n")
    ablation_figure(result).write_html(out / "ablation.html", include_plotlyjs=True)
    return result


def _evaluate(config: AblateConfig, sessions_dir, group: str, label: str, examples: int,
              adapter: str | None, train_run_id: int | None, echo) -> GroupResult:
    tasks = load_tasks(config.eval_tasks)[:config.eval_limit]
    eval_config = EvalConfig(samples=config.samples, sampling=config.sampling, ks=(1,))
    meta = {"model": config.student, "adapter": adapter, "task_spec": config.eval_tasks,
            "limit": config.eval_limit, "round": None, "seed": config.seed,
            "data_source": label if adapter else "base",
            "ablation": {"by": config.by, "group": group, "examples": examples,
                         "steps": config.steps if adapter else 0, "train_run": train_run_id}}
    echo(f"[{group}] evaluating on {len(tasks)} tasks")
    with SessionStore.open(sessions_dir, config.session) as store:
        report = eval_run(eval_config, tasks, model=config.student, adapter=adapter, store=store,
                          meta=meta, seed=config.seed)
    return GroupResult(group, meta["data_source"], examples, adapter, report.pass_at(1, step=0),
                       report.run_id, train_run_id)


def ablation_figure(result: AblationResult):
    """Bars: pass@1 gain of each group's adapter over the base, n and pass@1 on each bar."""
    import plotly.graph_objects as go

    groups = result.groups
    what = "error type of the mistakes trained on" if result.config.by == "error-type" \
        else "training data source"
    fig = go.Figure(go.Bar(
        x=[g.group for g in groups], y=[g.pass_at_1 - result.base.pass_at_1 for g in groups],
        text=[f"n={g.examples} · pass@1 {g.pass_at_1:.2f}" for g in groups],
        textposition="outside", marker_color="#6366f1",
        hovertemplate="%{x}: %{y:+.3f} (%{text})<extra></extra>"))
    fig.add_hline(y=0, line_dash="dot", opacity=0.6)
    fig.update_layout(
        title=f"pass@1 gain over the base ({result.base.pass_at_1:.2f}) by {what}, "
              f"{result.config.steps} steps each",
        yaxis={"title": "pass@1 gain", "tickformat": "+.2f", "zeroline": True},
        xaxis={"title": None, "type": "category"}, height=360,
        margin={"l": 60, "r": 20, "t": 50, "b": 40})
    return fig


def _error_type(store, refinement_id: int) -> str:
    refinement = store.refinements.get(refinement_id)
    if refinement.attempt_id is None:
        return ""
    run = store.attempts.get(refinement.attempt_id).execution
    return run.result.error_type if run else ""


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "group"
