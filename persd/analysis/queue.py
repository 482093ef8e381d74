"""The queue view's table: every record of a session as one row, to sort, filter and act on.

    from persd.analysis.queue import QueueTable, QueueQuery, bulk_plan
    table = QueueTable()                            # one per session; keeps what never changes
    frame = table.frame(store)                      # pandas, one row per refinement
    shown = QueueQuery(order="risk", status="pending", mine="ana").apply(frame, store)
    plan = bulk_plan(store, [12, 13], "approved")   # plan.overwrites: decided or edited ones

Columns: id, task, round, status, error (of the attempt), signature (of the attempt's
failure, persd.analysis.signatures), similarity (refinement to attempt, the code below the
task prompt: the number the "not personalised" flag reads), passes (teacher
code passes the hidden tests), reviewer, assigned, flags (labels), why, risk (score).
What a refinement is never changes once stored, so its flags, signature and similarity are
computed once (`persd.analysis.risk`, no model call) and kept in the session
(`store.derived_values`): only records new since are computed on a later open, in any
process. Review state and assignments are read on every call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from persd.analysis.risk import body_below, flags_of, risk_score, suspect_asserts
from persd.analysis.signatures import signature_of
from persd.code.diffing import similarity
from persd.store.errors import StoreError
from persd.store.records import QueueFilters

COLUMNS = ["id", "task", "round", "status", "error", "signature", "similarity", "passes",
           "reviewer", "assigned", "flags", "why", "risk"]
ORDERS = {"risk": "risk first", "id": "record id", "task": "task",
          "similarity": "similarity (lowest first)", "status": "status"}
DECIDED = ("approved", "edited", "rejected")
_LIVE = ("status", "reviewer", "assigned")  # read on every call, never stored
# The stored static columns (persd.store.derived): a new name whenever the rules change.
DERIVED = "queue-1"
_DIGITS = re.compile(r"(\d+)")


def task_sort_key(task_id: str) -> tuple:
    """HumanEval/2 before HumanEval/10: digit runs compare as numbers."""
    return tuple(int(part) if part.isdigit() else part
                 for part in _DIGITS.split(task_id) if part)


@dataclass
class QueueTable:
    """The static columns of a session's records, computed once per refinement."""

    _static: dict[int, dict[str, Any]] = field(default_factory=dict)
    _frame: pd.DataFrame = field(default_factory=pd.DataFrame)  # _static as a frame, by id

    def frame(self, store: Any) -> pd.DataFrame:
        states = store.review_states()  # (id, status, reviewer) of every record, id order
        ids = [rid for rid, _, _ in states]
        if any(rid not in self._static for rid in ids):
            self._load(store, ids)
        frame = self._frame.reindex(ids)
        frame["status"] = [status for _, status, _ in states]
        frame["reviewer"] = [reviewer or "" for _, _, reviewer in states]
        assigned = store.reviewers_of()
        frame["assigned"] = [", ".join(assigned.get(rid, [])) for rid in ids] if assigned \
            else ""
        return frame.reset_index(drop=True)[COLUMNS]

    def _load(self, store: Any, ids: list[int]) -> None:
        """Read the stored static columns, compute (and store) those still missing."""
        self._static.update(store.derived_values(DERIVED))
        new = [r for r in store.refinements() if r.id not in self._static] \
            if any(rid not in self._static for rid in ids) else []
        if new:
            self._add(store, new)
            try:
                store.set_derived_values(DERIVED, {r.id: self._static[r.id] for r in new})
            except StoreError:
                pass  # a session opened read-only: computed again next time, nothing lost
        self._frame = pd.DataFrame(list(self._static.values()),
                                   columns=[c for c in COLUMNS if c not in _LIVE])
        self._frame.index = self._frame["id"]

    def _add(self, store: Any, refinements: list[Any]) -> None:
        tasks = {task.task_id: task for task in store.tasks()}
        attempts = {attempt.id: attempt for attempt in store.attempts()}
        suspects = suspect_asserts(attempts.values())
        visible = {run.subject_id: run for run in store.executions("refinement")
                   if run.tests == "visible"}
        for refinement in refinements:
            attempt, task = attempts.get(refinement.attempt_id), tasks[refinement.task_id]
            flags = flags_of(refinement, task, attempt,
                             visible.get(refinement.id), suspects.get(refinement.task_id, {}))
            failed = attempt is not None and attempt.execution is not None and \
                not attempt.execution.passed
            self._static[refinement.id] = {
                "id": refinement.id, "task": refinement.task_id, "round": refinement.round,
                "error": attempt.execution.error_type if failed else "",
                "signature": signature_of(attempt.execution) if failed else "",
                "similarity": None if attempt is None else round(similarity(
                    body_below(attempt.program, task.prompt),
                    body_below(refinement.program or "", task.prompt)), 3),
                "passes": "yes" if refinement.validated else "no",
                "flags": ", ".join(flag.label for flag in flags),
                "why": " · ".join(flag.why for flag in flags),
                "risk": risk_score(flags)}


@dataclass(frozen=True)
class QueueQuery:
    """What the queue view shows: an order and filters (None or "" means any)."""

    order: str = "risk"
    descending: bool = False       # for "risk" the riskiest come first either way
    status: str | None = None
    flag: str | None = None        # a flag label the record must carry
    text: str = ""                 # in task, signature or error, case-insensitive
    mine: str | None = None        # only records assigned to this reviewer

    def apply(self, frame: pd.DataFrame, store: Any = None) -> pd.DataFrame:
        if self.order not in ORDERS:
            raise ValueError(f"unknown order {self.order!r}; one of {', '.join(ORDERS)}")
        shown = frame
        if self.status:
            shown = shown[shown["status"] == self.status]
        if self.flag:
            shown = shown[shown["flags"].str.contains(self.flag, regex=False)]
        if self.text.strip():
            needle = self.text.strip().lower()
            hay = shown["task"].str.lower() + "\n" + shown["signature"].str.lower() + \
                "\n" + shown["error"].str.lower()
            shown = shown[hay.str.contains(needle, regex=False)]
        if self.mine:
            shown = shown[shown["id"].isin(store.assigned_to(self.mine))]
        return _ordered(shown, self.order, self.descending)


def _ordered(frame: pd.DataFrame, order: str, descending: bool) -> pd.DataFrame:
    if order == "risk":
        return frame.sort_values(["risk", "id"], ascending=[False, True], kind="stable")
    if order == "task":
        tasks = sorted(frame["task"].unique(), key=task_sort_key)
        rank = frame["task"].map(dict(zip(tasks, range(len(tasks)))))
        ordered = frame.assign(_rank=rank).sort_values(
            ["_rank", "id"], ascending=not descending, kind="stable")
        return ordered.drop(columns="_rank")
    return frame.sort_values([order, "id"], ascending=not descending, kind="stable",
                             na_position="last")


@dataclass(frozen=True)
class BulkPlan:
    status: str
    versions: dict[int, int]       # refinement id -> review version seen
    overwrites: list[tuple[int, str, str, str]]  # (id, task, status, reviewer) decided

    def question(self) -> str:
        """What the user confirms: the count, and each decided or edited record by name."""
        named = "; ".join(f"{task} (#{rid}, {status} by {reviewer or 'someone'})"
                          for rid, task, status, reviewer in self.overwrites[:10])
        more = f" and {len(self.overwrites) - 10} more" if len(self.overwrites) > 10 else ""
        count = len(self.versions)
        ask = f"Set {count} record{'' if count == 1 else 's'} to {self.status}?"
        return ask + (f" This overwrites {len(self.overwrites)} already decided: {named}{more}."
                      if self.overwrites else "")


def bulk_plan(store: Any, refinement_ids: Iterable[int], status: str) -> BulkPlan:
    """The selected records with the versions seen, naming those already decided."""
    ids = list(dict.fromkeys(refinement_ids))
    found = {row.refinement_id: row for row in store.review_queue(
        QueueFilters(refinement_ids=tuple(ids)), limit=max(1, len(ids)))}
    missing = [rid for rid in ids if rid not in found]
    if missing:
        raise ValueError(f"record {missing[0]} is not in this session (or has no result)")
    overwrites = [(rid, found[rid].task_id, found[rid].status, found[rid].reviewer or "")
                  for rid in ids if found[rid].status in DECIDED and found[rid].status != status]
    return BulkPlan(status, {rid: found[rid].version for rid in ids}, overwrites)


def apply_plan(store: Any, plan: BulkPlan, *, reviewer: str, overwrite: bool,
               reason: str | None = None) -> tuple[int, list[int]]:
    """Apply a confirmed plan in one transaction (undone together by Undo); without
    `overwrite`, the decided records it names are left as they are. Returns (changed,
    skipped ids: left out or changed by someone since)."""
    kept = {rid: v for rid, v in plan.versions.items()
            if overwrite or rid not in {o[0] for o in plan.overwrites}}
    skipped = [rid for rid in plan.versions if rid not in kept]
    if not kept:
        return 0, skipped
    result = store.bulk_set_review(kept, plan.status, reviewer=reviewer, reason=reason)
    return len(result.updated), skipped + list(result.conflicts)
