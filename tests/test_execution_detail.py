"""Execution results keep what failed as data: the failing test, expected against returned,
the exception with the program's own frames; the session store keeps it too."""

from __future__ import annotations

import pytest

from persd.execution import Executor
from persd.store import SessionStore
from persd.tasks import Task

PROGRAM = "def add(a, b):\n    return a - b\n"


@pytest.fixture(scope="module")
def executor():
    with Executor(workers=1, timeout_s=1.0, memory_mb=512) as ex:
        yield ex


def test_a_wrong_answer_names_the_test_expected_and_returned(executor):
    result = executor.run(PROGRAM, "assert add(1, 1) == 2\nassert add(2, 3) == 5\n")
    outcome, second = result.test_outcomes
    assert outcome.status == "failed" and outcome.source == "assert add(1, 1) == 2"
    assert (outcome.returned, outcome.expected, outcome.error) == ("0", "2", "")
    assert (second.status, second.returned, second.expected) == ("failed", "-1", "5")
    assert result.exception is None


def test_a_call_that_raises_inside_an_assert_is_an_error_outcome(executor):
    result = executor.run("def f(xs):\n    return xs[3]\n", "assert f([1]) == 1\n")
    assert result.status == "error" and result.exception.type == "IndexError"
    frames = result.exception.frames
    assert frames and frames[-1].file == "program.py" and frames[-1].source == "return xs[3]"


def test_a_timeout_names_the_test_it_stopped_in(executor):
    result = executor.run("def spin():\n    while True:\n        pass\n", "assert spin() is None\n")
    assert result.status == "timeout"
    assert [(o.source, o.status) for o in result.test_outcomes] == [("assert spin() is None", "timeout")]


def test_every_test_has_an_outcome_and_the_store_names_the_first_that_did_not_pass(executor, tmp_path):
    program = "def add(a, b):\n    return a + b if a else 0\n"
    result = executor.run(program, "assert add(1, 1) == 2\nassert add(0, 3) == 3\nassert add(2, 2) == 4\n")
    assert [o.status for o in result.test_outcomes] == ["passed", "failed", "passed"]
    assert result.test_outcomes[0].returned == "2" and result.tests_passed == 2
    task = Task("t/2", "def add(a, b):\n", "add", "", "", program, "test")
    with SessionStore.open(tmp_path, "s", create=True) as store:
        store.tasks.add([task])
        attempt = store.attempts.add(task.task_id, 0, model="m", prompt=task.prompt,
                                    completion=program[len(task.prompt):], program=program)
        stored = store.executions.add("attempt", attempt.id, result)
    assert stored.result.failing_test.source == "assert add(0, 3) == 3"


def test_the_store_keeps_the_detail(executor, tmp_path):
    task = Task("t/1", "def add(a, b):\n", "add", "assert add(1, 1) == 2\n", "", PROGRAM, "test")
    result = executor.run(PROGRAM, task.test)
    with SessionStore.open(tmp_path, "s", create=True) as store:
        store.tasks.add([task])
        attempt = store.attempts.add(task.task_id, 0, model="m", prompt=task.prompt,
                                    completion=PROGRAM[len(task.prompt):], program=PROGRAM)
        stored = store.executions.add("attempt", attempt.id, result)
    assert stored.result.has_detail and stored.result.test_outcomes == result.test_outcomes
    assert stored.result.failing_test.returned == "0" and stored.result.exception is None
