"""The forked child: runs one program, then its rewritten test, and reports as it goes.

Reports go to the result pipe as frames (an 8-byte big-endian length, then JSON):
{"r": K, "v": [leaf, ...], "n": {alias: name}} each time assert K is reached, with its
leaves encoded by values.encode ({"x": why} for a value that is not builtin data), and
{"e": facts} once at the end (outcome, stage, frames...). The judge (judge.py), not this
process, decides whether each assert held: the program shares this process and could
forge anything written here, but it never sees the expected values the judge holds.
Standard library only.
"""

from __future__ import annotations

import json
import mmap
import os
import resource
import signal
import struct
import sys

import values

PROGRAM_FILE = "program.py"
TEST_FILE = "test.py"
TEXT_LIMIT = 300  # characters kept of one message, as LiveCodeBench does
_write = os.write
_pack = struct.pack
_dumps = json.dumps
_encode, _decode, _NotBuiltin = values.encode, values.decode, values.NotBuiltin


class Timeout(BaseException):
    """Raised by the soft timer; a BaseException so `except Exception` cannot swallow it."""


class _Refused(BaseException):
    """An assert consumed a value that is not builtin data: that test stops there."""


def _clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _line_of(source_lines: list[str], lineno: int) -> str:
    return source_lines[lineno - 1].strip() if 0 < lineno <= len(source_lines) else ""


def _frames(tb, sources: dict[str, list[str]]) -> list[dict]:
    """Traceback frames that belong to the program or the test, never the harness."""
    frames = []
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename in sources:
            frames.append({"file": filename, "line": tb.tb_lineno, "function": tb.tb_frame.f_code.co_name,
                           "source": _line_of(sources[filename], tb.tb_lineno)})
        tb = tb.tb_next
    return frames


def _send(fd: int, message: dict) -> None:
    data = _dumps(message).encode()
    data = _pack(">Q", len(data)) + data
    while data:
        data = data[_write(fd, data):]


def _real_names(frame, aliases) -> dict[str, str]:
    """Names the test calls that are bound to the program's functions -> their real names."""
    names = {}
    for alias in aliases:
        value = frame.f_locals.get(alias, frame.f_globals.get(alias))
        code = getattr(value, "__code__", None)
        if code is not None and code.co_filename == PROGRAM_FILE:
            name = getattr(value, "__name__", alias)
            if isinstance(name, str) and name != alias:
                names[alias] = name[:100]
    return names


def _reporters(fd: int, callees: list[list[str]]):
    seen: set[int] = set()

    def check(number, leaves):
        encoded = []
        for leaf in leaves:
            try:
                encoded.append(_encode(leaf))
            except _NotBuiltin as error:
                encoded.append({"x": str(error)})
        message = {"r": number, "v": encoded}
        if number not in seen:
            seen.add(number)
            if 0 <= number < len(callees) and callees[number]:
                message["n"] = _real_names(sys._getframe(1), callees[number])
        _send(fd, message)

    def copy(number, value):
        try:
            return _decode(_encode(value))
        except _NotBuiltin as error:
            _send(fd, {"r": number, "v": [{"x": str(error)}]})
            raise _Refused() from None

    return check, copy


def run_program(request: dict, reply: dict, fd: int) -> None:
    """Runs program then tests in one namespace; fills `reply` with what happened."""
    code, test = request["code"], request["test"]
    sources = {PROGRAM_FILE: code.splitlines(), TEST_FILE: test.splitlines()}
    check, copy = _reporters(fd, request.get("callees", []))
    namespace = {"__name__": "__main__", "__builtins__": __builtins__,
                 "__persd_check__": check, "__persd_copy__": copy}
    stage = "program"
    try:
        exec(compile(code, PROGRAM_FILE, "exec"), namespace)
        stage = "test"
        exec(compile(test, TEST_FILE, "exec"), namespace)
        reply["outcome"] = "completed"
    except Timeout as error:
        reply.update(outcome="timeout", frames=_frames(error.__traceback__, sources))
    except _Refused:
        reply["outcome"] = "refused"
    except SyntaxError as error:
        where = PROGRAM_FILE if stage == "program" else TEST_FILE
        lineno = error.lineno or 0
        reply.update(outcome="exception", exc_type=type(error).__name__, exc_message=_clip(error.msg or ""),
                     frames=[{"file": where, "line": lineno, "function": "<module>",
                              "source": _line_of(sources[where], lineno)}])
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


def switch_user(uid: int, process_limit: int) -> None:
    """Becomes `uid` (no groups, no capabilities), capped at `process_limit` processes."""
    if process_limit > 0:
        resource.setrlimit(resource.RLIMIT_NPROC, (process_limit, process_limit))
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def child(request: dict, result_fd: int, scratch: str, uid: int, process_limit: int) -> None:
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
        raise Timeout()

    signal.signal(signal.SIGPROF, on_timer)
    signal.signal(signal.SIGALRM, on_timer)
    reply: dict = {"outcome": "unknown"}
    # Address space freed after a MemoryError so the reply can still be built; an
    # untouched mapping costs nothing, unlike a zero-filled bytearray (3 ms a fork).
    reserve = mmap.mmap(-1, 16 * 1024 * 1024)
    _limit_resources(request)
    if uid >= 0:
        switch_user(uid, process_limit)
    signal.setitimer(signal.ITIMER_PROF, request["cpu_s"])
    signal.setitimer(signal.ITIMER_REAL, max(0.05, request["wall_s"] - 0.25))
    try:
        run_program(request, reply, result_fd)
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
    try:
        _send(result_fd, {"e": reply})
    finally:
        os._exit(0)
