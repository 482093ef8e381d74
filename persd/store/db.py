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
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from persd.store.errors import RecordNotFound, StoreError

NOW_SQL = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')"


def now_iso() -> str:
    """The current time in the store's timestamp format (what NOW_SQL writes)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class Database:
    """`readonly` opens with SQLite's mode=ro (a folder persd may not write in is fine);
    otherwise a missing file is created, private to its owner (0600: sessions hold code
    and API spend; SQLite gives the -wal and -shm files the same mode)."""

    def __init__(self, path: Path, *, create: bool = True, readonly: bool = False,
                 busy_timeout_s: float = 30.0) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s
        self.readonly = readonly
        self._lock = threading.RLock()
        self._writing = False
        if (readonly or not create) and not self.path.exists():
            raise StoreError(f"session database {self.path} does not exist")
        self._check_file()
        if not self.path.exists():
            _create_private(self.path)
        self._conn = self._connect("ro" if readonly else "rw")
        self._conn.row_factory = sqlite3.Row
        try:
            # Refuse a foreign file before anything below could change it (WAL rewrites
            # the header of a file in rollback-journal mode).
            self._check_is_session()
            self._conn.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                self._conn.execute("PRAGMA journal_mode = WAL")
                # NORMAL in WAL mode survives a killed process; a power loss may lose the last commit.
                self._conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as error:
            self._conn.close()
            if self.readonly and not _writable(self.path.parent):
                # A WAL database in a folder nobody may write: SQLite cannot make the -shm
                # file, so read the file as it stands (no writer can change it there).
                self._conn = self._connect("ro&immutable=1")
                self._conn.row_factory = sqlite3.Row
                self._check_is_session()
                return
            raise self.error(error) from error

    def _check_file(self) -> None:
        """What can be said about the file before SQLite opens it, in plain words."""
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a folder, not a session database")
        if self.path.exists():
            # Not by reading the file's header here: closing any descriptor of a file drops
            # every POSIX lock this process holds on it, other connections' too. SQLite
            # itself says "file is not a database" on the first query (see `error`).
            if not os.access(self.path, os.R_OK):
                raise StoreError(f"cannot read session database {self.path}: permission "
                                 "denied; run persd as its owner or fix its permissions")
            if not self.readonly and not (_writable(self.path) and _writable(self.path.parent)):
                raise self._readonly_error()
        elif not self.readonly and not _writable(self.path.parent):
            raise StoreError(f"cannot create session database {self.path}: the folder "
                             f"{self.path.parent} is read-only; choose a writable --sessions-dir")

    def _connect(self, mode: str) -> sqlite3.Connection:
        try:
            return sqlite3.connect(
                f"{self.path.absolute().as_uri()}?mode={mode}",
                uri=True,
                timeout=self.busy_timeout_s,
                isolation_level=None,  # we issue BEGIN/COMMIT ourselves
                check_same_thread=False,  # guarded by self._lock
            )
        except sqlite3.Error as error:
            raise self.error(error) from error

    def _check_is_session(self) -> None:
        check_is_session(self._conn, self.path)

    def _readonly_error(self) -> StoreError:
        where = ("the file" if not _writable(self.path) else f"its folder {self.path.parent}")
        return StoreError(
            f"session database {self.path} is read-only ({where} cannot be written; SQLite "
            "also writes -wal and -shm files beside it): make it writable, or copy the "
            "session to a writable --sessions-dir"
        )

    def error(self, error: sqlite3.Error) -> StoreError:
        """A StoreError that says what went wrong with this file, in words a user can act on."""
        text = str(error)
        if "locked" in text or "busy" in text:
            return StoreError(
                f"session database {self.path} stayed locked by another process for "
                f"{self.busy_timeout_s:g} s: {error}"
            )
        if "file is not a database" in text:
            return StoreError(f"{self.path} is not a persd session database (not an SQLite "
                              "file, or its header is damaged); move it out of the sessions "
                              "folder or open another session")
        if "malformed" in text or "corrupt" in text:
            return StoreError(
                f"session database {self.path} is damaged ({error}); restore it from a "
                f"backup, or try `sqlite3 {self.path} .recover`"
            )
        if "readonly" in text or "read-only" in text:
            return self._readonly_error()
        if "full" in text:
            return StoreError(f"session database {self.path}: the disk is full; free some "
                              "space and run the command again (finished steps are kept)")
        return StoreError(f"session database {self.path}: {error}")

    def require(self, conn: sqlite3.Connection, table: str, column: str, value: Any,
                what: str) -> sqlite3.Row:
        """The row of `table` whose `column` is `value`; RecordNotFound naming `what` if none."""
        row = conn.execute(f"SELECT * FROM {table} WHERE {column} = ?", (value,)).fetchone()
        if row is None:
            raise RecordNotFound(f"no {what} {value!r} in session {self.path}")
        return row

    def all(self, sql: str, params: list[Any] | tuple[Any, ...]) -> list[sqlite3.Row]:
        """Every row `sql` selects, read on its own."""
        with self.read() as conn:
            return conn.execute(sql, params).fetchall()

    def one(self, sql: str, params: tuple[Any, ...], what: str) -> sqlite3.Row:
        """The row `sql` selects, read on its own; RecordNotFound "no WHAT in session" if none."""
        with self.read() as conn:
            row = conn.execute(sql, params).fetchone()
        if row is None:
            raise RecordNotFound(f"no {what} in session {self.path}")
        return row

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; a nested call is a savepoint inside the outer one.
        StoreError at once on a database opened read-only."""
        if self.readonly:
            raise StoreError(f"session database {self.path} is open read-only (this process "
                             "cannot write it or its folder): it can be viewed, not changed")
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
            except BaseException as error:
                self._writing = False
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                if _about_the_file(error):
                    raise self.error(error) from error
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
            except sqlite3.DatabaseError as error:
                if _about_the_file(error):
                    raise self.error(error) from error
                raise
            finally:
                if self._conn.in_transaction:
                    self._end_read()

    def _end_read(self) -> None:
        """End a read transaction; on a damaged file ending it fails too, and the error
        already on its way (a StoreError naming the file) is the one to show."""
        try:
            self._conn.execute("COMMIT")
        except sqlite3.DatabaseError:
            self._conn.rollback()

    def generation(self) -> tuple[int, int]:
        """Changes whenever anything was written to the file, by this connection (its
        change count) or by another one (SQLite's data_version): a key for memos."""
        with self.read() as conn:
            return conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes

    @contextmanager
    def raw(self) -> Iterator[sqlite3.Connection]:
        """The connection, locked, outside any transaction (for migrations)."""
        with self._lock:
            yield self._conn

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.close()
            except sqlite3.DatabaseError:
                # Closing checkpoints the WAL; on a damaged file that fails, and the error
                # that brought the caller here (already a StoreError) is the one to show.
                pass

    def _begin(self, statement: str) -> None:
        try:
            self._conn.execute(statement)
        except sqlite3.OperationalError as error:
            raise self.error(error) from error

    def _commit(self) -> None:
        try:
            self._conn.execute("COMMIT")
        except sqlite3.OperationalError as error:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise self.error(error) from error


_FILE_TROUBLE = ("malformed", "corrupt", "file is not a database", "readonly", "disk is full",
                 "disk I/O error", "locked", "busy")


def _about_the_file(error: BaseException) -> bool:
    """An SQLite error caused by the file or disk (not by persd's SQL)."""
    return (isinstance(error, sqlite3.DatabaseError) and not isinstance(error, sqlite3.IntegrityError)
            and any(word in str(error) for word in _FILE_TROUBLE))


def _writable(path: Path) -> bool:
    # os.access also answers False on a read-only mount, for root too.
    return os.access(path, os.W_OK)


def _create_private(path: Path) -> None:
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass  # another process made it first: SQLite takes it as it is
    except OSError as error:
        raise StoreError(f"cannot create session database {path}: {error.strerror}") from error


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


def check_is_session(conn: sqlite3.Connection, path: Path) -> None:
    """Refuse an SQLite file that holds tables but no persd migrations."""
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if names and "_migrations" not in names:
        raise StoreError(
            f"{path} is an SQLite database but not a persd session "
            f"(it has tables {', '.join(sorted(names)[:5])} and no _migrations)"
        )
