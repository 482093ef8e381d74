"""The server that runs inside each sandbox. Standard library only.

Started once per sandbox (`python -I harness.py SCRATCH UID JUDGE_UID PROCESS_LIMIT
PRIVATE_IPC`), it
imports the modules programs commonly use, forks the spawner (spawner.py) before it reads
any request, then serves requests read from stdin. For each one it makes three pipes
and an output file in memory, has the spawner start the program's process on them, and
forks a judge (judge.py) that runs the test and calls the program; it waits for both
with a deadline, kills every process the program left behind, removes its files and any
System V IPC object it made, and writes one reply to stdout. It ends when stdin reaches
end of file or hangs up, even in the middle of a run: the host that owned it is gone.

Wire format, both ways: an 8-byte big-endian length, then that many bytes of JSON.
Request: {"code", "test", "context", "approx", "cpu_s", "wall_s", "memory_mb",
"output_bytes", "judge_cpu_s", "judge_wall_s"}. Reply: how the run ended (outcome,
stage, frames...), "tests" (one [status, returned, expected, error, call] per assert),
"first_failure", "names", "judge_error" when the judge overran its limits, "exit_code",
"duration_s", "output_tail", "clean".

Who holds what: this process (root in the jail) holds requests; the spawner was forked
before the first one, so the program's process, forked from the spawner, never holds a
test, a plan or a byte of any request. The judge is forked from this process per run and
runs as an unprivileged uid of its own (or, when we cannot switch users, as ours without
capabilities), not dumpable: the program's uid can neither signal nor trace it. Nothing
here opens a path the program could have replaced: the output is a memfd, the scratch
directory is made and removed through descriptors, never following links.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # -I leaves the script's folder out
import findings  # noqa: E402  (this folder)
import processes  # noqa: E402
import judge_process  # noqa: E402
import spawner  # noqa: E402
import scratch  # noqa: E402

PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
JUDGE_PROCESS_LIMIT = 8
OUTPUT_TAIL = 2000
PRELOADED = (
    "math re string collections itertools functools heapq bisect typing hashlib random "
    "statistics fractions decimal copy operator datetime json array cmath numbers"
).split()


class _Settings:
    scratch_root = "/tmp"
    uid = -1
    judge_uid = -1
    process_limit = 0
    private_ipc = False
    libc = None
    spawner_pid = 0
    spawner: socket.socket | None = None


# ------------------------------------------------------------------ processes


def _kill_leftovers() -> bool:
    """Kills every process left behind (orphans reparent to us: we are a subreaper), the
    spawner excepted. False when some could not be removed: the host recycles the sandbox."""
    me = os.getpid()
    deadline = time.monotonic() + 1.0  # killed processes may take a moment to be scheduled to die
    while time.monotonic() < deadline:
        try:
            while True:
                pid, _status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
                if pid == _Settings.spawner_pid:
                    _hang_up()  # the spawner is gone: this sandbox can start no more programs
                if pid == _judge.pid:
                    _judge.forget()
        except ChildProcessError:
            return True
        leftovers = [pid for pid in processes.children_of(me) if pid not in (_Settings.spawner_pid, _judge.pid)]
        if not leftovers:
            return True
        for pid in leftovers:
            processes.kill_group(pid)
        time.sleep(0.002)
    return False


def _hang_up() -> None:
    """The host is gone (or the sandbox broke): so is everything this sandbox runs."""
    processes.kill_all_below(os.getpid())
    os._exit(0)


def _spawner_lost() -> bool:
    """Whether the spawner has ended, or is ending with a SIGKILL not yet acted on."""
    try:
        with open(f"/proc/{_Settings.spawner_pid}/status") as status:
            fields = dict(line.split(":", 1) for line in status if ":" in line)
    except OSError:
        return True
    pending = int(fields.get("SigPnd", "0").strip() or "0", 16) | int(fields.get("ShdPnd", "0").strip() or "0", 16)
    return fields.get("State", "").strip()[:1] in ("Z", "X") or bool(pending & (1 << (signal.SIGKILL - 1)))


def _reap(pid: int) -> int:
    """The wait status of a program's process that has ended (the spawner is its parent)."""
    _ask_spawner(f"reap {pid}".encode(), [])
    return _spawner_answer()


def _ask_spawner(message: bytes, fds: list[int]) -> None:
    try:
        socket.send_fds(_Settings.spawner, [message], fds)
    except OSError:
        _hang_up()  # the spawner is gone: this sandbox can start no more programs


def _spawner_answer() -> int:
    """The spawner's answer to the last request: a pid, or a wait status."""
    try:
        return int(_Settings.spawner.recv(32) or b"x")
    except (OSError, ValueError):
        _hang_up()


def _judge_setup(memory_mb: int, keep: int) -> None:
    """In a new judge process, before it serves: nothing of the harness's, its own limits and uid."""
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(null, target)
    processes.close_except({keep})
    memory = min(memory_mb, judge_process.MEMORY_LIMIT_MB) << 20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if _Settings.judge_uid >= 0:
        limit = judge_process.PROCESS_LIMIT
        resource.setrlimit(resource.RLIMIT_NPROC, (limit, limit))
        os.setgroups([])
        os.setgid(_Settings.judge_uid)
        os.setuid(_Settings.judge_uid)
    elif _Settings.libc is not None:
        processes.drop_capabilities(_Settings.libc)
    if _Settings.libc is not None:
        _Settings.libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


_judge = judge_process.JudgeProcess(_judge_setup)


class _Run:
    """What the harness watches while a run goes on."""

    def __init__(self, program: int, findings_fd: int) -> None:
        self.program, self.findings_fd = program, findings_fd
        self.written = bytearray()
        self.program_ended = False
        self.deadline_kill = False     # the program was killed at its wall-clock deadline
        self.judging = True
        self.judge_status: int | None = None
        self.overdue = False


def _wait(run: _Run, wall_s: float, judge_wall_s: float) -> float:
    """Waits until the judge has judged (or died, or overran) and the program has ended;
    kills the program at its deadline or once the judge is done with it. Seconds taken."""
    started = time.monotonic()
    program_deadline, judge_deadline = started + wall_s, started + wall_s + judge_wall_s
    program_fd, judge_fd = os.pidfd_open(run.program), os.pidfd_open(_judge.pid)
    poller = select.poll()
    for fd in (program_fd, judge_fd, run.findings_fd):
        poller.register(fd, select.POLLIN)
    poller.register(0, 0)  # the host hanging up
    killed = False
    try:
        while run.judging or not run.program_ended:
            now = time.monotonic()
            if not run.program_ended and not killed and (now >= program_deadline or not run.judging):
                processes.kill_group(run.program)
                killed, run.deadline_kill = True, now >= program_deadline
            if run.judging and now >= judge_deadline:
                run.judge_status, run.overdue, run.judging = _judge.stop(), True, False
                poller.unregister(judge_fd)
            wait = (program_deadline if not killed else judge_deadline if run.judging else now + 1.0) - now
            for fd, _event in poller.poll(max(0.0, min(wait, 1.0)) * 1000):
                if fd == 0:
                    _hang_up()
                elif fd == run.findings_fd and run.judging:
                    open_ = _drain(run.findings_fd, run.written)
                    if not open_ or run.written.endswith(findings.DONE) or run.written.endswith(findings.LAST):
                        run.judging = False
                        poller.unregister(run.findings_fd)
                        if not run.written.endswith((findings.DONE, findings.LAST)):
                            poller.unregister(judge_fd)
                            run.judge_status = _judge.reaped()  # it closed its findings: it is ending
                elif fd == judge_fd and _judge.pid is not None:
                    poller.unregister(judge_fd)
                    run.judging = False
                    run.judge_status = _judge.reaped()
                elif fd == program_fd and not run.program_ended:
                    run.program_ended = True  # its status is asked for only when it matters
                    poller.unregister(program_fd)
    finally:
        os.close(program_fd)
        os.close(judge_fd)
    if run.written.endswith(findings.LAST) and _judge.pid is not None:
        _judge.reaped()
    return time.monotonic() - started


def _drain(fd: int, buffer: bytearray) -> bool:
    """Reads what is available; False once the pipe is at end of file."""
    while len(buffer) < findings.FINDINGS_LIMIT:
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if not chunk:
            return False
        buffer.extend(chunk)
    return False


def _judge_death(run: _Run, request: dict) -> str:
    if run.overdue:
        return f"took more than {request.get('judge_wall_s', 5.0):g} s"
    status = run.judge_status
    if status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU:
        return f"used more than {request.get('judge_cpu_s', 2.0):g} s of CPU time"
    if len(run.written) >= findings.FINDINGS_LIMIT:
        return "produced too many findings"
    code = os.waitstatus_to_exitcode(status) if status is not None else "unknown"
    return f"ended the judge (exit status {code}, out of memory?)"


def serve_one(body: bytes, counter: int) -> dict:
    request = json.loads(body)
    workdir = scratch.make(_Settings.scratch_root, f"run-{counter}", _Settings.uid)
    output = os.memfd_create("output", os.MFD_CLOEXEC)
    calls_read, calls_write = os.pipe()
    answers_read, answers_write = os.pipe()
    findings_read, findings_write = os.pipe()
    limits = {key: request[key] for key in ("cpu_s", "wall_s", "memory_mb", "output_bytes")}
    limits.update(scratch=workdir, uid=_Settings.uid, process_limit=_Settings.process_limit)
    # The spawner forks while the judge reads its job: neither waits for the other.
    _ask_spawner(json.dumps(limits).encode(), [calls_read, answers_write, output])
    os.close(calls_read)
    os.close(answers_write)
    judge_fds = [calls_write, answers_read, findings_write]
    _judge.submit(body, judge_fds, request["memory_mb"])
    for fd in judge_fds:
        os.close(fd)
    program = _spawner_answer()
    os.set_blocking(findings_read, False)
    run = _Run(program, findings_read)
    try:
        elapsed = _wait(run, request["wall_s"], request.get("judge_wall_s", 5.0))
    finally:
        os.close(findings_read)
    if _spawner_lost():  # the program killed it (it can, under one uid): never a pass
        _hang_up()
    clean = _kill_leftovers()
    written = bytes(run.written)
    finished = written.endswith(findings.DONE) or written.endswith(findings.LAST)
    death = "" if finished else _judge_death(run, request)
    if not finished and _judge.pid is not None:
        _judge.stop()
    reply = findings.assemble(written.split(b"\n")[:-1], request.get("sites", 0), _judge.pending_site, death)
    if run.deadline_kill and reply["outcome"] in ("no_reply", "timeout"):
        reply["outcome"] = "hard_timeout" if reply["outcome"] == "no_reply" else "timeout"
        reply.setdefault("frames", [])
    elif reply["outcome"] == "no_reply":  # it ended without a word: how?
        status = _reap(run.program)
        reply["exit_code"] = os.waitstatus_to_exitcode(status) if status >= 0 else None
    reply["duration_s"] = elapsed
    reply["output_tail"] = _tail(output)
    os.close(output)
    reply["clean"] = scratch.empty(_Settings.scratch_root) and scratch.no_ipc_left(_Settings.uid, _Settings.private_ipc) and clean
    return reply


def _tail(fd: int, limit: int = OUTPUT_TAIL) -> str:
    size = os.fstat(fd).st_size
    return os.pread(fd, limit, max(0, size - limit)).decode("utf-8", "replace")


# ------------------------------------------------------------------ start


def _read_exact(stream, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def _can_switch_to(uid: int) -> bool:
    """Whether a process running as `uid` still reads the interpreter's library and
    reaches the scratch directory (a venv in a private home would be unreadable)."""
    if uid < 0 or os.geteuid() != 0:
        return False
    pid = os.fork()
    if pid == 0:
        try:
            spawner.switch_user(uid, _Settings.process_limit)
            readable = os.access(os.path.dirname(os.__file__), os.R_OK | os.X_OK) and os.access(_Settings.scratch_root, os.X_OK)
            os._exit(0 if readable else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _add_site_packages() -> None:
    """The interpreter's site-packages on the path, for programs that import numpy and the
    like, without running its .pth files (`-S`): an editable install's finder, or any other
    start-up hook, would run in every program and name what installed it."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    venv = os.path.dirname(os.path.dirname(sys.executable))
    prefixes = [venv] if os.path.exists(os.path.join(venv, "pyvenv.cfg")) else [sys.prefix]
    for prefix in prefixes:
        folder = os.path.join(prefix, "lib", version, "site-packages")
        if os.path.isdir(folder) and folder not in sys.path:
            sys.path.append(folder)


def _start_spawner() -> None:
    """Forked before any request is read: the programs' processes descend from it."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        try:
            ours.close()
            spawner.spawner(theirs)
        finally:
            os._exit(0)
    theirs.close()
    _Settings.spawner, _Settings.spawner_pid = ours, pid


def main() -> None:
    args = sys.argv[1:] + [None] * 5
    _Settings.scratch_root = args[0] or "/tmp"
    _Settings.uid = int(args[1] or -1)
    _Settings.judge_uid = int(args[2] or -1)
    _Settings.process_limit = int(args[3] or 0)
    _Settings.private_ipc = args[4] == "1"
    libc = _Settings.libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # no setuid binary gives a program privileges back
    if _Settings.uid >= 0 and os.geteuid() == 0:
        os.chmod(_Settings.scratch_root, 0o1777)  # like /tmp, for programs running as another uid
    if not _can_switch_to(_Settings.uid):
        _Settings.uid = _Settings.judge_uid = -1
        processes.drop_capabilities(libc)
        libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)  # programs run as our uid: they must not trace us
    os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    _add_site_packages()
    for name in PRELOADED:
        try:
            __import__(name)
        except ImportError:
            pass
    _start_spawner()
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
        data = json.dumps(serve_one(body, counter)).encode()
        del body  # the request's bytes are not kept past its run
        replies.write(struct.pack(">Q", len(data)) + data)
        replies.flush()


if __name__ == "__main__":
    main()
