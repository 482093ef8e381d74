"""The offline demo session: HumanEval with a simulated student and teacher (persd.demo.sim).

    from persd.demo import build_demo_session
    path = build_demo_session("sessions")            # sessions/demo.sqlite, seconds, offline
    path = build_demo_session("sessions", limit=20)  # the first 20 tasks only

Everything in it is judged by the real sandboxed Executor; only the student and teacher
are simulated, and the session's config says so (`simulated: True`), which the app shows
on every screen. Building again adds only tasks that are missing: a rerun writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from persd.code.diffing import diff_size
from persd.demo.sim import SIMULATED_LABEL, STUDENT_MODEL, TEACHER_MODEL, build_demo_records
from persd.execution import Executor
from persd.prompts import teacher_refine_messages
from persd.store import SessionStore
from persd.tasks import Task, load_tasks

__all__ = ["DEMO_SESSION", "build_demo_session", "demo_config"]

DEMO_SESSION = "demo"
ROUND = 0


def demo_config(seed: int) -> dict[str, Any]:
    """The settings recorded in a demo session (and checked when it is built again)."""
    return {
        "simulated": True, "label": SIMULATED_LABEL, "tasks": "humaneval", "method": "persd",
        "student": STUDENT_MODEL, "teacher_model": TEACHER_MODEL, "seed": seed,
        "note": "offline demo: simulated student (AST bug injection) and simulated teacher "
                "(minimal repairs); every program was judged by the real sandbox",
    }


def build_demo_session(
    sessions_dir: str | Path, name: str = DEMO_SESSION, seed: int = 0, limit: int | None = None,
    *, executor: Any = None, progress: Callable[[str], None] | None = None,
) -> Path:
    """Build (or complete) the simulated demo session; returns its database path.
    A session of that name made with another seed raises the store's ConfigMismatch."""
    tasks = load_tasks("humaneval")[:limit]
    with SessionStore.open(sessions_dir, name, create=True) as store:
        store.set_config(demo_config(seed))
        store.tasks.add(tasks)
        done = {attempt.task_id for attempt in store.attempts.list(round=ROUND)}
        todo = [task for task in tasks if task.task_id not in done]
        if todo:
            _say(progress, f"Simulating {len(todo)} tasks (student, teacher, sandbox)...")
            records = _records(todo, seed, executor)
            _say(progress, f"Writing {len(records)} records to {store.path}...")
            by_id = {task.task_id: task for task in todo}
            with store.transaction():
                for record in records:
                    _write(store, by_id[record.task_id], record)
        return store.path


def _say(progress: Callable[[str], None] | None, message: str) -> None:
    if progress is not None:
        progress(message)


def _records(tasks: list[Task], seed: int, executor: Any) -> list:
    if executor is not None:
        return build_demo_records(tasks, executor, seed=seed)

    with Executor() as own:
        return build_demo_records(tasks, own, seed=seed)


def _write(store: SessionStore, task: Task, record: Any) -> None:
    """One simulated attempt, its run, and (when it failed) the teacher's call and repair."""
    sampling = {"simulated": True, "mutation": record.mutation}
    attempt = store.attempts.add(
        task.task_id, ROUND, model=record.student_model, prompt=task.prompt,
        completion=record.attempt_completion, program=record.attempt_program, sampling=sampling,
    )
    store.executions.add("attempt", attempt.id, record.attempt_result)
    if record.attempt_result.passed or record.teacher_raw_reply is None:
        return
    if store.refinements.list(attempt_id=attempt.id, include_errors=True):
        return  # written by an earlier, interrupted build
    call = store.teacher_calls.add(
        purpose="refine", model=record.teacher_model, task_id=task.task_id, round=ROUND,
        attempt_id=attempt.id,
        messages=teacher_refine_messages(task, record.attempt_program,
                                         record.attempt_result.feedback),
        raw_reply=record.teacher_raw_reply, prompt_tokens=record.teacher_prompt_tokens,
        completion_tokens=record.teacher_completion_tokens, cost_usd=0.0,
    )
    program, result = record.refinement_program, record.refinement_result
    if program is None:
        reason = "the teacher's reply held no usable code for the function"
    elif result is None or not result.passed:
        reason = f"the refinement fails the hidden tests ({result.status if result else 'not run'})"
    else:
        reason = ""
    store.refinements.add(
        "persd", attempt_id=attempt.id, teacher_model=record.teacher_model, program=program,
        completion=record.refinement_completion, validated=bool(result and result.passed),
        reason=reason, diff_lines=None if program is None else diff_size(
            record.attempt_program, program),
        execution=result, teacher_call_ids=[call.id],
    )
