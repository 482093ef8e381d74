"""One long-lived sandbox: a bubblewrap jail running the fork-server in jail/harness.py.

What the jail (bwrap: new mount, pid, network, ipc, uts and cgroup namespaces, and a
user namespace too when we are not root) protects:
- File system: it sees, read-only, the interpreter, the system's /usr and libraries, and
  from /etc only what the dynamic loader needs (ld.so.cache, ld.so.conf, ld.so.conf.d)
  and localtime, plus a two-line passwd and group made up for it. No home, no project,
  no sessions, no /etc/shadow or /etc/hostname. A private tmpfs /tmp is the only
  writable place.
- Network: none at all (a new network namespace has not even a usable loopback).
- Processes: its own pid namespace, so every process started inside ends with it, and it
  ends with the process that owns the Executor (see executor.py for why that needs one
  long-lived launcher thread). At most PROCESS_LIMIT processes and threads at once,
  harness included, through a cgroup pids.max (v2, or the v1 pids hierarchy) where this
  host lets us create one, else RLIMIT_NPROC on the programs' own uid.
- Privileges: when the host runs us as root, programs run as an unprivileged uid of
  their own sandbox (no capabilities, no_new_privs), so they cannot read root-only files
  bound into the jail, signal or trace the harness, or fork past RLIMIT_NPROC. The
  harness keeps only the capabilities it needs to switch to that uid, kill what programs
  leave behind and remove their scratch files.
Per program, the harness sets memory, CPU time, wall time and output caps; the judge
that evaluates the test's asserts (jail/judge.py) has CPU, memory and wall caps of its own.

What it does NOT protect against: kernel exploits (the jail shares the host's kernel;
there is no seccomp filter); CPU and memory pressure on the host within those caps
(there is no cgroup cpu or memory limit); and, when we are not root, programs run as
the user who started persd (inside the jail), and without a writable pids cgroup
nothing caps their number of processes but the wall-clock limit.

Where bwrap is missing or cannot create namespaces, `isolation="process"` runs the same
harness as a plain child process: resource limits, its own session, leftover processes
killed, the pids cgroup when available, and the unprivileged uid when that uid can read
the interpreter, but the file system and the network are NOT isolated. The Executor says
so loudly when it falls back.
"""

from __future__ import annotations

import itertools
import json
import os
import select
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from persd.execution.cgroup import PROCESS_LIMIT, PidsCgroup

JAIL = Path(__file__).with_name("jail")  # harness.py and the modules it imports: bound at JAIL_MOUNT
JAIL_MOUNT = "/opt/runner"  # a generic path: nothing a program sees names persd
HARNESS = JAIL / "harness.py"
ETC_PATHS = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime")
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", *ETC_PATHS)
SCRATCH_BYTES = 256 * 1024 * 1024
REPLY_LIMIT = 64 * 1024 * 1024  # the harness's replies are clipped far below this
# Each sandbox's programs get a uid of their own: RLIMIT_NPROC counts per uid, so a
# shared one would let a fork bomb in one sandbox starve the others.
UID_BASE = 1_000_000
JUDGE_UID_OFFSET = 1_000_000  # each sandbox's judge runs as program uid + this: neither can signal the other
# What the root harness needs: switch to the programs' uid, hand them their scratch
# directory, kill what they leave behind (other uid), remove their files (other owner,
# maybe in sticky directories).
HARNESS_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL", "CAP_DAC_OVERRIDE", "CAP_FOWNER")
_uids = itertools.count()


class SandboxError(RuntimeError):
    """The sandbox process died or stopped answering."""

    def __init__(self, message: str, exited: bool) -> None:
        super().__init__(message)
        self.exited = exited  # it died (rather than hung)


def bwrap_available() -> bool:
    return shutil.which("bwrap") is not None


def program_uid() -> int | None:
    """A fresh uid for one sandbox's programs, or None when we cannot switch users."""
    if os.geteuid() != 0:
        return None
    return UID_BASE + (os.getpid() % 1000) * 1000 + next(_uids) % 1000


VENV_MOUNT = "/opt/python"  # a virtual environment is bound here: its host path may name persd


def _venv() -> str | None:
    return sys.prefix if sys.prefix != sys.base_prefix else None


def jail_python(python: str) -> str:
    """Where `python` is inside the jail (a venv's interpreter is under VENV_MOUNT)."""
    venv = _venv()
    if venv and (python == venv or python.startswith(venv + "/")):
        return VENV_MOUNT + python[len(venv):]
    return python


def _read_only_binds(python: str) -> list[str]:
    """Bind the system and this interpreter read-only; merged-/usr symlinks stay symlinks.
    The virtual environment only when the sandbox's interpreter is its own."""
    venv = _venv() if jail_python(python) != python else None
    paths = list(SYSTEM_PATHS)
    for prefix in {sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}:
        paths.append(prefix)
    args: list[str] = []
    made: set[str] = set()
    for path in sorted(set(paths)):
        # Parents made world-traversable first: bwrap would copy their host modes, and a
        # private home (/root is 0700) would hide a venv inside it from the programs' uid.
        for parent in map(str, reversed(Path(path).parents[:-1])):
            if parent not in made and not any(parent == p or parent.startswith(p + "/") for p in paths):
                args += ["--dir", parent]
                made.add(parent)
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.exists(path):
            args += ["--ro-bind", path, path]
    if venv:
        args += ["--perms", "0755", "--dir", os.path.dirname(VENV_MOUNT), "--ro-bind", venv, VENV_MOUNT]
    return args


def _data_fd(text: str) -> int:
    """A descriptor holding `text`, for bwrap's --ro-bind-data and --args."""
    fd = os.memfd_create("data", 0)
    data = memoryview(text.encode())
    while data:
        data = data[os.write(fd, data):]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


def jail_files(uid: int | None) -> dict[str, str]:
    """The files the jail is given as copies (no host path shows in its mount table):
    a passwd and group made up for it, and the harness's modules."""
    users, groups = "root:x:0:0:root:/root:/usr/sbin/nologin\n", "root:x:0:\n"
    if uid is not None:
        users += f"sandbox:x:{uid}:{uid}:sandbox:/tmp:/usr/sbin/nologin\n"
        groups += f"sandbox:x:{uid}:\n"
    files = {"/etc/passwd": users, "/etc/group": groups}
    files.update((f"{JAIL_MOUNT}/{path.name}", path.read_text()) for path in sorted(JAIL.glob("*.py"))
                 if path.name != "__init__.py")
    return files


def bwrap_command(python: str, uid: int | None = None, files: dict[str, int] | None = None) -> list[str]:
    """bwrap's command line; `files`: jail path -> a descriptor holding its content."""
    privileges = ["--unshare-all", "--cap-drop", "ALL"]
    if uid is not None:
        # No user namespace: bwrap's would map uid 0 alone, leaving no uid to switch to.
        privileges = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                      "--unshare-cgroup-try", "--cap-drop", "ALL"]
        privileges += [arg for cap in HARNESS_CAPS for arg in ("--cap-add", cap)]
    copies = [arg for path, fd in (files or {}).items() for arg in ("--perms", "0644", "--ro-bind-data", str(fd), path)]
    return [
        shutil.which("bwrap") or "bwrap",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        *privileges,
        # The scratch tmpfs first: an interpreter living under /tmp (a venv in a CI
        # checkout there) is then bound on top of it instead of being hidden by it.
        "--size", str(SCRATCH_BYTES), "--tmpfs", "/tmp",
        *_read_only_binds(python),
        "--perms", "0755", "--dir", JAIL_MOUNT,
        *copies,
        "--proc", "/proc",
        "--ro-bind", "/proc/sys", "/proc/sys",  # uid 0 in the jail must not write kernel settings
        "--dev", "/dev",
        "--chdir", "/tmp",
        "--setenv", "PATH", "/usr/bin:/bin",
        "--setenv", "HOME", "/tmp",
        "--setenv", "PYTHONHASHSEED", "0",
        "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
        jail_python(python), "-I", "-S", f"{JAIL_MOUNT}/harness.py", *_harness_args("/tmp", uid, private_ipc=True),
    ]


def _harness_args(scratch: str, uid: int | None, private_ipc: bool) -> list[str]:
    judge = -1 if uid is None else uid + JUDGE_UID_OFFSET
    return [scratch, str(-1 if uid is None else uid), str(judge), str(PROCESS_LIMIT), "1" if private_ipc else "0"]


def _process_command(python: str, scratch: str, uid: int | None) -> list[str]:
    return [python, "-I", "-S", str(HARNESS), *_harness_args(scratch, uid, private_ipc=False)]


class Sandbox:
    """A harness process that runs one request at a time. Not thread-safe: one owner.

    The thread that creates it must outlive it: bwrap's --die-with-parent follows that
    thread (PR_SET_PDEATHSIG), not the process.
    """

    def __init__(self, isolation: str, python: str | None = None, uid: int | None = -1) -> None:
        self.isolation = isolation
        self.served = 0
        self._scratch: str | None = None
        # PERSD_SANDBOX_PYTHON: an interpreter of the sandbox's own (persd's venv shows persd).
        python = python or os.environ.get("PERSD_SANDBOX_PYTHON") or sys.executable
        uid = program_uid() if uid == -1 else uid
        data_fds: tuple[int, ...] = ()
        if isolation == "bwrap":
            files = {path: _data_fd(text) for path, text in jail_files(uid).items()}
            command = bwrap_command(python, uid, files)
            # Its arguments through a pipe: /proc/1/cmdline in the jail (bwrap) shows no host path.
            start = command.index(jail_python(python))
            arguments = _data_fd("\0".join(command[1:start]) + "\0")
            data_fds = (*files.values(), arguments)
            command = [command[0], "--args", str(arguments), *command[start:]]
            # bwrap's own processes (pid 1 in the jail among them) keep the environment they
            # start with, and /proc/1/environ shows it: give them none of the host's.
            env = {"PATH": "/usr/bin:/bin"}
        else:
            self._scratch = tempfile.mkdtemp(prefix="sandbox-", dir=_fast_tmp())
            command = _process_command(python, self._scratch, uid)
            env = {"PATH": "/usr/bin:/bin", "HOME": self._scratch, "PYTHONHASHSEED": "0",
                   "PYTHONDONTWRITEBYTECODE": "1"}
        self._cgroup = PidsCgroup.create()
        if self._cgroup is not None:
            command = self._cgroup.join_command(command)
        self._stderr = tempfile.TemporaryFile()
        try:
            self._process = subprocess.Popen(
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                env=env, start_new_session=True, pass_fds=data_fds,
            )
        except BaseException:
            if self._cgroup is not None:
                self._cgroup.remove()
            raise
        finally:
            for fd in data_fds:
                os.close(fd)

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    @property
    def pids_cgroup(self) -> Path | None:
        return self._cgroup.path if self._cgroup is not None else None

    def request(self, payload: dict, deadline_s: float) -> dict:
        """Sends one request; raises SandboxError when the sandbox dies or overruns."""
        data = json.dumps(payload).encode()
        try:
            self._process.stdin.write(struct.pack(">Q", len(data)) + data)
            self._process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            raise SandboxError(f"the sandbox stopped accepting work: {error}", exited=True) from error
        deadline = time.monotonic() + deadline_s
        size = struct.unpack(">Q", self._read(8, deadline))[0]
        if size > REPLY_LIMIT:
            raise SandboxError(f"the sandbox sent a reply of {size} bytes", exited=False)
        self.served += 1
        return json.loads(self._read(size, deadline))

    def _read(self, size: int, deadline: float) -> bytes:
        out = self._process.stdout
        fd = out.fileno()
        data = bytearray()
        while len(data) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise SandboxError("the sandbox did not answer in time", exited=False)
            chunk = os.read(fd, size - len(data))
            if not chunk:
                raise SandboxError(f"the sandbox exited ({self._describe_exit()})", exited=True)
            data.extend(chunk)
        return bytes(data)

    def _describe_exit(self) -> str:
        code = self._process.poll()
        self._stderr.seek(0)
        tail = self._stderr.read()[-500:].decode("utf-8", "replace").strip()
        return f"exit code {code}" + (f": {tail}" if tail else "")

    def close(self) -> None:
        """Ends the sandbox and, with it, every process inside."""
        if self._process.poll() is None:
            try:
                os.killpg(self._process.pid, 9)
            except ProcessLookupError:
                pass
        self._process.wait()
        if self._cgroup is not None:
            self._cgroup.remove()
        for stream in (self._process.stdin, self._process.stdout, self._stderr):
            try:
                stream.close()
            except OSError:
                pass
        if self._scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)


def _fast_tmp() -> str | None:
    """Scratch on tmpfs doubled throughput when measured; /dev/shm is tmpfs on Linux."""
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def probe(isolation: str) -> str | None:
    """Starts a sandbox and runs a trivial program; None when it works, else why not."""
    try:
        sandbox = Sandbox(isolation)
    except OSError as error:
        return str(error)
    try:
        reply = sandbox.request(
            {"code": "x = 1", "test": "assert x == 1", "cpu_s": 5, "wall_s": 5, "memory_mb": 1024,
             "output_bytes": 65536, "judge_cpu_s": 2, "judge_wall_s": 5},
            deadline_s=30,
        )
        return None if reply.get("outcome") == "completed" else f"unexpected reply {reply}"
    except SandboxError as error:
        return str(error)
    finally:
        sandbox.close()
