"""The session store: every piece of session data, in one SQLite file per session.

    from persd.store import SessionStore, list_sessions
    with SessionStore.open("sessions", "demo", create=True) as store:
        store.set_config({"student": "tiny", "simulated": True})
        store.tasks.add(tasks)
        attempt = store.attempts.add(task.task_id, 0, model="tiny", prompt=task.prompt,
                                     completion=code, program=task.prompt + code)
        store.executions.add("attempt", attempt.id, executor_result)
        work = store.pending.work(round=0)          # what a rerun still has to do

`SessionStore` holds what belongs to the session as a whole (open, close, transactions,
settings, schema, integrity); the data is reached through its repositories, one per
concept, each owning its SQL over the one shared `Database`:

    tasks, attempts, executions, refinements   what collection stores (persd.store.tasks, ...)
    pending                                    what a collection round still has to do
    teacher_calls, teacher_cache               the teacher's call log and response cache
    teacher_batches                            its Batch API submissions (a BatchLedger)
    reviews, queue                             review decisions and undo; the review queue
    review_assignments, guidelines             who reviews what; the operator's guidelines
    runs, eval_samples                         training and evaluation runs, scored samples
    imports                                    records brought in by `persd import`
    studies                                    reviewer studies
    derived                                    values computed once from a refinement

A repository that needs another gets it in its constructor (the queue reads refinements,
attempts, reviews and executions). Every write is one transaction (WAL, foreign keys on),
so a crash, even `kill -9`, loses at most the step in progress; `add` methods are
idempotent so a rerun does not duplicate. A store object may be shared by threads (one
connection behind a lock) and several processes may open the same file. The schema is
migrated forward on every open (persd.store.schema). All SQL of persd lives in this package.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from persd.store.assignments import Guidelines, ReviewAssignments, ReviewGuidelines
from persd.store.attempts import Attempts
from persd.store.batches import TeacherBatches, TeacherBatchRecord
from persd.store.db import Database, from_json, to_json
from persd.store.derived import DerivedValues
from persd.store.errors import (
    ConfigMismatch,
    RecordNotFound,
    ReviewConflict,
    RunBusy,
    SessionNameError,
    SessionNotFound,
    StoreError,
)
from persd.store.executions import Executions
from persd.store.imports import ImportItem, ImportRecord, ImportSource, Imports
from persd.store.pending import Pending
from persd.store.queue import ReviewQueue
from persd.store.records import (
    AttemptRecord,
    BulkReviewResult,
    EvalSampleRecord,
    ExecutionRecord,
    PendingWork,
    QueueFilters,
    QueueRow,
    RefinementRecord,
    ReviewEvent,
    ReviewItem,
    ReviewRecord,
    RunRecord,
    TeacherCallRecord,
)
from persd.store.refinements import Refinements
from persd.store.reviews import Reviews
from persd.store.runs import EvalSamples, Runs
from persd.store.schema import MIGRATIONS, apply_migrations
from persd.store.studies import Studies
from persd.store.tasks import Tasks
from persd.store.teacher_log import TeacherCache, TeacherCalls

__all__ = [
    "SessionStore", "list_sessions", "session_path", "remove_session_files", "TeacherCache",
    "StoreError", "SessionNotFound", "SessionNameError", "ConfigMismatch", "RecordNotFound",
    "ReviewConflict", "RunBusy",
    "AttemptRecord", "BulkReviewResult", "EvalSampleRecord", "ExecutionRecord", "PendingWork",
    "QueueFilters", "QueueRow", "RefinementRecord", "ReviewEvent", "ReviewItem",
    "ReviewRecord", "RunRecord", "TeacherCallRecord", "TeacherBatchRecord",
    "ImportItem", "ImportRecord", "ImportSource", "Guidelines",
]

SUFFIX = ".sqlite"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def _check_schema_is_current(conn: sqlite3.Connection, path: Path) -> None:
    """A read-only open cannot migrate: the file must already be at this version."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "_migrations" not in tables:
        raise StoreError(f"{path} is not a persd session yet (empty file); open it once with "
                         "write access to create it")
    applied = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    known = [name for name, _ in MIGRATIONS]
    if applied - set(known):
        raise StoreError(
            f"{path} has a newer schema than this version of persd knows (unknown "
            f"migrations: {', '.join(sorted(applied - set(known)))}); upgrade persd to open it")
    missing = [name for name in known if name not in applied]
    if missing:
        raise StoreError(
            f"{path} has an older schema (missing {', '.join(missing)}) and is opened read-only: "
            "open it once where persd may write, to upgrade it")


def session_path(sessions_dir: str | Path, name: str) -> Path:
    """`<sessions_dir>/<name>.sqlite`; names are letters, digits and `-_.`."""
    if not _NAME.fullmatch(name or ""):
        raise SessionNameError(
            f"invalid session name {name!r}: use letters, digits, '-', '_' and '.', "
            "starting with a letter or digit (at most 128 characters)"
        )
    return Path(sessions_dir) / f"{name}{SUFFIX}"


def list_sessions(sessions_dir: str | Path) -> list[str]:
    """Names of the sessions in `sessions_dir`, sorted; [] if it does not exist."""
    folder = Path(sessions_dir)
    if not folder.is_dir():
        return []
    return sorted(p.name[: -len(SUFFIX)] for p in folder.glob(f"*{SUFFIX}") if p.is_file())


def remove_session_files(sessions_dir: str | Path, name: str) -> None:
    """Delete a session's file and its WAL companions (closed first by the caller): for a
    session created by a command that then wrote nothing into it."""
    try:
        path = session_path(sessions_dir, name)
    except SessionNameError:
        return  # no file was made under a name that is refused
    for companion in (path, path.with_name(path.name + "-wal"),
                      path.with_name(path.name + "-shm")):
        companion.unlink(missing_ok=True)


class SessionStore:
    """One session's database. Open by name with `SessionStore.open(sessions_dir, name)`
    or by file with `SessionStore(path)`; close it, or use it as a context manager.
    Its data is read and written through the repositories it holds (module docstring)."""

    def __init__(
        self, path: str | Path, *, create: bool = True, readonly: bool = False,
        busy_timeout_s: float = 30.0,
    ) -> None:
        self.path = Path(path)
        self._db = Database(self.path, create=create, readonly=readonly,
                            busy_timeout_s=busy_timeout_s)
        try:
            with self._db.raw() as conn:
                if readonly:
                    _check_schema_is_current(conn, self.path)
                else:
                    apply_migrations(conn, self.path)
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise self._db.error(error) from error
        except Exception:
            self._db.close()
            raise
        self._compose(self._db)

    def _compose(self, db: Database) -> None:
        """The repositories, each given the ones it reads besides its own tables."""
        self.tasks = Tasks(db)
        self.attempts = Attempts(db)
        self.executions = Executions(db)
        self.refinements = Refinements(db, self.executions)
        self.pending = Pending(db)
        self.teacher_calls = TeacherCalls(db)
        self.teacher_cache = TeacherCache(db)
        self.teacher_batches = TeacherBatches(db, self.name)
        self.reviews = Reviews(db, self.executions)
        self.queue = ReviewQueue(db, refinements=self.refinements, attempts=self.attempts,
                                 reviews=self.reviews, executions=self.executions)
        self.review_assignments = ReviewAssignments(db)
        self.guidelines = ReviewGuidelines(db)
        self.runs = Runs(db)
        self.eval_samples = EvalSamples(db, self.executions)
        self.imports = Imports(db, tasks=self.tasks, executions=self.executions,
                               refinements=self.refinements)
        self.studies = Studies(db)
        self.derived = DerivedValues(db)

    @classmethod
    def open(
        cls, sessions_dir: str | Path, name: str, create: bool = False, **options: Any,
    ) -> SessionStore:
        path = session_path(sessions_dir, name)
        if not path.exists():
            if not create or options.get("readonly"):
                raise SessionNotFound(name, str(sessions_dir), list_sessions(sessions_dir))
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreError(f"cannot create the sessions folder {path.parent}: "
                                 f"{error.strerror}; choose another --sessions-dir") from error
        return cls(path, **options)

    @classmethod
    def open_to_read(cls, sessions_dir: str | Path, name: str, **options: Any) -> SessionStore:
        """Open for reading: as `open` where persd may write (an old schema is migrated),
        read-only where it may not (a read-only folder or mount, someone else's file)."""
        path = session_path(sessions_dir, name)
        writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
        return cls.open(sessions_dir, name, readonly=path.exists() and not writable, **options)

    @property
    def readonly(self) -> bool:
        """Opened with SQLite's mode=ro (`open_to_read` of a file persd may not write)."""
        return self._db.readonly

    @property
    def name(self) -> str:
        return self.path.name.removesuffix(SUFFIX)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SessionStore({str(self.path)!r})"

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes into one transaction (bulk loads); other threads wait."""
        with self._db.write():
            yield

    @property
    def schema_version(self) -> int:
        with self._db.read() as conn:
            return conn.execute("SELECT COUNT(*) FROM _migrations").fetchone()[0]

    def integrity_check(self, *, quick: bool = False) -> str:
        """SQLite's own check of the file: "ok" when sound. `quick` skips the index
        cross-checks (linear time; enough to find a damaged page before a long run)."""
        pragma = "quick_check" if quick else "integrity_check"
        try:
            with self._db.read() as conn:
                return "; ".join(row[0] for row in conn.execute(f"PRAGMA {pragma}"))
        except StoreError as error:
            return str(error)

    # -- session settings ----------------------------------------------------------------

    def set_config(self, config: dict[str, Any], *, replace: bool = False) -> None:
        """Record the settings the session was created with. Setting the same again is a
        no-op; different settings raise ConfigMismatch (listing the keys) unless `replace`."""
        new = from_json(to_json(config))
        with self._db.write() as conn:
            stored = from_json(conn.execute("SELECT config FROM session").fetchone()[0])
            if stored is not None and stored != new and not replace:
                keys = sorted(set(stored) | set(new))
                raise ConfigMismatch(str(self.path), {
                    key: (stored.get(key), new.get(key))
                    for key in keys if stored.get(key) != new.get(key)
                })
            conn.execute("UPDATE session SET config = ?", (to_json(new),))

    def config(self) -> dict[str, Any]:
        """The recorded settings ({} before `set_config`)."""
        with self._db.read() as conn:
            return from_json(conn.execute("SELECT config FROM session").fetchone()[0]) or {}

    @property
    def created_at(self) -> str:
        with self._db.read() as conn:
            return conn.execute("SELECT created_at FROM session").fetchone()[0]

    @property
    def simulated(self) -> bool:
        """True for the offline demo's sessions (simulated student and teacher)."""
        return bool(self.config().get("simulated", False))
