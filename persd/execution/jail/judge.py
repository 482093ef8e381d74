"""Judges each run's assert reports inside the jail, in a process the program cannot reach.

The harness keeps one judge process (`JudgeProcess`), forked from it: root like the
harness (the program's uid can neither signal nor trace it), without capabilities, under
RLIMIT_AS and, per run, an RLIMIT_CPU budget, with a wall-clock deadline. For each run it
parses what the program's child wrote (`read_reports`), evaluates each assert's template
(asserts.py: constants, operators, whitelisted builtins, `math.*`) on decoded builtin
copies of the leaves, and answers with JSON lines:

    {"e": facts}                              the child's end facts, checked and clipped
    {"o": [site, status, returned, expected, error]}   a site's outcome, when it changes
    {"n": {alias: real name}}                 names the test gave the program's functions
    {"done": true}

Before each evaluation it writes the site number to a page it shares with the harness,
so when a template like `9**9**9**9` or `math.factorial(10**8)` makes it overrun its
limits, the harness kills it, knows which assert was being judged (`assemble`) and forks
a fresh judge for the next run. A test typed by a person cannot hang or exhaust the host
this way: the worst it does is cost its sandbox a few seconds. One long-lived judge
rather than one per run: a fork per program cost more than judging it (measured: about
2 ms against 0.5 ms on a busy 2-core machine). Standard library only.
"""

from __future__ import annotations

import functools
import json
import math
import mmap
import os
import resource
import select
import signal
import struct
import time

try:
    import values  # in the jail: this folder is on sys.path
except ImportError:  # on the host, which imports SAFE_FUNCTIONS from here
    from persd.execution.jail import values

TEXT_LIMIT = 300
FRAME_LIMIT = 50          # traceback frames kept (the innermost ones)
NAME_LIMIT = 100
SAFE_FUNCTIONS = {f.__name__: f for f in (
    abs, all, any, bool, bytes, chr, complex, dict, divmod, enumerate, float, frozenset, int,
    isinstance, len, list, max, min, ord, repr, reversed, round, set, sorted, str, sum, tuple,
    type, zip)}  # not range or pow: asserts.py keeps this list in step with what it leaves here
SAFE_MODULES = {"math": math}
STATUSES = ("passed", "failed", "error")
FINDINGS_LIMIT = 4 * 1024 * 1024  # bytes of findings read for one run
RSS_LIMIT_KB = 256 * 1024  # a judge that grew past this is replaced after its run
DONE, LAST = b'{"done": true}\n', b'{"done": "last"}\n'  # LAST: the judge ends after this run
_FACT_TEXTS = ("outcome", "stage", "exc_type", "exc_message")


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shown(value) -> str:
    try:
        if type(value).__name__.endswith("iterator"):
            return f"an iterator over {clip(repr(list(value)))}"
        return clip(repr(value))
    except ValueError:  # an int past sys.get_int_max_str_digits
        return "<a value too large to show>"


def read_reports(data: bytes) -> tuple[dict, list]:
    """The child's end facts and the reports it sent before them, from its frames; what
    cannot be parsed ends the stream (the child may have been killed mid-frame)."""
    facts: dict = {"outcome": "no_reply"}
    reports: list = []
    cut = False
    offset = 0
    while offset + 8 <= len(data):
        size = struct.unpack(">Q", data[offset: offset + 8])[0]
        if offset + 8 + size > len(data):
            cut = True
            break
        try:
            message = json.loads(data[offset + 8: offset + 8 + size])
        except (ValueError, RecursionError):
            cut = True
            break
        offset += 8 + size
        if type(message) is dict and type(message.get("e")) is dict:
            facts = message["e"]
        elif type(message) is dict and "r" in message:
            reports.append(message)
    facts = checked_facts(facts)
    if cut:
        facts["reports_cut"] = True
    return facts, reports


def checked_facts(facts: dict) -> dict:
    """The end facts the program's process wrote, as small, well-typed data."""
    checked = {key: clip(facts[key]) for key in _FACT_TEXTS if type(facts.get(key)) is str}
    checked.setdefault("outcome", "no_reply")
    frames = facts.get("frames")
    if type(frames) is list:
        checked["frames"] = [
            {"file": clip(f["file"], NAME_LIMIT), "line": f["line"], "function": clip(f["function"], NAME_LIMIT),
             "source": clip(f["source"])}
            for f in frames[-FRAME_LIMIT:]
            if type(f) is dict and type(f.get("file")) is str and type(f.get("line")) is int
            and type(f.get("function")) is str and type(f.get("source")) is str]
        checked["frames_dropped"] = max(0, len(frames) - FRAME_LIMIT)  # the outermost ones
    return checked


def _evaluate(site: dict, leaves: list, approx: bool) -> tuple[str, str, str, str]:
    """(status, returned, expected, error) of one report of `site`."""
    refused = [leaf["x"] for leaf in leaves if type(leaf) is dict and set(leaf) == {"x"}]
    if refused:
        return "failed", "", "", clip(str(refused[0]))
    if len(leaves) != site["leaves"]:
        return "failed", "", "", "the report of this test was malformed"
    namespace = {"__builtins__": {}, **SAFE_FUNCTIONS, **SAFE_MODULES}
    namespace.update((f"_v{i}", values.decode(leaf)) for i, leaf in enumerate(leaves))
    actual_leaf = site["actual"]
    returned = _shown(values.decode(leaves[actual_leaf])) if actual_leaf is not None else ""  # a copy: iterators
    try:
        if site["sides"]:
            actual, expected = (eval(code, namespace) for code in site["sides"])
            status = "passed" if values.same(actual, expected, approx) else "failed"
            return status, returned or _shown(actual), _shown(expected), ""
        return ("passed" if eval(site["whole"], namespace) else "failed"), returned, "", ""
    except Exception as error:  # the assert raised, as it would have in the sandbox
        message = str(error)
        return "error", returned, "", clip(f"{type(error).__name__}: {message}" if message else type(error).__name__)


@functools.lru_cache(maxsize=4096)
def _code(source: str):
    return compile(source, "<assert>", "eval", dont_inherit=True)


def _compiled(sites: list) -> list[dict]:
    code = _code
    return [{"leaves": s["leaves"], "actual": s["actual"], "whole": s["whole"] and code(s["whole"]),
             "sides": s["sides"] and [code(side) for side in s["sides"]]} for s in sites]


def judge(data: bytes, plan: dict, callees: list, emit, pending) -> None:
    """Runs in the judge process: reads the child's frames, judges each report, `emit`s
    the findings; `pending(site)` marks the assert about to be evaluated."""
    facts, reports = read_reports(data)
    emit({"e": facts})
    sites = _compiled(plan["sites"])
    approx = plan.get("approx", False)
    results: dict[int, str] = {}
    names: dict[str, str] = {}
    for report in reports:
        number, leaves = report.get("r"), report.get("v")
        if type(number) is not int or not 0 <= number < len(sites) or type(leaves) is not list:
            continue  # not a report of this test's asserts: forged or corrupt, never a pass
        if type(report.get("n")) is dict and 0 <= number < len(callees):
            names.update((k, clip(v, NAME_LIMIT)) for k, v in report["n"].items()
                         if k in callees[number] and type(v) is str)
        if results.get(number, "passed") != "passed":
            continue
        pending(number)
        try:
            status, returned, expected, error = _evaluate(sites[number], leaves, approx)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError, MemoryError, OverflowError):
            status, returned, expected, error = "failed", "", "", "the report of this test was malformed"
        pending(-1)
        if number not in results or status != "passed":
            results[number] = status
            emit({"o": [number, status, returned, expected, error]})
    emit({"n": names})


def assemble(lines: list[bytes], site_count: int, pending: int, death: str) -> dict:
    """The judged run, from the judge's lines (in the harness): the end facts, plus
    "tests" (one [status, returned, expected, error] per site), "first_failure" (the site
    that failed first in the order run, or None), "names", and "judge_error" when the
    judge ended without finishing, `death` saying how."""
    reply: dict = {"outcome": "no_reply"}
    tests = [["not_run", "", "", ""] for _ in range(site_count)]
    first_failure = None
    names: dict = {}
    done = False
    for line in lines:
        try:
            message = json.loads(line)
        except ValueError:
            break
        if "e" in message:
            reply = message["e"]
        elif "o" in message:
            number, status, *texts = message["o"]
            tests[number] = [status, *texts]
            if status != "passed" and first_failure is None:
                first_failure = number
        elif "n" in message:
            names = message["n"]
        elif "done" in message:
            done = True
    if not done:
        if 0 <= pending < site_count:
            tests[pending] = ["error", "", "", f"JudgeLimit: its evaluation {death}"]
            if first_failure is None:
                first_failure = pending
        reply["judge_error"] = death
    reply.update(tests=tests, first_failure=first_failure, names=names)
    return reply


# ------------------------------------------------------------ the judge's process


def _read_frame(stream) -> bytes | None:
    header = stream.read(8)
    if len(header) < 8:
        return None
    size = struct.unpack(">Q", header)[0]
    data = stream.read(size)
    return data if len(data) == size else None


def serve(job_fd: int, out_fd: int, page: mmap.mmap) -> None:
    """The judge's loop: a job is a JSON frame {"plan", "callees", "cpu_s"}, then the
    child's bytes as a frame; the findings end with DONE. Returns at end of input, or
    after a run that left it large (the harness then forks a fresh one)."""
    jobs = os.fdopen(job_fd, "rb")

    lines: list[bytes] = []

    def emit(message: dict, end: bytes = b"") -> None:
        """Buffered: one write per run (each write wakes the harness), and at once for a
        failure, which must survive the judge dying on a later assert."""
        lines.append((json.dumps(message) + "\n").encode() + end if message else end)
        if end or ("o" in message and message["o"][1] != "passed"):
            data = b"".join(lines)
            lines.clear()
            while data:
                data = data[os.write(out_fd, data):]

    def pending(site: int) -> None:
        struct.pack_into(">q", page, 0, site)

    while (header := _read_frame(jobs)) is not None and (data := _read_frame(jobs)) is not None:
        job = json.loads(header)
        used = resource.getrusage(resource.RUSAGE_SELF)
        soft = int(used.ru_utime + used.ru_stime) + 1 + max(1, int(job["cpu_s"]))
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        resource.setrlimit(resource.RLIMIT_CPU, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))
        judge(data, job["plan"], job["callees"], emit, pending)
        if resource.getrusage(resource.RUSAGE_SELF).ru_maxrss > RSS_LIMIT_KB:
            emit({}, LAST)
            return
        emit({}, DONE)


class JudgeProcess:
    """The harness's handle on its judge: started on first use, replaced when it dies,
    overruns, or grows. `setup` runs in the judge before it serves (limits, capabilities)."""

    def __init__(self, setup) -> None:
        self.setup = setup
        self.pid: int | None = None
        self.memory_mb = 0
        self._fds: tuple[int, int] = (-1, -1)
        self._page: mmap.mmap | None = None

    def _start(self, memory_mb: int) -> None:
        job_read, job_write = os.pipe()
        out_read, out_write = os.pipe()
        page = mmap.mmap(-1, 8)
        pid = os.fork()
        if pid == 0:
            try:
                os.close(job_write)
                os.close(out_read)
                resource.setrlimit(resource.RLIMIT_AS, (memory_mb << 20, memory_mb << 20))
                resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
                self.setup()
                serve(job_read, out_write, page)
                os._exit(0)
            finally:
                os._exit(1)
        os.close(job_read)
        os.close(out_write)
        os.set_blocking(out_read, False)
        self.pid, self.memory_mb, self._fds, self._page = pid, memory_mb, (job_write, out_read), page

    def ready(self, memory_mb: int) -> None:
        """Started (afresh when the memory cap changed), before a program is forked."""
        if self.pid is not None and self.memory_mb != memory_mb:
            self._stop()
        if self.pid is None:
            self._start(memory_mb)

    def close_in_child(self) -> None:
        """In a forked program child: nothing of the judge's stays reachable."""
        for fd in self._fds:
            if fd >= 0:
                os.close(fd)
        if self._page is not None:
            self._page.close()

    def reaped(self, pid: int, status: int) -> bool:
        """Whether `pid`, reaped by the harness, was the judge (then it is gone)."""
        if pid != self.pid:
            return False
        self._forget()
        return True

    def _forget(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._page.close()
        self.pid, self._fds, self._page = None, (-1, -1), None

    def _stop(self) -> int:
        """Kills the judge (if it has not ended); its wait status."""
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        _, status = os.waitpid(self.pid, 0)
        self._forget()
        return status

    def submit(self, data: bytes, request: dict) -> None:
        """Hands the judge one run: the child's bytes and the request's plan and limits."""
        plan = request.get("plan") or {"sites": []}
        header = json.dumps({"plan": plan, "callees": request.get("callees", []),
                             "cpu_s": request.get("judge_cpu_s", 2.0)}).encode()
        for _attempt in range(2):
            self.ready(request["memory_mb"])
            struct.pack_into(">q", self._page, 0, -1)
            try:
                job = memoryview(struct.pack(">Q", len(header)) + header + struct.pack(">Q", len(data)) + data)
                while job:
                    job = job[os.write(self._fds[0], job):]
                break
            except BrokenPipeError:  # it died while idle: a fresh one
                self._stop()

    def collect(self, request: dict, hang_up) -> dict:
        """The judged run submitted last; `hang_up()` is called (and must not return) when
        the host is gone."""
        sites = len((request.get("plan") or {"sites": []})["sites"])
        cpu_s, wall_s = request.get("judge_cpu_s", 2.0), request.get("judge_wall_s", 5.0)
        out, finished, overdue = self._findings(wall_s, hang_up)
        pending = struct.unpack_from(">q", self._page, 0)[0]
        death = ""
        if overdue:
            self._stop()
            death = f"took more than {wall_s:g} s"
        elif not finished:
            status = self._stop()
            if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU:
                death = f"used more than {cpu_s:g} s of CPU time"
            elif len(out) >= FINDINGS_LIMIT:
                death = "produced too many findings"
            else:
                death = f"ended the judge (exit status {os.waitstatus_to_exitcode(status)}, out of memory?)"
        elif out.endswith(LAST):
            self._stop()
        return assemble(out.split(b"\n")[:-1], sites, pending, death)

    def _findings(self, wall_s: float, hang_up) -> tuple[bytes, bool, bool]:
        """(what the judge wrote, whether it finished the run, whether it ran out of time)."""
        fd = self._fds[1]
        deadline = time.monotonic() + wall_s
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        poller.register(0, 0)  # the host hanging up
        out = bytearray()
        while not (out.endswith(DONE) or out.endswith(LAST)) and len(out) < FINDINGS_LIMIT:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return bytes(out), False, True
            for ready, _event in poller.poll(remaining * 1000):
                if ready == 0:
                    self._stop()
                    hang_up()
                try:
                    chunk = os.read(fd, 65536)
                except BlockingIOError:
                    continue
                if not chunk:
                    return bytes(out), False, False
                out.extend(chunk)
        return bytes(out), out.endswith(DONE) or out.endswith(LAST), False
