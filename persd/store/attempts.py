"""The student's attempts, each read with its hidden-test run.

    attempt = store.attempts.add(task_id, 0, model="tiny", prompt=prompt,
                                 completion=code, program=prompt + code)
    store.attempts.list(round=0)        # oldest first
    store.attempts.counts_by_task()     # task id -> how many attempts
"""

from __future__ import annotations

import builtins
from typing import Any

from persd.store import rows
from persd.store.db import Database, to_json, where
from persd.store.records import AttemptRecord

_ATTEMPT_SELECT = rows.select_with_hidden_run("attempts", "a", "attempt")


class Attempts:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self, task_id: str, round: int, *, model: str, prompt: str, completion: str,
        program: str, sample_index: int = 0, sampling: dict[str, Any] | None = None,
    ) -> AttemptRecord:
        """Store the student's attempt; the same (task_id, round, sample_index) again
        returns the stored attempt unchanged."""
        with self._db.write() as conn:
            self._db.require(conn, "tasks", "task_id", task_id, "task")
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

    def get(self, attempt_id: int) -> AttemptRecord:
        return rows.attempt(self._db.one(f"{_ATTEMPT_SELECT} WHERE a.id = ?", (attempt_id,),
                                         f"attempt {attempt_id}"))

    def list(self, round: int | None = None,
             task_id: str | None = None) -> builtins.list[AttemptRecord]:
        """Attempts (with their hidden-test execution, if any), oldest first."""
        where_sql, params = where(("a.round", round), ("a.task_id", task_id))
        found = self._db.all(f"{_ATTEMPT_SELECT} {where_sql} ORDER BY a.id", params)
        return [rows.attempt(row) for row in found]

    def counts_by_task(self) -> dict[str, int]:
        """task id -> how many attempts the session holds at it (derived values that read
        every attempt of a task are stale once this grows)."""
        with self._db.read() as conn:
            return dict(conn.execute("SELECT task_id, COUNT(*) FROM attempts GROUP BY task_id"))
