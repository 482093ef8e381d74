"""One SQLite connection shared by threads, with explicit transactions.

    db = Database(path, create=True)
    with db.write() as conn:      # BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error)
        conn.execute(...)
    with db.read() as conn:       # a consistent snapshot for several SELECTs
        rows = conn.execute(...).fetchall()

A lock serialises threads on the connection; WAL lets other processes read while one
writes, and busy_timeout makes a writer wait for another process's write to finish.
Writes start with BEGIN IMMEDIATE so a read-then-write (optimistic concurrency checks)
never fails half-way on a lock upgrade.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from persd.store.errors import StoreError

NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"


def now_iso() -> str:
    """The current time in the store's timestamp format (what NOW_SQL writes)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Database:
    def __init__(self, path: Path, *, create: bool = True, busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self._lock = threading.RLock()
        self._writing = False
        if not create and not self.path.exists():
            raise StoreError(f"session database {self.path} does not exist")
        mode = "rwc" if create else "rw"
        try:
            self._conn = sqlite3.connect(
                f"{self.path.absolute().as_uri()}?mode={mode}",
                uri=True,
                timeout=busy_timeout_s,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # guarded by self._lock
            )
        except sqlite3.Error as error:
            raise StoreError(f"cannot open session database {self.path}: {error}") from error
        self._conn.row_factory = sqlite3.Row
        try:
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode survives a killed process; a power loss may lose the last commit.
            self._conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as error:
            self._conn.close()
            raise StoreError(f"{self.path} is not a persd session database: {error}") from error

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; a nested call is a savepoint inside the outer one."""
        with self._lock:
            if self._conn.in_transaction:
                if not self._writing:
                    raise RuntimeError("a write cannot start inside a read transaction")
                yield from self._savepoint()
                return
            self._begin("BEGIN IMMEDIATE")
            self._writing = True
            try:
                yield self._conn
            except BaseException:
                self._writing = False
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            self._writing = False
            self._commit()

    def _savepoint(self) -> Iterator[sqlite3.Connection]:
        # A failed nested write undoes only its own changes, even if the caller goes on.
        self._conn.execute("SAVEPOINT nested")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK TO nested")
            self._conn.execute("RELEASE nested")
            raise
        self._conn.execute("RELEASE nested")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._conn.in_transaction:
                yield self._conn
                return
            self._begin("BEGIN")
            try:
                yield self._conn
            finally:
                self._conn.execute("COMMIT")

    @contextmanager
    def raw(self) -> Iterator[sqlite3.Connection]:
        """The connection, locked, outside any transaction (for migrations)."""
        with self._lock:
            yield self._conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _begin(self, statement: str) -> None:
        try:
            self._conn.execute(statement)
        except sqlite3.OperationalError as error:
            raise self._busy_error(error) from error

    def _commit(self) -> None:
        try:
            self._conn.execute("COMMIT")
        except sqlite3.OperationalError as error:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise self._busy_error(error) from error

    def _busy_error(self, error: sqlite3.OperationalError) -> StoreError:
        if "locked" in str(error) or "busy" in str(error):
            return StoreError(
                f"session database {self.path} stayed locked by another process for "
                f"{self.busy_timeout_s:g} s: {error}"
            )
        return StoreError(f"session database {self.path}: {error}")


def to_json(value: Any) -> str:
    # default=str: settings often hold paths; they come back as strings.
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def placeholders(values: list[Any] | tuple[Any, ...]) -> str:
    return ", ".join("?" for _ in values)


def where(*conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    """`WHERE a = ? AND b = ?` for the (column, value) pairs whose value is not None."""
    used = [(column, value) for column, value in conditions if value is not None]
    if not used:
        return "", []
    return "WHERE " + " AND ".join(f"{column} = ?" for column, _ in used), [v for _, v in used]
