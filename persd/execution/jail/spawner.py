"""The spawner and the program's process around the program. Standard library only.

The harness forks the spawner (`spawner`) when it starts, before it reads any request,
so the spawner never holds a test, a plan, an expected value or a byte of any request:
it only receives "start one" with three descriptors (calls in, answers out, output) and
the run's limits, and forks the program's process (`run`): its own session, its limits,
its uid, its timers, then runner.serve. What that process leaves running when it ends is
reparented to the harness (a subreaper), which kills it.
"""

from __future__ import annotations

import gc
import json
import mmap
import os
import resource
import signal
import socket
import sys

import runner
import wire


def _limit_resources(limits: dict) -> None:
    memory = limits["memory_mb"] * 1024 * 1024
    for limit, value in ((resource.RLIMIT_AS, memory), (resource.RLIMIT_FSIZE, limits["output_bytes"]),
                         (resource.RLIMIT_CPU, int(limits["cpu_s"]) + 2), (resource.RLIMIT_CORE, 0)):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass  # a lower hard limit is already in force: keep it (evalplus PR #225)


def switch_user(uid: int, process_limit: int) -> None:
    """Becomes `uid` (no groups, no capabilities), capped at `process_limit` processes."""
    if process_limit > 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (process_limit, process_limit))
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def _on_timer(signum, frame):
    raise runner.Timeout()


def _forget_the_server() -> None:
    """The harness's modules out of sys.modules (this module keeps what it uses)."""
    ours = os.path.dirname(os.path.abspath(__file__))
    for name, module in list(sys.modules.items()):
        if os.path.dirname(os.path.abspath(getattr(module, "__file__", None) or "/")) == ours:
            del sys.modules[name]


def run(limits: dict, calls_fd: int, answers_fd: int, output_fd: int) -> None:
    """The program's process, from its first instruction to its end."""
    os.setsid()
    os.chdir(limits["scratch"])
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(output_fd, 1)
    os.dup2(output_fd, 2)
    for fd in (null, output_fd):
        os.close(fd)
    sys.stdout = open(1, "w", closefd=False, buffering=1)
    sys.stderr = open(2, "w", closefd=False, buffering=1)
    signal.signal(signal.SIGPROF, _on_timer)
    signal.signal(signal.SIGALRM, _on_timer)
    # Address space freed after a MemoryError so the last message can still be built.
    reserve = mmap.mmap(-1, 16 * 1024 * 1024)
    _limit_resources(limits)
    if limits["uid"] >= 0:
        switch_user(limits["uid"], limits["process_limit"])
    signal.setitimer(signal.ITIMER_PROF, limits["cpu_s"])
    signal.setitimer(signal.ITIMER_REAL, max(0.05, limits["wall_s"] - 0.25))
    try:
        runner.serve(calls_fd, answers_fd)
    except BaseException:
        reserve.close()
        try:
            wire.send(answers_fd, {"end": {"outcome": "timeout", "stage": "test"}})
        except BaseException:
            pass
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
    try:
        sys.stdout.flush()
    except BaseException:
        pass
    os._exit(0)


def _reap_ended() -> None:
    """Reaps the programs' processes that have ended and nobody asked about."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass


def spawner(sock: socket.socket) -> None:
    """The spawner's loop, until the harness hangs up: a "start" (the run's limits, with
    three descriptors) forks a program's process and answers its pid; a "reap PID"
    answers how that process ended (the harness watches it through a pidfd meanwhile, and
    asks only when the judge heard nothing from it); the others are reaped before the next
    start."""
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.close(null)
    _forget_the_server()
    gc.freeze()  # the collector then leaves the inherited objects alone: fewer copied pages per fork
    while True:
        try:
            data, fds, _flags, _address = socket.recv_fds(sock, 65536, 3)
        except OSError:
            os._exit(0)
        if not data:
            os._exit(0)
        if data.startswith(b"reap "):
            try:
                status = os.waitpid(int(data[5:]), 0)[1]
            except (ChildProcessError, ValueError):
                status = -1
            sock.sendall(str(status).encode())
            continue
        if len(fds) != 3:
            os._exit(0)
        _reap_ended()
        pid = os.fork()
        if pid == 0:
            try:
                sock.close()
                run(json.loads(data), *fds)
            finally:
                os._exit(0)
        for fd in fds:
            os.close(fd)
        sock.sendall(str(pid).encode())
