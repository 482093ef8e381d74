"""A pids cgroup of persd's own for each sandbox: at most PROCESS_LIMIT processes and threads.

    cgroup = PidsCgroup.create()     # None where this host gives us no writable pids controller
    command = cgroup.join_command(command)
    cgroup.remove()                  # kills what is left inside, then removes it
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from pathlib import Path

PROCESS_LIMIT = 256  # processes + threads at once in one sandbox, harness included
CGROUP_PREFIX = "sandbox-"  # /proc/self/cgroup shows it to programs: a generic name
_sandbox_numbers = itertools.count()
_busy_cgroups: set[Path] = set()  # ours, closed, not yet empty enough to remove


class PidsCgroup:
    """A pids cgroup of our own (pids.max = PROCESS_LIMIT) for one sandbox.

    `create()` returns None where this host gives us no writable pids controller.
    """

    _parent: Path | None = None
    _searched = False

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls) -> "PidsCgroup | None":
        parent = cls._find_parent()
        if parent is None:
            return None
        _sweep(parent)
        path = parent / f"{CGROUP_PREFIX}{os.getpid()}-{next(_sandbox_numbers)}"
        try:
            path.mkdir()
            (path / "pids.max").write_text(str(PROCESS_LIMIT))
        except OSError:
            try:
                path.rmdir()
            except OSError:
                pass
            return None
        return cls(path)

    @classmethod
    def _find_parent(cls) -> Path | None:
        """Our own cgroup in the hierarchy holding the pids controller, if we may write it."""
        if cls._searched:
            return cls._parent
        cls._searched = True
        try:
            mounts = Path("/proc/self/mounts").read_text().splitlines()
            memberships = Path("/proc/self/cgroup").read_text().splitlines()
        except OSError:
            return None
        for line in mounts:
            fields = line.split()
            if len(fields) < 4:
                continue
            mount, kind, options = fields[1], fields[2], fields[3].split(",")
            for membership in memberships:
                _, controllers, own = membership.split(":", 2)
                if kind == "cgroup2" and controllers == "":
                    candidate = Path(mount + own.rstrip("/"))
                    if "pids" not in _words(candidate / "cgroup.subtree_control"):
                        continue  # enabling it would change the host's cgroup set-up: not ours to do
                elif kind == "cgroup" and "pids" in options and "pids" in controllers.split(","):
                    candidate = Path(mount + own.rstrip("/"))
                else:
                    continue
                if os.access(candidate, os.W_OK):
                    cls._parent = candidate
                    return candidate
        return None

    def join_command(self, command: list[str]) -> list[str]:
        """`command`, started inside this cgroup (before it can fork anything)."""
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.path / "cgroup.procs"), *command]

    def remove(self) -> None:
        """Kills whatever is still inside, then removes the cgroup (later if still busy)."""
        for _ in range(50):
            try:
                pids = [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]
            except OSError:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                self.path.rmdir()
                return
            except OSError:
                time.sleep(0.002)
        _busy_cgroups.add(self.path)  # killed processes leave it a moment later: _sweep retries


def _words(path: Path) -> list[str]:
    try:
        return path.read_text().split()
    except OSError:
        return []


def _sweep(parent: Path) -> None:
    """Removes our closed cgroups that were still busy, and those of owners that died."""
    stale = set(_busy_cgroups)
    try:
        for entry in parent.glob(f"{CGROUP_PREFIX}*-*"):
            owner = entry.name[len(CGROUP_PREFIX):].split("-")[0]
            if owner.isdigit() and int(owner) != os.getpid() and not os.path.exists(f"/proc/{owner}"):
                stale.add(entry)
    except OSError:
        pass
    for entry in stale:
        try:
            entry.rmdir()
            _busy_cgroups.discard(entry)
        except FileNotFoundError:
            _busy_cgroups.discard(entry)
        except OSError:
            pass
