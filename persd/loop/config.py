"""`LoopConfig`: every setting of a `persd loop`, and `LoopError`, the one error users see."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

GATES = ("auto", "wait")
TRAIN_FROM = ("previous", "base")
AUTO_REVIEWER = "auto-gate"


class LoopError(Exception):
    """A loop that cannot start or go on, for a reason the user can fix."""


@dataclass
class LoopConfig:
    """Settings of an online distillation loop (PAPER.md's first open direction).

    Parameters:
        session (`str`), tasks (`str`), student (`str`), teacher_model (`str`):
            As for `persd collect`: the session, the training tasks, the base student and
            the teacher at the OpenAI-compatible endpoint.
        eval_tasks (`str`): The held-out evaluation set (a `load_tasks` spec); collection
            warns when it overlaps `tasks`.
        rounds (`int`, defaults to `3`): Rounds to run at most (round 0, the base student's
            evaluation, comes first and is not counted).
        patience (`int`, defaults to `1`): Stop once one-step pass@1 has not beaten the best
            earlier round for this many rounds in a row; 0 runs every round.
        gate (`str`, defaults to `"auto"`): `"auto"` approves the round's validated
            refinements as reviewer "auto-gate"; `"wait"` pauses until reviewers (in the
            app) have decided `wait_for` of the round's records, then goes on by itself.
        wait_for (`int`, defaults to `1`): M of the wait gate (at most the round's records).
        train_from (`str`, defaults to `"previous"`): `"previous"` continues the previous
            round's adapter on this round's approved examples; `"base"` trains a new
            adapter on the base model with every round's approved examples.
        step_size (`int` or `None`, defaults to `None`): The paper's online form: a round
            collects the next untried tasks, `step_size` at a time, until it holds that many
            validated refinements, so the student is trained after every K new examples.
        limit (`int` or `None`), eval_limit (`int` or `None`): First N tasks of each set.
        samples (`int`, defaults to `1`), refine_steps (`int`, defaults to `1`),
        eval_temperature (`float`, defaults to `0.2`): The evaluation protocol (one-step
            and multi-step pass@1: step 0 and step `refine_steps`).
        temperature (`float`, defaults to `0.3`), max_new_tokens (`int`, defaults to `512`):
            The student's sampling when collecting (max_new_tokens also when evaluating).
        train (`dict`): TrainConfig settings for every round (e.g. max_steps, learning_rate).
        output_dir (`str`): Folder of the rounds' adapters, `round-N/` each.
        workers (`int` or `None`), timeout_s (`float`): The sandbox.
        poll_s (`float`, defaults to `2.0`): How often the wait gate reads the store.
    """

    session: str
    tasks: str
    eval_tasks: str
    student: str
    teacher_model: str
    output_dir: str
    rounds: int = 3
    patience: int = 1
    gate: str = "auto"
    wait_for: int = 1
    train_from: str = "previous"
    step_size: int | None = None
    limit: int | None = None
    eval_limit: int | None = None
    samples: int = 1
    refine_steps: int = 1
    eval_temperature: float = 0.2
    temperature: float = 0.3
    max_new_tokens: int = 512
    train: dict[str, Any] = field(default_factory=dict)
    sessions_dir: str = "sessions"
    workers: int | None = None
    timeout_s: float = 3.0
    poll_s: float = 2.0

    def __post_init__(self) -> None:
        problems = [message for ok, message in (
            (self.rounds >= 1, "rounds must be at least 1"),
            (self.patience >= 0, "patience must be 0 or more"),
            (self.gate in GATES, f"gate must be one of {', '.join(GATES)}"),
            (self.wait_for >= 1, "wait_for must be at least 1"),
            (self.train_from in TRAIN_FROM, f"train_from must be one of {', '.join(TRAIN_FROM)}"),
            (self.step_size is None or self.step_size >= 1, "step_size must be at least 1"),
            (self.samples >= 1 and self.refine_steps >= 0, "need samples >= 1, refine_steps >= 0"),
            (self.poll_s > 0, "poll_s must be positive"),
        ) if not ok]
        reserved = {"student", "output_dir", "session", "variant", "init_adapter", "resume",
                    "overwrite", "objective"} & set(self.train)
        if reserved:
            problems.append(f"train settings the loop sets itself: {', '.join(sorted(reserved))}")
        if problems:
            raise LoopError("invalid loop settings: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def identity(self) -> dict[str, Any]:
        """What a rerun must share with the loop it continues (how often to poll may change)."""
        return {k: v for k, v in self.to_dict().items() if k not in ("poll_s", "rounds", "patience")}
