"""The fork-server that runs inside each sandbox. Standard library only.

It is started once per sandbox (`python -I harness.py SCRATCH UID PROCESS_LIMIT`),
imports the modules programs commonly use, then serves requests read from stdin: for
each one it forks a child that runs the program and its tests under resource limits (as
UID when it may switch to it, -1 for no switch), waits for it with a deadline, kills
every process the program left behind, and writes one reply to stdout. It ends when
stdin reaches end of file or hangs up, even in the middle of a program: the host that
owned it is gone.

Wire format, both ways: an 8-byte big-endian length, then that many bytes of JSON.
Request: {"code", "test", "cpu_s", "wall_s", "memory_mb", "output_bytes"}.
Reply: a dict of facts (outcome, counts, failing assert, frames...) that
persd.execution.feedback turns into text on the host side.

What this does NOT protect against: the program runs in the same interpreter as the
child's half of the harness, so code written deliberately to forge the reply could do so.
The verdict is robust to accidents (exit, crash, kill, hang, huge output, huge memory);
the host is protected by the sandbox around this process, not by this file.
"""

from __future__ import annotations

import ast
import ctypes
import json
import mmap
import os
import re
import resource
import select
import shutil
import signal
import struct
import sys
import time

PROGRAM_FILE = "program.py"
TEST_FILE = "test.py"
REPLY_LIMIT = 256 * 1024
TEXT_LIMIT = 300  # characters kept of one value's repr, as LiveCodeBench does
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
PRELOADED = (
    "math re string collections itertools functools heapq bisect typing hashlib random "
    "statistics fractions decimal copy operator datetime json array cmath numbers"
).split()


class _Timeout(BaseException):
    """Raised by the soft timer; a BaseException so `except Exception` cannot swallow it."""


# ---------------------------------------------------------------- child side


def _clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _safe_repr(value) -> str:
    try:
        return _clip(repr(value))
    except BaseException as error:  # a __repr__ can raise anything
        return f"<unrepresentable: {type(error).__name__}>"


def _line_of(source_lines: list[str], lineno: int) -> str:
    return source_lines[lineno - 1].strip() if 0 < lineno <= len(source_lines) else ""


def _frames(tb, sources: dict[str, list[str]]) -> list[dict]:
    """Traceback frames that belong to the program or the test, never the harness."""
    frames = []
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename in sources:
            frames.append(
                {
                    "file": filename,
                    "line": tb.tb_lineno,
                    "function": tb.tb_frame.f_code.co_name,
                    "source": _line_of(sources[filename], tb.tb_lineno),
                }
            )
        tb = tb.tb_next
    return frames


def _instrument_asserts(tree: ast.Module) -> tuple[ast.Module, dict[int, ast.Assert]]:
    """Follow every assert with a call that records it passed; index asserts by line."""
    asserts: dict[int, ast.Assert] = {}

    class Recorder(ast.NodeTransformer):
        def visit_Assert(self, node: ast.Assert):
            asserts[node.lineno] = node
            mark = ast.Expr(
                ast.Call(ast.Name("__persd_passed__", ast.Load()), [ast.Constant(node.lineno)], [])
            )
            return [node, ast.copy_location(mark, node)]

    tree = ast.fix_missing_locations(Recorder().visit(tree))
    return tree, asserts


def _program_functions(frame) -> dict[str, str]:
    """Names in the failing frame bound to functions the program defined -> real names."""
    names = {}
    for scope in (frame.f_globals, frame.f_locals):
        for name, value in scope.items():
            code = getattr(value, "__code__", None)
            if code is not None and code.co_filename == PROGRAM_FILE:
                names[name] = getattr(value, "__name__", name)
    return names


def _describe_failed_assert(node: ast.Assert, test_source: str, frame) -> dict:
    """The failing assert as readable source, and what the function under test returned."""
    functions = _program_functions(frame)
    shown = " ".join((ast.get_source_segment(test_source, node) or "").split())
    for alias, real in functions.items():
        if alias != real:
            shown = re.sub(rf"\b{re.escape(alias)}\(", f"{real}(", shown)
    facts = {"test_source": _clip(shown, 1000)}
    call = next(
        (
            sub
            for sub in ast.walk(node.test)
            if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) and sub.func.id in functions
        ),
        None,
    )
    if call is not None:
        shown_call = ast.unparse(call)
        alias = call.func.id
        facts["call"] = _clip(re.sub(rf"^{re.escape(alias)}\(", f"{functions[alias]}(", shown_call), 500)
        try:
            value = eval(compile(ast.Expression(call), TEST_FILE, "eval"), frame.f_globals, frame.f_locals)
            facts["actual"] = _safe_repr(value)
        except BaseException as error:
            facts["actual_error"] = _clip(f"{type(error).__name__}: {error}")
        expected = _compared_with(node, call)
        if expected is not None:
            try:
                facts["expected"] = _safe_repr(eval(compile(ast.Expression(expected), TEST_FILE, "eval"), frame.f_globals, frame.f_locals))
            except BaseException:
                pass
    if node.msg is not None:
        try:
            facts["message"] = _clip(str(eval(compile(ast.Expression(node.msg), TEST_FILE, "eval"), frame.f_globals, frame.f_locals)))
        except BaseException:
            pass
    return facts


def _compared_with(node: ast.Assert, call: ast.Call):
    """The other side of `assert call == value` (either order), else None."""
    test = node.test
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        left, right = test.left, test.comparators[0]
        if left is call:
            return right
        if right is call:
            return left
    return None


def _last_frame_in(tb, filename: str):
    found = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            found = tb
        tb = tb.tb_next
    return found


def _run_program(request: dict, reply: dict) -> None:
    """Runs program then tests in one namespace; fills `reply` with what happened."""
    code, test = request["code"], request["test"]
    sources = {PROGRAM_FILE: code.splitlines(), TEST_FILE: test.splitlines()}
    try:
        test_tree = ast.parse(test, TEST_FILE)
    except SyntaxError as error:
        reply.update(outcome="bad_test", exc_type="SyntaxError", exc_message=f"{error.msg} (line {error.lineno})")
        return
    test_tree, asserts = _instrument_asserts(test_tree)
    passed_lines: set[int] = set()
    reply["tests_total"] = len(asserts)
    namespace = {"__name__": "__main__", "__builtins__": __builtins__, "__persd_passed__": passed_lines.add}
    stage = "program"
    try:
        exec(compile(code, PROGRAM_FILE, "exec"), namespace)
        stage = "test"
        exec(compile(test_tree, TEST_FILE, "exec"), namespace)
        reply["outcome"] = "completed"
    except _Timeout as error:
        reply.update(outcome="timeout", frames=_frames(error.__traceback__, sources))
    except AssertionError as error:
        failing = _last_frame_in(error.__traceback__, TEST_FILE)
        node = asserts.get(failing.tb_lineno) if failing else None
        if stage == "test" and node is not None and failing is not None and _last_frame_in(error.__traceback__, PROGRAM_FILE) is None:
            reply.update(outcome="assertion", **_describe_failed_assert(node, test, failing.tb_frame))
        else:  # an assert inside the program itself is the program's error
            reply.update(outcome="exception", exc_type="AssertionError", exc_message=_clip(str(error)),
                         frames=_frames(error.__traceback__, sources))
    except SyntaxError as error:
        where = PROGRAM_FILE if stage == "program" else TEST_FILE
        lineno = error.lineno or 0
        reply.update(outcome="exception", exc_type=type(error).__name__, exc_message=_clip(error.msg or ""),
                     frames=[{"file": where, "line": lineno, "function": "<module>", "source": _line_of(sources[where], lineno)}])
    except MemoryError as error:
        reply.update(outcome="memory", frames=_frames(error.__traceback__, sources))
    except OSError as error:
        if error.errno == 27:  # EFBIG: the output file hit RLIMIT_FSIZE (Python ignores SIGXFSZ)
            reply.update(outcome="output_limit")
        else:
            reply.update(outcome="exception", exc_type=type(error).__name__, exc_message=_clip(str(error)),
                         frames=_frames(error.__traceback__, sources))
    except SystemExit as error:
        reply.update(outcome="exit", exc_message=_clip(str(error.code)))
    except BaseException as error:
        reply.update(outcome="exception", exc_type=type(error).__name__, exc_message=_clip(str(error)),
                     frames=_frames(error.__traceback__, sources))
    finally:
        reply["stage"] = stage
        reply["tests_passed"] = len(passed_lines)


def _limit_resources(request: dict) -> None:
    memory = request["memory_mb"] * 1024 * 1024
    cpu = int(request["cpu_s"]) + 2
    for limit, value in (
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_FSIZE, request["output_bytes"]),
        (resource.RLIMIT_CPU, cpu),
        (resource.RLIMIT_CORE, 0),
    ):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass  # a lower hard limit is already in force: keep it (evalplus PR #225)


def _switch_user(uid: int, process_limit: int) -> None:
    """Becomes `uid` (no groups, no capabilities), capped at `process_limit` processes."""
    if process_limit > 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (process_limit, process_limit))
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def _child(request: dict, result_fd: int, scratch: str, uid: int, process_limit: int) -> None:
    os.setsid()
    os.chdir(scratch)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    output = os.open(os.path.join(scratch, ".output"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(output, 1)
    os.dup2(output, 2)
    sys.stdout = open(1, "w", closefd=False, buffering=1)
    sys.stderr = open(2, "w", closefd=False, buffering=1)

    def on_timer(signum, frame):
        raise _Timeout()

    signal.signal(signal.SIGPROF, on_timer)
    signal.signal(signal.SIGALRM, on_timer)
    reply: dict = {"outcome": "unknown"}
    # Address space freed after a MemoryError so the reply can still be built; an
    # untouched mapping costs nothing, unlike a zero-filled bytearray (3 ms a fork).
    reserve = mmap.mmap(-1, 16 * 1024 * 1024)
    _limit_resources(request)
    if uid >= 0:
        _switch_user(uid, process_limit)
    signal.setitimer(signal.ITIMER_PROF, request["cpu_s"])
    signal.setitimer(signal.ITIMER_REAL, max(0.05, request["wall_s"] - 0.25))
    try:
        _run_program(request, reply)
    except BaseException:  # the timer fired inside the harness's own handling
        if reply["outcome"] == "unknown":
            reply["outcome"] = "timeout"
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        reserve.close()
    try:
        sys.stdout.flush()
    except BaseException:
        pass
    data = json.dumps(reply).encode()[:REPLY_LIMIT]
    try:
        os.write(result_fd, struct.pack(">Q", len(data)) + data)
    finally:
        os._exit(0)


# --------------------------------------------------------------- server side


def _kill_leftovers() -> bool:
    """Kills every process left behind; orphans reparent to us (we are a subreaper).

    Returns False when some could not be removed, so the host recycles the sandbox.
    """
    me = os.getpid()
    for _ in range(50):
        try:
            while True:  # reap what has already died
                pid, _status = os.waitpid(-1, os.WNOHANG)
                if pid == 0:
                    break
        except ChildProcessError:
            return True
        for pid in _children_of(me):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.002)
    return False


def _children_of(parent: int) -> list[int]:
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
    while len(buffer) < REPLY_LIMIT + 8:
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
                    _kill_leftovers()
                    os._exit(0)
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


def _decode_reply(data: bytes) -> dict | None:
    if len(data) < 8:
        return None
    size = struct.unpack(">Q", data[:8])[0]
    try:
        return json.loads(data[8 : 8 + size])
    except ValueError:
        return None


def serve_one(request: dict, scratch_root: str, counter: int, uid: int = -1, process_limit: int = 0) -> dict:
    scratch = os.path.join(scratch_root, f"run-{counter}")
    os.makedirs(scratch, mode=0o700, exist_ok=True)
    if uid >= 0:
        os.chown(scratch, uid, uid)
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            _child(request, write_fd, scratch, uid, process_limit)
        finally:
            os._exit(70)
    os.close(write_fd)
    try:
        data, status, elapsed = _wait_for(pid, read_fd, request["wall_s"])
    finally:
        os.close(read_fd)
    reply = _decode_reply(data) or {"outcome": "no_reply"}
    if status is None:
        reply.setdefault("frames", [])
        if reply["outcome"] in ("no_reply", "unknown"):
            reply["outcome"] = "hard_timeout"
    elif reply["outcome"] == "no_reply":
        reply["exit_code"] = os.waitstatus_to_exitcode(status)
    reply["duration_s"] = elapsed
    reply["output_tail"] = _output_tail(scratch)
    reply["clean"] = _kill_leftovers() and _empty(scratch_root)
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
            _switch_user(uid, process_limit)
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


def main() -> None:
    scratch_root = sys.argv[1] if len(sys.argv) > 1 else "/tmp"
    uid = int(sys.argv[2]) if len(sys.argv) > 2 else -1
    process_limit = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # no setuid binary gives a program privileges back
    if uid >= 0 and os.geteuid() == 0:
        os.chmod(scratch_root, 0o1777)  # like /tmp, for programs running as another uid
    if not _can_switch_to(uid, scratch_root, process_limit):
        uid = -1
        _drop_capabilities(libc)
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
