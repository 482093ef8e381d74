"""On-policy objectives beside SFT: on-policy distillation and GRPO with the sandbox as reward.

    from persd.train import TrainConfig, train
    rows = prompt_rows(store.tasks.list(), "grpo")          # [{"prompt", "task_id", "tests"}, ...]
    train(TrainConfig(student="models/tiny", output_dir="runs/g1", objective="grpo"), rows)

or `persd train --session S --objective distill --teacher models/big --output runs/d1`.
`sft` trains on curated prompt-completion rows (persd.train.runner); `distill` and `grpo`
need prompts only: the student writes completions during training. `builder(objective)`
gives the function that makes each objective's trl trainer; the child entry point
(persd.train.run) dispatches on it, and everything else (lock, manifest, metrics lines,
stop and resume, adapter, model card, the session's run) is the same for all three.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from persd.train.config import OBJECTIVES, TrainConfig, TrainError

__all__ = ["OBJECTIVES", "builder", "check_inputs", "prompt_rows"]


def builder(objective: str) -> Callable[..., Any]:
    """`build(config, rows, callbacks) -> (trainer, facts)` of `objective`."""
    if objective == "sft":
        from persd.train.runner import build_trainer  # noqa: PLC0415  dispatch: only the chosen objective's trainer loads
    elif objective == "distill":
        from persd.train.objectives.distill import build_trainer  # noqa: PLC0415  dispatch: only the chosen objective's trainer loads
    elif objective == "grpo":
        from persd.train.objectives.grpo import build_trainer  # noqa: PLC0415  dispatch: grpo loads transformers at import
    else:
        raise TrainError(f"unknown objective {objective!r}; one of {', '.join(OBJECTIVES)}")
    return build_trainer


def check_inputs(config: TrainConfig) -> None:
    """What the parent can check before starting a child: the distill teacher's tokenizer."""
    if config.objective == "distill":
        from persd.train.objectives.distill import check_teacher  # noqa: PLC0415  dispatch: the distill teacher's check, for distill only

        check_teacher(config.student, config.teacher)


def prompt_rows(tasks: list[Any], objective: str, reward_tests: str = "visible") -> list[dict[str, Any]]:
    """On-policy rows from a session's tasks: the prompt (cut at its rstrip by the trainer)
    and, for grpo, the tests the reward runs. Tasks without visible tests give no grpo row
    with `reward_tests="visible"` (an empty test would pass anything)."""
    rows = []
    for task in tasks:
        row = {"prompt": task.prompt, "task_id": task.task_id}
        if objective == "grpo":
            tests = task.visible_test if reward_tests == "visible" else task.test
            if not tests.strip():
                continue
            row["tests"] = tests
        rows.append(row)
    if not rows:
        raise TrainError(
            f"no task has {reward_tests} tests to reward against"
            + (" (tasks without docstring examples have none: --reward-tests hidden uses "
               "the hidden tests, which evaluation scores)" if reward_tests == "visible" else "")
        )
    return rows
