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

from persd.execution.feedback import FEEDBACK_LIMIT, clip

if TYPE_CHECKING:
    from persd.tasks import Task



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


def _clip(feedback: str) -> str:
    # Long tracebacks or printed output would crowd the task out of a small model's context.
    return clip(feedback.strip() or "(no error text)", FEEDBACK_LIMIT)


# --- the paper's release (SalesforceAIResearch/PersDistill, Apache-2.0) ------------------
# `--prompt-style paper`: its fine-tuning refine prompt, prompts/ft_error_rectify_instruction.txt,
# character for character (the spaces before the line ends included). TASK is the task's
# docstring block, CODE the student's completion, ERROR `paper_error`'s text, HEADER the
# function header the completion continues.

PROMPT_STYLES = ("persd", "paper")
PAPER_REFINE_TEMPLATE = (
    "Rectify the below code for the given task based on the errors obtained in the unit "
    "tests. \n\nTASK: \n<<TASK>>\n<<CODE>>\n\nERROR: \n<<ERROR>>\n\n<<TASK>>\n<<HEADER>>\n"
)
_PAPER_TRIM_WORDS = 50  # the release trims each of INPUT, OUTPUT and EXPECTED to 50 words


def paper_task_block(description: str) -> str:
    """The release's task: its description in a module docstring."""
    return f'"""\n{description}\n"""'


def paper_refine_prompt(task_block: str, code: str, error: str, header: str) -> str:
    """The release's refine prompt; the text is filled in one pass, so a task or code that
    holds "<<ERROR>>" is not filled again."""
    values = {"<<TASK>>": task_block, "<<CODE>>": code, "<<ERROR>>": error, "<<HEADER>>": header}
    parts = PAPER_REFINE_TEMPLATE.split("<<")
    out = [parts[0]]
    for part in parts[1:]:
        name, rest = part.split(">>", 1)
        out.append(values[f"<<{name}>>"] + rest)
    return "".join(out)


def paper_error(error_type: str, *, input: str | None = None, output: str | None = None,
                expected: str | None = None, message: str = "") -> str:
    """A failed test as the release words it: "AssertionError" with INPUT, OUTPUT and
    EXPECTED lines (each cut to 50 words), or "<error type> : <message>"."""
    if error_type == "AssertionError" and None not in (input, output, expected):
        def trim(text: str) -> str:
            return " ".join(text.split(" ")[:_PAPER_TRIM_WORDS])
        return (f"AssertionError\nINPUT: {trim(input)}\nOUTPUT: {trim(output)}\n"
                f"EXPECTED: {trim(expected)}")
    if error_type == "AssertionError":
        return error_type
    return f"{error_type} : {message}"


# --- teacher chat messages (OpenAI format) ---------------------------------------------

TEACHER_SYSTEM = (
    "You are an expert Python programmer and a patient teacher. You correct code written "
    "by a student model. Make the smallest change that makes the student's code correct, "
    "keeping its structure, names and style; rewrite it only when it is wrong from the start. "
    "Always answer with the complete corrected function in a single ```python code block."
)

SOLVER_SYSTEM = (
    "You are an expert Python programmer. You write correct, clear and idiomatic Python. "
    "Always answer with the complete function in a single ```python code block."
)


def teacher_refine_messages(
    task: Task, code: str, feedback: str, include_reference: bool = True
) -> list[dict]:
    """Chat messages asking the teacher to repair the student's `code`.

    With `include_reference`, the first turn poses the task and the reference solution
    stands as the assistant's earlier answer: the teacher knows a correct answer, and the
    second turn asks it to repair the student's code rather than copy that answer.
    """
    task_turn = (
        "Implement the following Python function.\n\n"
        f"```python\n{task.prompt.rstrip()}\n```"
    )
    repair_turn = (
        "A student wrote the code below for this task, and it fails the tests.\n\n"
        f"Student's code:\n```python\n{code.rstrip()}\n```\n\n"
        f"Test results:\n```\n{_clip(feedback)}\n```\n\n"
        "Correct the student's code. Stay as close to it as you can: keep its approach, "
        "variable names and style, and change only what is needed to pass the tests. "
        "Rewrite it only if its approach cannot work. Reply with the complete corrected "
        f"function `{task.entry_point}` (with any imports and helpers it needs) in one "
        "```python code block."
    )
    messages = [{"role": "system", "content": TEACHER_SYSTEM}]
    if include_reference:
        messages += [
            {"role": "user", "content": task_turn},
            {"role": "assistant", "content": f"```python\n{task.solution.rstrip()}\n```"},
            {"role": "user", "content": repair_turn},
        ]
    else:
        messages.append({"role": "user", "content": task_turn + "\n\n" + repair_turn})
    return messages


def teacher_retry_messages(previous_messages: list[dict], reply: str, feedback: str) -> list[dict]:
    """The conversation so far, the teacher's `reply`, and a request to try again."""
    retry_turn = (
        "That is not right yet.\n\n"
        f"Result:\n```\n{_clip(feedback)}\n```\n\n"
        "Fix the code and reply with the complete corrected function in one ```python "
        "code block."
    )
    return [
        *previous_messages,
        {"role": "assistant", "content": reply},
        {"role": "user", "content": retry_turn},
    ]


def teacher_solve_messages(task: Task) -> list[dict]:
    """Chat messages asking the teacher to solve the task from scratch (StanD, InpD)."""
    return [
        {"role": "system", "content": SOLVER_SYSTEM},
        {
            "role": "user",
            "content": (
                "Implement the following Python function.\n\n"
                f"```python\n{task.prompt.rstrip()}\n```\n\n"
                f"Reply with the complete function `{task.entry_point}` (with any imports "
                "and helpers it needs) in one ```python code block."
            ),
        },
    ]
