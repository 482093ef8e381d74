"""What every student backend shares: the protocol, the stop rule, sampling checks, and
the two calls the loops make (`attempt`, `refine`).

A backend implements `Student.complete(prompts, n=None, **sampling)`: for each prompt, n
completions cut at the end of the function (`STOP_SEQUENCES`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from persd.prompts import student_attempt_prompt, student_refine_prompt
from persd.settings import check_sampling

if TYPE_CHECKING:
    from persd.tasks import Task

# The usual HumanEval stop sequences: a completion is a function body, and anything at
# column 0 after it (a new def/class, a main guard, a print, a comment, an assert) ends it.
STOP_SEQUENCES = ("\ndef ", "\nclass ", "\nif __name__", "\nprint(", "\n#", "\nassert ")

SAMPLING_KEYS = frozenset({"temperature", "top_p", "max_new_tokens"})



class Student(Protocol):
    """What the collection and evaluation loops need from a student model."""

    def complete(
        self, prompts: list[str], n: int | None = None, **sampling: Any
    ) -> list[list[str]]:
        """For each prompt, `n` completions, each cut at the first stop sequence.

        `sampling` may override `temperature`, `top_p` and `max_new_tokens` for this call.
        """
        ...


class StudentLoadError(Exception):
    """The student model or adapter cannot be loaded."""


def resolve_sampling(config: Any, n: int | None, sampling: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """(n, temperature/top_p/max_new_tokens) for one `complete` call: the backend's
    `config` overridden by the call; TypeError/ValueError for unknown or bad values."""
    unknown = set(sampling) - SAMPLING_KEYS
    if unknown:
        raise TypeError(f"unknown sampling option(s): {', '.join(sorted(unknown))}")
    n = config.n if n is None else n
    if n < 1:
        raise ValueError(f"n must be at least 1 (got {n})")
    settings = {key: getattr(config, key) for key in SAMPLING_KEYS} | sampling
    check_sampling(settings["temperature"], settings["top_p"], settings["max_new_tokens"])
    return n, settings


def cut_at_stop(text: str, stops: tuple[str, ...] = STOP_SEQUENCES) -> str:
    """`text` up to (not including) the earliest stop sequence in it."""
    end = min((i for i in (text.find(stop) for stop in stops) if i >= 0), default=len(text))
    return text[:end]


def attempt(
    student: Student, tasks: list[Task], n: int | None = None, **sampling: Any
) -> list[list[str]]:
    """First attempts: for each task, n complete programs (prompt + completion)."""
    prompts = [student_attempt_prompt(task) for task in tasks]
    completions = student.complete(prompts, n=n, **sampling)
    return [[prompt + body for body in bodies] for prompt, bodies in zip(prompts, completions)]


def refine(student: Student, items: list[tuple[Task, str, str]], **sampling: Any) -> list[str]:
    """Repairs: for each (task, failed code, feedback), one complete program.

    The refine prompt ends with `task.prompt`, so the completion is again a function body.
    """
    prompts = [student_refine_prompt(task, code, feedback) for task, code, feedback in items]
    completions = student.complete(prompts, n=1, **sampling)
    return [task.prompt + bodies[0] for (task, _, _), bodies in zip(items, completions)]

