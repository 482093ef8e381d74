"""persd.demo.sim: each mutation kind on crafted functions; the simulated student and teacher
on all HumanEval tasks with the real Executor."""

import ast
import statistics
from collections import Counter

import pytest

from persd.code.diffing import diff_size
from persd.execution import Executor
from persd.demo.sim import (
    MUTATORS,
    SIMULATED_LABEL,
    Mutation,
    SimulatedStudent,
    SimulatedTeacher,
    apply_edit,
    build_demo_records,
    candidate_edits,
    reference_program,
    revert,
)
from persd.tasks import Task, load_tasks

# ---------------------------------------------------------------- crafted functions


def mutants(kind: str, prompt: str, body: str) -> list[tuple[str, Mutation]]:
    """Every mutant of `kind`, checked to parse, keep the prompt and revert exactly."""
    program = prompt + body
    out = []
    for edit in candidate_edits(program, len(prompt), kinds=[kind]):
        new, mutation = apply_edit(program, edit)
        assert edit.kind == mutation.kind == kind
        assert new.startswith(prompt) and new != program
        ast.parse(new)
        assert revert(new, mutation) == program
        out.append((new, mutation))
    return out


def behaviour(program: str, name: str, *args):
    namespace: dict = {}
    exec(program, namespace)  # our own crafted code, not a model's
    try:
        return "returned", namespace[name](*args)
    except Exception as error:  # noqa: BLE001 - a raised error is a behaviour too
        return "raised", type(error).__name__


# kind -> (prompt, body, args, mutated lines that must be among the mutants)
CASES = {
    "off_by_one": (
        'def total(n, xs, k):\n    """Sum of 1..n; 0 < 1 here is prose."""\n',
        "    s = 0\n    for i in range(n):\n        s += i + 1\n"
        "    small = [x for x in xs if x < k]\n    return s, small, xs[:k]\n",
        (5, [1, 2, 3], 2),
        {"for i in range(n - 1):", "for i in range(1, n):",
         "small = [x for x in xs if x <= k]", "return s, small, xs[:k - 1]"},
    ),
    "wrong_comparison": (
        'def count(xs, k):\n    """How many items equal k (-1 for no items)."""\n',
        "    c = 0\n    for x in xs:\n        if x == k:\n            c += 1\n"
        "    if not xs:\n        return -1\n    return c\n",
        ([1, 2, 2], 2),
        {"if x != k:", "if xs:"},
    ),
    "wrong_arithmetic": (
        "def mean(xs):\n",
        "    total = 0\n    for x in xs:\n        total += x * 2\n    return total // len(xs)\n",
        ([1, 2, 5],),
        {"total -= x * 2", "total += x + 2", "return total / len(xs)"},
    ),
    "missing_edge_case": (
        'def biggest(xs):\n    """The largest item, or 0 for no items."""\n',
        "    if not xs:\n        return 0\n    return max(xs)\n",
        ([],),
        {""},  # the guard's lines are gone
    ),
    "wrong_return": (
        "def pick(a, b):\n",
        "    best = max(a, b)\n    worst = min(a, b)\n    return best\n",
        (1, 5),
        {"return worst", "return None"},
    ),
    "name_error": (
        "def scale(numbers, factor):\n",
        "    result = []\n    for number in numbers:\n        result.append(number * factor)\n"
        "    return result\n",
        ([1, 2], 3),
        {"for number in nmubers:", "return rseult"},
    ),
    "wrong_constant": (
        "def flags(xs):\n",
        "    seen = False\n    count = 0\n    for x in xs:\n        if x > 10:\n"
        "            seen = True\n            count += 2\n    return seen, count\n",
        ([5, 10, 20],),
        {"count = 1", "seen = False", "count += 1", "if x > 9:"},
    ),
    "swapped_arguments": (
        "def power(a, b):\n",
        "    return pow(a, b) - max(a, b)\n",
        (2, 3),
        {"return pow(b, a) - max(a, b)"},
    ),
}


def test_every_kind_has_a_case():
    assert set(CASES) == set(MUTATORS)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_mutation_kind_changes_behaviour_and_parses(kind):
    prompt, body, args, expected = CASES[kind]
    name = prompt.split("(")[0].removeprefix("def ")
    results = mutants(kind, prompt, body)
    by_line = {m.after.strip(): program for program, m in results}
    assert expected <= set(by_line), f"missing {expected - set(by_line)}"
    original = behaviour(prompt + body, name, *args)
    for line in expected:
        assert behaviour(by_line[line], name, *args) != original, line


def test_name_error_typos_raise_name_error():
    prompt, body, args, _ = CASES["name_error"]
    results = mutants("name_error", prompt, body)
    assert len(results) >= 5
    for program, _ in results:
        assert behaviour(program, "scale", *args) == ("raised", "NameError")


def test_guard_that_is_the_whole_body_is_kept():
    assert mutants("missing_edge_case", "def g(x):\n", "    if x:\n        return 1\n") == []


def test_symmetric_calls_are_not_swapped():
    results = mutants("swapped_arguments", "def h(a, b):\n", "    return max(a, b)\n")
    assert results == []


def test_docstrings_signature_and_fstrings_are_never_mutated():
    prompt = ('def f(xs, k=1, flag=True):\n    """Return x + 1 for x in range(k) if x < 2 == 0.\n'
              '    >>> f([1], 2)\n    [3]\n    """\n')
    body = ('    def helper(v):\n        """Helper doc: 1 + 1 == 2."""\n        return v + k\n'
            '    label = f"{k + 1} items"\n    return [helper(x) for x in xs if x < 10]\n')
    program = prompt + body
    edits = candidate_edits(program, len(prompt))
    assert {e.kind for e in edits} >= {"off_by_one", "wrong_arithmetic", "wrong_constant"}
    assert any("v - k" in apply_edit(program, e)[0] for e in edits)  # helpers are mutated
    for edit in edits:
        new = apply_edit(program, edit)[0]
        assert edit.start >= len(prompt) and new.startswith(prompt)
        assert '"""Helper doc: 1 + 1 == 2."""' in new
        assert 'f"{k + 1} items"' in new


def test_revert_refuses_a_mutation_that_is_not_there():
    mutation = Mutation("wrong_constant", 2, "    x = 0", "    x = 1", "`0` -> `1`")
    assert revert("def f():\n    x = 1\n", mutation) == "def f():\n    x = 0\n"
    with pytest.raises(ValueError, match="line 2"):
        revert("def f():\n    x = 2\n", mutation)


# ---------------------------------------------------------------- HumanEval, real Executor


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    return load_tasks("humaneval")


@pytest.fixture(scope="module")
def executor():
    with Executor() as ex:
        yield ex


@pytest.fixture(scope="module")
def records(tasks, executor):
    return build_demo_records(tasks, executor, seed=0)


@pytest.fixture(scope="module")
def by_id(tasks):
    return {t.task_id: t for t in tasks}


def failing(records):
    return [r for r in records if not r.attempt_result.passed]


def test_student_fails_a_realistic_share_with_varied_bugs(records, tasks):
    assert len(records) == len(tasks) == 164
    share = len(failing(records)) / len(records)
    assert 0.5 <= share <= 0.68, share
    kinds = Counter(r.mutation["kind"] for r in failing(records))
    assert len(kinds) >= 6, kinds
    errors = Counter(r.attempt_result.error_type for r in failing(records))
    assert errors["AssertionError"] > len(failing(records)) / 2
    assert errors["NameError"] >= 1


def test_attempts_start_with_the_prompt_and_failures_are_real(records, by_id, executor):
    for r in records:
        task = by_id[r.task_id]
        assert r.attempt_program.startswith(task.prompt)
        assert r.attempt_completion == r.attempt_program[len(task.prompt):]
        assert r.simulated is True and r.label == SIMULATED_LABEL
        if r.attempt_result.passed:
            assert r.mutation is None and r.refinement_program is None
            assert r.attempt_program == reference_program(task)
        else:
            assert r.mutation is not None
            assert r.attempt_result.status in {"failed", "error", "timeout", "memory"}
            assert r.attempt_result.error_type and r.attempt_result.feedback
            assert revert(r.attempt_program, r.mutation) == reference_program(task)
    sample = [r for r in failing(records) if r.attempt_result.status != "timeout"][:12]
    again = executor.run_many([(r.attempt_program, by_id[r.task_id].test) for r in sample])
    assert [x.status for x in again] == [r.attempt_result.status for r in sample]


def test_minimal_refinements_pass_with_small_diffs(records, by_id):
    kinds = Counter(r.refinement_kind for r in failing(records))
    assert set(kinds) == {"minimal", "rewrite", "still_wrong"}
    assert kinds["minimal"] > len(failing(records)) / 2
    minimal = [r for r in failing(records) if r.refinement_kind == "minimal"]
    assert all(r.refinement_result.passed for r in minimal)
    sizes = [diff_size(r.attempt_program, r.refinement_program) for r in minimal]
    assert statistics.median(sizes) <= 2, sizes
    assert all(r.refinement_result.passed for r in failing(records)
               if r.refinement_kind == "rewrite")
    assert any(not r.refinement_result.passed for r in failing(records)
               if r.refinement_kind == "still_wrong")
    for r in failing(records):
        prompt = by_id[r.task_id].prompt
        assert r.refinement_program.startswith(prompt)
        assert r.refinement_completion == r.refinement_program[len(prompt):]


def test_teacher_replies_look_like_a_chat_model(records):
    for r in failing(records):
        assert "```python\n" in r.teacher_raw_reply and r.teacher_raw_reply.rstrip().endswith("```")
        assert r.teacher_prompt_tokens > r.teacher_completion_tokens > 10
        assert r.teacher_cost_usd == 0.0 and r.teacher_model == "simulated-teacher"


def test_teacher_solve_is_the_reference(tasks):
    assert SimulatedTeacher().solve(tasks[0]) == tasks[0].solution


def test_deterministic_for_a_seed_and_independent_of_the_task_set(records, tasks, executor):
    subset = tasks[::6]
    again = build_demo_records(subset, executor, seed=0)
    full = {r.task_id: r for r in records}

    def key(r):
        return (r.attempt_program, r.mutation, r.refinement_program, r.refinement_kind)

    assert [key(r) for r in again] == [key(full[r.task_id]) for r in again]
    student = SimulatedStudent(seed=1)
    assert [student.wants_bug(t.task_id) for t in tasks] != \
        [SimulatedStudent(seed=0).wants_bug(t.task_id) for t in tasks]
