"""The judge's own logic: which calls go ahead in one message, which of the task's functions
are the program's to write, and that batching never changes what the program sees."""

from __future__ import annotations

import ast

import pytest

from persd.execution import Executor
from persd.execution.jail.instrument import stub_names
from persd.execution.jail.prefetch import leading_calls

CHECK = "def check(candidate):\n    assert candidate(1, 2) == 3\n    assert abs(candidate(0.5, 1) - 1.5) < 1e-9\n\ncheck(add)\n"


@pytest.fixture(scope="module")
def executor():
    with Executor(workers=1, timeout_s=5.0) as ex:
        yield ex


def test_the_calls_a_check_function_makes_first_are_known_under_the_entry_points_name():
    assert leading_calls(ast.parse(CHECK)) == [("add", [1, 2], {}), ("add", [0.5, 1], {})]
    assert leading_calls(ast.parse("assert f(x=[1, (2,)]) == 1\nassert f(2)\n")) == [
        ("f", [], {"x": [1, (2,)]}), ("f", [2], {})]


@pytest.mark.parametrize("test", [
    "for i in range(3):\n    assert f(i) == i\nassert f(9) == 9\n",      # a loop: how many calls is not known
    "x = g(1)\nassert f(2) == 2\n",                                      # a call outside an assert
    "assert f(1) == 1 or f(2) == 2\nassert f(3) == 3\n",                 # `or` may skip a call
    "def f(x):\n    return x\n\nassert f(1) == 1\n",                     # the test's own f
    "assert f(g(1)) == 1\n",                                             # two program calls
])
def test_nothing_is_sent_ahead_that_the_test_might_not_call_in_that_order(test):
    assert leading_calls(ast.parse(test)) == []


def test_the_functions_the_program_writes_are_the_prompts_empty_ones():
    prompt = ('import math\n\n\ndef poly(xs, x):\n    """Evaluates."""\n    return sum(xs)\n\n\n'
              'def find_zero(xs):\n    """Finds a zero."""\n\n\ndef other():\n    import math\n    ...\n')
    assert stub_names(ast.parse(prompt)) == {"find_zero", "other"}


def test_batched_calls_reach_a_stateful_program_in_exactly_the_tests_order(executor):
    program = "calls = []\ndef f(x):\n    calls.append(x)\n    return len(calls)\n"
    test = ("assert f(10) == 1\nassert f(20) == 2\nfor i in range(2):\n    assert f(i) == i + 3\n"
            "assert f(99) == 5\n")
    assert executor.run(program, test).passed


def test_an_assert_the_judge_cannot_evaluate_before_its_call_leaves_the_rest_judged_right(executor):
    program = "def f(x):\n    return x + 1\n"
    result = executor.run(program, "assert len(5) + f(1) == 2\nassert f(2) == 3\nassert f(3) == 0\n")
    assert [o.status for o in result.test_outcomes] == ["error", "passed", "failed"]
    assert "f(3) returned 4" in result.feedback or result.test_outcomes[2].returned == "4"


def test_a_program_that_waits_on_a_batched_call_times_out_at_that_call(executor):
    program = "def f(x):\n    while x == 2:\n        pass\n    return x\n"
    result = executor.run(program, "assert f(1) == 1\nassert f(2) == 2\nassert f(3) == 3\n")
    assert result.status == "timeout"
    assert [o.status for o in result.test_outcomes] == ["passed", "timeout", "not_run"]


def test_objects_of_the_tasks_classes_cross_as_their_attributes(executor):
    prompt = ("class Pair:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n\n\n"
              "def longest(pairs):\n    \"\"\"The longest chain.\"\"\"\n")
    program = ("class Pair:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n    def __eq__(self, other):\n"
               "        return True\n\ndef longest(pairs):\n    return max(pairs, key=lambda p: p.b - p.a)\n")
    test = "assert longest([Pair(1, 2), Pair(5, 24)]).b == 24\nassert longest([Pair(1, 9)]) == Pair(0, 0)\n"
    result = executor.run(program, test, prompt)
    # The first holds; the second compares with the task's Pair, whose == is the default.
    assert [o.status for o in result.test_outcomes] == ["passed", "failed"]


def test_an_answer_too_large_to_carry_is_refused_by_size_and_the_run_goes_on(executor):
    result = executor.run("def f():\n    return 'x' * 20_000_000\n", "assert f() == 'y'\nassert 1 + 1 == 2\n")
    assert result.status == "failed" and result.error_type == "NonBuiltinValue"
    assert "20 MB" in result.feedback and [o.status for o in result.test_outcomes] == ["failed", "passed"]
