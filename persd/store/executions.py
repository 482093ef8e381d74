"""Runs of programs against tests, each stored for its subject (an attempt, a refinement,
a reviewer's edit or an evaluation sample).

    store.executions.add("attempt", attempt.id, executor_result)
    store.executions.latest_of("refinement", refinement.id)    # or None
"""

from __future__ import annotations

import builtins
import dataclasses
import sqlite3

from persd.execution.result import ExecutionResult
from persd.store import rows
from persd.store.db import Database, to_json, where
from persd.store.errors import StoreError
from persd.store.records import EXECUTION_STATUSES, SUBJECT_KINDS, TEST_KINDS, ExecutionRecord

_SUBJECT_TABLES = {
    "attempt": "attempts", "refinement": "refinements",
    "review_edit": "refinements", "eval_sample": "eval_samples",
}


class Executions:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self, subject_kind: str, subject_id: int, result: ExecutionResult, *, tests: str = "hidden",
    ) -> ExecutionRecord:
        """Store the sandbox's verdict `result` as a run of the subject. One per subject and
        `tests`, except "review_edit" (every edit is a new run): adding again returns the
        stored one."""
        with self._db.write() as conn:
            execution_id = self.insert(conn, subject_kind, subject_id, result, tests)
            return self.read(conn, execution_id)

    def get(self, execution_id: int) -> ExecutionRecord:
        with self._db.read() as conn:
            return self.read(conn, execution_id)

    def latest_of(
        self, subject_kind: str, subject_id: int, tests: str = "hidden",
    ) -> ExecutionRecord | None:
        """The latest run of a subject (for "review_edit", the refinement's last edit)."""
        with self._db.read() as conn:
            row = conn.execute(
                """SELECT * FROM executions WHERE subject_kind = ? AND subject_id = ? AND tests = ?
                ORDER BY id DESC LIMIT 1""",
                (subject_kind, subject_id, tests),
            ).fetchone()
            return None if row is None else rows.stored_execution(row)

    def list(self, subject_kind: str | None = None) -> builtins.list[ExecutionRecord]:
        where_sql, params = where(("subject_kind", subject_kind))
        with self._db.read() as conn:
            found = conn.execute(f"SELECT * FROM executions {where_sql} ORDER BY id", params)
            return [rows.stored_execution(row) for row in found]

    def insert(
        self, conn: sqlite3.Connection, subject_kind: str, subject_id: int,
        result: ExecutionResult, tests: str,
    ) -> int:
        """Store `result` inside the caller's transaction `conn`; returns its id."""
        if subject_kind not in SUBJECT_KINDS:
            raise StoreError(f"unknown execution subject {subject_kind!r}; one of {SUBJECT_KINDS}")
        if tests not in TEST_KINDS:
            raise StoreError(f"unknown tests {tests!r}; one of {TEST_KINDS}")
        if not isinstance(result, ExecutionResult):
            raise StoreError(f"an execution is stored from an ExecutionResult, not {type(result).__name__}")
        if result.status not in EXECUTION_STATUSES:
            raise StoreError(f"unknown execution status {result.status!r}; one of {EXECUTION_STATUSES}")
        self._db.require(conn, _SUBJECT_TABLES[subject_kind], "id", subject_id, subject_kind)
        conflict = "" if subject_kind == "review_edit" else (
            "ON CONFLICT (subject_kind, subject_id, tests) WHERE subject_kind <> 'review_edit' "
            "DO NOTHING"
        )
        inserted = conn.execute(
            f"""INSERT INTO executions (subject_kind, subject_id, tests, status, passed, feedback,
                duration_s, tests_passed, tests_total, error_type, detail)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) {conflict} RETURNING id""",
            (subject_kind, subject_id, tests, result.status, int(result.passed), result.feedback,
             _measured(result, result.duration_s), _measured(result, result.tests_passed),
             _measured(result, result.tests_total), result.error_type, _detail_json(result)),
        ).fetchone()
        if inserted is not None:
            return inserted[0]
        return conn.execute(
            "SELECT id FROM executions WHERE subject_kind = ? AND subject_id = ? AND tests = ?",
            (subject_kind, subject_id, tests),
        ).fetchone()[0]

    def read(self, conn: sqlite3.Connection, execution_id: int) -> ExecutionRecord:
        """The execution `execution_id`, read inside the caller's transaction `conn`."""
        return rows.stored_execution(self._db.require(conn, "executions", "id", execution_id, "execution"))


def _measured(result: ExecutionResult, value: float) -> float | None:
    """A duration or count as stored: NULL when the run was not measured here (0 without
    detail: an imported verdict)."""
    return value if result.has_detail or value else None


def _detail_json(result: ExecutionResult) -> str | None:
    """The structured part of `result` as JSON; NULL when it has none."""
    if not result.has_detail:
        return None
    return to_json({"tests": [dataclasses.asdict(t) for t in result.test_outcomes],
                    "exception": dataclasses.asdict(result.exception) if result.exception else None})
