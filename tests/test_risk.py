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


REFERENCE = PROMPT + "    return 3 * n\n"


def test_a_reference_that_fails_its_tests_flags_the_task(tmp_path, executor):
    """The teacher's code is the reference (docstring and layout aside) and fails the
    hidden tests: every record of that task says the reference fails; a task whose
    reference passes is not flagged."""
    wrong = Task(task_id="T/wrong-ref", prompt=PROMPT, entry_point="triple", test=BAD_TEST,
                 visible_test=VISIBLE, solution=REFERENCE, source="planted")
    right = Task(task_id="T/right-ref", prompt=PROMPT, entry_point="triple", test=HIDDEN,
                 visible_test=VISIBLE, solution=REFERENCE, source="planted")
    copied = 'def triple(n):\n    """Other words."""\n    return 3*n  # the reference\n'
    with SessionStore(tmp_path / "risk.sqlite") as store:
        other = _plant(store, executor, wrong, GENUINE, sample=0)
        reference = _plant(store, executor, wrong, copied, sample=1)
        fine = _plant(store, executor, right, copied)
        flags = risk_flags(store)
    for rid in (other, reference):
        why = next(f.why for f in flags[rid] if f.kind == "reference_fails")
        assert f"record #{reference}" in why and "triple(-4) == 12" in why
    assert "reference_fails" not in _kinds(flags[fine])
    assert FLAG_KINDS["reference_fails"][0] == "reference fails its tests"


def test_a_task_rejected_from_the_queue_as_test_is_wrong_leaves_the_exported_rows(
        tmp_path, executor):
    """End to end: the Queue filtered by the flag, its records rejected with the reason
    "test is wrong", then `persd export` (a real process) writes no row of that task."""
    import json
    import subprocess
    import sys

    from persd_app.tabs import Stores
    from persd_app.tabs.queue_handlers import QueueHandlers, View

    wrong = Task(task_id="T/wrong-ref", prompt=PROMPT, entry_point="triple", test=BAD_TEST,
                 visible_test=VISIBLE, solution=REFERENCE, source="planted")
    right = Task(task_id="T/right-ref", prompt=PROMPT, entry_point="triple", test=HIDDEN,
                 visible_test=VISIBLE, solution=REFERENCE, source="planted")
    with SessionStore(tmp_path / "risk.sqlite") as store:
        flagged = _plant(store, executor, wrong, REFERENCE)
        _plant(store, executor, right, REFERENCE)
    handlers = QueueHandlers(Stores(tmp_path))
    v = View(session="risk", reviewer="ana", flag=FLAG_KINDS["reference_fails"][0],
             reason_kind="test is wrong", reason="the reference fails triple(-4)")
    v.state = handlers.select_shown(v, True)["state"]
    assert v.state["selected"] == [flagged]
    v.state = handlers.ask(v, "rejected")["state"]
    assert "1 record set to rejected" in handlers.confirm(v, overwrite=False)["counts"]

    out = tmp_path / "rows.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "persd.cli", "export", "--session", "risk", "--variant",
         "persd", "--selection", "all", "--output", str(out), "--sessions-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    tasks = [json.loads(line)["task_id"] for line in out.read_text().splitlines()]
    assert tasks == ["T/right-ref"]
