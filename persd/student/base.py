"""What every student backend shares: the protocol, the stop rule, sampling checks, and
the two calls the loops make (`attempt`, `refine`).

A backend implements `Student.complete(prompts, n=None, **sampling)`: for each prompt, n
completions at the backend's `Sampling` with the call's keywords over it (a config's
`Sampling` unpacks as those keywords: `complete(prompts, **config.sampling)`), each passed through `finish(prompt, text)`: generation stops at
`STOP_SEQUENCES`, then the completion keeps the function body and the helper definitions
after it (`persd.code.splice.end_completion`, the rule training data follows too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from persd.code.indent import match_indent
from persd.code.splice import STOP_SEQUENCES, end_completion
from persd.paper_style import paper_cut, paper_repair_prompt, paper_task_prompt
from persd.prompts import student_attempt_prompt, student_refine_prompt
from persd.settings import SAMPLING_FIELDS, Sampling

if TYPE_CHECKING:
    from persd.tasks import Task

SAMPLING_KEYS = frozenset(SAMPLING_FIELDS)



class Student(Protocol):
    """What the collection and evaluation loops need from a student model."""

    def complete(
        self, prompts: list[str], n: int | None = None, **sampling: Any
    ) -> list[list[str]]:
        """For each prompt, `n` completions, each ended by `finish(prompt, text)`.

        `sampling` may override `temperature`, `top_p` and `max_new_tokens` for this call.
        """
        ...


class StudentLoadError(Exception):
    """The student model or adapter cannot be loaded."""


def resolve_sampling(config: Any, n: int | None, sampling: dict[str, Any]) -> tuple[int, Sampling]:
    """(n, Sampling) for one `complete` call: the backend's `config.sampling` with the
    call's keywords over it; TypeError/ValueError for unknown or bad values."""
    n = config.n if n is None else n
    if n < 1:
        raise ValueError(f"n must be at least 1 (got {n})")
    return n, config.sampling.replace(**sampling)


def cut_at_stop(text: str, stops: tuple[str, ...] = STOP_SEQUENCES) -> str:
    """`text` up to (not including) the earliest stop sequence in it."""
    end = min((i for i in (text.find(stop) for stop in stops) if i >= 0), default=len(text))
    return text[:end]


def finish(prompt: str, text: str) -> str:
    """The completion a student keeps of `text`, generated after `prompt`: the function
    body and the definitions after it, up to the first test code (or a second definition
    of the function); the same rule `split_program` lays the teacher's code out by. Its
    indentation is made the prompt's first (`match_indent`: a tab-indented body after a
    space-indented docstring is a TabError)."""
    return end_completion(prompt, match_indent(prompt, cut_at_stop(text)))


def task_prompt(task: Task, style: str = "persd") -> str:
    """What the student completes on a first attempt, in persd's or the paper's style."""
    return paper_task_prompt(task) if style == "paper" else student_attempt_prompt(task)


def attempt(
    student: Student, tasks: list[Task], n: int | None = None, style: str = "persd", **sampling: Any
) -> list[list[str]]:
    """First attempts: for each task, n complete programs (prompt + completion)."""
    prompts = [task_prompt(task, style) for task in tasks]
    completions = student.complete(prompts, n=n, **sampling)
    return [[prompt + _cut(body, style) for body in bodies]
            for prompt, bodies in zip(prompts, completions)]


def refine(student: Student, items: list[tuple[Task, str, Any]], style: str = "persd",
           **sampling: Any) -> list[str]:
    """Repairs: for each (task, failed code, feedback), one complete program; feedback is
    the text, or the failed run (an ExecutionResult: the paper style words its error).

    The refine prompt ends with the task prompt, so the completion is again a function body.
    """
    prompts = [paper_repair_prompt(task, code, feedback) if style == "paper" else
               student_refine_prompt(task, code, getattr(feedback, "feedback", feedback))
               for task, code, feedback in items]
    completions = student.complete(prompts, n=1, **sampling)
    return [task_prompt(task, style) + _cut(bodies[0], style)
            for (task, _, _), bodies in zip(items, completions)]


def _cut(body: str, style: str) -> str:
    return paper_cut(body) if style == "paper" else body

