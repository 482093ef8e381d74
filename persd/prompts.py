"""Every prompt persd sends to a model, in one place.

    from persd.prompts import student_attempt_prompt, student_refine_prompt
    text = student_attempt_prompt(task)                  # the student completes a function body
    text = student_refine_prompt(task, code, feedback)   # same, after a failed attempt

Both student prompts end with `task.prompt`, so the student's completion is always a
function body and `task.prompt + completion` is always the complete program. The refine
template is the one used both to build PERsD-refine training data and at inference time
(multi-step repair): a single template, so training and inference cannot drift apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from persd.tasks import Task

# Long tracebacks or printed output would crowd the task out of a small model's context.
MAX_FEEDBACK_CHARS = 2000


def student_attempt_prompt(task: Task) -> str:
    """The text the student completes on a first attempt: description + header."""
    return task.prompt


def student_refine_prompt(task: Task, code: str, feedback: str) -> str:
    """The text the student completes to repair `code` that failed with `feedback`.

    An instruction, the failed program and the test errors, all as Python comments, then
    `task.prompt` again for the student to complete. The failed program already holds the
    task's description, so the task is not repeated a third time above it.
    """
    parts = [
        "# The Python function below failed its tests. Rewrite it so that it passes them.",
        "# Use the test errors to find the mistake; keep the parts that were right.",
        "#",
        "# Failed attempt:",
        _as_comment(code),
        "#",
        "# Test errors:",
        _as_comment(_clip(feedback)),
        "#",
        "# Corrected function:",
    ]
    return "\n".join(parts) + "\n" + task.prompt


def _as_comment(text: str) -> str:
    lines = text.replace("\r\n", "\n").strip("\n").split("\n") or [""]
    return "\n".join(("# " + line).rstrip() for line in lines)


def _clip(feedback: str, limit: int = MAX_FEEDBACK_CHARS) -> str:
    feedback = feedback.strip() or "(no error text)"
    if len(feedback) <= limit:
        return feedback
    return feedback[:limit].rstrip() + "\n... (truncated)"
