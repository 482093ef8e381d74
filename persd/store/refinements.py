"""The teacher's refinements of attempts (method "persd") and its solutions of tasks
("stand", "inpd"), each read with its validation run.

    refinement = store.refinements.add("persd", teacher_model="gpt-4o", program=code,
                                       validated=True, attempt_id=attempt.id, execution=run)
    store.refinements.list(round=0, validated=True)

Adding is idempotent per attempt (or task and round) and method; a row that holds a
teacher error is replaced by the retry that adds it again.
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Iterable

from persd.execution.result import ExecutionResult
from persd.store import rows
from persd.store.db import NOW_SQL, Database, placeholders, where
from persd.store.errors import RecordNotFound, StoreError
from persd.store.executions import Executions
from persd.store.records import METHODS, RefinementRecord

_REFINEMENT_SELECT = rows.select_with_hidden_run("refinements", "r", "refinement")


class Refinements:
    def __init__(self, db: Database, executions: Executions) -> None:
        self._db = db
        self._executions = executions

    def add(
        self, method: str, *, teacher_model: str, program: str | None,
        validated: bool, attempt_id: int | None = None, task_id: str | None = None,
        round: int | None = None, completion: str | None = None, reason: str = "",
        tries: int = 1, diff_lines: int | None = None, error: str | None = None,
        execution: ExecutionResult | None = None, teacher_call_ids: Iterable[int] = (),
    ) -> RefinementRecord:
        """Store a teacher result: for "persd" a refinement of `attempt_id` (task and
        round come from the attempt), for "stand"/"inpd" a solution of `task_id` in
        `round`. Idempotent per attempt (or task and round) and method: a stored row is
        returned unchanged, unless it holds a teacher `error`, which this add replaces.
        `execution` is its validation run; `teacher_call_ids` are
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
                return self.read(conn, found["id"])
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
                self._executions.insert(conn, "refinement", refinement_id, execution, "hidden")
            ids = list(teacher_call_ids)
            if ids:
                conn.execute(
                    f"UPDATE teacher_calls SET refinement_id = ? WHERE id IN ({placeholders(ids)})",
                    (refinement_id, *ids),
                )
            return self.read(conn, refinement_id)

    def get(self, refinement_id: int) -> RefinementRecord:
        with self._db.read() as conn:
            return self.read(conn, refinement_id)

    def list(
        self, round: int | None = None, validated: bool | None = None, method: str | None = None,
        task_id: str | None = None, attempt_id: int | None = None, include_errors: bool = False,
    ) -> builtins.list[RefinementRecord]:
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
            self._db.require(conn, "tasks", "task_id", task_id, "task")
            return task_id, round
        if attempt_id is None:
            raise StoreError("a 'persd' refinement needs the attempt_id it refines")
        row = self._db.require(conn, "attempts", "id", attempt_id, "attempt")
        if (task_id, round) not in ((None, None), (row["task_id"], row["round"])):
            raise StoreError(
                f"attempt {attempt_id} is task {row['task_id']!r} round {row['round']}, "
                f"not task {task_id!r} round {round}"
            )
        return row["task_id"], row["round"]

    def read(self, conn: sqlite3.Connection, refinement_id: int) -> RefinementRecord:
        """The refinement `refinement_id`, read inside the caller's transaction `conn`."""
        row = conn.execute(f"{_REFINEMENT_SELECT} WHERE r.id = ?", (refinement_id,)).fetchone()
        if row is None:
            raise RecordNotFound(f"no refinement {refinement_id} in session {self._db.path}")
        return rows.refinement(row)
