"""One trainer per output folder: an exclusive `flock` on `.persd-run.lock` in the folder.

    lock = OutputLock.acquire("runs/r1")    # TrainError naming the holder's pid if taken
    child = subprocess.Popen(..., pass_fds=(lock.fd,))
    lock.hand_over(child.pid)               # the child holds it now, for the rest of its life
    check_free("runs/r1")                   # TrainError if a trainer holds the folder

The lock belongs to the open file, not to a process: a child that inherits the descriptor
keeps the folder locked after the parent closes its copy, and the kernel releases it when
the last holder exits, however it exits (kill -9 included), so a stale lock cannot block.
The file holds the pid of the holder, for the message that names it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from persd import private
from persd.train.config import TrainError

LOCK_FILE = ".persd-run.lock"
# Set for a training child whose parent holds the lock of this output folder for it.
INHERITED_ENV = "PERSD_TRAIN_LOCKED_OUTPUT"


class OutputLock:
    def __init__(self, path: Path, fd: int) -> None:
        self.path, self.fd = path, fd

    @classmethod
    def acquire(cls, output_dir: str | Path) -> OutputLock:
        """Lock `output_dir` (created if missing) for this process, or raise TrainError."""
        out = private.make_dir(output_dir)
        path = out / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, private.FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise TrainError(_busy_message(out)) from None
        lock = cls(path, fd)
        lock.hand_over(os.getpid())
        return lock

    def hand_over(self, pid: int) -> None:
        """Record `pid` as the holder (a child given the descriptor)."""
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, f"{pid}\n".encode(), 0)

    def release(self) -> None:
        """Close this process's copy (the lock ends once no inheritor holds it either)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> OutputLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def check_free(output_dir: str | Path) -> None:
    """TrainError if a trainer holds `output_dir` now (a probe: it takes nothing)."""
    out = Path(output_dir)
    try:
        fd = os.open(out / LOCK_FILE, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        raise TrainError(_busy_message(out)) from None
    finally:
        os.close(fd)


def _busy_message(out: Path) -> str:
    try:
        holder = (out / LOCK_FILE).read_text().strip() or "?"
    except OSError:
        holder = "?"
    return (f"output folder {out} is in use by another persd trainer (pid {holder}); "
            "one trainer per folder: wait for it, stop it, or choose another --output")
