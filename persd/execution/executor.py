"""`Executor`: runs untrusted programs against their tests in a pool of sandboxes.

    from persd.execution import Executor
    with Executor(workers=2, timeout_s=3.0, memory_mb=2048) as ex:
        result = ex.run(program, test, context=task.prompt)   # the test, run against the program
        results = ex.run_many([(program, test, context), ...])  # parallel, same order as given

Each worker owns one long-lived sandbox (see sandbox.py) that forks a fresh child per
program, so a program costs a fork, not an interpreter start. A sandbox is replaced after
`recycle_after` programs, when a program left processes or files it could not remove,
and when it is found dead before a program is sent to it. A program whose sandbox dies
under it is run once more on a fresh one (the death may have had nothing to do with it);
losing that one too is its verdict: `killed`.

Sandboxes live exactly as long as the Executor's process, whichever thread uses it: all
of them are started from one launcher thread that the Executor owns (see `_Launcher`).

Verdicts: the judge owns the test. A judge process in the jail, out of the program's
reach, runs the test and every assert itself, under its own limits (`JUDGE_CPU_S`,
`JUDGE_WALL_S`); the program's process, which never holds the test, only answers the
calls of the names it defines, with strict builtin copies (jail/judge.py). `context` is
the task's own code (its prompt): helpers and classes the test uses are the judge's,
from that text, whatever the program redefines. The host reads the findings
(verdicts.py) and never evaluates any part of a test. `protocol` is "strict" (every
test, exact comparison) or "paper" (MBPP's test_list only, approximate floats).

`timeout_s` is CPU time, so a busy machine does not turn slow programs into false
timeouts (evalplus #5); wall time is capped at `2 * timeout_s + 1` to catch sleepers.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor

from persd.execution.asserts import plan_test
from persd.execution.feedback import rejected, to_result
from persd.execution.result import ExecutionResult
from persd.execution.sandbox import Sandbox, SandboxError, bwrap_available, probe
from persd.execution.verdicts import check_protocol, tests_for

logger = logging.getLogger(__name__)

ISOLATIONS = ("auto", "bwrap", "process")
# Judging one run's asserts: ample for any real test, and the bound on what a test typed
# by a person (`assert f(1) == 9**9**9**9`) can cost its sandbox.
JUDGE_CPU_S, JUDGE_WALL_S = 2.0, 5.0


class IsolationUnavailable(RuntimeError):
    """The requested isolation cannot run on this machine."""


def choose_isolation(requested: str) -> str:
    """'auto' -> bwrap when it works here, else the process fallback with a loud warning."""
    if requested not in ISOLATIONS:
        raise ValueError(f"isolation must be one of {ISOLATIONS}, not {requested!r}")
    requested = os.environ.get("PERSD_ISOLATION", requested) if requested == "auto" else requested
    if requested == "process":
        return "process"
    problem = probe("bwrap") if bwrap_available() else "bwrap is not installed (apt-get install bubblewrap)"
    if problem is None:
        return "bwrap"
    if requested == "bwrap":
        raise IsolationUnavailable(f"bubblewrap sandbox unavailable: {problem}")
    logger.warning(
        "persd: SANDBOX DEGRADED: %s. Untrusted code will run with resource limits only; "
        "its file system and network access are NOT isolated.",
        problem,
    )
    return "process"


class _Launcher:
    """One thread, alive as long as its Executor, that starts every sandbox.

    bwrap's --die-with-parent (PR_SET_PDEATHSIG) fires when the *thread* that started
    the sandbox exits, not its process: sandboxes started from the app's worker threads,
    which retire when idle, died under the next program. Starting them all here ties
    them to this thread, which ends only with the Executor or its process. The other
    ways out were weaker: a pipe the jail watches stays open in any child the host
    forks, and a plain process-wide death signal does not exist on Linux.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        # A daemon: at interpreter exit it dies with the process, taking its sandboxes.
        self._thread = threading.Thread(target=self._serve, name="persd-sandbox-launcher", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, start = job
            try:
                future.set_result(start())
            except BaseException as error:
                future.set_exception(error)

    def start(self, isolation: str) -> Sandbox:
        future: Future = Future()
        self._jobs.put((future, lambda: Sandbox(isolation)))
        return future.result()

    def stop(self) -> None:
        """Ends the thread; every sandbox it started gets SIGKILL from the kernel."""
        self._jobs.put(None)
        self._thread.join()


class Executor:
    def __init__(
        self,
        workers: int | None = None,
        timeout_s: float = 3.0,
        memory_mb: int = 2048,
        output_kb: int = 1024,
        max_code_kb: int = 1024,
        recycle_after: int = 1000,
        isolation: str = "auto",
        protocol: str = "strict",
    ) -> None:
        self.protocol = check_protocol(protocol)  # see verdicts.py: which tests, how compared
        self.workers = workers or os.cpu_count() or 1
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.output_bytes = output_kb * 1024
        self.max_code_bytes = max_code_kb * 1024
        self.recycle_after = recycle_after
        self.isolation = choose_isolation(isolation)
        self._idle: queue.SimpleQueue[Sandbox] = queue.SimpleQueue()
        self._all: set[Sandbox] = set()
        self._lock = threading.Lock()
        self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="persd-exec")
        self._closed = False
        # Why sandboxes were replaced: "died idle", "died under a program", "unclean"
        # (a program left something behind), "recycled" (served recycle_after programs).
        self.replacements: Counter[str] = Counter()
        self._launcher = _Launcher()
        for _ in range(self.workers):
            self._idle.put(self._start())

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def limits(self) -> dict:
        return {"cpu_s": self.timeout_s, "wall_s": 2 * self.timeout_s + 1,
                "memory_mb": self.memory_mb, "output_bytes": self.output_bytes,
                "judge_cpu_s": JUDGE_CPU_S, "judge_wall_s": JUDGE_WALL_S}

    def run(self, code: str | bytes, test: str | bytes, context: str = "") -> ExecutionResult:
        """Judges `code` by `test`; `context` is the task's own code (its prompt), whose
        helpers and classes the test may use. Never raises for bad input."""
        if self._closed:
            raise RuntimeError("this Executor is closed")
        problem, code, test = self._check_input(code, test)
        if problem:
            return problem
        test = tests_for(self.protocol, test)
        try:
            plan = plan_test(test)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
            where = f" (line {error.lineno})" if getattr(error, "lineno", None) else ""
            return rejected(f"The test does not parse: {getattr(error, 'msg', error)}{where}", "TestSyntaxError")
        request = {"code": code, "test": test, "context": context if isinstance(context, str) else "",
                   "approx": self.protocol == "paper", "sites": len(plan.sites), **self.limits}
        reply = self._serve(request, retry=True)
        return to_result(reply, self.limits, self.isolation, plan)

    def run_many(self, jobs) -> list[ExecutionResult]:
        """Runs (code, test) or (code, test, context) tuples in parallel; results in the order given."""
        return list(self._threads.map(lambda job: self.run(*job), jobs))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._threads.shutdown(wait=True)
        with self._lock:
            for sandbox in self._all:
                sandbox.close()
            self._all.clear()
        self._launcher.stop()

    def _check_input(self, code, test):
        texts = []
        for name, value in (("program", code), ("test", test)):
            if isinstance(value, bytes):
                try:
                    value = value.decode("utf-8")
                except UnicodeDecodeError as error:
                    return rejected(f"The {name} is not valid UTF-8 ({error.reason} at byte {error.start})."), None, None
            if not isinstance(value, str):
                return rejected(f"The {name} must be text, not {type(value).__name__}."), None, None
            try:
                size = len(value.encode("utf-8"))
            except UnicodeEncodeError as error:
                return rejected(f"The {name} is not valid UTF-8 text ({error.reason})."), None, None
            if size > self.max_code_bytes:
                return rejected(f"The {name} is too large: {size / 1e6:.1f} MB (limit {self.max_code_bytes / 1e6:.1f} MB).",
                                "InputTooLarge"), None, None
            texts.append(value)
        if not texts[0].strip():
            return rejected("The program is empty.", "EmptyProgram"), None, None
        return None, texts[0], texts[1]

    def _serve(self, request: dict, retry: bool) -> dict:
        sandbox = self._idle.get()
        if not sandbox.alive:  # died while idle: never the next program's doing
            self.replacements["died idle"] += 1
            self._discard(sandbox)
            sandbox = self._start()
        try:
            reply = sandbox.request(request, deadline_s=self.limits["wall_s"] + JUDGE_WALL_S + 10)
        except SandboxError as error:
            self.replacements["died under a program"] += 1
            self._replace(sandbox)
            if error.exited and retry:
                logger.info("persd: a sandbox died under a program (%s); running it again", error)
                return self._serve(request, retry=False)
            return {"outcome": "sandbox_lost"}
        if not reply.get("clean", True) or sandbox.served >= self.recycle_after:
            self.replacements["unclean" if not reply.get("clean", True) else "recycled"] += 1
            self._replace(sandbox)
        else:
            self._idle.put(sandbox)
        return reply

    def _start(self) -> Sandbox:
        sandbox = self._launcher.start(self.isolation)
        with self._lock:
            self._all.add(sandbox)
        return sandbox

    def _discard(self, sandbox: Sandbox) -> None:
        with self._lock:
            self._all.discard(sandbox)
        sandbox.close()

    def _replace(self, sandbox: Sandbox) -> None:
        self._discard(sandbox)
        if not self._closed:
            self._idle.put(self._start())
