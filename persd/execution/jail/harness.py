"""The fork-server that runs inside each sandbox. Standard library only.

It is started once per sandbox (`python -I harness.py SCRATCH UID PROCESS_LIMIT`; `-S` works too),
imports the modules programs commonly use, then serves requests read from stdin: for
each one it forks a child (child.py) that runs the program and its rewritten tests under
resource limits (as UID when it may switch to it, -1 for no switch), waits for it with a
deadline, kills every process the program left behind, and writes one reply to stdout.
It ends when stdin reaches end of file or hangs up, even in the middle of a program: the
host that owned it is gone.

Wire format, both ways: an 8-byte big-endian length, then that many bytes of JSON.
Request: {"code", "test", "callees", "plan", "cpu_s", "wall_s", "memory_mb", "output_bytes",
"judge_cpu_s", "judge_wall_s"}; "plan" is the test's asserts as judge.py reads them.
Reply: the child's end facts (outcome, stage, frames...), checked and clipped, plus the
judged asserts: "tests" (one [status, returned, expected, error] per assert),
"first_failure", "names", and "judge_error" when the judge overran its limits.

The program's child never decides whether a test passed, and never holds an expected
value. This process runs as root in the jail, the program as another uid, so the program
can neither signal nor trace it; what the child writes to its pipe is read as data, after
the child has ended, by the judge (judge.py): a process forked from this one, replaced
whenever it overruns its own CPU, memory or wall-clock limits. This process only parses
the judge's short lines, never the program's values.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import shutil
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder out
import child  # noqa: E402  (this folder: child.py, judge.py, values.py)
import judge  # noqa: E402

REPLY_LIMIT = 16 * 1024 * 1024  # bytes of reports and facts kept from one child
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
PRELOADED = (
    "math re string collections itertools functools heapq bisect typing hashlib random "
    "statistics fractions decimal copy operator datetime json array cmath numbers"
).split()


# --------------------------------------------------------------- server side


def _kill_leftovers() -> bool:
    """Kills every process left behind; orphans reparent to us (we are a subreaper).

    Returns False when some could not be removed, so the host recycles the sandbox.
    """
    me = os.getpid()
    # Killed processes on a busy machine may take a while to be scheduled to die: give them
    # a second before calling the sandbox unclean (a recycle costs a new jail).
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        try:
            while True:  # reap what has already died
                pid, status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                _judge.reaped(pid, status)
        except ChildProcessError:
            return True
        leftovers = [pid for pid in _children_of(me) if pid != _judge.pid]
        if not leftovers:
            return True
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.002)
    return False


def _children_of(parent: int) -> list[int]:
    try:  # one file (the judge is always a child, so this runs per program), where the kernel has it
        with open(f"/proc/{parent}/task/{parent}/children", "rb") as listed:
            return [int(pid) for pid in listed.read().split()]
    except OSError:
        pass
    children = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            children.append(int(entry))
    return children


def _read_reply(fd: int, buffer: bytearray) -> bool:
    """Reads what is available; False once the pipe is at end of file."""
    while len(buffer) < REPLY_LIMIT:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        buffer.extend(chunk)
    return False


def _wait_for(pid: int, result_fd: int, wall_s: float) -> tuple[bytes, int | None, float]:
    """Waits until the child exits or the deadline passes (then kills its group).

    Exits at once when the host hangs up (stdin has no writer left): nobody will read
    the verdict, and the sandbox must not outlive its owner.
    """
    started = time.monotonic()
    deadline = started + wall_s
    buffer = bytearray()
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(pidfd, select.POLLIN)
    poller.register(result_fd, select.POLLIN)
    poller.register(0, 0)  # hang-up and errors only: they are reported whatever the mask
    status = None
    try:
        while status is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            for fd, _event in poller.poll(remaining * 1000):
                if fd == 0:
                    _kill_group(pid)
                    _hang_up()
                if fd == result_fd and not _read_reply(result_fd, buffer):
                    poller.unregister(result_fd)
                elif fd == pidfd:
                    _, status = os.waitpid(pid, 0)
        if status is None:
            _kill_group(pid)
            _, status = os.waitpid(pid, 0)
            status = None  # killed by us at the deadline
        _read_reply(result_fd, buffer)
    finally:
        os.close(pidfd)
    return bytes(buffer), status, time.monotonic() - started


def _kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except ProcessLookupError:
            pass


def _judge_setup() -> None:
    """In the judge process, before it serves: it needs no capability, nor the host's pipes."""
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    if _libc is not None:
        _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # no process of the same uid may trace it
        _drop_capabilities(_libc)


def _hang_up() -> None:
    """The host is gone: so is everything this sandbox runs."""
    if _judge.pid is not None:
        _kill_group(_judge.pid)
    _kill_leftovers()
    os._exit(0)


_judge = judge.JudgeProcess(_judge_setup)


def serve_one(request: dict, scratch_root: str, counter: int, uid: int = -1, process_limit: int = 0) -> dict:
    scratch = os.path.join(scratch_root, f"run-{counter}")
    os.makedirs(scratch, mode=0o700, exist_ok=True)
    if uid >= 0:
        os.chown(scratch, uid, uid)
    _judge.ready(request["memory_mb"])  # before the fork: every child closes the judge's pipes
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            _judge.close_in_child()
            if uid < 0 and _libc is not None:
                _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)  # the program's own /proc/self, as before
            child.child(request, write_fd, scratch, uid, process_limit)
        finally:
            os._exit(70)
    os.close(write_fd)
    try:
        data, status, elapsed = _wait_for(pid, read_fd, request["wall_s"])
    finally:
        os.close(read_fd)
    clean = _kill_leftovers()  # before judging: nothing of the program's competes with the judge
    _judge.submit(data, request)
    output_tail = _output_tail(scratch)  # while the judge works
    clean = _empty(scratch_root) and clean
    reply = _judge.collect(request, _hang_up)
    if len(data) >= REPLY_LIMIT:
        reply["reports_cut"] = True
    if status is None:
        reply.setdefault("frames", [])
        if reply["outcome"] in ("no_reply", "unknown"):
            reply["outcome"] = "hard_timeout"
    elif reply["outcome"] == "no_reply":
        reply["exit_code"] = os.waitstatus_to_exitcode(status)
    reply["duration_s"] = elapsed
    reply["output_tail"] = output_tail
    reply["clean"] = clean
    return reply


def _empty(directory: str) -> bool:
    """Removes the run's files, and whatever it wrote elsewhere in the scratch root (/tmp)."""
    for entry in os.scandir(directory):
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            pass
    return not os.listdir(directory)  # what we cannot remove, a fresh sandbox will not have


def _output_tail(scratch: str, limit: int = 2000) -> str:
    try:
        with open(os.path.join(scratch, ".output"), "rb") as output:
            output.seek(0, os.SEEK_END)
            output.seek(max(0, output.tell() - limit))
            return output.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _read_exact(stream, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _can_switch_to(uid: int, scratch_root: str, process_limit: int) -> bool:
    """Whether a child running as `uid` still reads the interpreter's library and
    reaches the scratch directory (a venv in a private home would be unreadable)."""
    if uid < 0 or os.geteuid() != 0:
        return False
    pid = os.fork()
    if pid == 0:
        try:
            child.switch_user(uid, process_limit)
            readable = os.access(os.path.dirname(os.__file__), os.R_OK | os.X_OK) and os.access(scratch_root, os.X_OK)
            os._exit(0 if readable else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _drop_capabilities(libc) -> None:
    """Gives up every capability: used when programs must run as the harness's own uid."""
    libc.capset(ctypes.byref(_CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)), (_CapData * 2)())


_libc = None


def main() -> None:
    global _libc
    scratch_root = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
    uid = int(sys.argv[2]) if len(sys.argv) > 2 else -1
    process_limit = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    libc = _libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # no setuid binary gives a program privileges back
    if uid >= 0 and os.geteuid() == 0:
        os.chmod(scratch_root, 0o1777)  # like /tmp, for programs running as another uid
    if not _can_switch_to(uid, scratch_root, process_limit):
        uid = -1
        _drop_capabilities(libc)
        # Programs run as our own uid: they must not trace (or write into) this process.
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    for name in PRELOADED:
        try:
            __import__(name)
        except ImportError:
            pass
    requests, replies = sys.stdin.buffer, sys.stdout.buffer
    counter = 0
    while True:
        header = _read_exact(requests, 8)
        if header is None:
            return
        body = _read_exact(requests, struct.unpack(">Q", header)[0])
        if body is None:
            return
        counter += 1
        reply = serve_one(json.loads(body), scratch_root, counter, uid, process_limit)
        data = json.dumps(reply).encode()
        replies.write(struct.pack(">Q", len(data)) + data)
        replies.flush()


if __name__ == "__main__":
    main()
