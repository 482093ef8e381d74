"""The review queue: filtered, paged listings of refinements with their review state.

    rows = store.queue.list(QueueFilters(status="pending", validated=True), limit=50)
    nxt = store.queue.list(filters, after_id=current_id, limit=1)     # the next record
    item = store.queue.item(nxt[0].refinement_id)                     # all it shows

Rows come in refinement id order; `after_id`/`before_id` page from a record without an
OFFSET scan, which keeps "approve, then show the next" fast on large sessions.
"""

from __future__ import annotations

import builtins
import re
import sqlite3
from collections.abc import Callable
from typing import Any

from persd.store import rows
from persd.store.assignments import ASSIGNED_SQL
from persd.store.db import Database, placeholders
from persd.store.attempts import Attempts
from persd.store.executions import Executions
from persd.store.records import REVIEW_STATUSES, QueueFilters, QueueRow, ReviewItem
from persd.store.refinements import Refinements
from persd.store.reviews import Reviews

_TASKS = "JOIN tasks t ON t.task_id = r.task_id"
_ATTEMPT_RUN = """LEFT JOIN executions e
        ON e.subject_kind = 'attempt' AND e.subject_id = r.attempt_id AND e.tests = 'hidden'"""
_REVIEWS = "LEFT JOIN reviews v ON v.refinement_id = r.id"
_FROM = f"FROM refinements r {_TASKS} {_ATTEMPT_RUN} {_REVIEWS}"
_MISSING = object()
_SELECT = f"""SELECT r.id AS refinement_id, r.task_id, r.round, r.method, r.attempt_id,
    r.teacher_model, r.validated, r.diff_lines, COALESCE(e.error_type, '') AS error_type,
    e.status AS attempt_status, COALESCE(e.feedback, '') AS feedback,
    COALESCE(v.status, 'pending') AS status, COALESCE(v.version, 0) AS version,
    v.reviewer, v.updated_at {_FROM}"""


class ReviewQueue:
    def __init__(self, db: Database, *, refinements: Refinements, attempts: Attempts,
                 reviews: Reviews, executions: Executions) -> None:
        self._db = db
        self._refinements = refinements
        self._attempts = attempts
        self._reviews = reviews
        self._executions = executions
        self._memo_values: tuple[tuple[int, int], dict] | None = None

    def list(
        self, filters: QueueFilters | dict[str, Any] | None = None, *, limit: int = 50,
        offset: int = 0,
        after_id: int | None = None, before_id: int | None = None,
    ) -> builtins.list[QueueRow]:
        """Matching refinements in id order: from the start (`offset`), after `after_id`,
        or the `limit` records just before `before_id`."""
        where_sql, params = _where(_filters(filters))
        order = "ASC"
        if after_id is not None:
            where_sql, params = where_sql + " AND r.id > ?", [*params, after_id]
        if before_id is not None:
            where_sql, params, order = where_sql + " AND r.id < ?", [*params, before_id], "DESC"
        with self._db.read() as conn:
            found = conn.execute(
                f"{_SELECT} {where_sql} ORDER BY r.id {order} LIMIT ? OFFSET ?",
                [*params, limit, offset],
            ).fetchall()
        queue = [_queue_row(row) for row in found]
        return queue[::-1] if order == "DESC" else queue

    def count(self, filters: QueueFilters | dict[str, Any] | None = None) -> int:
        chosen = _filters(filters)
        if isinstance(chosen.status, str) and chosen == QueueFilters(status=chosen.status):
            return self.counts().get(chosen.status, 0)  # the common view: one status
        where_sql, params = _where(chosen)
        return self._memo(("count", where_sql, *params), lambda conn: conn.execute(
            f"SELECT COUNT(*) {_counted_from(chosen)} {where_sql}", params).fetchone()[0])

    def versions(
        self, filters: QueueFilters | dict[str, Any] | None = None,
    ) -> dict[int, int]:
        """refinement id -> review version of every match: the input of a bulk review."""
        where_sql, params = _where(_filters(filters))
        with self._db.read() as conn:
            found = conn.execute(
                f"SELECT r.id, COALESCE(v.version, 0) {_FROM} {where_sql} ORDER BY r.id", params
            )
            return dict(found.fetchall())

    def states(self) -> builtins.list[tuple[int, str, str | None]]:
        """(refinement id, review status, reviewer) of every record with a result, in id
        order: the live columns of a whole-session table, read in one light query."""
        with self._db.read() as conn:
            return conn.execute(
                """SELECT r.id, COALESCE(v.status, 'pending'), v.reviewer FROM refinements r
                LEFT JOIN reviews v ON v.refinement_id = r.id WHERE r.error IS NULL
                ORDER BY r.id""").fetchall()

    def counts(
        self, round: int | None = None, filters: QueueFilters | dict[str, Any] | None = None,
    ) -> dict[str, int]:
        """How many refinements have each review status (every status present, maybe 0),
        among those matching `filters` (its status ignored) in `round`."""
        base = _filters(filters)
        base = QueueFilters(**{**base.__dict__, "status": None,
                               "round": base.round if round is None else round})
        where_sql, params = _where(base)

        def count(conn: sqlite3.Connection) -> dict[str, int]:
            counts = dict.fromkeys(REVIEW_STATUSES, 0)
            for status, n in conn.execute(
                f"""SELECT COALESCE(v.status, 'pending') AS s, COUNT(*) {_counted_from(base)}
                {where_sql} GROUP BY s""",
                params,
            ):
                counts[status] = n
            return counts
        return dict(self._memo(("counts", where_sql, *params), count))

    def _memo(self, key: tuple, compute: Callable[[sqlite3.Connection], Any]) -> Any:
        """`compute(conn)`, reused until anything is written to the session: counts over a
        whole session are what a review key press would otherwise spend its time on.
        Safe across threads: a new generation gets a new dict (never one cleared under a
        reader), and a value is read once, by `get`."""
        generation = self._db.generation()
        memo = self._memo_values
        if memo is None or memo[0] != generation:
            memo = (generation, {})
            self._memo_values = memo
        values = memo[1]
        found = values.get(key, _MISSING)
        if found is _MISSING:
            with self._db.read() as conn:
                found = compute(conn)
            values[key] = found
        return found

    def error_types(self, round: int | None = None) -> builtins.list[str]:
        """The error types of attempts that have refinements: choices for the filter."""
        extra, params = ("AND r.round = ?", [round]) if round is not None else ("", [])
        with self._db.read() as conn:
            found = conn.execute(
                f"""SELECT DISTINCT e.error_type {_FROM} WHERE r.error IS NULL
                AND e.error_type <> '' {extra} ORDER BY e.error_type""",
                params,
            )
            return [row[0] for row in found]

    def item(self, refinement_id: int) -> ReviewItem:
        """The refinement, its task, the attempt it refines and the review, read together."""
        with self._db.read() as conn:
            refinement = self._refinements.read(conn, refinement_id)
            task_row = conn.execute("SELECT * FROM tasks WHERE task_id = ?", (refinement.task_id,))
            attempt = None
            if refinement.attempt_id is not None:
                attempt = self._attempts.get(refinement.attempt_id)
            review = self._reviews.get(refinement_id)
            edit_execution = None
            if review.edit_execution_id is not None:
                edit_execution = self._executions.read(conn, review.edit_execution_id)
            return ReviewItem(
                refinement=refinement, task=rows.task(task_row.fetchone()), attempt=attempt,
                review=review, edit_execution=edit_execution,
            )


def _filters(filters: QueueFilters | dict[str, Any] | None) -> QueueFilters:
    """A QueueFilters from itself, a dict of its fields (unknown keys: TypeError) or None."""
    if isinstance(filters, dict):
        return QueueFilters(**filters)
    return filters or QueueFilters()


def _counted_from(filters: QueueFilters) -> str:
    """_FROM with only the joins `filters` need (counting never reads the other tables)."""
    joins = [_TASKS] if filters.search else []
    if filters.error_type is not None:
        joins.append(_ATTEMPT_RUN)
    return " ".join(["FROM refinements r", *joins, _REVIEWS])


def _where(filters: QueueFilters) -> tuple[str, list[Any]]:
    clauses, params = ["r.error IS NULL"], []
    if filters.status is not None:
        statuses = (filters.status,) if isinstance(filters.status, str) else tuple(filters.status)
        clauses.append(f"COALESCE(v.status, 'pending') IN ({placeholders(statuses)})")
        params.extend(statuses)
    for clause, value in (
        ("e.error_type = ?", filters.error_type),
        ("r.validated = ?", None if filters.validated is None else int(filters.validated)),
        ("r.round = ?", filters.round),
        ("r.method = ?", filters.method),
        ("r.diff_lines <= ?", filters.max_diff_lines),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    if filters.refinement_ids is not None:
        ids = tuple(filters.refinement_ids)
        clauses.append(f"r.id IN ({placeholders(ids)})" if ids else "0")
        params.extend(ids)
    if filters.assigned_to is not None:
        clauses.append(f"r.id IN ({ASSIGNED_SQL})")
        params.extend([filters.assigned_to, filters.assigned_to])
    if filters.task_id:
        if filters.task_id.endswith("*"):
            escaped = re.sub(r"([\\%_])", r"\\\1", filters.task_id.rstrip("*"))
            clauses.append("r.task_id LIKE ? ESCAPE '\\'")
            params.append(escaped + "%")
        else:
            clauses.append("r.task_id = ?")
            params.append(filters.task_id)
    if filters.search:
        escaped = re.sub(r"([\\%_])", r"\\\1", filters.search)
        pattern = f"%{escaped}%"
        clauses.append("(r.task_id LIKE ? ESCAPE '\\' OR t.prompt LIKE ? ESCAPE '\\')")
        params.extend([pattern, pattern])
    return "WHERE " + " AND ".join(clauses), params


def _queue_row(row: sqlite3.Row) -> QueueRow:
    values = dict(row)
    values["validated"] = bool(values["validated"])
    return QueueRow(**values)
