"""The collection loop: the student tries, the sandbox judges, the teacher refines.

    from persd.collect import CollectConfig, collect
    summary = collect(CollectConfig(session="run1", tasks="humaneval", student="models/tiny",
                                    teacher_model="gpt-4o-mini"))
    print(summary.table())

Methods (PAPER.md): "persd" asks the teacher to refine every failed attempt of the
student; "inpd" asks it to solve (from scratch) the tasks the student failed; "stand"
asks it to solve every task and needs no student at all.

Every finished step is committed to the session store before the next one starts, and
each step is idempotent, so `kill -9` at any point followed by the same command finishes
the round with nothing lost and nothing duplicated. Student batches are generated in a
worker thread while the teacher's calls for earlier batches run concurrently on the
event loop, so the model and the teacher work at the same time. A `should_stop` callable
(the app's Cancel button) is checked between student batches and while teacher calls are
awaited: once it returns True no new work starts, teacher calls still waiting are
cancelled (a reply that already arrived is in the session's cache, so a rerun does not pay
for it again), and the round ends "stopped" with everything finished so far kept.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from persd.store import SessionStore
from persd.tasks import Task

METHODS = ("persd", "stand", "inpd")
STOPPED_ON_REQUEST = "stopped on request"
STOP_POLL_S = 0.5  # how often `should_stop` is asked while teacher calls are awaited
logger = logging.getLogger(__name__)


@dataclass
class CollectConfig:
    """Settings of one collection round.

    Parameters:
        session (`str`): Session name; its file is `<sessions_dir>/<session>.sqlite`.
        tasks (`str`, defaults to `"humaneval"`): A `load_tasks` spec.
        student (`str`): Hugging Face id or local path of the student (not needed for "stand").
        teacher_model (`str`): Model name at the OpenAI-compatible endpoint
            (`OPENAI_BASE_URL`, `OPENAI_API_KEY`).
        method (`str`, defaults to `"persd"`): "persd", "stand" or "inpd".
        round (`int`, defaults to `1`): Collection round; round 2 usually runs the student
            fine-tuned on round 1 (`adapter`). Rounds are kept apart in the session.
        adapter (`str` or `None`): A peft adapter applied to the student.
        limit (`int` or `None`): Only the first `limit` tasks.
        samples (`int`, defaults to `1`): Student attempts per task (the paper uses 1).
        temperature / top_p (`float`, defaults to `0.3` / `0.95`): The student's sampling (paper).
        max_new_tokens (`int`, defaults to `512`), batch_size (`int`, defaults to `8`): Student generation.
        concurrency (`int`, defaults to `8`): Teacher calls in flight.
        teacher_tries (`int`, defaults to `2`): Teacher attempts per task before a
            refinement is kept as unvalidated.
        timeout_s (`float`, defaults to `3.0`): CPU seconds per program in the sandbox.
        workers (`int` or `None`): Sandboxes (default: one per core).
        sessions_dir (`str`, defaults to `"sessions"`): Where sessions live.
        eval_tasks (`str` or `None`): The evaluation set (a `load_tasks` spec such as
            "humaneval") the student will be judged on; collection warns when its tasks
            overlap it (persd.decontaminate).
        student_backend (`str`, defaults to `"hf"`): "hf" (transformers), "vllm" (offline
            vLLM engine, `pip install 'persd[vllm]'`) or "openai" (a student already served
            at `student_base_url` by vLLM or `transformers serve`); see persd.student_backends.
        student_base_url (`str` or `None`): The student's endpoint for the "openai" backend.
        teacher_batch (`bool`, defaults to `False`): Send the teacher's first requests as one
            OpenAI Batch API job (half price, up to 24 h) once the student has tried every
            task; retries go live (persd.teacher_batch).
    """

    session: str
    teacher_model: str
    tasks: str = "humaneval"
    student: str = ""
    method: str = "persd"
    round: int = 1
    adapter: str | None = None
    limit: int | None = None
    samples: int = 1
    temperature: float = 0.3
    top_p: float = 0.95
    max_new_tokens: int = 512
    batch_size: int = 8
    concurrency: int = 8
    teacher_tries: int = 2
    timeout_s: float = 3.0
    workers: int | None = None
    sessions_dir: str = "sessions"
    eval_tasks: str | None = None
    student_backend: str = "hf"
    student_base_url: str | None = None
    teacher_batch: bool = False

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {self.method!r}")
        if self.method != "stand" and not self.student:
            raise ValueError(f"method {self.method!r} needs a student model (--student)")
        if self.round < 1 or self.samples < 1 or self.concurrency < 1:
            raise ValueError("round, samples and concurrency must be at least 1")

    def session_identity(self) -> dict[str, Any]:
        """The settings a session is bound to: a rerun with others is refused."""
        return {"kind": "collect", "tasks": self.tasks, "method": self.method,
                "student": self.student, "teacher_model": self.teacher_model,
                "samples": self.samples, "simulated": False}

    def round_settings(self) -> dict[str, Any]:
        return {"round": self.round, "adapter": self.adapter, "temperature": self.temperature,
                "top_p": self.top_p, "max_new_tokens": self.max_new_tokens, "limit": self.limit}


@dataclass
class CollectSummary:
    session: str
    round: int
    method: str
    tasks: int = 0
    attempts: int = 0
    passed: int = 0
    failed: int = 0
    refined: int = 0
    validated: int = 0
    unvalidated: int = 0
    teacher_errors: dict[str, str] = field(default_factory=dict)
    cost_usd: float = 0.0
    wall_s: float = 0.0
    stopped_by: str | None = None   # why the teacher part stopped early, if it did

    @property
    def complete(self) -> bool:
        return self.stopped_by is None and not self.teacher_errors

    def table(self) -> str:
        rows = [
            ("session", f"{self.session} (round {self.round}, {self.method})"),
            ("tasks", self.tasks), ("student attempts", self.attempts),
            ("  passed", self.passed), ("  failed", self.failed),
            ("teacher results", self.refined), ("  validated", self.validated),
            ("  not validated", self.unvalidated),
            ("teacher errors (retried on rerun)", len(self.teacher_errors)),
            ("teacher cost (USD)", f"{self.cost_usd:.4f}"), ("wall time (s)", f"{self.wall_s:.1f}"),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        if self.stopped_by:
            lines.append(f"STOPPED: {self.stopped_by}. Run the same command again to finish.")
        for task_id, error in list(self.teacher_errors.items())[:5]:
            lines.append(f"  {task_id}: {error}")
        return "\n".join(lines)


class CollectError(Exception):
    """Bad input for a collection run: one clear message, the session untouched."""


def collect(config: CollectConfig, *, student=None, teacher=None, executor=None,
            progress: bool = True, tasks: list[Task] | None = None,
            should_stop: Callable[[], bool] | None = None) -> CollectSummary:
    """Runs (or resumes) one collection round; backends are built from `config` unless given.
    `should_stop() -> True` ends the round early and cleanly (see the module docstring)."""
    from persd.execution import Executor
    from persd.student_openai import StudentServerError
    from persd.tasks import load_tasks

    tasks = tasks if tasks is not None else load_tasks(config.tasks)
    tasks = tasks[: config.limit] if config.limit else tasks
    if not tasks:
        raise CollectError(f"the task set {config.tasks!r} is empty")
    _warn_if_contaminated(tasks, config.eval_tasks)
    teacher = teacher or _build_teacher(config, progress)
    asyncio.run(_check_teacher(teacher))
    if student is None and config.method != "stand":
        student = _build_student(config)
    # Only now, with every input checked, is the session created or touched.
    with SessionStore.open(config.sessions_dir, config.session, create=True) as store:
        _bind_session(store, config, tasks)
        if getattr(teacher, "cache", False) is None:
            teacher.cache = store.teacher_cache()  # a rerun pays nothing for replies it has
        owns_executor = executor is None
        executor = executor or Executor(workers=config.workers, timeout_s=config.timeout_s)
        try:
            loop = CollectionLoop(config, store, tasks, student, teacher, executor, progress,
                                  should_stop)
            return asyncio.run(loop.run())
        except StudentServerError as error:
            raise CollectError(f"{error}. Everything done so far is saved: run the same "
                               "command again to resume.") from error
        finally:
            if owns_executor:
                executor.close()


def _warn_if_contaminated(tasks: list[Task], eval_spec: str | None) -> None:
    if not eval_spec:
        return
    from persd.decontaminate import contamination_warning

    warning = contamination_warning(tasks, eval_spec)
    if warning:
        logger.warning("persd: CONTAMINATION: %s", warning)


def _build_teacher(config: CollectConfig, progress: bool):
    from persd.teacher import OpenAITeacher, TeacherConfig
    from persd.teacher_batch import BatchTeacher

    settings = TeacherConfig(model=config.teacher_model, concurrency=config.concurrency,
                             tries=config.teacher_tries)
    if config.teacher_batch:
        return BatchTeacher(settings, progress=progress)  # its polling bar follows ours
    return OpenAITeacher(settings)


async def _check_teacher(teacher) -> None:
    from persd.teacher import TeacherError

    try:
        await teacher.check()
    except TeacherError as error:
        raise CollectError(str(error)) from error
    finally:
        await _close(teacher)


def _build_student(config: CollectConfig):
    from persd.student import StudentLoadError
    from persd.student_backends import build_student

    try:
        return build_student(
            config.student_backend, model=config.student, adapter=config.adapter,
            temperature=config.temperature, top_p=config.top_p,
            max_new_tokens=config.max_new_tokens, batch_size=config.batch_size,
            base_url=config.student_base_url,
        )
    except (StudentLoadError, ValueError) as error:
        raise CollectError(str(error)) from error


def _bind_session(store: SessionStore, config: CollectConfig, tasks: list[Task]) -> None:
    """Records the settings on first use; refuses a rerun with other settings."""
    from persd.store import ConfigMismatch, StoreError

    try:
        if not store.config():
            store.set_config(config.session_identity())
        else:
            store.set_config({**store.config(), **config.session_identity()})
        store.add_tasks(tasks)
    except (ConfigMismatch, StoreError) as error:
        raise CollectError(f"session {config.session!r} was created with other settings: {error}") from error
    previous = [run for run in store.runs(kind="collect") if run.config.get("round") == config.round]
    for run in previous:
        stored = {k: run.config.get(k) for k in ("adapter", "temperature", "top_p")}
        wanted = {k: config.round_settings()[k] for k in stored}
        if stored != wanted:
            raise CollectError(
                f"round {config.round} of session {config.session!r} was collected with {stored}, "
                f"not {wanted}: use another --round or another session"
            )


class CollectionLoop:
    """One round's pipeline; all store writes happen on the event loop's thread."""

    def __init__(self, config, store, tasks, student, teacher, executor, progress,
                 should_stop=None):
        self.config, self.store, self.student, self.teacher = config, store, student, teacher
        self.executor = executor
        self.should_stop = should_stop or (lambda: False)
        self.tasks = {task.task_id: task for task in tasks}
        self.order = [task.task_id for task in tasks]
        self.summary = CollectSummary(config.session, config.round, config.method, tasks=len(tasks))
        self.teacher_jobs: set[asyncio.Task] = set()
        self.solving: set[str] = set()
        self.bar = _progress_bar(len(tasks) * (1 if config.method == "stand" else config.samples), progress)

    async def run(self) -> CollectSummary:
        started = time.monotonic()
        run_id = self.store.add_run("collect", {**self.config.round_settings(), **self.config.session_identity()},
                                    status="running")
        work = self.store.pending_work(self.config.round, method=self.config.method,
                                       samples=self.config.samples, task_ids=self.order)
        self._count_finished(work)
        try:
            await self._finish_started_work(work)
            await self._attempt_in_batches([pair for pair in work.needs_attempt])
            await self._drain_teacher()
        finally:
            self.bar.close()
            await _close(self.teacher)
        self._tally(started)
        status = ("stopped" if self.summary.stopped_by == STOPPED_ON_REQUEST else
                  "finished" if self.summary.complete else "failed")
        self.store.update_run(run_id, status=status, result=dataclasses.asdict(self.summary))
        return self.summary

    # -- steps ---------------------------------------------------------------------------

    async def _finish_started_work(self, work) -> None:
        """Steps a previous run left half done: unexecuted attempts, missing teacher results."""
        attempts = [self.store.attempt(attempt_id) for attempt_id in work.needs_execution]
        await self._execute(attempts)
        for attempt_id in work.needs_refinement:
            self._to_teacher(self.store.attempt(attempt_id))
        for task_id in work.needs_solution:
            self._to_solver(task_id)

    async def _attempt_in_batches(self, needed: list[tuple[str, int]]) -> None:
        if not needed:
            return
        by_task: dict[str, list[int]] = {}
        for task_id, index in needed:
            by_task.setdefault(task_id, []).append(index)
        task_ids = list(by_task)
        size = self.config.batch_size
        for start in range(0, len(task_ids), size):
            if self._stop_requested():
                return
            batch = task_ids[start : start + size]
            completions = await asyncio.to_thread(
                self.student.complete, [self.tasks[t].prompt for t in batch], self.config.samples)
            attempts = []
            for task_id, samples in zip(batch, completions):
                for index in by_task[task_id]:
                    attempts.append(self._store_attempt(self.tasks[task_id], index, samples[index]))
            await self._execute(attempts)

    def _store_attempt(self, task: Task, index: int, completion: str):
        return self.store.add_attempt(
            task.task_id, self.config.round, sample_index=index, model=_student_name(self.config),
            prompt=task.prompt, completion=completion, program=task.prompt + completion,
            sampling={"temperature": self.config.temperature, "top_p": self.config.top_p,
                      "max_new_tokens": self.config.max_new_tokens},
        )

    async def _execute(self, attempts) -> None:
        if not attempts:
            return
        results = await asyncio.to_thread(
            self.executor.run_many, [(a.program, self.tasks[a.task_id].test) for a in attempts])
        for attempt, result in zip(attempts, results):
            stored = self.store.add_execution("attempt", attempt.id, result)
            self.summary.attempts += 1
            self.summary.passed += stored.passed
            self.summary.failed += not stored.passed
            if stored.passed:
                self._advance()
            elif self.config.method == "persd":
                self._to_teacher(dataclasses.replace(attempt, execution=stored))
            else:
                self._to_solver(attempt.task_id)
                self._advance()

    def _to_teacher(self, attempt) -> None:
        self._spawn(self._refine(attempt))

    def _to_solver(self, task_id: str) -> None:
        """InpD and StanD ask for one teacher solution per task, however many samples failed."""
        if task_id not in self.solving:
            self.solving.add(task_id)
            self._spawn(self._solve(self.tasks[task_id]))

    def _spawn(self, coroutine) -> None:
        if self.summary.stopped_by:
            coroutine.close()
            return
        job = asyncio.ensure_future(coroutine)
        self.teacher_jobs.add(job)
        job.add_done_callback(self.teacher_jobs.discard)

    async def _refine(self, attempt) -> None:
        task = self.tasks[attempt.task_id]
        feedback = attempt.execution.feedback if attempt.execution else ""
        result = await self._ask(self.teacher.refine(task, attempt.program, feedback, self._validator(task)))
        if result is not None:
            self._store_result(task, result, attempt)

    async def _solve(self, task: Task) -> None:
        result = await self._ask(self.teacher.solve(task, self._validator(task)))
        if result is not None:
            self._store_result(task, result, None)

    async def _ask(self, call):
        """The teacher's result, or None when the teacher became unusable (run stops)."""
        from persd.teacher import TeacherError

        try:
            return await call
        except TeacherError as error:
            if not self.summary.stopped_by:
                self.summary.stopped_by = f"the teacher failed: {error}"
            return None

    def _validator(self, task: Task):
        return lambda program: self.executor.run(program, task.test)

    def _store_result(self, task: Task, result, attempt) -> None:
        from persd.diffing import diff_size

        teacher_error = _teacher_error(result)
        with self.store.transaction():
            call_ids = [self._store_call(task, call, attempt).id for call in result.calls]
            self.store.add_refinement(
                self.config.method, teacher_model=self.config.teacher_model,
                program=result.program, completion=result.completion, validated=result.validated,
                attempt_id=attempt.id if attempt else None, task_id=task.task_id,
                round=self.config.round, reason=result.reason, tries=result.tries,
                diff_lines=diff_size(attempt.program, result.program) if attempt and result.program else None,
                error=teacher_error, execution=result.last_execution, teacher_call_ids=call_ids,
            )
        self.summary.cost_usd += result.cost_usd
        self.summary.refined += teacher_error is None
        self.summary.validated += result.validated
        if self.config.method != "inpd":  # inpd counted its tasks when their attempts ran
            self._advance()

    def _store_call(self, task: Task, call, attempt):
        return self.store.add_teacher_call(
            purpose=call.purpose, model=call.model, messages=call.messages, task_id=task.task_id,
            round=self.config.round, raw_reply=call.raw_reply, prompt_tokens=call.prompt_tokens,
            completion_tokens=call.completion_tokens, cost_usd=call.cost_usd, cached=call.cached,
            error=call.error, duration_s=call.duration_s, attempt_id=attempt.id if attempt else None,
            batch_id=getattr(call, "batch_id", None),  # set on BatchTeacher's answers
        )

    async def _drain_teacher(self) -> None:
        flush = getattr(self.teacher, "flush", None)
        if flush is not None and not self._stop_requested():
            # A batch teacher sends the requests it holds as one batch.
            await asyncio.sleep(0)  # the jobs spawned last reach their first request
            await flush(self.store, self.config.round)
        while self.teacher_jobs:
            done, _ = await asyncio.wait(list(self.teacher_jobs), timeout=STOP_POLL_S)
            for job in done:
                if not job.cancelled():
                    job.result()  # a job's unexpected error ends the run, as before
            if self._stop_requested():
                for job in self.teacher_jobs:
                    job.cancel()
                await asyncio.gather(*list(self.teacher_jobs), return_exceptions=True)

    def _stop_requested(self) -> bool:
        """`should_stop()`, noted in the summary (`_spawn` starts no teacher job after it)."""
        if not self.should_stop():
            return False
        self.summary.stopped_by = self.summary.stopped_by or STOPPED_ON_REQUEST
        return True

    # -- bookkeeping ---------------------------------------------------------------------

    def _count_finished(self, work) -> None:
        unfinished = (len(work.needs_attempt) + len(work.needs_execution)
                      + len(work.needs_refinement) + len(work.needs_solution))
        self.bar.update(max(0, self.bar.total - unfinished))

    def _advance(self) -> None:
        """One task (sample) reached its final state for this round."""
        s = self.summary
        self.bar.set_postfix_str(
            f"attempted {s.attempts} passed {s.passed} refined {s.refined} "
            f"validated {s.validated} cost ${s.cost_usd:.4f}", refresh=False)
        self.bar.update(1)

    def _tally(self, started: float) -> None:
        """The summary is read back from the store, so a resumed run reports the whole round."""
        summary = self.summary
        attempts = [a for a in self.store.attempts(round=self.config.round) if a.task_id in self.tasks]
        summary.attempts = len(attempts)
        summary.passed = sum(1 for a in attempts if a.execution and a.execution.passed)
        summary.failed = sum(1 for a in attempts if a.execution and not a.execution.passed)
        results = [r for r in self.store.refinements(round=self.config.round, method=self.config.method,
                                                       include_errors=True) if r.task_id in self.tasks]
        done = [r for r in results if not r.error]
        summary.refined = len(done)
        summary.validated = sum(1 for r in done if r.validated)
        summary.unvalidated = len(done) - summary.validated
        work = self.store.pending_work(self.config.round, method=self.config.method,
                                       samples=self.config.samples, task_ids=self.order)
        summary.teacher_errors = dict(work.teacher_errors)
        for attempt_id in work.needs_refinement:
            task_id = self.store.attempt(attempt_id).task_id
            summary.teacher_errors.setdefault(task_id, "no teacher result yet")
        for task_id in work.needs_solution:
            summary.teacher_errors.setdefault(task_id, "no teacher result yet")
        summary.cost_usd = self.store.teacher_cost(round=self.config.round)
        summary.wall_s = time.monotonic() - started


def _teacher_error(result) -> str | None:
    """A failure of the teacher itself (not a wrong answer): kept so a rerun retries it."""
    return result.reason if result.reason.startswith("teacher error") else None


def _student_name(config: CollectConfig) -> str:
    return config.student + (f"+{config.adapter}" if config.adapter else "")


async def _close(teacher) -> None:
    close = getattr(teacher, "aclose", None)
    if close is not None:
        await close()


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc="collect", unit="task", disable=not enabled, dynamic_ncols=True)
