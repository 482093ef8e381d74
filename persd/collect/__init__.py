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

One collection of a session runs at a time (`persd.collect.lock`): another is refused at
once with a message naming it, or waits for it with `wait=True`. An existing session is
opened and checked before anything slow (the student model) loads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import ExitStack

from persd.collect.config import METHODS, STOPPED_ON_REQUEST, CollectConfig, CollectError, CollectSummary
from persd.collect.lock import SessionBusy, collect_lock
from persd.collect.loop import CollectionLoop
from persd.execution import make_executor
from persd.store import ConfigMismatch, SessionStore, StoreError, session_path
from persd.student import StudentLoadError
from persd.student.backends import build_student
from persd.student.openai import StudentServerError
from persd.tasks import Task, load_tasks
from persd.tasks.decontaminate import contamination_warning
from persd.teacher import OpenAITeacher, TeacherConfig, TeacherError
from persd.teacher.batch import BatchTeacher

__all__ = ["METHODS", "STOPPED_ON_REQUEST", "CollectConfig", "CollectError", "CollectSummary",
           "CollectionLoop", "SessionBusy", "collect"]
logger = logging.getLogger(__name__)


def collect(config: CollectConfig, *, student=None, teacher=None, executor=None,
            progress: bool = True, tasks: list[Task] | None = None,
            should_stop: Callable[[], bool] | None = None, wait: bool = False,
            on_wait: Callable[[str], None] | None = None) -> CollectSummary:
    """Runs (or resumes) one collection round; backends are built from `config` unless given.
    `should_stop() -> True` ends the round early and cleanly (see the module docstring).
    Another collection of the same session raises SessionBusy, or with `wait` is waited
    for (`on_wait` is told so once)."""
    try:
        session_path(config.sessions_dir, config.session)
    except StoreError as error:  # an invalid session name
        raise CollectError(str(error)) from error
    with collect_lock(config.sessions_dir, config.session, wait=wait, on_wait=on_wait), \
            ExitStack() as stack:
        # An existing session is opened and checked first: a damaged or newer file is
        # reported in seconds, not after the student model has loaded.
        store = _open_existing_session(config)
        if store is not None:
            stack.callback(store.close)
        return _collect(config, stack, store, student, teacher, executor, progress, tasks,
                        should_stop)


def _collect(config, stack, store, student, teacher, executor, progress, tasks, should_stop):
    tasks = tasks if tasks is not None else load_tasks(config.tasks)
    tasks = tasks[: config.limit] if config.limit else tasks
    if not tasks:
        raise CollectError(f"the task set {config.tasks!r} is empty")
    _warn_if_contaminated(tasks, config.eval_tasks)
    teacher = teacher or _build_teacher(config, progress)
    asyncio.run(_check_teacher(teacher))
    if student is None and config.method != "stand":
        student = _build_student(config)
    if store is None:  # only now, with every input checked, is a new session created
        store = stack.enter_context(_create_session(config))
    _bind_session(store, config, tasks)
    if getattr(teacher, "cache", False) is None:
        teacher.cache = store.teacher_cache  # a rerun pays nothing for replies it has
    owns_executor = executor is None
    executor = executor or make_executor(workers=config.workers, timeout_s=config.timeout_s,
                                         protocol=config.protocol)
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


def _open_existing_session(config: CollectConfig) -> SessionStore | None:
    if not session_path(config.sessions_dir, config.session).exists():
        return None
    try:
        store = SessionStore.open(config.sessions_dir, config.session)
    except StoreError as error:
        raise CollectError(str(error)) from error
    verdict = store.integrity_check(quick=True)
    if verdict != "ok":
        store.close()
        raise CollectError(verdict if str(store.path) in verdict else
                           f"session database {store.path} is damaged ({verdict}); restore it "
                           f"from a backup, or try `sqlite3 {store.path} .recover`")
    return store


def _create_session(config: CollectConfig) -> SessionStore:
    try:
        return SessionStore.open(config.sessions_dir, config.session, create=True)
    except StoreError as error:
        raise CollectError(str(error)) from error


def _warn_if_contaminated(tasks: list[Task], eval_spec: str | None) -> None:
    if not eval_spec:
        return

    warning = contamination_warning(tasks, eval_spec)
    if warning:
        logger.warning("persd: CONTAMINATION: %s", warning)


def _build_teacher(config: CollectConfig, progress: bool):
    settings = TeacherConfig(model=config.teacher_model, concurrency=config.concurrency,
                             tries=config.teacher_tries, max_tokens=config.teacher_max_tokens)
    if config.teacher_batch:
        return BatchTeacher(settings, progress=progress)  # its polling bar follows ours
    return OpenAITeacher(settings)


async def _check_teacher(teacher) -> None:
    try:
        await teacher.check()
    except TeacherError as error:
        raise CollectError(str(error)) from error
    finally:
        await teacher.aclose()


def _build_student(config: CollectConfig):
    try:
        return build_student(
            config.student_backend, model=config.student, adapter=config.adapter,
            sampling=config.sampling, batch_size=config.batch_size,
            base_url=config.student_base_url, prompt_format=config.student_format(),
        )
    except (StudentLoadError, ValueError) as error:
        raise CollectError(str(error)) from error


def _bind_session(store: SessionStore, config: CollectConfig, tasks: list[Task]) -> None:
    """Records the settings on first use; refuses a rerun with other settings."""
    try:
        if not store.config():
            store.set_config(config.session_identity())
        else:
            store.set_config({**store.config(), **config.session_identity()})
        store.tasks.add(tasks)
    except (ConfigMismatch, StoreError) as error:
        raise CollectError(f"session {config.session!r} was created with other settings: {error}") from error
    previous = [run for run in store.runs.list(kind="collect") if run.config.get("round") == config.round]
    for run in previous:
        stored = {k: run.config.get(k) for k in ("adapter", "temperature", "top_p")}
        wanted = {k: config.round_settings()[k] for k in stored}
        if stored != wanted:
            raise CollectError(
                f"round {config.round} of session {config.session!r} was collected with {stored}, "
                f"not {wanted}: use another --round or another session"
            )
