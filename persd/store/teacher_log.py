"""The teacher's call log (tokens, cost, errors) and its response cache.

    store.teacher_calls.add(task_id="HumanEval/0", round=0, purpose="refine", model="gpt-4o",
                            messages=[...], raw_reply="...", prompt_tokens=812, cost_usd=0.004,
                            batch_id=None)     # or the Batch API job that answered it
    cache = store.teacher_cache      # the teacher's cache protocol: get(key) / put(key, value)

The call log is a log, not a set: every call is its own row (a cache hit too, with
cached=True), so `teacher_calls.add` is deliberately not idempotent.
"""

from __future__ import annotations

import builtins
from typing import Any

from persd.store import rows
from persd.store.db import Database, from_json, to_json, where
from persd.store.records import TeacherCallRecord


class TeacherCalls:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self, *, purpose: str, model: str, messages: builtins.list[Any], task_id: str | None = None,
        round: int | None = None, raw_reply: str | None = None, prompt_tokens: int = 0,
        completion_tokens: int = 0, cost_usd: float = 0.0, cached: bool = False,
        error: str | None = None, duration_s: float | None = None,
        refinement_id: int | None = None, attempt_id: int | None = None,
        batch_id: str | None = None,
    ) -> TeacherCallRecord:
        with self._db.write() as conn:
            row = conn.execute(
                """INSERT INTO teacher_calls (refinement_id, attempt_id, task_id, round, purpose,
                    model, messages, raw_reply, prompt_tokens, completion_tokens, cost_usd,
                    cached, error, duration_s, batch_id)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *""",
                (refinement_id, attempt_id, task_id, round, purpose, model, to_json(messages),
                 raw_reply, prompt_tokens, completion_tokens, cost_usd, int(cached), error,
                 duration_s, batch_id),
            ).fetchone()
            return rows.teacher_call(row)

    def list(
        self, task_id: str | None = None, round: int | None = None,
        refinement_id: int | None = None, attempt_id: int | None = None,
    ) -> builtins.list[TeacherCallRecord]:
        where_sql, params = where(("task_id", task_id), ("round", round),
                                  ("refinement_id", refinement_id), ("attempt_id", attempt_id))
        with self._db.read() as conn:
            found = conn.execute(f"SELECT * FROM teacher_calls {where_sql} ORDER BY id", params)
            return [rows.teacher_call(row) for row in found]

    def cost(self, round: int | None = None) -> float:
        """Dollars spent on teacher calls (cache hits cost nothing)."""
        extra, params = ("AND round = ?", (round,)) if round is not None else ("", ())
        with self._db.read() as conn:
            return conn.execute(
                f"SELECT COALESCE(SUM(cost_usd), 0) FROM teacher_calls WHERE cached = 0 {extra}",
                params,
            ).fetchone()[0]

    def usage(self) -> builtins.list[dict[str, Any]]:
        """Per teacher model: calls, cache hits, answers from a batch, errors, tokens and dollars."""
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT model, COUNT(*) AS calls, SUM(cached) AS cached,
                    SUM(batch_id IS NOT NULL) AS batched,
                    SUM(error IS NOT NULL) AS errors, SUM(prompt_tokens) AS prompt_tokens,
                    SUM(completion_tokens) AS completion_tokens,
                    SUM(CASE WHEN cached THEN 0 ELSE cost_usd END) AS cost_usd
                FROM teacher_calls GROUP BY model ORDER BY model"""
            )
            return [dict(row) for row in found]



class TeacherCache:
    """`get`/`put` over the session's teacher_cache table (shared by every process)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, key: str) -> dict[str, Any] | None:
        with self._db.read() as conn:
            row = conn.execute("SELECT value FROM teacher_cache WHERE key = ?", (key,)).fetchone()
            return None if row is None else from_json(row[0])

    def put(self, key: str, value: dict[str, Any]) -> None:
        with self._db.write() as conn:
            conn.execute(
                """INSERT INTO teacher_cache (key, value) VALUES (?, ?)
                ON CONFLICT (key) DO UPDATE SET value = excluded.value""",
                (key, to_json(value)),
            )
