"""The judge's process: one per sandbox, long-lived, judging one run at a time. Standard library only.

The harness forks it (`JudgeProcess.ready`) and hands it each run as a job over a
Unix socket: an 8-byte length with three descriptors (calls to the program, answers
from it, findings for the harness), then the request's JSON. The judge (`serve`)
compiles the test (cached), runs it (judge.py), and ends its findings with DONE, or
with LAST when it has grown past RSS_LIMIT_KB and ends after this run.

Limits: RLIMIT_AS at the run's memory cap, an RLIMIT_CPU budget per run, a wall-clock
deadline kept by the harness; a judge that overruns any of them is killed and the next
run gets a fresh one. One long-lived judge rather than one per run: a fork of the
harness, its copy-on-write faults and its exit cost more than judging most programs
(measured: about 1.5 ms of a 3 ms run). It runs as an unprivileged uid of its own where
the harness may switch users, else as the harness's uid without capabilities; never
dumpable, so the program's uid can neither signal nor trace it.
"""

from __future__ import annotations

import ast
import functools
import json
import mmap
import os
import resource
import signal
import socket
import struct

import findings
import instrument
import judge
import prefetch

RSS_LIMIT_KB = 256 * 1024  # a judge that grew past this ends after its run
MEMORY_LIMIT_MB = 512      # the judge's address space at most (a test's expected values are small)
JOB_LIMIT = 8 * 1024 * 1024
PROCESS_LIMIT = 8           # processes the judge's uid may have (a test that forks)


@functools.lru_cache(maxsize=256)
def prepared(test: str, context: str) -> tuple:
    """(compiled test, (compiled task code, stub names) or None, names the test uses, the
    calls it makes first)."""
    calls = prefetch.leading_calls(ast.parse(test, "test.py"))
    _sites, tree = instrument.instrument(test, describe=False)
    used = frozenset(n.id for n in ast.walk(tree) if isinstance(n, ast.Name))
    code = compile(tree, "test.py", "exec", dont_inherit=True)
    task = None
    if context.strip():
        try:
            task_tree = ast.parse(context, "task.py")
            task = (compile(task_tree, "task.py", "exec", dont_inherit=True), frozenset(instrument.stub_names(task_tree)))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            task = None
    return code, task, used, calls


def _exactly(sock: socket.socket, size: int, first: bytes = b"") -> bytes:
    parts, left = [first], size - len(first)
    while left > 0:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            raise EOFError
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def serve(sock: socket.socket, page: mmap.mmap) -> None:
    """The judge's loop, until the harness hangs up or the judge has grown too large."""
    while True:
        try:
            head, fds, _flags, _address = socket.recv_fds(sock, 8, 3)
            if not head or len(fds) != 3:
                return
            size = struct.unpack(">Q", _exactly(sock, 8, head))[0]
            request = json.loads(_exactly(sock, min(size, JOB_LIMIT)))
        except (OSError, EOFError, ValueError):
            return
        calls_fd, answers_fd, out_fd = fds
        used = resource.getrusage(resource.RUSAGE_SELF)
        budget = int(used.ru_utime + used.ru_stime) + 1 + max(1, int(request.get("judge_cpu_s", 2)))
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        resource.setrlimit(resource.RLIMIT_CPU, (budget if hard == resource.RLIM_INFINITY else min(budget, hard), hard))
        try:
            rest = judge.judge(request, prepared(request["test"], request.get("context") or ""),
                               calls_fd, answers_fd, out_fd, page)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
            rest = (json.dumps({"e": {"outcome": "bad_test", "exc_message": findings.clip(str(error))}}) + "\n").encode()
        last = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > RSS_LIMIT_KB
        _write_all(out_fd, rest + (findings.LAST if last else findings.DONE))  # one write: one wake-up
        for fd in fds:
            os.close(fd)
        if last:
            return


class JudgeProcess:
    """The harness's handle on its judge: started on first use, replaced when it dies,
    overruns, grows, or the memory cap changes. `setup(memory_mb)` runs in the new
    process before it serves (descriptors, limits, uid)."""

    def __init__(self, setup) -> None:
        self.setup = setup
        self.pid: int | None = None
        self.memory_mb = 0
        self.page = mmap.mmap(-1, 8)
        self._sock: socket.socket | None = None

    def ready(self, memory_mb: int) -> None:
        if self.pid is not None and self.memory_mb != memory_mb:
            self.stop()
        if self.pid is None:
            self._start(memory_mb)

    def _start(self, memory_mb: int) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                self.setup(memory_mb, theirs.fileno())
                serve(theirs, self.page)
            finally:
                os._exit(0)
        theirs.close()
        self.pid, self.memory_mb, self._sock = pid, memory_mb, ours

    def submit(self, body: bytes, fds: list[int], memory_mb: int) -> None:
        """Hands the judge one run (a fresh judge if the last one died while idle)."""
        for _attempt in range(2):
            self.ready(memory_mb)
            struct.pack_into(">q", self.page, 0, -1)
            try:
                socket.send_fds(self._sock, [struct.pack(">Q", len(body))], fds)
                self._sock.sendall(body)
                return
            except OSError:
                self.stop()

    @property
    def pending_site(self) -> int:
        return struct.unpack_from(">q", self.page, 0)[0]

    def stop(self) -> int | None:
        """Kills the judge (if it has not ended); its wait status."""
        if self.pid is None:
            return None
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        return self.reaped()

    def reaped(self) -> int | None:
        """Waits for the judge to end; its wait status (None if it was reaped elsewhere)."""
        try:
            status = os.waitpid(self.pid, 0)[1]
        except ChildProcessError:
            status = None
        self.forget()
        return status

    def forget(self) -> None:
        """The judge has ended and been reaped."""
        if self._sock is not None:
            self._sock.close()
        self.pid, self._sock = None, None
