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
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

JAIL = Path(__file__).with_name("jail")  # harness.py, child.py, values.py: bound at /harness
HARNESS = JAIL / "harness.py"
ETC_PATHS = ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime")
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", *ETC_PATHS)
SCRATCH_BYTES = 256 * 1024 * 1024
REPLY_LIMIT = 64 * 1024 * 1024  # the harness's replies are clipped far below this
PROCESS_LIMIT = 256  # processes + threads at once in one sandbox, harness included
# Each sandbox's programs get a uid of their own: RLIMIT_NPROC counts per uid, so a
# shared one would let a fork bomb in one sandbox starve the others.
UID_BASE = 1_000_000
# What the root harness needs: switch to the programs' uid, hand them their scratch
# directory, kill what they leave behind (other uid), remove their files (other owner,
# maybe in sticky directories).
HARNESS_CAPS = ("CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_KILL", "CAP_DAC_OVERRIDE", "CAP_FOWNER")
_uids = itertools.count()
_sandbox_numbers = itertools.count()
_busy_cgroups: set[Path] = set()  # ours, closed, not yet empty enough to remove


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


def _read_only_binds() -> list[str]:
    """Bind the system and this interpreter read-only; merged-/usr symlinks stay symlinks."""
    paths = list(SYSTEM_PATHS)
    for prefix in {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}:
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
    return args


def _data_fd(text: str) -> int:
    """A pipe holding `text` for bwrap's --ro-bind-data (small: it fits the pipe buffer)."""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, text.encode())
    os.close(write_fd)
    return read_fd


def bwrap_command(python: str, uid: int | None = None, data_fds: tuple[int, int] | None = None) -> list[str]:
    privileges = ["--unshare-all", "--cap-drop", "ALL"]
    if uid is not None:
        # No user namespace: bwrap's would map uid 0 alone, leaving no uid to switch to.
        privileges = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                      "--unshare-cgroup-try", "--cap-drop", "ALL"]
        privileges += [arg for cap in HARNESS_CAPS for arg in ("--cap-add", cap)]
    identity = ["--perms", "0644", "--ro-bind-data", str(data_fds[0]), "/etc/passwd",
                "--perms", "0644", "--ro-bind-data", str(data_fds[1]), "/etc/group"] if data_fds else []
    return [
        "bwrap",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        *privileges,
        # The scratch tmpfs first: an interpreter living under /tmp (a venv in a CI
        # checkout there) is then bound on top of it instead of being hidden by it.
        "--size", str(SCRATCH_BYTES), "--tmpfs", "/tmp",
        *_read_only_binds(),
        *identity,
        "--ro-bind", str(JAIL), "/harness",
        "--proc", "/proc",
        "--dev", "/dev",
        "--chdir", "/tmp",
        "--setenv", "PATH", "/usr/bin:/bin",
        "--setenv", "HOME", "/tmp",
        "--setenv", "PYTHONHASHSEED", "0",
        "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
        python, "-I", "/harness/harness.py", "/tmp", str(-1 if uid is None else uid), str(PROCESS_LIMIT),
    ]


def _process_command(python: str, scratch: str, uid: int | None) -> list[str]:
    return [python, "-I", str(HARNESS), scratch, str(-1 if uid is None else uid), str(PROCESS_LIMIT)]


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
        path = parent / f"persd-{os.getpid()}-{next(_sandbox_numbers)}"
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
        for entry in parent.glob("persd-*-*"):
            owner = entry.name.split("-")[1]
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


class Sandbox:
    """A harness process that runs one request at a time. Not thread-safe: one owner.

    The thread that creates it must outlive it: bwrap's --die-with-parent follows that
    thread (PR_SET_PDEATHSIG), not the process.
    """

    def __init__(self, isolation: str, python: str | None = None, uid: int | None = -1) -> None:
        self.isolation = isolation
        self.served = 0
        self._scratch: str | None = None
        python = python or sys.executable
        uid = program_uid() if uid == -1 else uid
        data_fds: tuple[int, int] | None = None
        if isolation == "bwrap":
            users = "root:x:0:0:root:/root:/usr/sbin/nologin\n"
            groups = "root:x:0:\n"
            if uid is not None:
                users += f"sandbox:x:{uid}:{uid}:sandbox:/tmp:/usr/sbin/nologin\n"
                groups += f"sandbox:x:{uid}:\n"
            data_fds = (_data_fd(users), _data_fd(groups))
            command = bwrap_command(python, uid, data_fds)
            env = None
        else:
            self._scratch = tempfile.mkdtemp(prefix="persd-scratch-", dir=_fast_tmp())
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
                env=env, start_new_session=True, pass_fds=data_fds or (),
            )
        except BaseException:
            if self._cgroup is not None:
                self._cgroup.remove()
            raise
        finally:
            for fd in data_fds or ():
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
             "output_bytes": 65536},
            deadline_s=30,
        )
        return None if reply.get("outcome") == "completed" else f"unexpected reply {reply}"
    except SandboxError as error:
        return str(error)
    finally:
        sandbox.close()
