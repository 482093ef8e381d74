"""`CollectionLoop`: one round's pipeline of student batches, sandbox runs and teacher calls.

All store writes happen on the event loop's thread; generation and execution run in
worker threads, teacher calls concurrently on the loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time

from tqdm import tqdm

from persd.code.diffing import diff_size
from persd.collect.config import STOPPED_ON_REQUEST, CollectConfig, CollectSummary
from persd.paper_style import paper_cut
from persd.student.base import task_prompt
from persd.tasks import Task
from persd.teacher import TeacherError

STOP_POLL_S = 0.5  # how often `should_stop` is asked while teacher calls are awaited


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
        run_id = self.store.runs.add("collect", {**self.config.round_settings(), **self.config.session_identity()},
                                    status="running")
        work = self.store.pending.work(self.config.round, method=self.config.method,
                                       samples=self.config.samples, task_ids=self.order)
        self._count_finished(work)
        try:
            await self._finish_started_work(work)
            await self._attempt_in_batches(work.needs_attempt)
            await self._drain_teacher()
        finally:
            self.bar.close()
            await self.teacher.aclose()
        self._tally(started)
        status = ("stopped" if self.summary.stopped_by == STOPPED_ON_REQUEST else
                  "finished" if self.summary.complete else "failed")
        self.store.runs.update(run_id, status=status, result=dataclasses.asdict(self.summary))
        return self.summary

    # -- steps ---------------------------------------------------------------------------

    async def _finish_started_work(self, work) -> None:
        """Steps a previous run left half done: unexecuted attempts, missing teacher results."""
        attempts = [self.store.attempts.get(attempt_id) for attempt_id in work.needs_execution]
        await self._execute(attempts)
        for attempt_id in work.needs_refinement:
            self._to_teacher(self.store.attempts.get(attempt_id))
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
                self.student.complete, [task_prompt(self.tasks[t], self.config.prompt_style)
                                        for t in batch],
                self.config.samples)
            attempts = []
            for task_id, samples in zip(batch, completions):
                for index in by_task[task_id]:
                    attempts.append(self._store_attempt(self.tasks[task_id], index, samples[index]))
            await self._execute(attempts)

    def _store_attempt(self, task: Task, index: int, completion: str):
        prompt = task_prompt(task, self.config.prompt_style)
        if self.config.prompt_style == "paper":
            completion = paper_cut(completion)
        return self.store.attempts.add(
            task.task_id, self.config.round, sample_index=index, model=_student_name(self.config),
            prompt=prompt, completion=completion, program=prompt + completion,
            sampling=self.config.sampling.to_dict(),
        )

    async def _execute(self, attempts) -> None:
        if not attempts:
            return
        results = await asyncio.to_thread(
            self.executor.run_many, [(a.program, self.tasks[a.task_id].test, self.tasks[a.task_id].prompt) for a in attempts])
        for attempt, result in zip(attempts, results):
            stored = self.store.executions.add("attempt", attempt.id, result)
            self.summary.attempts += 1
            self.summary.passed += stored.result.passed
            self.summary.failed += not stored.result.passed
            if stored.result.passed:
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
        feedback = attempt.execution.result.feedback if attempt.execution else ""
        result = await self._ask(self.teacher.refine(task, attempt.program, feedback, self._validator(task)))
        if result is not None:
            self._store_result(task, result, attempt)

    async def _solve(self, task: Task) -> None:
        result = await self._ask(self.teacher.solve(task, self._validator(task)))
        if result is not None:
            self._store_result(task, result, None)

    async def _ask(self, call):
        """The teacher's result, or None when the teacher became unusable (run stops)."""
        try:
            return await call
        except TeacherError as error:
            if not self.summary.stopped_by:
                self.summary.stopped_by = f"the teacher failed: {error}"
            return None

    def _validator(self, task: Task):
        return lambda program: self.executor.run(program, task.test, task.prompt)

    def _store_result(self, task: Task, result, attempt) -> None:
        teacher_error = _teacher_error(result)
        with self.store.transaction():
            call_ids = [self._store_call(task, call, attempt).id for call in result.calls]
            self.store.refinements.add(
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
        return self.store.teacher_calls.add(
            purpose=call.purpose, model=call.model, messages=call.messages, task_id=task.task_id,
            round=self.config.round, raw_reply=call.raw_reply, prompt_tokens=call.prompt_tokens,
            completion_tokens=call.completion_tokens, cost_usd=call.cost_usd, cached=call.cached,
            error=call.error, duration_s=call.duration_s, attempt_id=attempt.id if attempt else None,
            batch_id=call.batch_id,
        )

    async def _drain_teacher(self) -> None:
        if not self._stop_requested():
            # A batch teacher sends the requests it holds as one batch.
            await asyncio.sleep(0)  # the jobs spawned last reach their first request
            await self.teacher.flush(self.store.teacher_batches, self.config.round)
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
        attempts = [a for a in self.store.attempts.list(round=self.config.round) if a.task_id in self.tasks]
        summary.attempts = len(attempts)
        summary.passed = sum(1 for a in attempts if a.execution and a.execution.result.passed)
        summary.failed = sum(1 for a in attempts if a.execution and not a.execution.result.passed)
        results = [r for r in self.store.refinements.list(round=self.config.round, method=self.config.method,
                                                       include_errors=True) if r.task_id in self.tasks]
        done = [r for r in results if not r.error]
        summary.refined = len(done)
        summary.validated = sum(1 for r in done if r.validated)
        summary.unvalidated = len(done) - summary.validated
        work = self.store.pending.work(self.config.round, method=self.config.method,
                                       samples=self.config.samples, task_ids=self.order)
        summary.teacher_errors = dict(work.teacher_errors)
        for attempt_id in work.needs_refinement:
            task_id = self.store.attempts.get(attempt_id).task_id
            summary.teacher_errors.setdefault(task_id, "no teacher result yet")
        for task_id in work.needs_solution:
            summary.teacher_errors.setdefault(task_id, "no teacher result yet")
        summary.cost_usd = self.store.teacher_calls.cost(round=self.config.round)
        summary.wall_s = time.monotonic() - started


def _teacher_error(result) -> str | None:
    """A failure of the teacher itself (not a wrong answer): kept so a rerun retries it."""
    return result.reason if result.reason.startswith("teacher error") else None


def _student_name(config: CollectConfig) -> str:
    return config.student + (f"+{config.adapter}" if config.adapter else "")


def _progress_bar(total: int, enabled: bool):
    return tqdm(total=total, desc="collect", unit="task", disable=not enabled, dynamic_ncols=True)
