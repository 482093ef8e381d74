"""Verdicts the program cannot game: reward-hacking programs never pass, references always
do, and the protocols choose the tests and the comparison."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from persd.demo.live import custom_task
from persd.execution import Executor
from persd.execution.executor import JUDGE_WALL_S
from persd.execution.jail import values
from persd.execution import verdicts
from persd.execution.jail.values import same
from persd.tasks import load_tasks

DATA = Path(__file__).parent / "data"
HOSTILE = sorted((DATA / "hostile").glob("*.py"))
MARK = "# ---- test ----\n"
TASK_MARK = "# ---- task ----\n"


@pytest.fixture(scope="module")
def executor():
    with Executor(workers=2, timeout_s=2.0, memory_mb=1024) as ex:
        yield ex


def _fresh_peak_rss_mb() -> float:
    """This process's resident set now, after resetting its peak (VmHWM) to it."""
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    return _peak_rss_mb()


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


LOAD_SLACK_S = 5.0


# The last two fit in this machine's memory: built on the host, they would show in its peak.
@pytest.mark.parametrize("expected", ["9**9**9**9", "[0] * 10**10", "'a' * 10**12", "math.factorial(10**8)",
                                      "[0] * 2 * 10**8", "'a' * 10**9"])
def test_a_typed_test_whose_expected_value_cannot_be_built_costs_the_host_nothing(executor, expected):
    task = custom_task("Add one.", "def add_one(x):", f"import math\nassert add_one(1) == {expected}\n")
    program = "def add_one(x):\n    return x + 1\n"
    before = _fresh_peak_rss_mb()
    started = time.monotonic()
    result = executor.run(program, task.visible_test)
    # Bounded by the run's and the judge's wall deadlines; LOAD_SLACK_S covers process start
    # and teardown on a machine whose cores are busy (10.5 s was seen at load average 16).
    assert time.monotonic() - started < executor.limits["wall_s"] + JUDGE_WALL_S + LOAD_SLACK_S
    assert _peak_rss_mb() - before < 20, "the host built the expected value"
    assert result.status == "error" and result.error_type in ("JudgeLimit", "MemoryError"), result.feedback
    assert result.failed_test == f"assert add_one(1) == {expected}"
    assert executor.run(program, "assert add_one(1) == 2\n").passed


def test_a_huge_value_the_program_returns_is_read_in_the_jail_not_on_the_host(executor):
    before = _fresh_peak_rss_mb()
    result = executor.run("def f():\n    return 'x' * 12_000_000\n", "assert f() == 'y'\n")
    assert result.status == "failed" and len(result.actual) <= 300
    assert _peak_rss_mb() - before < 10, "the host read the program's value"


def hostile_job(path: Path) -> tuple[str, str, str]:
    """(program, test, the task's own code) of a file of the corpus."""
    program, rest = path.read_text().split(MARK)
    test, _, task = rest.partition(TASK_MARK)
    return program, test, task


@pytest.mark.parametrize("protocol", ["strict", "paper"])
def test_no_reward_hacking_technique_of_the_corpus_passes(protocol):
    assert len(HOSTILE) >= 36
    pairs = [hostile_job(path) for path in HOSTILE]
    with Executor(workers=2, timeout_s=2.0, memory_mb=1024, protocol=protocol) as executor:
        results = executor.run_many(pairs)
    passed = [path.name for path, result in zip(HOSTILE, results) if result.passed]
    assert passed == []
    assert all(result.feedback for result in results)


def test_a_forged_eq_fails_and_says_why(executor):
    program = "class Evil(int):\n    def __eq__(self, other):\n        return True\n\ndef add(a, b):\n    return Evil(0)\n"
    result = executor.run(program, "assert add(1, 2) == 3\n")
    assert result.status == "failed" and result.error_type == "NonBuiltinValue"
    assert ("add(1, 2) returned an object of type Evil (a subclass of int) whose == is overridden; "
            "only builtin values are accepted") in result.feedback


SCAN_OWN_PROCESS = r"""
import gc, re, sys

def _regions():
    with open("/proc/self/maps") as maps:
        for line in maps:
            span, perms, *rest = line.split()
            if perms.startswith("r") and not (rest[-1].startswith("[v") if len(rest) > 3 else False):
                start, end = (int(x, 16) for x in span.split("-"))
                yield start, end

def _read(start, end):
    try:
        with open("/proc/self/mem", "rb", buffering=0) as memory:
            memory.seek(start)
            return memory.read(end - start)
    except PermissionError:  # not dumpable (a switched uid): read the bytes in place
        import ctypes
        return ctypes.string_at(start, end - start)

def probe():
    pattern = re.compile(("EXPECTED" + "-") .encode() + rb"[0-9a-f]{32}")
    found = set()
    for obj in gc.get_objects():                       # everything the collector tracks
        for text in (obj.values() if isinstance(obj, dict) else obj if isinstance(obj, (list, tuple)) else ()):
            if isinstance(text, str):
                found.update(m.decode() for m in pattern.findall(text.encode("utf-8", "replace")))
    frame = sys._getframe()
    while frame:                                       # every caller's locals and constants
        for value in [*frame.f_locals.values(), *frame.f_code.co_consts]:
            if isinstance(value, (str, bytes)):
                data = value.encode("utf-8", "replace") if isinstance(value, str) else value
                found.update(m.decode() for m in pattern.findall(data))
        frame = frame.f_back
    for start, end in _regions():                      # every readable byte of the process
        try:
            found.update(m.decode() for m in pattern.findall(_read(start, end)))
        except (OSError, OverflowError, ValueError):
            pass
    return sorted(found)[0] if found else "nothing"
"""


def test_a_program_that_scans_its_own_process_finds_no_expected_value(executor):
    marker = "EXPECTED-" + uuid.uuid4().hex
    test = f"def check(candidate):\n    assert candidate() == {marker!r}\n\ncheck(probe)\n"
    result = executor.run(SCAN_OWN_PROCESS, test, "def probe():\n    \"\"\"Find it.\"\"\"\n")
    assert result.status == "failed", result.feedback
    assert result.test_outcomes[0].returned == "'nothing'"
    # The scan works: a marker the program itself holds is found (it then "passes").
    leaky = executor.run(SCAN_OWN_PROCESS + f"\nKEPT = {marker[::-1]!r}[::-1]\n", test)
    assert leaky.passed, leaky.feedback


HONEST = """
import collections
def half(x):
    return x / 2
def evens(xs):
    return map(lambda x: x * 2, xs)
def pairs(n):
    return collections.namedtuple("P", "a b")(n, n + 1)
def counts(s):
    return collections.Counter(s)
def is_odd(n):
    return n % 2 == 1
def queue():
    return collections.deque([1, 2])
"""
NON_EQ_TESTS = """
import math
assert abs(half(3) - 1.5) < 1e-9
assert math.isclose(half(1), 0.5)
assert sorted(evens([2, 1])) == [2, 4]
assert set(evens([1, 1])) == {2}
assert pairs(1) == (1, 2)
assert counts("aab") == {"a": 2, "b": 1}
assert is_odd(3)
assert not is_odd(4)
assert all(is_odd(n) for n in (1, 3, 5))
assert [half(x) for x in (2, 4)] == [1.0, 2.0]
assert queue() == collections.deque([1, 2]) and len(queue()) == 2
assert half(3) > 1 or half(3) < -1
for x, y in [(2, 1.0), (6, 3.0)]:
    assert half(x) == y
assert math.isnan(half(float("nan")))
"""


def test_honest_programs_pass_asserts_that_are_not_plain_equality(executor):
    result = executor.run(HONEST, NON_EQ_TESTS)
    assert result.passed, result.feedback
    assert result.tests_passed == result.tests_total == 14
    assert all(outcome.status == "passed" for outcome in result.test_outcomes)


def test_a_wrong_value_fails_a_tolerance_assert_with_what_it_returned(executor):
    result = executor.run("def half(x):\n    return x / 3\n", "assert abs(half(3) - 1.5) < 1e-9\n")
    assert result.status == "failed" and "half(3) returned 1.0" in result.feedback


def test_a_call_that_raises_on_the_host_side_is_an_error(executor):
    result = executor.run("def f():\n    return 5\n", "assert len(f()) == 1\n")
    assert result.status == "error" and result.error_type == "TypeError"
    assert result.test_outcomes[0].status == "error"


def test_builtins_and_modules_in_a_test_are_the_judges_whatever_the_program_binds(executor):
    program = ("import builtins, math\nbuiltins.abs = lambda x: 0\nmath.isclose = lambda *a, **k: True\n"
               "def sorted(xs):\n    return [0]\n\ndef area(r, math=None, abs=None):\n    return -1.0\n")
    test = ("import math\nfrom math import isclose\nassert sorted([3, 1]) == [1, 3]\n"
            "assert abs(area(1.0) - 3.14159) < 0.01\nassert math.isclose(area(1.0), 3.14159)\n"
            "assert isclose(area(2.0), 12.566)\n")
    result = executor.run(program, test)
    assert [o.status for o in result.test_outcomes] == ["passed", "failed", "failed", "failed"], result.feedback


@pytest.mark.parametrize("value", [1, -2**80, 2.5, float("inf"), "s", b"\x00", None, True, 3j,
                                   [1, (2, 3)], {1: {"a": frozenset({2})}}, {1, 2}, range(3)])
def test_values_round_trip_as_the_same_builtin(value):
    copy = values.decode(values.encode(value))
    assert copy == value and type(copy) is type(value)


def test_the_comparison_treats_nan_as_nan_and_tolerance_only_under_the_paper_protocol():
    assert same(float("nan"), float("nan")) and not same(float("nan"), 1.0)
    assert not same(0.1 + 0.2, 0.3) and same(0.1 + 0.2, 0.3, approx=True)
    assert same([1, (0.1 + 0.2,)], [1, (0.3,)], approx=True) and not same([1], (1,))
    assert not same(1.0, 1.1, approx=True)


def test_paper_protocol_runs_test_list_only_and_compares_approximately(tmp_path):
    row = ('{"task_id": 1, "text": "Add.", "code": "def add(a, b):\\n    return a + b",'
           ' "test_list": ["assert add(0.1, 0.2) == 0.3"], "challenge_test_list": ["assert add(1, 1) == 3"]}\n')
    (tmp_path / "t.jsonl").write_text(row)
    (task,) = load_tasks(f"mbpp:{tmp_path / 't.jsonl'}")
    assert "add(1, 1)" not in verdicts.tests_for("paper", task.test) and "add(1, 1)" in verdicts.tests_for("strict", task.test)
    with Executor(workers=1, protocol="paper") as paper, Executor(workers=1) as strict:
        assert paper.run(task.solution, task.test).passed
        result = strict.run(task.solution, task.test)
    assert result.status == "failed" and result.tests_total == 2


def test_mbpp_references_pass_under_both_protocols():
    tasks = load_tasks(f"mbpp:{DATA / 'mbpp_verdict_sample.jsonl'}")
    assert len(tasks) >= 40
    for protocol in ("strict", "paper"):
        with Executor(workers=2, timeout_s=5.0, protocol=protocol) as ex:
            results = ex.run_many([(t.solution, t.test, t.prompt) for t in tasks])
        assert {t.task_id: r.feedback for t, r in zip(tasks, results) if not r.passed} == {}


def test_eval_compare_never_sets_runs_of_different_protocols_side_by_side(tmp_path):
    from persd.evaluate import EvalConfig, eval_runs_table
    from persd.store import SessionStore

    result = {"tasks": ["a"], "steps": [{"pass_at_k": {"pass@1": 0.5}}]}
    with SessionStore.open(tmp_path, "s", create=True) as store:
        for protocol in ("strict", "paper", "strict"):
            run = store.runs.add("eval", {"round": 0, "eval": EvalConfig(protocol=protocol).to_dict()})
            store.runs.update(run, status="finished", result=result)
        table = eval_runs_table(store)
    assert "different protocols (paper, strict)" in table
    paper, strict = table.split("protocol: paper")[1].split("protocol: strict")
    assert paper.count("0.5000") == 1 and strict.count("0.5000") == 2
    with pytest.raises(ValueError, match="unknown protocol"):
        EvalConfig(protocol="loose")


def test_builtin_classes_and_functions_cross_by_name(executor):
    program = "def keep(xs, kind):\n    return [x for x in xs if not isinstance(x, kind)]\n\ndef pick():\n    return len\n"
    result = executor.run(program, "assert keep((4, 5, 7.7), int) == [7.7]\nassert pick() is len\n")
    assert result.passed, result.feedback
