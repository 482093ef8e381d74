"""The teacher's Batch API submissions, so that an interrupted run resumes the same batch.

    batches = store.teacher_batches
    batches.add("sub-1a2b", round=1, model="gpt-4o-mini", custom_ids=[...])
    batches.update("sub-1a2b", state="submitted", batch_id="batch_abc",
                   input_file_id="file-xyz", remote_status="validating")
    batches.list(round=1, states=("creating", "submitted"))   # what to resume
    batches.update("sub-1a2b", state="done", results={custom_id: {...}})

A submission row is written before the batch is created (state "creating"), gets the API's
batch id once it exists ("submitted") and its downloaded results when it ends ("done").
`results` maps each custom_id to {"reply", "model", "prompt_tokens", "completion_tokens"}
or to {"error": "..."}; it stays in the session, so paid replies are never fetched twice.
The session's `teacher_batches` is one `persd.teacher.ledger.BatchLedger`; make-tests keeps the same records in
a JSON file (`JsonBatchLedger`), checked by the same `check_batch_changes`.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from persd.store.db import NOW_SQL, Database, from_json, placeholders, to_json
from persd.store.errors import RecordNotFound, StoreError

BATCH_STATES = ("creating", "submitted", "done")


@dataclass(frozen=True)
class TeacherBatchRecord:
    id: str                          # ours, written before the batch exists
    round: int
    model: str
    state: str                       # one of BATCH_STATES
    batch_id: str | None             # the API's id once created
    input_file_id: str | None
    remote_status: str | None        # the API's last status: validating, in_progress, completed, ...
    custom_ids: list[str]
    request_counts: dict[str, int] | None
    results: dict[str, dict[str, Any]] | None
    error: str | None
    created_at: str
    updated_at: str


BATCH_FIELDS = ("state", "batch_id", "input_file_id", "remote_status", "request_counts", "results",
                "error")  # what a ledger's `update` may change
_JSON = ("request_counts", "results")


def check_batch_changes(changes: dict[str, Any]) -> None:
    """Raises StoreError for a field that cannot be set or an unknown state."""
    unknown = sorted(set(changes) - set(BATCH_FIELDS))
    if unknown:
        raise StoreError(f"teacher batch fields cannot be set: {', '.join(unknown)}")
    if changes.get("state", "creating") not in BATCH_STATES:
        raise StoreError(f"unknown teacher batch state {changes['state']!r}; one of {BATCH_STATES}")


class TeacherBatches:
    """The session's BatchLedger; request files go beside the session file."""

    def __init__(self, db: Database, session_name: str) -> None:
        self._db = db
        self._session_name = session_name

    def add(
        self, submission_id: str, *, round: int, model: str, custom_ids: builtins.list[str],
    ) -> TeacherBatchRecord:
        with self._db.write() as conn:
            row = conn.execute(
                """INSERT INTO teacher_batches (id, round, model, state, custom_ids)
                VALUES (?, ?, ?, 'creating', ?) RETURNING *""",
                (submission_id, round, model, to_json(list(custom_ids))),
            ).fetchone()
            return _record(row)

    def update(self, submission_id: str, **changes: Any) -> TeacherBatchRecord:
        """Change the given fields (see `BATCH_FIELDS`); JSON fields take plain values."""
        check_batch_changes(changes)
        values = {k: to_json(v) if k in _JSON and v is not None else v for k, v in changes.items()}
        assignments = ", ".join(f"{name} = ?" for name in values)
        with self._db.write() as conn:
            row = conn.execute(
                f"""UPDATE teacher_batches SET {assignments}, updated_at = {NOW_SQL}
                WHERE id = ? RETURNING *""",
                (*values.values(), submission_id),
            ).fetchone()
            if row is None:
                raise RecordNotFound(f"no teacher batch {submission_id!r}")
            return _record(row)

    def list(
        self, round: int | None = None, states: tuple[str, ...] | None = None,
    ) -> builtins.list[TeacherBatchRecord]:
        """Submissions, oldest first; optionally of one round and in some states only."""
        clauses, params = [], []
        if round is not None:
            clauses.append("round = ?")
            params.append(round)
        if states:
            clauses.append(f"state IN ({placeholders(states)})")
            params.extend(states)
        where_sql = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._db.read() as conn:
            found = conn.execute(
                f"SELECT * FROM teacher_batches {where_sql} ORDER BY created_at, rowid", params)
            return [_record(row) for row in found]

    def input_path(self, submission_id: str) -> Path:
        """Where the submission's request file is written: beside the session file."""
        return self._db.path.parent / f"{self._session_name}.batch-{submission_id}.jsonl"


def _record(row) -> TeacherBatchRecord:
    data = dict(row)
    data["custom_ids"] = from_json(data["custom_ids"])
    for name in _JSON:
        data[name] = from_json(data[name])
    return TeacherBatchRecord(**data)
