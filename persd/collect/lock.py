"""One collection at a time per session: an advisory lock on `<session>.lock`.

    with collect_lock(sessions_dir, "run1", wait=False):   # SessionBusy if another holds it
        ...                                                # collect

Two collections of one session would each ask the teacher about the same failed attempts
(the session's cache only helps once a reply is stored), so the second is refused at once,
naming the holder, or waits for it with `wait=True`. The lock is `fcntl.flock` on a file
beside the session database, so it holds across processes and across threads of one
process (each `collect_lock` opens the file anew), and the kernel drops it when the holder
exits, even on `kill -9`: a stale lock file never blocks anyone. The file holds the
holder's pid, start time and command line, only for the message. The holder deletes it
on release; a process that was waiting on the deleted file sees that its file is no
longer the one at the path and locks the new one, so two can never hold the lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from persd.collect.config import CollectError
from persd.store import session_path


class SessionBusy(CollectError):
    """Another process (or app job) is collecting the same session."""


def lock_path(sessions_dir: str | Path, session: str) -> Path:
    return session_path(sessions_dir, session).with_suffix(".lock")


@contextmanager
def collect_lock(sessions_dir: str | Path, session: str, *, wait: bool = False,
                 on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    path = lock_path(sessions_dir, session)
    told = False
    while True:
        fd = _open(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            if not wait:
                os.close(fd)
                raise SessionBusy(
                    f"session {session!r} is being collected by another process ({holder}); "
                    f"wait for it to finish or stop it, or pass --wait to start when it ends "
                    f"(lock: {path})"
                ) from None
            if on_wait and not told:
                on_wait(f"waiting for the other collection of session {session!r} ({holder}) "
                        "to finish...")
                told = True
            fcntl.flock(fd, fcntl.LOCK_EX)
        if _still_at(fd, path):
            break
        os.close(fd)  # the holder deleted this file on release: lock the current one
    try:
        _write_holder(fd)
        yield
    finally:
        path.unlink(missing_ok=True)  # while still holding it; see the module docstring
        os.close(fd)  # releases the lock


def _open(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise CollectError(f"cannot create the collection lock {path}: {error.strerror}; "
                           "check that the sessions folder is writable") from error


def _still_at(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == path.stat().st_ino
    except FileNotFoundError:
        return False


def _write_holder(fd: int) -> None:
    info = {"pid": os.getpid(), "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
            "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])[:300]}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)


def _holder(fd: int) -> str:
    try:
        info = json.loads(os.pread(fd, 4096, 0) or b"{}")
    except ValueError:
        info = {}
    if not info.get("pid"):
        return "pid unknown: it has just started"
    same = " (this process: the app's collect job)" if info["pid"] == os.getpid() else ""
    return f"pid {info['pid']}{same}, started {info.get('started', '?')}: {info.get('command', '')}"
