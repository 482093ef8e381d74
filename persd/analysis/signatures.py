"""Failure signatures: failed runs grouped by cause, read from their structured results.

    from persd.analysis.signatures import signature_of, refinements_with_signature
    signature_of(execution)        # "IndexError: list index out of range"
    ids = refinements_with_signature(store, "Timeout in a loop")   # failing refinements
    review_filter(store, "Timeout in a loop")  # a QueueFilters for the Review screen

A signature is the error type plus a normalised message, so that failures with the same
cause fall into one group whatever task, name or number they involve:
  IndexError: list index out of range
  NameError: name '…' is not defined
  returned None where a list was expected
  AssertionError: wrong answer (returned int, expected list)
  AssertionError: wrong answer (a different list)
  Timeout in a loop / Timeout in a recursive call / Timeout
  RecursionError: maximum recursion depth exceeded
It is built from an `ExecutionResult`'s `status`, `error_type`, `test_outcomes` and
`exception`, never from the feedback text; a run without structured detail (stored by an
older persd, or imported with the file's error text) gets "<error type> (no detail stored)".
"""

from __future__ import annotations

import ast
import re
from typing import Any

import pandas as pd

from persd.execution.result import ExecutionResult
from persd.store.records import QueueFilters

PASSED = ""
SIGNATURE_COLUMNS = ["signature", "error_type", "count", "tasks", "example_task",
                     "example_id", "ids"]
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBER = re.compile(r"(?<![A-Za-z_])\d+(\.\d+)?")
_LOOP = re.compile(r"^\s*(while|for)\b|\bfor\b.+\bin\b")
# Errors whose quoted part is a name from the program: it says nothing about the cause.
_NAME_ERRORS = ("NameError", "UnboundLocalError", "KeyError", "ModuleNotFoundError",
                "ImportError")
MAX_MESSAGE = 90


def signature_of(execution: ExecutionResult | None) -> str:
    """The cause of a failed run in one normalised line; "" for a passing run."""
    if execution is None:
        return "not run"
    status = execution.status
    if status == "passed":
        return PASSED
    error_type = execution.error_type or status
    outcomes, exception = execution.test_outcomes, execution.exception
    if not execution.has_detail:
        return f"{error_type} (no detail stored)"
    if status == "timeout":
        return _timeout(exception)
    if status == "memory":
        return "MemoryError: over the memory limit"
    if status == "failed":
        # The outcomes hold every test, passed ones too: the first that did not pass.
        failing = next((o for o in outcomes if o.status != "passed"), None)
        if failing is not None and failing.status == "failed":
            return _wrong_answer(failing.returned, failing.expected)
        return "AssertionError: a test failed"
    if exception is not None:
        return f"{exception.type}: {_message(exception.type, exception.message)}".rstrip(": ")
    failing = next((o for o in outcomes if o.error), None)
    if failing is not None:
        kind, _, message = failing.error.partition(": ")
        return f"{kind}: {_message(kind, message)}".rstrip(": ")
    return f"{error_type} ({status})" if status == "killed" else error_type


def _timeout(exception: Any) -> str:
    frames = [f for f in (exception.frames if exception else ()) if f.file == "program.py"]
    if not frames:
        return "Timeout"
    functions = [f.function for f in frames]
    if len(functions) != len(set(functions)):
        return "Timeout in a recursive call"
    if _LOOP.search(frames[-1].source):
        return "Timeout in a loop"
    if "sleep(" in frames[-1].source or "input(" in frames[-1].source:
        return "Timeout waiting (sleep or input)"
    return "Timeout"


def _message(kind: str, message: str) -> str:
    message = (message or "").strip().splitlines()[0] if (message or "").strip() else ""
    if kind == "RecursionError":
        return "maximum recursion depth exceeded"
    if kind in _NAME_ERRORS:
        message = _QUOTED.sub("'…'", message) if message else ""
    elif kind == "AttributeError":
        # "'list' object has no attribute 'foo'": keep the type, drop the name
        message = re.sub(r"(attribute )'[^']*'", r"\1'…'", message)
    message = _NUMBER.sub("N", message)
    return message[:MAX_MESSAGE] + ("…" if len(message) > MAX_MESSAGE else "")


def _wrong_answer(returned: str, expected: str) -> str:
    got = _kind(returned)
    if not expected:  # `assert f(x)` with no comparison: the call gave a falsy value
        return f"AssertionError: falsy result (returned {got})"
    want = _kind(expected)
    if got == "None" and want != "None":
        return f"returned None where {_article(want)} {want} was expected"
    if got != want:
        return f"AssertionError: wrong answer (returned {got}, expected {want})"
    return f"AssertionError: wrong answer (a different {got})"


def _kind(text: str) -> str:
    """The type name of a repr, e.g. "list" for "[1, 2]"; "object" when it is no literal."""
    if not text:
        return "nothing"
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return "object"
    return "None" if value is None else type(value).__name__


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


# ---------------------------------------------------------------- grouping

def group(items: list[dict[str, Any]]) -> pd.DataFrame:
    """Failed runs grouped by signature, most frequent first. `items`: dicts with
    `id`, `task_id` and `execution`; passing runs are left out. `ids` lists every id of
    the group (the records behind a row, for a drill-down)."""
    rows: dict[str, dict[str, Any]] = {}
    for item in items:
        execution = item["execution"]
        signature = signature_of(execution)
        if not signature:
            continue
        row = rows.setdefault(signature, {
            "signature": signature,
            "error_type": (execution.error_type or execution.status) if execution else "",
            "count": 0, "tasks": set(), "example_task": item["task_id"],
            "example_id": item["id"], "ids": []})
        row["count"] += 1
        row["tasks"].add(item["task_id"])
        row["ids"].append(item["id"])
    frame = pd.DataFrame([{**r, "tasks": len(r["tasks"])} for r in rows.values()],
                         columns=SIGNATURE_COLUMNS)
    return frame.sort_values(["count", "signature"], ascending=[False, True],
                             ignore_index=True)


def attempt_signatures(store, round: int | None = None) -> pd.DataFrame:
    """The student's failed attempts (hidden tests), grouped by signature."""
    return group([{"id": a.id, "task_id": a.task_id, "execution": a.execution.result}
                  for a in store.attempts.list(round=round) if a.execution is not None])


def refinement_signatures(store, round: int | None = None) -> pd.DataFrame:
    """Teacher refinements that still fail the hidden tests, grouped by signature."""
    return group([{"id": r.id, "task_id": r.task_id, "execution": r.execution.result}
                  for r in store.refinements.list(round=round)
                  if r.execution is not None and r.error is None])


def eval_signatures(store, run_id: int, step: int | None = None) -> pd.DataFrame:
    """Failed evaluation samples of one run (one step, or all), grouped by signature."""
    return group([{"id": s.id, "task_id": s.task_id, "execution": s.execution.result}
                  for s in store.eval_samples.list(run_id)
                  if s.execution is not None and (step is None or s.step == step)])


def refinements_with_signature(store, signature: str, round: int | None = None) -> list[int]:
    """Ids of the refinements whose hidden-test run still fails with `signature`: the
    records a bulk action such as "reject every refinement failing with X" acts on."""
    return [r.id for r in store.refinements.list(round=round)
            if r.execution is not None and r.error is None
            and signature_of(r.execution.result) == signature]


def review_filter(store, signature: str, round: int | None = None, **filters: Any):
    """A `QueueFilters` selecting the refinements failing with `signature` (plus any other
    QueueFilters field): what the Review screen filters by, and what
    `persd.review.plan_bulk(store, filters, "rejected")` rejects in one action."""
    ids = tuple(refinements_with_signature(store, signature, round))
    return QueueFilters(refinement_ids=ids, round=round, **filters)


def _loose(text: str) -> str:
    """A signature as typed: "..." for "…", any run of spaces as one, no case."""
    return " ".join(text.replace("…", "...").split()).casefold()


def matching_signatures(store, query: str, round: int | None = None) -> pd.DataFrame:
    """The rows of `refinement_signatures` a typed `query` names: the exact signature,
    else those it begins or is part of (ignoring case, spacing and "..." for "…"), else
    the close spellings (difflib). An empty frame when none is near."""
    import difflib  # noqa: PLC0415  only a search that misses needs it

    frame = refinement_signatures(store, round)
    wanted = _loose(query)
    if not wanted or frame.empty:
        return frame.iloc[:0]
    loose = frame["signature"].map(_loose)
    for chosen in (loose == wanted, loose.str.startswith(wanted, na=False),
                   loose.str.contains(wanted, regex=False, na=False)):
        if chosen.any():
            return frame[chosen].reset_index(drop=True)
    near = set(difflib.get_close_matches(wanted, list(loose), n=5, cutoff=0.75))
    return frame[loose.isin(near)].reset_index(drop=True)


def refinements_matching(store, query: str, round: int | None = None) -> list[int]:
    """Ids of the refinements failing with a signature `query` names (`matching_signatures`)."""
    return sorted(i for ids in matching_signatures(store, query, round)["ids"] for i in ids)
