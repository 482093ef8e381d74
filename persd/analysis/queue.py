"""The queue view's table: every record of a session as one row, to sort, filter and act on.

    from persd.analysis.queue import QueueTable, QueueQuery, bulk_plan
    table = QueueTable()                            # one per session; keeps what never changes
    frame = table.frame(store)                      # pandas, one row per refinement
    shown = QueueQuery(order="risk", status="pending", mine="ana").apply(frame, store)
    plan = bulk_plan(store, [12, 13], "approved")   # plan.overwrites: decided or edited ones

Columns: id, task, round, status, error (of the attempt), signature (of the attempt's
failure, persd.analysis.signatures), similarity (refinement to attempt,
`persd.code.diffing.code_similarity`: the figure Review shows, the "not personalised" flag reads), passes (teacher
code passes the hidden tests), reviewer, assigned, flags (labels), why, risk (score).
What a refinement is never changes once stored, so its flags, signature and similarity are
computed once (`persd.analysis.risk`, no model call) and kept in the session
(`store.derived.get`), with the count of its task's attempts then: when a task gets new
attempts its records are computed again ("test looks wrong" reads every attempt of the
task). Up to SYNC_LIMIT records are computed while the caller waits; more (the first open
of a large or older session) go to a background pass, one per table, that stores them a
chunk at a time: `frame` shows the records ready (`table.unshown` counts those it left
out, `table.pending` those the pass has still to compute), and the next call shows more.
Two processes on one session share that pass: each claims the work in the session
(`store.derived.claim`, a lease renewed every chunk); one that finds it claimed computes
nothing and takes the other's results as they are stored, and only computes what is left
if the holder stops (its lease runs out). Review state and assignments are read on every call.
"""

from __future__ import annotations

import os
import re
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from persd.analysis.risk import (
    flags_of, reference_failures, risk_score, suspect_asserts,
)
from persd.analysis.signatures import signature_of
from persd.code.diffing import code_similarity
from persd.store.errors import StoreError
from persd.store.records import QueueFilters

COLUMNS = ["id", "task", "round", "status", "error", "signature", "similarity", "passes",
           "reviewer", "assigned", "flags", "why", "risk"]
ORDERS = {"risk": "risk first", "id": "record id", "task": "task",
          "similarity": "similarity (lowest first)", "status": "status"}
DECIDED = ("approved", "edited", "rejected")
_LIVE = ("status", "reviewer", "assigned")  # read on every call, never stored
# The stored static columns (persd.store.derived): a new name whenever the rules change.
DERIVED = "queue-3"
SYNC_LIMIT = 200   # records computed while the caller waits; more go to the background pass
CHUNK = 250        # records the background pass computes and stores at a time
LEASE_S = 60.0     # a pass's claim on a session's work, renewed every chunk
WAIT_S = 2.0       # how often a pass that found the work claimed reads what is stored
_DIGITS = re.compile(r"(\d+)")


def task_sort_key(task_id: str) -> tuple:
    """HumanEval/2 before HumanEval/10: digit runs compare as numbers."""
    return tuple(int(part) if part.isdigit() else part
                 for part in _DIGITS.split(task_id) if part)


@dataclass
class QueueTable:
    """The static columns of a session's records, computed once per refinement (and again
    when its task gets new attempts)."""

    _static: dict[int, dict[str, Any]] = field(default_factory=dict)
    _frame: pd.DataFrame = field(default_factory=pd.DataFrame)  # _static as a frame, by id
    _stale: bool = True            # _frame is behind _static
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _pass: threading.Thread | None = None
    pending: int = 0               # records the background pass has still to compute
    unshown: int = 0               # records the last frame left out: not computed yet
    error: str = ""                # why the last background pass stopped early (the next
                                   # open starts another), if it did
    computed: int = 0              # records this table computed itself (not read back)
    _owner: str = field(default_factory=lambda: f"{os.getpid()}:{uuid.uuid4().hex[:12]}")

    def frame(self, store: Any) -> pd.DataFrame:
        states = store.queue.states()  # (id, status, reviewer) of every record, id order
        with self._lock:  # one caller at a time decides what to compute
            self._update(store, [rid for rid, _, _ in states])
            if self._stale:
                self._frame = pd.DataFrame(list(self._static.values()),
                                           columns=[c for c in COLUMNS if c not in _LIVE])
                self._frame.index = self._frame["id"]
                self._stale = False
            ready = [state for state in states if state[0] in self._static]
            self.unshown, states = len(states) - len(ready), ready
            frame = self._frame.reindex([rid for rid, _, _ in states])
        ids = [rid for rid, _, _ in states]
        frame["status"] = [status for _, status, _ in states]
        frame["reviewer"] = [reviewer or "" for _, _, reviewer in states]
        assigned = store.review_assignments.reviewers_of()
        frame["assigned"] = [", ".join(assigned.get(rid, [])) for rid in ids] if assigned \
            else ""
        return frame.reset_index(drop=True)[COLUMNS]

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for the background pass; True when none is running any more."""
        worker = self._pass
        if worker is not None:
            worker.join(timeout_s)
        return worker is None or not worker.is_alive()

    def _update(self, store: Any, ids: list[int]) -> None:
        """Read the stored values of records not known yet; compute those missing or whose
        task has new attempts, here (a few) or in the background pass (many)."""
        if self._pass is not None and self._pass.is_alive():
            return
        counts = store.attempts.counts_by_task()
        if any(rid not in self._static for rid in ids):
            known = store.derived.get(DERIVED)
            with self._lock:
                self._static.update(known)
                self._stale = True
        todo = [rid for rid in ids if rid not in self._static
                or self._static[rid].get("attempts") != counts.get(self._static[rid]["task"], 0)]
        if not todo:
            return
        if len(todo) <= SYNC_LIMIT:
            self._compute(store, todo)
            return
        self.pending, self.error = len(todo), ""
        self._pass = threading.Thread(target=self._background, args=(store, todo),
                                      name="persd-queue-pass", daemon=True)
        self._pass.start()

    def _background(self, store: Any, todo: list[int]) -> None:
        try:
            # Its own connection: the caller's stays free for the views drawn meanwhile.
            with type(store)(store.path, create=False, readonly=store.readonly) as own:
                todo = self._wait_for_others(own, todo)
                if not todo:
                    return
                try:
                    context = _Context(own)
                    for start in range(0, len(todo), CHUNK):
                        self._claim(own)  # renewed: a pass that stopped frees it in LEASE_S
                        self._compute(own, todo[start:start + CHUNK], context,
                                      left=max(0, len(todo) - start - CHUNK))
                finally:
                    if not own.readonly:
                        own.derived.release(DERIVED, self._owner)
        except Exception as error:  # noqa: BLE001  said in the table; the next open tries again
            self.error = f"{type(error).__name__}: {error}"

    def _wait_for_others(self, store: Any, todo: list[int]) -> list[int]:
        """Claim the work; while another process holds it, take its results as they are
        stored. Returns what is left to compute here (none: the other did it all)."""
        while True:
            claimed = self._claim(store)
            todo = self._take_stored(store, todo)
            if claimed or not todo:
                return todo
            time.sleep(WAIT_S)

    def _claim(self, store: Any) -> bool:
        try:
            return store.derived.claim(DERIVED, self._owner, LEASE_S)
        except StoreError:
            return True  # opened read-only: nothing is stored, so nothing is shared

    def _take_stored(self, store: Any, todo: list[int]) -> list[int]:
        """Keep the stored values of `todo` that are current; the rest are still to do."""
        counts = store.attempts.counts_by_task()
        stored = {rid: value for rid, value in store.derived.get(DERIVED, todo).items()
                  if value.get("attempts") == counts.get(value["task"], 0)}
        left = [rid for rid in todo if rid not in stored]
        with self._lock:
            self._static.update(stored)
            self._stale, self.pending = self._stale or bool(stored), len(left)
        return left

    def _compute(self, store: Any, ids: list[int], context: _Context | None = None,
                 left: int = 0) -> None:
        """Compute (and store) the static columns of `ids`; `left` records remain after."""
        context = context or _Context(store)
        values = {rid: context.values(rid) for rid in ids if rid in context.refinements}
        with self._lock:
            self._static.update(values)
            self._stale, self.pending = True, left
            self.computed += len(values)
        try:
            store.derived.set(DERIVED, values)
        except StoreError:
            pass  # a session opened read-only: computed again next time, nothing lost


class _Context:
    """What computing a record's static columns reads, loaded once for many records."""

    def __init__(self, store: Any) -> None:
        self.counts = store.attempts.counts_by_task()  # before the attempts: a newer one makes it stale
        self.tasks = {task.task_id: task for task in store.tasks.list()}
        self.attempts = {attempt.id: attempt for attempt in store.attempts.list()}
        self.refinements = {refinement.id: refinement for refinement in store.refinements.list()}
        self.suspects = suspect_asserts(self.attempts.values())
        self.visible = {run.subject_id: run for run in store.executions.list("refinement")
                        if run.tests == "visible"}
        self.failing_references = reference_failures(
            self.tasks, [*self.attempts.values(), *self.refinements.values()])

    def values(self, refinement_id: int) -> dict[str, Any]:
        refinement = self.refinements[refinement_id]
        attempt, task = self.attempts.get(refinement.attempt_id), self.tasks[refinement.task_id]
        flags = flags_of(refinement, task, attempt, self.visible.get(refinement.id),
                         self.suspects.get(refinement.task_id, {}),
                         self.failing_references.get(refinement.task_id))
        failed = attempt is not None and attempt.execution is not None and \
            not attempt.execution.result.passed
        return {
            "id": refinement.id, "task": refinement.task_id, "round": refinement.round,
            "error": attempt.execution.result.error_type if failed else "",
            "signature": signature_of(attempt.execution.result) if failed else "",
            "similarity": None if attempt is None else code_similarity(
                attempt.program, refinement.program or "", task.prompt),
            "passes": "yes" if refinement.validated else "no",
            "flags": ", ".join(flag.label for flag in flags),
            "why": " · ".join(flag.why for flag in flags),
            "risk": risk_score(flags),
            "attempts": self.counts.get(refinement.task_id, 0)}


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
            shown = shown[shown["id"].isin(store.review_assignments.assigned_to(self.mine))]
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
    found = {row.refinement_id: row for row in store.queue.list(
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
    result = store.reviews.bulk_set(kept, plan.status, reviewer=reviewer, reason=reason)
    return len(result.updated), skipped + list(result.conflicts)
