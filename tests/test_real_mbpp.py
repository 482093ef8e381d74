"""Real MBPP tasks (tests/data/tasks/mbpp_real_sample.jsonl, see tests/data/README.md):
what the store validates is what the student keeps at inference, and tasks whose tests
need a class only the reference defines become solvable from the prompt."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from persd.code.splice import end_completion, split_failure, split_program
from persd.execution import Executor
from persd.student.base import finish
from persd.tasks import load_tasks

SAMPLE = Path(__file__).parent / "data" / "tasks" / "mbpp_real_sample.jsonl"
MIXED_TABS = ("MBPP/51", "MBPP/159", "MBPP/264", "MBPP/327", "MBPP/521")
NEED_A_CLASS = {"MBPP/367": "Node", "MBPP/601": "Pair", "MBPP/927": "Node"}


@pytest.fixture(scope="module")
def tasks():
    return {task.task_id: task for task in load_tasks(f"mbpp:{SAMPLE}")}


def test_the_sample_has_the_cases_it_is_for(tasks):
    assert len(tasks) == 20
    assert {"MBPP/717", *MIXED_TABS, *NEED_A_CLASS} <= set(tasks)


@pytest.mark.parametrize("task_id", MIXED_TABS)
def test_mixed_tabs_and_spaces_split(tasks, task_id):
    task = tasks[task_id]
    assert split_program(task, task.solution) is not None, split_failure(task, task.solution)


def test_a_helper_after_the_function_survives_the_students_cut(tasks):
    task = tasks["MBPP/717"]  # sd_calc calls avg_calc, defined after it
    program, completion = split_program(task, task.solution)
    assert "def avg_calc" in completion
    assert finish(task.prompt, completion) == completion
    # what a student would generate: the same, then its own test code
    generated = completion + "\n\nprint(sd_calc([1, 2]))\nassert sd_calc([1]) == 0\n"
    assert finish(task.prompt, generated) == completion


def test_split_then_cut_keeps_every_reference_passing(tasks):
    """Parity on real references: each passes as written, after split, and after split
    plus the student's cut; and the cut leaves every split completion as it is."""
    ordered = sorted(tasks.values(), key=lambda t: t.task_id)
    jobs = []
    for task in ordered:
        split = split_program(task, task.solution)
        assert split is not None, (task.task_id, split_failure(task, task.solution))
        program, completion = split
        assert program == task.prompt + completion
        assert end_completion(task.prompt, completion) == completion, task.task_id
        kept = task.prompt + finish(task.prompt, completion)
        jobs += [(task.solution, task.test), (program, task.test), (kept, task.test)]
    with Executor(workers=2, timeout_s=10.0) as executor:
        results = executor.run_many(jobs)
    failed = [(ordered[i // 3].task_id, ("written", "split", "split+cut")[i % 3], r.feedback[:200])
              for i, r in enumerate(results) if not r.passed]
    assert failed == []


def test_tests_that_need_a_reference_only_class_get_it_in_the_prompt(tasks, caplog):
    with caplog.at_level(logging.WARNING, logger="persd.tasks"):
        load_tasks(f"mbpp:{SAMPLE}")
    warned = {r.getMessage().split(":")[0] for r in caplog.records}
    assert warned == set(NEED_A_CLASS)  # named, and only these
    for task_id, name in NEED_A_CLASS.items():
        task = tasks[task_id]
        assert f"class {name}" in task.prompt
        assert task.prompt.index(f"class {name}") < task.prompt.index(f"def {task.entry_point}(")
        program, completion = split_program(task, task.solution)
        assert f"class {name}" not in completion  # the prompt has it; the student writes the body


def _without_classes(code: str) -> str:
    lines = code.replace("\r\n", "\n").split("\n")
    for node in reversed(ast.parse("\n".join(lines)).body):
        if isinstance(node, ast.ClassDef):
            del lines[node.lineno - 1 : node.end_lineno]
    return "\n".join(lines)


def test_a_solution_without_the_class_passes_once_the_prompt_defines_it(tasks):
    """A student's solution that writes the function (and its helpers) but not the class
    the tests build their inputs with passes: the prompt defines the class."""
    jobs = []
    for task_id, name in NEED_A_CLASS.items():
        task = tasks[task_id]
        code = _without_classes(task.solution)
        assert f"class {name}" not in code
        program, _ = split_program(task, code)
        jobs.append((program, task.test))
    with Executor(workers=2, timeout_s=10.0) as executor:
        assert [r.status for r in executor.run_many(jobs)] == ["passed"] * len(jobs)


def test_export_keeps_what_inference_keeps(tasks):
    """A reviewer's edit that left test code after the function is exported without it."""
    from persd.data import _completion

    task = tasks["MBPP/717"]
    _, completion = split_program(task, task.solution)
    edited = task.prompt + completion + "\nprint(sd_calc([4, 2]))\n"
    assert _completion(task, edited) == completion
    assert _completion(task, task.prompt + completion) == completion
