"""persd.demo.live: the live demo's step-by-step repair with the real sandbox, the simulated
student, the tiny model, and a typed task; hidden tests never reach a prompt."""

from __future__ import annotations

import pytest

from persd.execution import Executor
from persd.demo.live import LiveError, LiveRepair, ModelBackend, SimulatedBackend, custom_task
from persd.tasks import load_tasks


@pytest.fixture(scope="module")
def executor():
    with Executor(workers=2, timeout_s=3.0) as ex:
        yield ex


@pytest.fixture(scope="module")
def humaneval():
    return {t.task_id: t for t in load_tasks("humaneval")[:12]}


def test_simulated_student_fails_the_visible_tests_then_repairs(humaneval, executor):
    for task in humaneval.values():
        live = LiveRepair(task, SimulatedBackend(executor), executor, max_steps=3)
        first = live.next_step()
        assert first.index == 0 and first.prompt == task.prompt
        assert first.program.startswith(task.prompt) and first.program != task.solution
        assert not first.visible.passed and not first.hidden.passed  # a bug the examples catch
        assert not live.done and live.outcome == ""
        repaired = live.next_step()
        assert repaired.index == 1 and repaired.visible.passed and repaired.hidden.passed
        assert first.visible.feedback.splitlines()[0] in repaired.prompt
        assert live.done and live.outcome == "the visible tests pass after 1 repair step"
        with pytest.raises(LiveError, match="finished"):
            live.next_step()


def test_the_model_student_runs_steps_and_never_sees_hidden_tests(humaneval, executor,
                                                                  tiny_model_dir):
    from persd.student import HFStudent, StudentConfig

    student = HFStudent(StudentConfig(model=tiny_model_dir, temperature=0.0, max_new_tokens=12))
    task = humaneval["HumanEval/2"]
    live = LiveRepair(task, ModelBackend(student), executor, max_steps=2)
    while not live.done:
        live.next_step()
    assert [s.index for s in live.steps] == [0, 1, 2]  # random weights: never passes
    assert live.outcome == "still failing after 2 repair steps (the limit)"
    hidden_line = next(line.strip() for line in task.test.splitlines() if "assert" in line)
    for step in live.steps:
        assert step.program.startswith(task.prompt)
        assert hidden_line not in step.prompt and "def check(" not in step.prompt
        assert step.hidden is not None and not step.hidden.passed
    assert live.steps[1].prompt.endswith(task.prompt)
    assert live.steps[0].visible.feedback.strip().splitlines()[0] in live.steps[1].prompt


def test_a_typed_task_runs_its_visible_tests_only(executor):
    task = custom_task("Add two to x.", "def add_two(x: int) -> int:",
                       "assert add_two(1) == 3\nassert add_two(0) == 2")
    assert task.entry_point == "add_two" and task.test == "" and task.solution == ""
    assert task.prompt == 'def add_two(x: int) -> int:\n    """\n    Add two to x.\n    """\n'

    class Scripted:
        label = "scripted"

        def first(self, task):
            return task.prompt + "    return x + 1\n"

        def repair(self, task, program, feedback):
            assert "add_two(1) returned 2" in feedback
            return task.prompt + "    return x + 2\n"

    live = LiveRepair(task, Scripted(), executor)
    first, second = live.next_step(), live.next_step()
    assert first.hidden is None and not first.visible.passed
    assert second.visible.passed and live.done
    with pytest.raises(LiveError, match="reference solution"):
        LiveRepair(task, SimulatedBackend(executor), executor).next_step()


@pytest.mark.parametrize("description, header, tests, problem", [
    ("d", "x = 1", "assert True", "needs a `def name"),
    ("d", "def f(x:", "assert f(1)", "does not parse"),
    ("d", "def f(x):", "", "at least one visible test"),
    ("d", "def f(x):", "assert f(1) ==", "visible tests do not parse"),
])
def test_typed_task_mistakes_get_one_clear_message(description, header, tests, problem):
    with pytest.raises(LiveError, match=problem):
        custom_task(description, header, tests)
