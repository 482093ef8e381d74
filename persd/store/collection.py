"""Tasks, student attempts, executions and teacher refinements of a session.

Every `add_*` is one transaction and idempotent: adding what is already there returns the
stored record, so a rerun after a crash never duplicates anything.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterable
from typing import Any

from persd.store import rows
from persd.store.db import NOW_SQL, Database, placeholders, to_json, where
from persd.store.errors import RecordNotFound, StoreError
from persd.store.records import (
    EXECUTION_STATUSES,
    METHODS,
    SUBJECT_KINDS,
    TEST_KINDS,
    AttemptRecord,
    ExecutionRecord,
    RefinementRecord,
)
from persd.tasks import Task

_SUBJECT_TABLES = {
    "attempt": "attempts", "refinement": "refinements",
    "review_edit": "refinements", "eval_sample": "eval_samples",
}
_ATTEMPT_SELECT = f"""SELECT a.*, {rows.execution_columns('e')} FROM attempts a
    LEFT JOIN executions e
    ON e.subject_kind = 'attempt' AND e.subject_id = a.id AND e.tests = 'hidden'"""
_REFINEMENT_SELECT = f"""SELECT r.*, {rows.execution_columns('e')} FROM refinements r
    LEFT JOIN executions e
    ON e.subject_kind = 'refinement' AND e.subject_id = r.id AND e.tests = 'hidden'"""


class CollectionMixin:
    _db: Database

    # -- tasks ---------------------------------------------------------------------------

    def add_tasks(self, tasks: Iterable[Task]) -> int:
        """Store tasks not yet there; returns how many were new. A stored task_id whose
        content differs raises StoreError naming it (its `source` may differ)."""
        added = 0
        with self._db.write() as conn:
            for task in tasks:
                row = conn.execute(
                    "SELECT * FROM tasks WHERE task_id = ?", (task.task_id,)
                ).fetchone()
                if row is None:
                    names = rows.TASK_COLUMNS
                    conn.execute(
                        f"INSERT INTO tasks ({', '.join(names)}) VALUES ({placeholders(names)})",
                        [getattr(task, name) for name in names],
                    )
                    added += 1
                    continue
                changed = [n for n in rows.TASK_COLUMNS[1:-1] if row[n] != getattr(task, n)]
                if changed:
                    raise StoreError(
                        f"task {task.task_id!r} is already in session {self._db.path} with a "
                        f"different {', '.join(changed)}; use a new session or task id"
                    )
        return added

    def tasks(self) -> list[Task]:
        with self._db.read() as conn:
            return [rows.task(row) for row in conn.execute("SELECT * FROM tasks ORDER BY rowid")]

    def task(self, task_id: str) -> Task:
        with self._db.read() as conn:
            return rows.task(self._require(conn, "tasks", "task_id", task_id, "task"))

    # -- attempts ------------------------------------------------------------------------

    def add_attempt(
        self, task_id: str, round: int, *, model: str, prompt: str, completion: str,
        program: str, sample_index: int = 0, sampling: dict[str, Any] | None = None,
    ) -> AttemptRecord:
        """Store the student's attempt; the same (task_id, round, sample_index) again
        returns the stored attempt unchanged."""
        with self._db.write() as conn:
            self._require(conn, "tasks", "task_id", task_id, "task")
            conn.execute(
                """INSERT INTO attempts (task_id, round, sample_index, model, sampling, prompt,
                    completion, program) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (task_id, round, sample_index) DO NOTHING""",
                (task_id, round, sample_index, model, to_json(sampling or {}), prompt,
                 completion, program),
            )
            row = conn.execute(
                f"{_ATTEMPT_SELECT} WHERE a.task_id = ? AND a.round = ? AND a.sample_index = ?",
                (task_id, round, sample_index),
            ).fetchone()
            return rows.attempt(row)

    def attempt(self, attempt_id: int) -> AttemptRecord:
        with self._db.read() as conn:
            row = conn.execute(f"{_ATTEMPT_SELECT} WHERE a.id = ?", (attempt_id,)).fetchone()
            if row is None:
                raise RecordNotFound(f"no attempt {attempt_id} in session {self._db.path}")
            return rows.attempt(row)

    def attempts(self, round: int | None = None, task_id: str | None = None) -> list[AttemptRecord]:
        """Attempts (with their hidden-test execution, if any), oldest first."""
        where_sql, params = where(("a.round", round), ("a.task_id", task_id))
        with self._db.read() as conn:
            found = conn.execute(f"{_ATTEMPT_SELECT} {where_sql} ORDER BY a.id", params)
            return [rows.attempt(row) for row in found]

    # -- executions ----------------------------------------------------------------------

    def add_execution(
        self, subject_kind: str, subject_id: int, result: Any, *, tests: str = "hidden",
    ) -> ExecutionRecord:
        """Store an ExecutionResult-like `result` (passed, status, feedback, duration_s,
        tests_passed, tests_total, error_type). One per subject and `tests`, except
        "review_edit" (every edit is a new run): adding again returns the stored one."""
        with self._db.write() as conn:
            execution_id = self._insert_execution(conn, subject_kind, subject_id, result, tests)
            return self._execution(conn, execution_id)

    def execution(self, execution_id: int) -> ExecutionRecord:
        with self._db.read() as conn:
            return self._execution(conn, execution_id)

    def execution_of(
        self, subject_kind: str, subject_id: int, tests: str = "hidden",
    ) -> ExecutionRecord | None:
        """The latest run of a subject (for "review_edit", the refinement's last edit)."""
        with self._db.read() as conn:
            row = conn.execute(
                """SELECT * FROM executions WHERE subject_kind = ? AND subject_id = ? AND tests = ?
                ORDER BY id DESC LIMIT 1""",
                (subject_kind, subject_id, tests),
            ).fetchone()
            return None if row is None else rows.execution(row)

    def executions(self, subject_kind: str | None = None) -> list[ExecutionRecord]:
        where_sql, params = where(("subject_kind", subject_kind))
        with self._db.read() as conn:
            found = conn.execute(f"SELECT * FROM executions {where_sql} ORDER BY id", params)
            return [rows.execution(row) for row in found]

    def _insert_execution(
        self, conn: sqlite3.Connection, subject_kind: str, subject_id: int, result: Any, tests: str,
    ) -> int:
        if subject_kind not in SUBJECT_KINDS:
            raise StoreError(f"unknown execution subject {subject_kind!r}; one of {SUBJECT_KINDS}")
        if tests not in TEST_KINDS:
            raise StoreError(f"unknown tests {tests!r}; one of {TEST_KINDS}")
        status = getattr(result, "status")
        if status not in EXECUTION_STATUSES:
            raise StoreError(f"unknown execution status {status!r}; one of {EXECUTION_STATUSES}")
        self._require(conn, _SUBJECT_TABLES[subject_kind], "id", subject_id, subject_kind)
        conflict = "" if subject_kind == "review_edit" else (
            "ON CONFLICT (subject_kind, subject_id, tests) WHERE subject_kind <> 'review_edit' "
            "DO NOTHING"
        )
        inserted = conn.execute(
            f"""INSERT INTO executions (subject_kind, subject_id, tests, status, passed, feedback,
                duration_s, tests_passed, tests_total, error_type, detail)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) {conflict} RETURNING id""",
            (subject_kind, subject_id, tests, status, int(bool(result.passed)),
             getattr(result, "feedback", "") or "", getattr(result, "duration_s", None),
             getattr(result, "tests_passed", None), getattr(result, "tests_total", None),
             getattr(result, "error_type", "") or "", _detail_json(result)),
        ).fetchone()
        if inserted is not None:
            return inserted[0]
        return conn.execute(
            "SELECT id FROM executions WHERE subject_kind = ? AND subject_id = ? AND tests = ?",
            (subject_kind, subject_id, tests),
        ).fetchone()[0]

    def _execution(self, conn: sqlite3.Connection, execution_id: int) -> ExecutionRecord:
        row = self._require(conn, "executions", "id", execution_id, "execution")
        return rows.execution(row)

    # -- refinements ---------------------------------------------------------------------

    def add_refinement(
        self, method: str, *, teacher_model: str, program: str | None,
        validated: bool, attempt_id: int | None = None, task_id: str | None = None,
        round: int | None = None, completion: str | None = None, reason: str = "",
        tries: int = 1, diff_lines: int | None = None, error: str | None = None,
        execution: Any = None, teacher_call_ids: Iterable[int] = (),
    ) -> RefinementRecord:
        """Store a teacher result: for "persd" a refinement of `attempt_id` (task and
        round come from the attempt), for "stand"/"inpd" a solution of `task_id` in
        `round`. Idempotent per attempt (or task and round) and method: a stored row is
        returned unchanged, unless it holds a teacher `error`, which this add replaces.
        `execution` (ExecutionResult-like) is its validation run; `teacher_call_ids` are
        linked to it. All in one transaction."""
        if method not in METHODS:
            raise StoreError(f"unknown method {method!r}; one of {METHODS}")
        with self._db.write() as conn:
            task_id, round = self._refinement_subject(conn, method, attempt_id, task_id, round)
            key_sql, key = (
                ("attempt_id = ? AND method = ?", (attempt_id, method)) if attempt_id is not None
                else ("attempt_id IS NULL AND task_id = ? AND round = ? AND method = ?",
                      (task_id, round, method))
            )
            found = conn.execute(
                f"SELECT id, error FROM refinements WHERE {key_sql}", key
            ).fetchone()
            if found is not None and found["error"] is None:
                return self._refinement(conn, found["id"])
            values = (teacher_model, program, completion, int(bool(validated)), reason, tries,
                      diff_lines, error)
            if found is None:
                refinement_id = conn.execute(
                    """INSERT INTO refinements (teacher_model, program, completion, validated,
                        reason, tries, diff_lines, error, method, task_id, round, attempt_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id""",
                    (*values, method, task_id, round, attempt_id),
                ).fetchone()[0]
            else:  # a teacher error recorded earlier: this is its retry
                refinement_id = found["id"]
                conn.execute(
                    f"""UPDATE refinements SET teacher_model = ?, program = ?, completion = ?,
                        validated = ?, reason = ?, tries = ?, diff_lines = ?, error = ?,
                        updated_at = {NOW_SQL} WHERE id = ?""",
                    (*values, refinement_id),
                )
                conn.execute(
                    "DELETE FROM executions WHERE subject_kind = 'refinement' AND subject_id = ?",
                    (refinement_id,),
                )
            if execution is not None:
                self._insert_execution(conn, "refinement", refinement_id, execution, "hidden")
            ids = list(teacher_call_ids)
            if ids:
                conn.execute(
                    f"UPDATE teacher_calls SET refinement_id = ? WHERE id IN ({placeholders(ids)})",
                    (refinement_id, *ids),
                )
            return self._refinement(conn, refinement_id)

    def refinement(self, refinement_id: int) -> RefinementRecord:
        with self._db.read() as conn:
            return self._refinement(conn, refinement_id)

    def refinements(
        self, round: int | None = None, validated: bool | None = None, method: str | None = None,
        task_id: str | None = None, attempt_id: int | None = None, include_errors: bool = False,
    ) -> list[RefinementRecord]:
        """Refinements (with their validation run), oldest first; rows holding a teacher
        error only with include_errors=True."""
        where_sql, params = where(
            ("r.round", round), ("r.validated", None if validated is None else int(validated)),
            ("r.method", method), ("r.task_id", task_id), ("r.attempt_id", attempt_id),
        )
        if not include_errors:
            where_sql += (" AND" if where_sql else "WHERE") + " r.error IS NULL"
        with self._db.read() as conn:
            found = conn.execute(f"{_REFINEMENT_SELECT} {where_sql} ORDER BY r.id", params)
            return [rows.refinement(row) for row in found]

    def set_diff_lines(self, diff_lines: dict[int, int | None]) -> None:
        """Fill in diff sizes computed later (refinement id -> lines)."""
        with self._db.write() as conn:
            conn.executemany(
                "UPDATE refinements SET diff_lines = ? WHERE id = ?",
                [(lines, refinement_id) for refinement_id, lines in diff_lines.items()],
            )

    def _refinement_subject(
        self, conn: sqlite3.Connection, method: str, attempt_id: int | None,
        task_id: str | None, round: int | None,
    ) -> tuple[str, int]:
        if method != "persd":
            if attempt_id is not None or task_id is None or round is None:
                raise StoreError(
                    f"a {method!r} solution needs task_id and round, and no attempt_id"
                )
            self._require(conn, "tasks", "task_id", task_id, "task")
            return task_id, round
        if attempt_id is None:
            raise StoreError("a 'persd' refinement needs the attempt_id it refines")
        row = self._require(conn, "attempts", "id", attempt_id, "attempt")
        if (task_id, round) not in ((None, None), (row["task_id"], row["round"])):
            raise StoreError(
                f"attempt {attempt_id} is task {row['task_id']!r} round {row['round']}, "
                f"not task {task_id!r} round {round}"
            )
        return row["task_id"], row["round"]

    def _refinement(self, conn: sqlite3.Connection, refinement_id: int) -> RefinementRecord:
        row = conn.execute(f"{_REFINEMENT_SELECT} WHERE r.id = ?", (refinement_id,)).fetchone()
        if row is None:
            raise RecordNotFound(f"no refinement {refinement_id} in session {self._db.path}")
        return rows.refinement(row)

    def _require(
        self, conn: sqlite3.Connection, table: str, column: str, value: Any, what: str,
    ) -> sqlite3.Row:
        row = conn.execute(f"SELECT * FROM {table} WHERE {column} = ?", (value,)).fetchone()
        if row is None:
            raise RecordNotFound(f"no {what} {value!r} in session {self._db.path}")
        return row


def _detail_json(result: Any) -> str:
    """The structured part of an ExecutionResult (or a stored ExecutionRecord) as JSON."""
    outcomes = getattr(result, "test_outcomes", ())
    exception = getattr(result, "exception", None)
    return to_json({"tests": [dataclasses.asdict(t) for t in outcomes],
                    "exception": dataclasses.asdict(exception) if exception else None})
