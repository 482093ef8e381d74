"""`LoopConfig`: every setting of a `persd loop`, and `LoopError`, the one error users see."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from persd.collect.config import CollectConfig
from persd.evaluate.config import EvalConfig
from persd.settings import flat_dict
from persd.train.config import TrainConfig, TrainError

GATES = ("auto", "wait")
TRAIN_FROM = ("previous", "base")
AUTO_REVIEWER = "auto-gate"


class LoopError(Exception):
    """A loop that cannot start or go on, for a reason the user can fix."""


def loop_eval() -> EvalConfig:
    """The loop's default evaluation: one repair step, so multi-step pass@1 means something."""
    return EvalConfig(refine_steps=1)


@dataclass
class LoopConfig:
    """Settings of an online distillation loop (PAPER.md's first open direction): the
    settings of its parts, composed, and the loop's own.

    Parameters:
        collect (`CollectConfig`): How each round collects: the session, the training tasks
            (`tasks`, `limit`), the base student, the teacher, the student's `sampling`, the
            sandbox (`workers`, `timeout_s`), `sessions_dir`, and `eval_tasks`, the held-out
            evaluation set (required here; collection warns when it overlaps `tasks`). The
            loop sets `round` and `adapter` for every round.
        output_dir (`str`): Folder of the rounds' adapters, `round-N/` each.
        eval (`EvalConfig`, defaults to `EvalConfig(refine_steps=1)`): The evaluation
            protocol of every round (one-step and multi-step pass@1: step 0 and step
            `refine_steps`), its own sampling and sandbox included.
        train (`dict`): TrainConfig settings for every round (e.g. max_steps, learning_rate),
            checked against TrainConfig here; the loop sets the student, output folder and
            data of each round itself.
        eval_limit (`int` or `None`): First N tasks of the evaluation set.
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
        poll_s (`float`, defaults to `2.0`): How often the wait gate reads the store.
    """

    collect: CollectConfig
    output_dir: str
    eval: EvalConfig = field(default_factory=loop_eval)
    train: dict[str, Any] = field(default_factory=dict)
    eval_limit: int | None = None
    rounds: int = 3
    patience: int = 1
    gate: str = "auto"
    wait_for: int = 1
    train_from: str = "previous"
    step_size: int | None = None
    poll_s: float = 2.0

    def __post_init__(self) -> None:
        problems = [message for ok, message in (
            (bool(self.collect.eval_tasks), "the loop needs held-out eval_tasks"),
            (self.collect.method == "persd", "the loop collects with method persd"),
            (self.rounds >= 1, "rounds must be at least 1"),
            (self.patience >= 0, "patience must be 0 or more"),
            (self.gate in GATES, f"gate must be one of {', '.join(GATES)}"),
            (self.wait_for >= 1, "wait_for must be at least 1"),
            (self.train_from in TRAIN_FROM, f"train_from must be one of {', '.join(TRAIN_FROM)}"),
            (self.step_size is None or self.step_size >= 1, "step_size must be at least 1"),
            (self.poll_s > 0, "poll_s must be positive"),
        ) if not ok]
        reserved = {"student", "output_dir", "session", "variant", "init_adapter", "resume",
                    "overwrite", "objective"} & set(self.train)
        if reserved:
            problems.append(f"train settings the loop sets itself: {', '.join(sorted(reserved))}")
        else:
            try:
                TrainConfig.from_dict({**self.train, "student": self.collect.student,
                                       "output_dir": self.output_dir})
            except (TrainError, ValueError) as error:
                problems.append(str(error))
        if problems:
            raise LoopError("invalid loop settings: " + "; ".join(problems))

    @property
    def session(self) -> str:
        return self.collect.session

    @property
    def sessions_dir(self) -> str:
        return self.collect.sessions_dir

    def collect_round(self, round_: int, adapter: str | None) -> CollectConfig:
        """The collect settings of round `round_` (the online form takes its tasks itself)."""
        return dataclasses.replace(self.collect, round=round_, adapter=adapter,
                                   limit=None if self.step_size else self.collect.limit)

    def to_dict(self) -> dict[str, Any]:
        """The stored form: each part as its own config stores it."""
        return {**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)},
                "collect": flat_dict(self.collect), "eval": self.eval.to_dict(),
                "train": dict(self.train)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LoopConfig:
        """Read back `to_dict()`'s form (a job file, a stored run); LoopError for bad values."""
        values = dict(values)
        try:
            return cls(collect=CollectConfig(**values.pop("collect")),
                       eval=EvalConfig.from_dict(values.pop("eval")), **values)
        except (KeyError, TypeError, ValueError) as error:
            raise LoopError(f"invalid loop settings: {error}") from error

    def identity(self) -> dict[str, Any]:
        """What a rerun must share with the loop it continues (how often to poll may change)."""
        return {k: v for k, v in self.to_dict().items() if k not in ("poll_s", "rounds", "patience")}
