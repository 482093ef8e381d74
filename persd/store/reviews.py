"""Review decisions with optimistic concurrency, an append-only audit trail and undo.

    item = store.reviews.get(refinement_id)                 # version 0 while pending
    store.reviews.set(refinement_id, "approved", reviewer="ana",
                      expected_version=item.version)        # ReviewConflict if it moved on
    store.reviews.undo_last("ana")                          # restores ana's last action

Each change bumps the review's version and appends one row to `review_events` (triggers
forbid updating or deleting them). An undo is itself an event that points at the action it
reverted; it is refused (ReviewConflict) when someone else changed the record since.
"""

from __future__ import annotations

import builtins
import sqlite3
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict

from persd.execution.result import ExecutionResult
from persd.store import rows
from persd.store.db import NOW_SQL, Database, to_json, where
from persd.store.errors import RecordNotFound, ReviewConflict, StoreError
from persd.store.executions import Executions
from persd.store.records import REVIEW_STATUSES, BulkReviewResult, ReviewEvent, ReviewRecord

_NOT_UNDONE = "NOT EXISTS (SELECT 1 FROM review_events u WHERE u.undoes = e.id)"


class Reviews:
    def __init__(self, db: Database, executions: Executions) -> None:
        self._db = db
        self._executions = executions

    def get(self, refinement_id: int) -> ReviewRecord:
        with self._db.read() as conn:
            return _review(conn, refinement_id, self._db.path)

    def by_refinement(self, round: int | None = None) -> dict[int, ReviewRecord]:
        """The review of every refinement (pending ones included), by refinement id."""
        where_sql, params = where(("r.round", round))
        where_sql += (" AND" if where_sql else "WHERE") + " r.error IS NULL"
        with self._db.read() as conn:
            found = conn.execute(
                f"""SELECT r.id AS id, v.* FROM refinements r
                LEFT JOIN reviews v ON v.refinement_id = r.id {where_sql} ORDER BY r.id""",
                params,
            )
            return {
                row["id"]: rows.review(row if row["refinement_id"] else None, row["id"])
                for row in found
            }

    def set(
        self, refinement_id: int, status: str, *, reviewer: str, expected_version: int,
        edited_program: str | None = None, edit_execution: int | ExecutionResult | None = None, reason: str | None = None,
    ) -> ReviewRecord:
        """Record a decision if the review is still at `expected_version`, else raise
        ReviewConflict saying who changed it and when. `edit_execution` is the run of the
        edited program: an execution id or an ExecutionResult to store."""
        _check(status, reviewer)
        if status == "edited" and not edited_program:
            raise StoreError("an 'edited' review needs the edited_program")
        with self._db.write() as conn:
            before = _reviewable(conn, refinement_id, self._db.path)
            if before.version != expected_version:
                raise ReviewConflict(before, expected_version)
            execution_id = self._edit_execution_id(conn, refinement_id, edit_execution)
            return _apply(conn, before, status, reviewer, edited_program, execution_id, reason)

    def bulk_set(
        self, refinements: Iterable[int] | Mapping[int, int], status: str, *, reviewer: str,
        reason: str | None = None,
    ) -> BulkReviewResult:
        """Set many reviews in one transaction, undone together by `undo_last`. Given a
        mapping refinement id -> expected version, records whose version moved on are
        skipped and reported in `conflicts`."""
        _check(status, reviewer)
        if status == "edited":
            raise StoreError("bulk review cannot mark records 'edited' (each needs its program)")
        expected = dict(refinements) if isinstance(refinements, Mapping) else None
        ids = list(dict.fromkeys(expected or refinements))
        batch = uuid.uuid4().hex
        updated: list[ReviewRecord] = []
        conflicts: list[int] = []
        with self._db.write() as conn:
            for refinement_id in ids:
                before = _reviewable(conn, refinement_id, self._db.path)
                if expected is not None and before.version != expected[refinement_id]:
                    conflicts.append(refinement_id)
                    continue
                updated.append(
                    _apply(conn, before, status, reviewer, None, None, reason, batch=batch)
                )
        return BulkReviewResult(updated=updated, conflicts=conflicts)

    def last_action(self, reviewer: str) -> ReviewEvent | None:
        """The action `undo_last(reviewer)` would revert (for a bulk action, its last event)."""
        with self._db.read() as conn:
            row = _last_action(conn, reviewer)
            return None if row is None else rows.review_event(row)

    def undo_last(self, reviewer: str) -> ReviewRecord | None:
        """Revert `reviewer`'s latest action not yet undone (a whole bulk action at once);
        returns the restored review (for a bulk action, the last one), None if nothing is
        left to undo. Raises ReviewConflict if someone else changed the record since."""
        with self._db.write() as conn:
            target = _last_action(conn, reviewer)
            if target is None:
                return None
            group = [target] if target["batch"] is None else conn.execute(
                f"""SELECT * FROM review_events e WHERE batch = ? AND kind = 'action'
                AND {_NOT_UNDONE} ORDER BY id""", (target["batch"],),
            ).fetchall()
            restored = None
            for event in group:
                restored = _undo(conn, rows.review_event(event), reviewer, self._db.path)
            return restored

    def events(
        self, refinement_id: int | None = None, reviewer: str | None = None,
    ) -> builtins.list[ReviewEvent]:
        """The audit trail, oldest first."""
        where_sql, params = where(("refinement_id", refinement_id), ("reviewer", reviewer))
        with self._db.read() as conn:
            found = conn.execute(f"SELECT * FROM review_events {where_sql} ORDER BY id", params)
            return [rows.review_event(row) for row in found]

    def events_since(self, after_id: int, limit: int = 100) -> builtins.list[ReviewEvent]:
        """Audit events newer than `after_id`, oldest first: what changed since a screen
        last looked (`last_event_id`)."""
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT * FROM review_events WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
            )
            return [rows.review_event(row) for row in found]

    def last_event_id(self) -> int:
        with self._db.read() as conn:
            return conn.execute("SELECT COALESCE(MAX(id), 0) FROM review_events").fetchone()[0]

    def _edit_execution_id(
        self, conn: sqlite3.Connection, refinement_id: int, edit_execution: int | ExecutionResult | None,
    ) -> int | None:
        if edit_execution is None:
            return None
        if isinstance(edit_execution, int):
            row = conn.execute(
                "SELECT subject_kind, subject_id FROM executions WHERE id = ?", (edit_execution,)
            ).fetchone()
            if row is None or tuple(row) != ("review_edit", refinement_id):
                raise StoreError(
                    f"execution {edit_execution} is not a review edit of refinement {refinement_id}"
                )
            return edit_execution
        return self._executions.insert(conn, "review_edit", refinement_id, edit_execution, "hidden")


def _check(status: str, reviewer: str) -> None:
    if status not in REVIEW_STATUSES:
        raise StoreError(f"unknown review status {status!r}; one of {REVIEW_STATUSES}")
    if not reviewer or not reviewer.strip():
        raise StoreError("a review needs a reviewer name")


def _review(conn: sqlite3.Connection, refinement_id: int, path: object) -> ReviewRecord:
    row = conn.execute("SELECT * FROM reviews WHERE refinement_id = ?", (refinement_id,)).fetchone()
    if row is None and conn.execute(
        "SELECT 1 FROM refinements WHERE id = ?", (refinement_id,)
    ).fetchone() is None:
        raise RecordNotFound(f"no refinement {refinement_id} in session {path}")
    return rows.review(row, refinement_id)


def _reviewable(conn: sqlite3.Connection, refinement_id: int, path: object) -> ReviewRecord:
    review = _review(conn, refinement_id, path)
    row = conn.execute("SELECT error FROM refinements WHERE id = ?", (refinement_id,)).fetchone()
    if row["error"] is not None:
        raise StoreError(
            f"refinement {refinement_id} has no result to review (teacher error: {row['error']})"
        )
    return review


def _apply(
    conn: sqlite3.Connection, before: ReviewRecord, status: str, reviewer: str,
    edited_program: str | None, execution_id: int | None, reason: str | None, *,
    kind: str = "action", batch: str | None = None, undoes: int | None = None,
) -> ReviewRecord:
    """Write the new state (version + 1) and its audit event."""
    row = conn.execute(
        f"""INSERT INTO reviews (refinement_id, status, edited_program, edit_execution_id, reason,
            reviewer, version, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, {NOW_SQL})
        ON CONFLICT (refinement_id) DO UPDATE SET status = excluded.status,
            edited_program = excluded.edited_program,
            edit_execution_id = excluded.edit_execution_id, reason = excluded.reason,
            reviewer = excluded.reviewer, version = excluded.version,
            updated_at = excluded.updated_at
        RETURNING *""",
        (before.refinement_id, status, edited_program, execution_id, reason, reviewer,
         before.version + 1),
    ).fetchone()
    after = rows.review(row, before.refinement_id)
    payload = {"before": asdict(before), "edited_program": edited_program,
               "edit_execution_id": execution_id, "reason": reason}
    conn.execute(
        """INSERT INTO review_events (refinement_id, kind, batch, undoes, old_status, new_status,
            reviewer, version, at, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        (after.refinement_id, kind, batch, undoes, before.status, status, reviewer,
         after.version, after.updated_at, to_json(payload)),
    )
    return after


def _last_action(conn: sqlite3.Connection, reviewer: str) -> sqlite3.Row | None:
    return conn.execute(
        f"""SELECT * FROM review_events e WHERE reviewer = ? AND kind = 'action' AND {_NOT_UNDONE}
        ORDER BY id DESC LIMIT 1""",
        (reviewer,),
    ).fetchone()


def _undo(
    conn: sqlite3.Connection, event: ReviewEvent, reviewer: str, path: object,
) -> ReviewRecord:
    current = _review(conn, event.refinement_id, path)
    # Any later action on the record that is still in force came from someone else.
    later = conn.execute(
        f"""SELECT 1 FROM review_events e WHERE refinement_id = ? AND id > ? AND kind = 'action'
        AND {_NOT_UNDONE} LIMIT 1""",
        (event.refinement_id, event.id),
    ).fetchone()
    if later is not None:
        raise ReviewConflict(current, None, action=f"undo your {event.new_status!r}")
    before = event.payload["before"]
    return _apply(
        conn, current, before["status"], reviewer, before["edited_program"],
        before["edit_execution_id"], before["reason"], kind="undo", batch=event.batch,
        undoes=event.id,
    )
