"""Failure signatures (persd.analysis.signatures) of real sandbox runs, and the review
filter and bulk action built on them, on a real session store."""

from __future__ import annotations

import pytest

from persd.analysis.signatures import (
    attempt_signatures, refinement_signatures, refinements_matching, refinements_with_signature,
    review_filter, signature_of,
)
from persd.execution import Executor
from persd.review import apply_bulk, plan_bulk
from persd.store import SessionStore
from persd.tasks import Task

TEST = "def check(f):\n    assert f([1, 2, 3]) == [2, 4, 6]\n    assert f([]) == []\ncheck(double)\n"
PROGRAMS = {
    "right": "def double(xs):\n    return [x * 2 for x in xs]\n",
    "int": "def double(xs):\n    return len(xs)\n",
    "none": "def double(xs):\n    ys = [x * 2 for x in xs]\n",
    "list": "def double(xs):\n    return [x * 3 for x in xs]\n",
    "index": "def double(xs):\n    return [xs[i + 1] * 2 for i in range(len(xs))]\n",
    "index2": "def double(xs):\n    return [xs[5]]\n",
    "loop": "def double(xs):\n    i = 0\n    while True:\n        i += 1\n",
    "recursion": "def double(xs):\n    return double(xs)\n",
    "name": "def double(xs):\n    return [y * 2 for x in xs]\n",
    "name2": "def double(xs):\n    return [zz for x in xs]\n",
    "syntax": "def double(xs)\n    return xs\n",
}
EXPECTED = {
    "right": "",
    "int": "AssertionError: wrong answer (returned int, expected list)",
    "none": "returned None where a list was expected",
    "list": "AssertionError: wrong answer (a different list)",
    "index": "IndexError: list index out of range",
    "index2": "IndexError: list index out of range",
    "loop": "Timeout in a loop",
    "recursion": "RecursionError: maximum recursion depth exceeded",
    "name": "NameError: name '…' is not defined",
    "name2": "NameError: name '…' is not defined",
    "syntax": "SyntaxError: expected ':'",
}


@pytest.fixture(scope="module")
def results():
    with Executor(workers=2, timeout_s=1.0) as ex:
        runs = ex.run_many([(program, TEST) for program in PROGRAMS.values()])
    return dict(zip(PROGRAMS, runs))


def test_signatures_of_real_runs(results):
    assert {name: signature_of(r) for name, r in results.items()} == EXPECTED


def test_signature_ignores_the_feedback_text(results):
    # The feedback names the program's own variables and line numbers; the signature
    # is read from the structured fields only, so two different texts share one cause.
    assert results["index"].feedback != results["index2"].feedback
    assert signature_of(results["index"]) == signature_of(results["index2"])


@pytest.fixture
def store(tmp_path, results):
    with SessionStore.open(tmp_path, "s", create=True) as opened:
        names = [n for n in PROGRAMS if n != "right"]
        opened.tasks.add([Task(task_id=f"t/{n}", prompt="def double(xs):\n", entry_point="double",
                               test=TEST, visible_test="", solution="", source="test")
                          for n in names])
        for name in names:
            attempt = opened.attempts.add(f"t/{name}", 1, model="m", prompt="", completion="",
                                         program=PROGRAMS[name])
            opened.executions.add("attempt", attempt.id, results[name])
            # The teacher's "refinement": a right program for the loop, the same bug else.
            fixed = name == "loop"
            refinement = PROGRAMS["right" if fixed else name]
            opened.refinements.add("persd", teacher_model="t", program=refinement,
                                  validated=fixed, attempt_id=attempt.id,
                                  execution=results["right" if fixed else name])
        yield opened


def test_grouping_in_a_session(store):
    attempts = attempt_signatures(store)
    counts = dict(zip(attempts["signature"], attempts["count"]))
    assert counts["IndexError: list index out of range"] == 2
    assert counts["NameError: name '…' is not defined"] == 2
    assert counts["Timeout in a loop"] == 1
    assert attempts["count"].iloc[0] == 2  # most frequent first
    refinements = refinement_signatures(store)
    assert "Timeout in a loop" not in set(refinements["signature"])  # that one was fixed
    assert refinements["count"].sum() == len(PROGRAMS) - 2


def test_bulk_reject_by_signature(store):
    signature = "IndexError: list index out of range"
    ids = refinements_with_signature(store, signature)
    assert len(ids) == 2
    filters = review_filter(store, signature)
    assert [row.refinement_id for row in store.queue.list(filters)] == ids
    outcome = apply_bulk(store, plan_bulk(store, filters, "rejected"), reviewer="ana")
    assert outcome.updated == 2
    statuses = {r.id: store.reviews.get(r.id).status for r in store.refinements.list()}
    assert sorted(i for i, s in statuses.items() if s == "rejected") == ids
    # An unknown signature selects nothing (not everything).
    assert store.queue.list(review_filter(store, "no such cause")) == []


def test_a_typed_signature_finds_its_near_spellings(store):
    # Issue 25, defect 8: the exact signature with its Unicode ellipsis was needed.
    names = refinements_with_signature(store, "NameError: name '…' is not defined")
    assert len(names) == 2
    assert refinements_matching(store, "NameError: name '...' is not defined") == names
    assert refinements_matching(store, "  nameerror: NAME") == names        # a prefix, any case
    assert refinements_matching(store, "NameEror: name is not defined") == names  # a near miss
    wrong = [*refinements_with_signature(store, EXPECTED["int"]),
             *refinements_with_signature(store, EXPECTED["list"])]
    assert refinements_matching(store, "wrong answer") == sorted(wrong)    # part of two
    assert refinements_matching(store, "KeyError: nothing like it") == []
    assert refinements_matching(store, "") == []


def test_the_signature_names_the_first_test_that_failed_not_the_first_test():
    """Outcomes list every test; a wrong answer on the second assert is still named."""
    with Executor(workers=1, timeout_s=1.0) as ex:
        result = ex.run("def f(x):\n    return 1\n", "assert f(1) == 1\nassert f(2) == 2\n")
    assert [o.status for o in result.test_outcomes] == ["passed", "failed"]
    assert signature_of(result) == "AssertionError: wrong answer (a different int)"
