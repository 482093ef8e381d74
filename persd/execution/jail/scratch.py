"""A run's scratch directory and what a program leaves behind. Standard library only.

Everything here works through directory descriptors and never follows a link, so a
program that swaps a directory for a symlink, or nests directories thousands deep,
can neither redirect nor crash its harness. System V IPC objects (shared memory,
semaphores, message queues) outlive the process that made them: they are removed after
each run by a process running as the program's uid (their owner), and a sandbox that
still holds any is recycled.
"""

from __future__ import annotations

import ctypes
import os
import stat

_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
IPC_RMID = 0
_STEP_LIMIT = 1_000_000  # entries visited in one tree before giving up (then the sandbox is recycled)
_IPC_FILES = ("shm", "sem", "msg")


def make(root: str, name: str, uid: int) -> str:
    """A fresh directory `root/name` for one run, owned by `uid` (when >= 0)."""
    root_fd = os.open(root, _DIRECTORY)
    try:
        try:
            os.mkdir(name, 0o700, dir_fd=root_fd)
        except FileExistsError:
            _remove_entry(root_fd, name)
            os.mkdir(name, 0o700, dir_fd=root_fd)
        if uid >= 0:
            fd = os.open(name, _DIRECTORY, dir_fd=root_fd)
            try:
                os.fchown(fd, uid, uid)
            finally:
                os.close(fd)
    finally:
        os.close(root_fd)
    return os.path.join(root, name)


def empty(root: str) -> bool:
    """Removes everything under `root`; True when nothing is left."""
    root_fd = os.open(root, _DIRECTORY)
    try:
        for entry in os.listdir(root_fd):
            _remove_entry(root_fd, entry)
        return not os.listdir(root_fd)
    finally:
        os.close(root_fd)


def _remove_entry(parent_fd: int, name: str) -> None:
    """Removes `name` in `parent_fd`, a whole tree without recursion or long paths."""
    try:
        info = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except OSError:
        return
    if not stat.S_ISDIR(info.st_mode):
        _quietly(os.unlink, name, dir_fd=parent_fd)
        return
    # Walk down, keeping only names; come back up through "..", which the (dead) program
    # can no longer move: a tree thousands deep costs no recursion and no open descriptors.
    path: list[str] = [name]
    current = _open_dir(parent_fd, name)
    if current is None:
        return
    steps = 0
    while path and steps < _STEP_LIMIT:
        steps += 1
        child = _first_entry(current)
        if child is not None:
            info = os.stat(child, dir_fd=current, follow_symlinks=False)
            if stat.S_ISDIR(info.st_mode):
                deeper = _open_dir(current, child)
                if deeper is not None:
                    os.close(current)
                    current = deeper
                    path.append(child)
                    continue
                _quietly(os.rmdir, child, dir_fd=current)
            else:
                _quietly(os.unlink, child, dir_fd=current)
            if _first_entry(current) == child:  # could not remove it: give up on this tree
                break
            continue
        up = os.open("..", _DIRECTORY, dir_fd=current)
        os.close(current)
        current = up
        _quietly(os.rmdir, path.pop(), dir_fd=current)
        if not path:
            break
    os.close(current)


def _first_entry(fd: int) -> str | None:
    with os.scandir(fd) as entries:
        for entry in entries:
            return entry.name
    return None


def _open_dir(parent_fd: int, name: str) -> int | None:
    try:
        fd = os.open(name, _DIRECTORY, dir_fd=parent_fd)
    except OSError:
        return None
    try:
        os.fchmod(fd, 0o700)  # a directory the program made unreadable
    except OSError:
        pass
    return fd


def _quietly(function, *args, **kwargs) -> None:
    try:
        function(*args, **kwargs)
    except OSError:
        pass


def ipc_objects(uid: int) -> list[tuple[str, int]]:
    """(kind, id) of the System V IPC objects owned by `uid` (any owner when uid < 0: only
    in an IPC namespace of the sandbox's own)."""
    found = []
    for kind in _IPC_FILES:
        try:
            with open(f"/proc/sysvipc/{kind}") as listing:
                header, *rows = listing.read().splitlines()
        except OSError:
            continue
        columns = header.split()
        number = next((c for c in columns if c in ("shmid", "semid", "msqid")), None)
        for row in rows:
            fields = dict(zip(columns, row.split()))
            if number in fields and (uid < 0 or fields.get("uid") == str(uid)):
                found.append((kind, int(fields[number])))
    return found


def no_ipc_left(uid: int, private: bool) -> bool:
    """Removes the program's System V IPC objects; True when none is left. `private`: the
    sandbox has an IPC namespace of its own (else, without a uid of the programs' own,
    nothing tells their objects from the host's, and none is touched)."""
    if uid < 0 and not private:
        return True
    objects = ipc_objects(uid)
    if not objects:
        return True
    pid = os.fork()
    if pid == 0:
        try:
            if uid >= 0 and os.geteuid() == 0:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
            libc = ctypes.CDLL(None, use_errno=True)
            for kind, number in objects:
                if kind == "shm":
                    libc.shmctl(number, IPC_RMID, None)
                elif kind == "sem":
                    libc.semctl(number, 0, IPC_RMID)
                else:
                    libc.msgctl(number, IPC_RMID, None)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return not ipc_objects(uid)
