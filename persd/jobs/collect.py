"""A collection round in a worker thread, with its progress read from the session.

    from persd.jobs import CollectJob
    job = CollectJob(collect_config, teacher=teacher, executor=executor).start()
    job.snapshot()                        # tasks done, passed, refined, cost so far
    job.cancel()                          # optional: stop after the current batch
    job.wait(); job.summary or job.error  # a CollectSummary, or one message

The round (`persd.runs.collect_round`) commits every step before the next, so reading the
session while it runs shows exactly what is done; the Review tab sees the same rows.
With `simulated=True` it builds or extends the offline demo session instead (seconds; a
cancel is not noticed there). `cancel()` is cooperative: the loop starts no new student
batch or teacher call, cancels the calls still waiting and ends the round "stopped";
everything finished is kept and the same settings resume it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from persd.collect import CollectError
from persd.collect.lock import collect_lock
from persd.demo import build_demo_session
from persd.demo.solutions import add_demo_solutions
from persd.execution import Executor
from persd.runs import collect_round, round_tasks
from persd.store import RecordNotFound, SessionNotFound, SessionStore, StoreError
from persd.tasks import TaskFileError, load_tasks


@dataclass(frozen=True)
class CollectProgress:
    done: int = 0          # task samples that reached their final state this round
    total: int = 0
    attempts: int = 0
    passed: int = 0
    refined: int = 0
    validated: int = 0
    cost_usd: float = 0.0

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0


class CollectJob:
    """`persd.runs.collect_round` (or, `simulated`, the offline demo builder) in a worker
    thread, with progress read from the session as the loop commits each step."""

    def __init__(self, config, *, teacher=None, student=None, executor=None,
                 simulated: bool = False) -> None:
        self.config, self.teacher, self.student = config, teacher, student
        self.executor, self.simulated = executor, simulated
        self.summary: Any = None
        self.error: str | None = None
        self.task_ids: list[str] = []
        self.note = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="persd-collect", daemon=True)
        self._started: float | None = None
        self._ended: float | None = None

    def start(self) -> CollectJob:
        self._started = time.monotonic()
        self._thread.start()
        return self

    @property
    def elapsed_s(self) -> float:
        """Seconds since start (until the round ended); 0 before it starts."""
        if self._started is None:
            return 0.0
        return (self._ended or time.monotonic()) - self._started

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def cancel(self) -> None:
        """Ask the round to stop at its next check (between batches, while awaiting the
        teacher); `wait()` returns once it has."""
        self._stop.set()

    @property
    def cancelled(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        c = self.config
        try:
            if self.simulated:
                self._run_simulated()
                return
            tasks = round_tasks(c)
            self.task_ids = [t.task_id for t in tasks]
            self.summary = collect_round(c, tasks=tasks, student=self.student,
                                         teacher=self.teacher, executor=self.executor,
                                         progress=False, should_stop=self._stop.is_set)
        except (CollectError, TaskFileError, StoreError, ValueError, OSError) as error:
            self.error = str(error)
        except Exception as error:  # noqa: BLE001  (shown to the user, not swallowed silently)
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self._ended = time.monotonic()

    def _run_simulated(self) -> None:
        c = self.config
        self.task_ids = [t.task_id for t in load_tasks("humaneval")[: c.limit]]
        with collect_lock(c.sessions_dir, c.session):  # as `collect` does, for real rounds
            build_demo_session(c.sessions_dir, c.session, limit=c.limit, executor=self.executor,
                               progress=lambda text: setattr(self, "note", text))
            if c.method != "persd":  # the teacher's own solutions besides the refinements
                self.note = f"Simulating the teacher's {c.method} solutions..."
                with SessionStore.open(c.sessions_dir, c.session) as store:
                    if self.executor is not None:
                        add_demo_solutions(store, c.method, self.executor)
                    else:
                        with Executor() as own:
                            add_demo_solutions(store, c.method, own)
        self.summary = self.snapshot()

    def snapshot(self) -> CollectProgress:
        """What the session holds for this round so far (zeros before it exists)."""
        c = self.config
        try:
            store = SessionStore.open(c.sessions_dir, c.session)
        except (SessionNotFound, StoreError):
            return CollectProgress(total=len(self.task_ids))
        round_ = 0 if self.simulated else c.round
        try:
            ids = set(self.task_ids)
            attempts = [a for a in store.attempts.list(round=round_) if a.task_id in ids]
            done = [r for r in store.refinements.list(round=round_) if r.task_id in ids]
            if self.simulated:
                finished = len(attempts)
            else:
                try:
                    work = store.pending.work(round_, method=c.method, samples=c.samples,
                                              task_ids=self.task_ids)
                except RecordNotFound:
                    # The loop has created the session but not yet stored this round's tasks.
                    return CollectProgress(total=len(self.task_ids) * c.samples)
                unfinished = (len(work.needs_attempt) + len(work.needs_execution)
                              + len(work.needs_refinement) + len(work.needs_solution))
                finished = len(self.task_ids) * c.samples - unfinished
            return CollectProgress(
                done=max(0, finished), total=len(self.task_ids) * (1 if self.simulated
                                                                    else c.samples),
                attempts=len(attempts),
                passed=sum(1 for a in attempts if a.execution and a.execution.result.passed),
                refined=len(done), validated=sum(r.validated for r in done),
                cost_usd=store.teacher_calls.cost(round=round_))
        finally:
            store.close()
