"""What the Collect tab's events do, testable without a browser.

    handlers = CollectHandlers(Stores("sessions"), SharedExecutor(), TeacherEndpoints())
    handlers.prefill("demo")      # {"session": "demo", "backend": "sim", "round": ..., ...}
    for out in handlers.run(CollectForm(backend="sim", session="s", limit=5), picked="demo"):
        out["progress"]           # the progress line, then the summary at the end

Each handler returns {output name: value} for the names in `OUTPUTS` it changes. Real
results never go into a simulated session (nor simulated ones into a real session)
without the user confirming it: the real mode proposes a new session instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gradio as gr

from persd.cli.collect import collect as collect_command
from persd.cli.equivalent import command_for
from persd.collect import STOPPED_ON_REQUEST, CollectConfig
from persd.data_dirs import EVERYWHERE, DataDirs
from persd.jobs import CollectJob, CollectProgress
from persd.settings import default_of
from persd.store import StoreError, session_path
from persd.teacher import OpenAITeacher, TeacherConfig
from persd_app.endpoints import QuietTeacher, TeacherEndpoints
from persd_app.tabs import SharedExecutor, Stores
from persd_app.tabs.review_render import esc, message
from persd_app.tabs.timing import duration, timing

OUTPUTS = ("session", "backend", "mode_note", "real", "tasks", "student", "teacher_model",
           "method", "round", "progress", "summary", "picker", "run", "cancel", "current",
           "confirm_row", "confirm_text", "command")
POLL_S = 1.0
METHODS = ("persd", "inpd", "stand")
MODE_NOTES = {
    "real": "Real models: the student (a Hugging Face model, run on this machine) attempts "
            "each task, the sandbox runs its code against the task's tests, and the teacher "
            "at the endpoint below refines the failures. Teacher calls are billed by the "
            "endpoint; the running cost shows below. Running again with the same settings "
            "resumes the round.",
    "sim": "Simulated: a persd.demo.sim student and teacher (no model, no API key), every "
           "program judged by the real sandbox. The session is marked SIMULATED everywhere "
           "and its records are round 0; running again adds only the missing tasks. Method "
           "stand or inpd adds the simulated teacher's own solutions too (for a study).",
}


@dataclass
class CollectForm:
    backend: str = "real"            # "real" or "sim"
    session: str = ""
    tasks: str = default_of(CollectConfig, "tasks")
    limit: int | float | None = 0
    student: str = ""
    adapter: str = ""
    method: str = default_of(CollectConfig, "method")
    base_url: str | None = None
    api_key: str = ""
    teacher_model: str = ""
    concurrency: int | float | None = default_of(CollectConfig, "concurrency")
    tries: int | float | None = default_of(CollectConfig, "teacher_tries")
    round: int | float | None = default_of(CollectConfig, "round")
    samples: int | float | None = default_of(CollectConfig, "samples")
    max_new_tokens: int | float | None = default_of(CollectConfig, "max_new_tokens")
    prompt_format: str = default_of(CollectConfig, "prompt_format")
    prompt_style: str = default_of(CollectConfig, "prompt_style")


class Running:
    """The collection job of each session name, so any browser can cancel it."""

    def __init__(self) -> None:
        self._jobs: dict[str, CollectJob] = {}
        self._lock = threading.Lock()

    def add(self, name: str, job: CollectJob) -> None:
        with self._lock:
            self._jobs[name] = job

    def drop(self, name: str, job: CollectJob) -> None:
        with self._lock:
            if self._jobs.get(name) is job:
                del self._jobs[name]

    def get(self, name: str) -> CollectJob | None:
        with self._lock:
            return self._jobs.get(name)


class CollectHandlers:
    def __init__(self, stores: Stores | None, executor: SharedExecutor, endpoints: TeacherEndpoints,
                 sessions_dir: str | Path | None = None, data_dirs: DataDirs | None = None) -> None:
        self.stores, self.executor, self.endpoints = stores, executor, endpoints
        self.data_dirs = data_dirs or EVERYWHERE  # the folders Tasks, Student and Adapter may name
        self.sessions_dir = Path(sessions_dir if sessions_dir is not None
                                 else stores.sessions_dir)
        self.running = Running()

    # -- the form ------------------------------------------------------------------------

    def prefill(self, name: str | None) -> dict[str, Any]:
        """The picked session's settings (its mode, round and method), so running again
        resumes it. A job started from another page can be cancelled here too."""
        out: dict[str, Any] = {
            "cancel": gr.update(interactive=bool(name) and self.running.get(name) is not None),
            "confirm_row": gr.update(visible=False)}
        if not name:
            return {**out, "session": ""}
        try:
            store = self.stores.get(name)
            config, simulated = store.config(), store.simulated
            rounds = [a.round for a in store.attempts.list()] if not simulated else []
        except StoreError:
            return {**out, "session": name}
        if simulated:
            return {**out, **self._mode("sim"), "session": name, "backend": "sim"}
        method = config.get("method") if config.get("method") in METHODS else "persd"
        return {**out, **self._mode("real"), "session": name, "backend": "real",
                "tasks": gr.update(value=config.get("tasks") or "humaneval", visible=True),
                "student": config.get("student") or "",
                "teacher_model": config.get("teacher_model") or "", "method": method,
                "round": max(rounds, default=int(config.get("round") or 1))}

    def switch_mode(self, backend: str, session: str | None) -> dict[str, Any]:
        """The user chose the other mode: its description and fields, and a new session
        name when the one in the box holds the other kind of results."""
        out = {**self._mode(backend), "confirm_row": gr.update(visible=False)}
        simulated = self._simulated(session)
        if simulated is not None and simulated != (backend == "sim"):
            out["session"] = self.new_session_name("sim" if backend == "sim" else "collect")
        return out

    def new_session_name(self, prefix: str = "collect") -> str:
        names = set(self.stores.names())
        base = f"{prefix}-{time.strftime('%Y%m%d-%H%M')}"
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}-{n}"
        return name

    # -- running -------------------------------------------------------------------------

    def run(self, form: CollectForm, picked: str | None, confirmed: bool = False,
            progress: Callable[..., Any] | None = None) -> Iterator[dict[str, Any]]:
        name = (form.session or "").strip()
        idle = {"run": gr.update(interactive=True),
                "cancel": gr.update(interactive=False, value="Cancel"),
                "confirm_row": gr.update(visible=False)}
        try:
            session_path(self.sessions_dir, name)
            simulated = self._simulated(name)
            if simulated is False and form.backend == "sim":
                raise ValueError(f"session {name!r} holds real results: the simulated demo "
                                 "goes into a session of its own; give another name")
            job = self.job(form, name)
        except ValueError as error:
            yield {**idle, "progress": message("error", str(error)),
                   "summary": gr.update(visible=False)}
            return
        if simulated and form.backend == "real" and not confirmed:
            yield {"progress": "", "confirm_row": gr.update(visible=True),
                   "confirm_text": message("warn", (
                       f"{name} is a SIMULATED session: real results would be mixed with "
                       "simulated ones, and every screen would label them SIMULATED. Give a "
                       "new session name above, or confirm."))}
            return
        if self.running.get(name) is not None:
            yield {"progress": message("error", f"A collection into {name!r} is already "
                                                "running: cancel it first or wait for it."),
                   "cancel": gr.update(interactive=True), "current": name,
                   "confirm_row": gr.update(visible=False)}
            return
        if progress is not None:
            progress(0, desc="Loading tasks, the student and checking the teacher")
        self.running.add(name, job.start())
        busy = {"run": gr.update(interactive=False), "cancel": gr.update(interactive=True),
                "confirm_row": gr.update(visible=False), "current": name}
        elsewhere = "" if name == picked else f" (pick {name} in Session above to review it)"
        try:
            while not job.wait(POLL_S):
                snap = job.snapshot()
                if progress is not None:
                    progress((snap.done, snap.total) if snap.total else None,
                             desc=_desc(snap), unit="tasks")
                yield {**busy, "progress": progress_html(snap, job, elsewhere)}
        finally:
            self.running.drop(name, job)
        if job.error:
            yield {**idle, "progress": message("error", f"Collection failed: {job.error}"),
                   "summary": gr.update(visible=False), "current": ""}
            return
        snap = job.snapshot()
        text = job.summary.table() if hasattr(job.summary, "table") else _sim_summary(snap)
        yield {**idle, "progress": progress_html(snap, job, ""),
               "summary": gr.update(value=text, visible=True),
               "picker": gr.update(choices=self.stores.names(), value=name), "current": ""}

    def cancel(self, current: str | None, typed: str | None) -> dict[str, Any]:
        job = self.running.get(current or "") or self.running.get((typed or "").strip())
        if job is None:
            return {"cancel": gr.update(interactive=False)}
        job.cancel()
        return {"cancel": gr.update(interactive=False, value="Cancelling…")}

    def job(self, form: CollectForm, name: str) -> CollectJob:
        """The CollectJob for the form (ValueError with a message for bad settings)."""
        limit = int(form.limit) if form.limit else None
        if form.backend == "sim":
            config = CollectConfig(session=name, teacher_model="simulated-teacher",
                                   student="simulated-student", limit=limit,
                                   method=form.method or CollectForm.method,
                                   sessions_dir=str(self.sessions_dir))
            return CollectJob(config, executor=self.executor(), simulated=True)

        config = self.config(form, name)
        url, key = self.endpoints.resolve(form.base_url, form.api_key)
        teacher = QuietTeacher(OpenAITeacher(TeacherConfig(
            model=config.teacher_model, base_url=url, api_key=key,
            concurrency=config.concurrency, tries=config.teacher_tries)),
            f"teacher endpoint {url} (model {config.teacher_model})")
        return CollectJob(config, teacher=teacher, executor=self.executor())

    def config(self, form: CollectForm, name: str) -> CollectConfig:
        """The real backend's settings for the form (ValueError saying what is wrong)."""
        if form.method != "stand" and not (form.student or "").strip():
            raise ValueError("give the student model (a Hugging Face id or a local folder)")
        if not (form.teacher_model or "").strip():
            raise ValueError("give the teacher model's name at the endpoint")
        limit = int(form.limit) if form.limit else None
        return CollectConfig(
            session=name,
            tasks=self.data_dirs.task_spec("Tasks", (form.tasks or "").strip() or CollectForm.tasks),
            student=self.data_dirs.model("Student model", form.student),
            teacher_model=form.teacher_model.strip(), method=form.method,
            adapter=self.data_dirs.model("Adapter", form.adapter) or None, limit=limit,
            round=int(form.round or CollectForm.round), samples=int(form.samples or 1),
            concurrency=int(form.concurrency or 1), teacher_tries=int(form.tries or 1),
            max_new_tokens=int(form.max_new_tokens or CollectForm.max_new_tokens),
            prompt_format=form.prompt_format or CollectForm.prompt_format,
            prompt_style=form.prompt_style or CollectForm.prompt_style,
            sessions_dir=str(self.sessions_dir))

    def command(self, form: CollectForm) -> dict[str, Any]:
        """The `persd collect` line that runs what Run would (the real backend), to paste
        into a shell or a job script; the API key stays out of it (OPENAI_API_KEY)."""
        if form.backend == "sim":
            return {"command": "# simulated: `persd demo` builds a simulated session"}
        try:
            config = self.config(form, (form.session or "").strip() or "SESSION")
            url, _ = self.endpoints.resolve(form.base_url, form.api_key)
        except ValueError as error:
            return {"command": f"# {error}"}
        config = replace(config, sessions_dir=str(Path(config.sessions_dir).resolve()))
        return {"command": command_for(collect_command, config, env={"OPENAI_BASE_URL": url})}

    # -- internals -----------------------------------------------------------------------

    def _mode(self, backend: str) -> dict[str, Any]:
        real = backend == "real"
        return {"mode_note": message("info", MODE_NOTES[backend]),
                "real": gr.update(visible=real), "tasks": gr.update(visible=real)}

    def _simulated(self, name: str | None) -> bool | None:
        """Whether session `name` is simulated; None when there is no such session."""
        name = (name or "").strip()
        if not name or name not in self.stores.names():
            return None
        try:
            return self.stores.get(name).simulated
        except StoreError:
            return None


def _desc(snap: CollectProgress) -> str:
    return (f"{snap.done}/{snap.total} tasks · passed {snap.passed} · refined {snap.refined} "
            f"· validated {snap.validated} · ${snap.cost_usd:.4f}")


def progress_html(snap: CollectProgress, job: CollectJob, extra: str) -> str:
    """The progress line: running, cancelling, stopped (cancelled) or done."""
    stopped = getattr(job.summary, "stopped_by", None) == STOPPED_ON_REQUEST
    if job.running:
        state, kind = ("cancelling", "warn") if job.cancelled else ("running", "info")
        title = "Cancelling (after the current batch)" if job.cancelled else "Collecting"
    elif stopped:
        state, kind, title = "stopped", "warn", "Cancelled"
    else:
        state, kind, title = "done", "ok", "Finished"
    note = f" · {esc(job.note)}" if job.note and job.running else ""
    cost = "none (simulated)" if job.simulated else f"&#36;{snap.cost_usd:.4f}"
    tail = (" Everything finished so far is kept: run again with the same settings to "
            "resume." if stopped else " New refinements are already in the Review queue"
            f"{esc(extra)}.")
    return (f'<div class="persd-msg persd-msg-{kind}" data-testid="collect-progress" '
            f'data-state="{state}" data-done="{snap.done}"><b>{title}</b>: {snap.done}/'
            f'{snap.total} tasks · {snap.attempts} attempts ({snap.passed} passed) · '
            f'{snap.refined} teacher results ({snap.validated} validated) · running cost '
            f'<b data-testid="collect-cost">{cost}</b>{note} · <span data-testid='
            f'"collect-timing">{esc(_timing(snap, job))}</span>.{tail}</div>')


def _timing(snap: CollectProgress, job: CollectJob) -> str:
    """Elapsed, rate and ETA while it runs (issue 25: long work showed little); the time it
    took once it ended."""
    if job.running:
        return timing(job.elapsed_s, snap.done, snap.total, "tasks")
    return f"took {duration(job.elapsed_s)}"


def _sim_summary(snap: CollectProgress) -> str:
    return (f"simulated session: {snap.attempts} attempts, {snap.passed} passed, "
            f"{snap.refined} refinements ({snap.validated} validated), cost $0 (SIMULATED)")
