"""Risk flags (persd.analysis.risk) on planted records: programs run for real in the
sandbox, their results stored, the flags read back from the session."""

from __future__ import annotations

import pytest

from persd.analysis.risk import FLAG_KINDS, risk_flags, risk_score
from persd.execution import Executor
from persd.store import SessionStore
from persd.tasks import Task

PROMPT = 'def triple(n):\n    """Three times n.\n    >>> triple(5)\n    15\n    """\n'
HIDDEN = ("def check(candidate):\n    assert candidate(5) == 15\n    assert candidate(7) == 21\n"
          "    assert candidate(-4) == -12\n\ncheck(triple)\n")
VISIBLE = "assert triple(5) == 15\n"
ATTEMPT = PROMPT + "    return n + n\n"
GENUINE = PROMPT + "    return n + n + n\n"
HARD_CODED = PROMPT + "    if n == 7:\n        return 21\n    return n + n + n\n"
RETURNS_LITERAL = PROMPT + "    return 15\n"
REWRITE = PROMPT + ("    total = 0\n    for _ in range(3):\n        total = total + n\n"
                    "    result = total\n    return result\n")
BAD_TEST = HIDDEN.replace("candidate(-4) == -12", "candidate(-4) == 12")


@pytest.fixture(scope="module")
def executor():
    with Executor(workers=2, timeout_s=3.0) as ex:
        yield ex


def _task(task_id: str, test: str = HIDDEN) -> Task:
    return Task(task_id=task_id, prompt=PROMPT, entry_point="triple", test=test,
                visible_test=VISIBLE, solution="    return 3 * n\n", source="planted")


def _plant(store, executor, task, refinement: str, *, attempt: str = ATTEMPT,
           sample: int = 0, tries: int = 1) -> int:
    store.tasks.add([task])
    stored = store.attempts.add(task.task_id, 0, model="student", prompt=PROMPT,
                               completion=attempt[len(PROMPT):], program=attempt,
                               sample_index=sample)
    store.executions.add("attempt", stored.id, executor.run(attempt, task.test))
    run = executor.run(refinement, task.test)
    return store.refinements.add("persd", teacher_model="teacher", program=refinement,
                                validated=run.passed, attempt_id=stored.id, tries=tries,
                                execution=run).id


def _kinds(flags) -> set[str]:
    return {flag.kind for flag in flags}


def test_a_hard_coded_refinement_is_flagged_and_a_genuine_fix_is_not(tmp_path, executor):
    with SessionStore(tmp_path / "risk.sqlite") as store:
        genuine = _plant(store, executor, _task("T/genuine"), GENUINE)
        branches = _plant(store, executor, _task("T/branch"), HARD_CODED)
        literal = _plant(store, executor, _task("T/literal"), RETURNS_LITERAL)
        flags = risk_flags(store)
    assert flags[genuine] == []
    assert "hard_codes_tests" in _kinds(flags[branches])
    why = next(f.why for f in flags[branches] if f.kind == "hard_codes_tests")
    assert "7" in why or "21" in why
    assert "hard_codes_tests" in _kinds(flags[literal])
    # the literal one passes the visible assert (triple(5) == 15) and fails the hidden ones
    assert "visible_only" in _kinds(flags[literal])
    assert risk_score(flags[branches]) > risk_score(flags[genuine]) == 0


def test_a_rewrite_and_many_tries_are_flagged_with_why(tmp_path, executor):
    with SessionStore(tmp_path / "risk.sqlite") as store:
        rewrite = _plant(store, executor, _task("T/rewrite"), REWRITE, tries=4)
        flags = risk_flags(store)[rewrite]
    assert _kinds(flags) == {"not_personalised", "many_tries"}
    assert all(flag.why and flag.label == FLAG_KINDS[flag.kind][0] for flag in flags)
    assert "4 tries" in next(f.why for f in flags if f.kind == "many_tries")


def test_a_task_whose_test_is_wrong_is_flagged(tmp_path, executor):
    task = _task("T/bad-test", BAD_TEST)
    with SessionStore(tmp_path / "risk.sqlite") as store:
        ids = [_plant(store, executor, task, GENUINE, attempt=PROMPT + "    return 3 * n\n",
                      sample=i) for i in range(3)]
        good = _plant(store, executor, _task("T/good"), GENUINE)
        flags = risk_flags(store)
    for rid in ids:
        why = next(f.why for f in flags[rid] if f.kind == "test_looks_wrong")
        assert "triple(-4) == 12" in why and "returning -12" in why
    assert flags[good] == []


def test_code_that_does_not_parse_gets_no_hard_coding_flag(tmp_path, executor):
    with SessionStore(tmp_path / "risk.sqlite") as store:
        broken = _plant(store, executor, _task("T/broken"), PROMPT + "    return (\n")
        flags = risk_flags(store)[broken]
    assert "hard_codes_tests" not in _kinds(flags)
