"""Where a batch teacher keeps its Batch API submissions, so a killed run resumes the same batch.

    ledger = JsonBatchLedger("out.batches.json")   # make-tests: a JSON file beside its output
    ledger = store.teacher_batches                 # collect: the session (persd.store.batches)
    await batch_teacher.flush(ledger, round=0)

A ledger records a submission before its batch is created (state "creating"), then the
API's batch id ("submitted"), then the downloaded results ("done"); `list` finds what a
rerun must resume. A session's `store.teacher_batches` is one; `JsonBatchLedger` is
the same records in one JSON file, rewritten whole on each change (temp file, fsync,
`os.replace`), so a kill at any moment leaves the old or the new file, never half of one.
"""

from __future__ import annotations

import builtins
import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Protocol

from persd.store.batches import TeacherBatchRecord, check_batch_changes
from persd.store.db import now_iso
from persd.store.errors import RecordNotFound, StoreError

__all__ = ["BatchLedger", "JsonBatchLedger", "LedgerError"]

SUFFIX = ".batches.json"


class LedgerError(StoreError, ValueError):
    """A ledger file that cannot be read."""


class BatchLedger(Protocol):
    """The four things `persd.teacher.batch.BatchTeacher` asks of whoever keeps its batches."""

    def add(self, submission_id: str, *, round: int, model: str,
            custom_ids: builtins.list[str]) -> TeacherBatchRecord: ...

    def update(self, submission_id: str, **changes: Any) -> TeacherBatchRecord: ...

    def list(self, round: int | None = None,
             states: tuple[str, ...] | None = None) -> builtins.list[TeacherBatchRecord]: ...

    def input_path(self, submission_id: str) -> Path: ...


class JsonBatchLedger:
    """A BatchLedger in `<stem>.batches.json`, for runs without a session (make-tests).

    One process at a time: the file is read when the ledger is made and rewritten on
    every change.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._records: dict[str, TeacherBatchRecord] = {}
        if self.path.exists():
            try:
                stored = json.loads(self.path.read_text(encoding="utf-8"))
                records = [TeacherBatchRecord(**item) for item in stored["batches"]]
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise LedgerError(f"{self.path}: not a persd batch ledger ({error}); it records "
                                 "paid Batch API jobs, so move it aside rather than delete it") \
                    from error
            self._records = {record.id: record for record in records}

    def add(self, submission_id: str, *, round: int, model: str,
            custom_ids: builtins.list[str]) -> TeacherBatchRecord:
        if submission_id in self._records:
            raise StoreError(f"{self.path}: teacher batch {submission_id!r} exists already")
        now = now_iso()
        record = TeacherBatchRecord(submission_id, round, model, "creating", None, None, None,
                                    list(custom_ids), None, None, None, now, now)
        return self._save(record)

    def update(self, submission_id: str, **changes: Any) -> TeacherBatchRecord:
        check_batch_changes(changes)
        record = self._records.get(submission_id)
        if record is None:
            raise RecordNotFound(f"no teacher batch {submission_id!r} in {self.path}")
        return self._save(dataclasses.replace(record, **changes, updated_at=now_iso()))

    def list(self, round: int | None = None,
             states: tuple[str, ...] | None = None) -> builtins.list[TeacherBatchRecord]:
        """Submissions, oldest first; optionally of one round and in some states only."""
        return [record for record in self._records.values()
                if (round is None or record.round == round) and (not states or record.state in states)]

    def input_path(self, submission_id: str) -> Path:
        stem = self.path.name.removesuffix(SUFFIX)
        return self.path.with_name(f"{stem}.batch-{submission_id}.jsonl")

    def _save(self, record: TeacherBatchRecord) -> TeacherBatchRecord:
        records = {**self._records, record.id: record}
        text = json.dumps({"batches": [dataclasses.asdict(r) for r in records.values()]},
                          ensure_ascii=False, indent=1)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with temporary.open("w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, self.path)
        self._records = records
        return record
