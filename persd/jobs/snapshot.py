"""What every background job of the app shares: the error it raises, a run as the app
shows it, and reading a run row that may be gone or may never have started.

    from persd.jobs.snapshot import JobError, RunSnapshot, record_end, run_or_none
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from persd.store import RecordNotFound, RunRecord, SessionStore, StoreError


class JobError(Exception):
    """A job that cannot start, with a message for the user."""


@dataclass
class RunSnapshot:
    """A run as the app shows it: its record and the tail of its log."""

    run: RunRecord

    @property
    def status(self) -> str:
        return self.run.status

    @property
    def active(self) -> bool:
        return self.run.status in ("queued", "running")

    @property
    def stopping(self) -> bool:
        return self.active and bool((self.run.result or {}).get("abort_requested_at"))


def run_or_none(store: SessionStore, run_id: int) -> RunRecord | None:
    """The run `run_id`, or None when the session has no such run."""
    try:
        return store.runs.get(run_id)
    except RecordNotFound:
        return None


def record_end(path: Path, run_id: int,
               reap: Callable[[SessionStore, RunRecord], RunRecord]) -> None:
    """From the thread that waited for a child: record how its run ended (`reap`), on a
    connection of that thread; nothing when the session is gone."""
    try:
        with SessionStore(path) as store:
            reap(store, store.runs.get(run_id))
    except StoreError:
        pass
