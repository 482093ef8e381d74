"""Processes inside the jail: listing, killing, giving up capabilities. Standard library only."""

from __future__ import annotations

import ctypes
import os
import signal

_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass


def children_of(parent: int) -> list[int]:
    try:
        with open(f"/proc/{parent}/task/{parent}/children", "rb") as listed:
            return [int(pid) for pid in listed.read().split()]
    except OSError:
        pass
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    if int(stat.read().rsplit(b")", 1)[1].split()[1]) == parent:
                        children.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return children


def close_except(keep: set[int]) -> None:
    for entry in os.listdir("/proc/self/fd"):
        fd = int(entry)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities(libc) -> None:
    libc.capset(ctypes.byref(_CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)), (_CapData * 2)())


def kill_all_below(root: int) -> None:
    """Kills every descendant of `root` (children, their children...), deepest first."""
    found, frontier = [], [root]
    while frontier:
        children = [child for parent in frontier for child in children_of(parent)]
        found += children
        frontier = children
    for pid in reversed(found):
        kill_group(pid)
