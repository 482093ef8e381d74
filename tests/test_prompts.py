"""Prompt templates, code extraction and program splitting (persd.prompts)."""

from __future__ import annotations

from persd.prompts import student_attempt_prompt, student_refine_prompt
from persd.tasks import Task

ADD = Task(
    task_id="demo/0",
    prompt='def add(a: int, b: int) -> int:\n    """Return a + b.\n    >>> add(1, 2)\n    3\n    """\n',
    entry_point="add",
    test="def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n\ncheck(add)\n",
    visible_test="assert add(1, 2) == 3\n",
    solution='def add(a: int, b: int) -> int:\n    """Return a + b.\n    >>> add(1, 2)\n    3\n    """\n    return a + b\n',
    source="test",
)


def test_attempt_prompt_is_the_task_prompt():
    assert student_attempt_prompt(ADD) == ADD.prompt


def test_refine_prompt_ends_with_task_prompt_and_holds_code_and_feedback():
    code = ADD.prompt + "    return a - b\n"
    feedback = "AssertionError: add(1, 2) returned -1, expected 3\n  \n"
    text = student_refine_prompt(ADD, code, feedback)
    assert text.endswith(ADD.prompt)
    assert "#     return a - b" in text
    assert "# AssertionError: add(1, 2) returned -1, expected 3" in text
    assert all(line == line.rstrip() for line in text.splitlines())
    assert text == student_refine_prompt(ADD, code, feedback)
    compile(text + "    return a + b\n", "<refine>", "exec")


def test_refine_prompt_clips_huge_feedback():
    text = student_refine_prompt(ADD, ADD.prompt + "    pass\n", "x" * 100_000)
    assert len(text) < 3000 and "(truncated)" in text
