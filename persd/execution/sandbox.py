"""One long-lived sandbox: a bubblewrap jail running the fork-server in harness.py.

The jail (bwrap --unshare-all) sees a read-only file system made of the interpreter and
system libraries only (no home, no project, no sessions), a private tmpfs /tmp as
scratch, no network at all (a new network namespace has not even a usable loopback),
and its own pid namespace, so every process started inside ends with it. Resource
limits (memory, CPU, output size) are set per program by the harness.

Where bwrap is missing or cannot create namespaces, `isolation="process"` runs the same
harness as a plain child process: resource limits, its own session, leftover processes
killed, but the file system and the network are NOT isolated. The Executor says so
loudly when it falls back.
"""

from __future__ import annotations

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

HARNESS = Path(__file__).with_name("harness.py")
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
SCRATCH_BYTES = 256 * 1024 * 1024


class SandboxError(RuntimeError):
    """The sandbox process died or stopped answering."""


def bwrap_available() -> bool:
    return shutil.which("bwrap") is not None


def _read_only_binds() -> list[str]:
    """Bind the system and this interpreter read-only; merged-/usr symlinks stay symlinks."""
    paths = list(SYSTEM_PATHS)
    for prefix in {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}:
        paths.append(prefix)
    args: list[str] = []
    for path in sorted(set(paths)):
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def bwrap_command(python: str) -> list[str]:
    return [
        "bwrap",
        "--unshare-all",
        "--die-with-parent",
        "--new-session",
        "--clearenv",
        "--cap-drop", "ALL",
        # The scratch tmpfs first: an interpreter living under /tmp (a venv in a CI
        # checkout there) is then bound on top of it instead of being hidden by it.
        "--size", str(SCRATCH_BYTES), "--tmpfs", "/tmp",
        *_read_only_binds(),
        "--ro-bind", str(HARNESS), "/harness/harness.py",
        "--proc", "/proc",
        "--dev", "/dev",
        "--chdir", "/tmp",
        "--setenv", "PATH", "/usr/bin:/bin",
        "--setenv", "HOME", "/tmp",
        "--setenv", "PYTHONHASHSEED", "0",
        "--setenv", "PYTHONDONTWRITEBYTECODE", "1",
        python, "-I", "/harness/harness.py", "/tmp",
    ]


def _process_command(python: str, scratch: str) -> list[str]:
    return [python, "-I", str(HARNESS), scratch]


class Sandbox:
    """A harness process that runs one request at a time. Not thread-safe: one owner."""

    def __init__(self, isolation: str, python: str | None = None) -> None:
        self.isolation = isolation
        self.served = 0
        self._scratch: str | None = None
        python = python or sys.executable
        if isolation == "bwrap":
            command = bwrap_command(python)
            env = None
        else:
            self._scratch = tempfile.mkdtemp(prefix="persd-scratch-", dir=_fast_tmp())
            command = _process_command(python, self._scratch)
            env = {"PATH": "/usr/bin:/bin", "HOME": self._scratch, "PYTHONHASHSEED": "0",
                   "PYTHONDONTWRITEBYTECODE": "1"}
        self._stderr = tempfile.TemporaryFile()
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            env=env, start_new_session=True,
        )

    def request(self, payload: dict, deadline_s: float) -> dict:
        """Sends one request; raises SandboxError when the sandbox dies or overruns."""
        data = json.dumps(payload).encode()
        try:
            self._process.stdin.write(struct.pack(">Q", len(data)) + data)
            self._process.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            raise SandboxError(f"the sandbox stopped accepting work: {error}") from error
        deadline = time.monotonic() + deadline_s
        size = struct.unpack(">Q", self._read(8, deadline))[0]
        self.served += 1
        return json.loads(self._read(size, deadline))

    def _read(self, size: int, deadline: float) -> bytes:
        out = self._process.stdout
        fd = out.fileno()
        data = bytearray()
        while len(data) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise SandboxError("the sandbox did not answer in time")
            chunk = os.read(fd, size - len(data))
            if not chunk:
                raise SandboxError(f"the sandbox exited ({self._describe_exit()})")
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
