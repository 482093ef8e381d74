"""The Collect tab: run (or resume) a collection round from the browser, and cancel it.

Wiring only: `persd.jobs.CollectJob` runs `persd.collect.collect` (or, with the simulated
backend, `persd.demo.build_demo_session`) in a worker thread; this tab reports its progress
(gr.Progress) and the running cost from the session as the loop commits each step, so the
Review tab's queue fills while it runs. Cancel asks the job to stop after the current
student batch (everything done is kept; the same settings resume it). The form starts from
the picked session's settings. The teacher endpoint is one the operator listed (or, if
they allow it, one typed with its own key: `ui.endpoints`); the API key is used for this
run only and never stored (the session records the teacher's model, not its key), and a
failing endpoint is described in a few words, never by its reply.
"""

from __future__ import annotations

import threading

import gradio as gr

from persd.collect import STOPPED_ON_REQUEST, CollectConfig
from persd.jobs import CollectJob, CollectProgress
from persd.store import StoreError, session_path
from ui.endpoints import QuietTeacher
from ui.tabs import AppContext
from ui.tabs.review_render import esc, message

TITLE = "Collect"
POLL_S = 1.0
BACKENDS = [("Real models: a student model and an OpenAI-compatible teacher", "real"),
            ("Simulated: the offline demo (persd.demo.sim)", "sim")]
METHOD_CHOICES = [("PERsD: the teacher refines each failed attempt", "persd"),
                  ("InpD: the teacher solves each failed task", "inpd"),
                  ("StanD: the teacher solves every task (no student)", "stand")]


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


def build(ctx: AppContext) -> None:
    running = Running()
    backend = gr.Radio(BACKENDS, value="real", label="Backends", elem_id="persd-col-backend",
                       info="Simulated: a persd.demo.sim student and teacher (no model, no API "
                            "key), every program judged by the real sandbox.")
    with gr.Row(equal_height=True):
        session = gr.Textbox(label="Session", elem_id="persd-col-session", min_width=180,
                             info="new or existing; running again resumes it")
        tasks = gr.Textbox("humaneval", label="Tasks", elem_id="persd-col-tasks", scale=2,
                           info="humaneval, mbpp:PATH, or a JSONL / CSV / Parquet file")
        limit = gr.Number(0, label="Limit", precision=0, minimum=0, elem_id="persd-col-limit",
                          min_width=110, info="the first N tasks; 0: all")
    with gr.Group(visible=True) as real:
        with gr.Row(equal_height=True):
            student = gr.Textbox(label="Student model", info="Hugging Face id or local folder",
                                 placeholder="e.g. Qwen/Qwen2.5-Coder-0.5B or models/tiny",
                                 elem_id="persd-col-student", scale=2)
            adapter = gr.Textbox(label="Adapter (optional)",
                                 info="a peft folder, e.g. a Train output (round 2+)",
                                 elem_id="persd-col-adapter")
            method = gr.Dropdown(METHOD_CHOICES, value="persd", label="Method",
                                 info="what the teacher is asked for (PAPER.md)",
                                 elem_id="persd-col-method", min_width=200)
        with gr.Row(equal_height=True):
            custom = ctx.endpoints.allow_custom
            base_url = gr.Dropdown(
                list(ctx.endpoints.listed), value=ctx.endpoints.listed[0],
                allow_custom_value=custom, label="Teacher endpoint",
                info="an OpenAI-compatible base URL " + (
                    "from the list, or type another (with your own key)" if custom else
                    "(the app's operator sets the list)"),
                elem_id="persd-col-base-url", scale=2)
            api_key = gr.Textbox(label="API key", type="password",
                                 info="empty: the server's key (listed endpoints only); used "
                                      "for this run, never stored",
                                 elem_id="persd-col-api-key")
            teacher_model = gr.Textbox(label="Teacher model", placeholder="e.g. gpt-4o-mini",
                                       info="the model's name at the endpoint",
                                       elem_id="persd-col-teacher-model")
        with gr.Row(equal_height=True):
            concurrency = gr.Number(8, label="Teacher calls in flight", precision=0,
                                    minimum=1, elem_id="persd-col-concurrency")
            tries = gr.Number(2, label="Teacher tries per task", precision=0, minimum=1,
                              elem_id="persd-col-tries")
            round_ = gr.Number(1, label="Round", precision=0, minimum=1,
                               elem_id="persd-col-round")
            samples = gr.Number(1, label="Attempts per task", precision=0, minimum=1,
                                elem_id="persd-col-samples")
            max_new_tokens = gr.Number(512, label="Max new tokens", precision=0, minimum=1,
                                       elem_id="persd-col-max-new-tokens")
    with gr.Row():
        run = gr.Button("Run collection", variant="primary", elem_id="persd-col-run", scale=3)
        cancel = gr.Button("Cancel", variant="stop", interactive=False,
                           elem_id="persd-col-cancel", scale=1)
    progress_html = gr.HTML(elem_id="persd-col-progress")
    summary = gr.Code(label="Summary", language=None, interactive=False, visible=False,
                      elem_id="persd-col-summary")
    current = gr.State("")  # the session this page's run collects into

    def show_backend(choice):
        return gr.Group(visible=choice == "real"), gr.Textbox(visible=choice == "real")

    backend.change(show_backend, [backend], [real, tasks], show_progress="hidden")

    def prefill(name):
        """The picked session's settings, so running again resumes it."""
        # A job started from another page (or before a reload) can be cancelled here too.
        can_cancel = gr.Button(interactive=bool(name) and running.get(name) is not None)
        if not name:
            return "", gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), can_cancel
        try:
            store = ctx.stores.get(name)
            config, simulated = store.config(), store.simulated
        except StoreError:
            return name, gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), can_cancel
        if simulated:
            return name, "sim", gr.skip(), gr.skip(), gr.skip(), gr.skip(), can_cancel
        methods = [value for _, value in METHOD_CHOICES]
        return (name, "real", config.get("tasks") or "humaneval", config.get("student") or "",
                config.get("teacher_model") or "",
                config.get("method") if config.get("method") in methods else "persd",
                can_cancel)

    ctx.on_session(prefill, [ctx.session],
                   [session, backend, tasks, student, teacher_model, method, cancel],
                   show_progress="hidden")

    def collect_run(backend, name, tasks, limit, student, adapter, method, base_url, api_key,
                    teacher_model, concurrency, tries, round_, samples, max_new_tokens,
                    picked, progress=gr.Progress()):
        name = (name or "").strip()
        idle = gr.Button(interactive=True), gr.Button(interactive=False, value="Cancel")
        try:
            session_path(ctx.sessions_dir, name)
            job = collect_job(ctx, backend, name, tasks, limit, student, adapter, method, base_url,
                       api_key, teacher_model, concurrency, tries, round_, samples,
                       max_new_tokens)
        except ValueError as error:
            yield (message("error", str(error)), gr.Code(visible=False), gr.skip(), *idle,
                   gr.skip())
            return
        if running.get(name) is not None:
            yield (message("error", f"A collection into {name!r} is already running: cancel "
                                    "it first or wait for it."), gr.skip(), gr.skip(),
                   gr.skip(), gr.Button(interactive=True), name)
            return
        progress(0, desc="Loading tasks, the student and checking the teacher")
        running.add(name, job.start())
        busy = gr.Button(interactive=False), gr.Button(interactive=True)
        elsewhere = "" if name == picked else f" (pick {name} in Session above to review it)"
        try:
            while not job.wait(POLL_S):
                snap = job.snapshot()
                progress((snap.done, snap.total) if snap.total else None, desc=_desc(snap),
                         unit="tasks")
                yield (_progress(snap, job, elsewhere), gr.skip(), gr.skip(), *busy, name)
        finally:
            running.drop(name, job)
        if job.error:
            yield (message("error", f"Collection failed: {job.error}"), gr.Code(visible=False),
                   gr.skip(), *idle, "")
            return
        snap = job.snapshot()
        text = job.summary.table() if hasattr(job.summary, "table") else _sim_summary(snap)
        yield (_progress(snap, job, ""), gr.Code(text, visible=True),
               gr.Dropdown(choices=ctx.stores.names(), value=name), *idle, "")

    def cancel_run(current, typed):
        job = running.get(current or "") or running.get((typed or "").strip())
        if job is None:
            return gr.Button(interactive=False)
        job.cancel()
        return gr.Button(interactive=False, value="Cancelling…")

    run.click(collect_run, [backend, session, tasks, limit, student, adapter, method, base_url,
                            api_key, teacher_model, concurrency, tries, round_, samples,
                            max_new_tokens, ctx.session],
              [progress_html, summary, ctx.session, run, cancel, current],
              concurrency_limit=1, concurrency_id="persd-collect",
              show_progress="full", show_progress_on=[progress_html])
    cancel.click(cancel_run, [current, session], [cancel], show_progress="hidden")


def collect_job(ctx: AppContext, backend, name, tasks, limit, student, adapter, method,
                base_url, api_key, teacher_model, concurrency, tries, round_, samples,
                max_new_tokens) -> CollectJob:
    """The CollectJob for the form (ValueError with a message for bad settings)."""
    limit = int(limit) if limit else None
    if backend == "sim":
        config = CollectConfig(session=name, teacher_model="simulated-teacher",
                               student="simulated-student", limit=limit,
                               sessions_dir=str(ctx.sessions_dir))
        return CollectJob(config, executor=ctx.executor(), simulated=True)
    from persd.teacher import OpenAITeacher, TeacherConfig

    if method != "stand" and not (student or "").strip():
        raise ValueError("give the student model (a Hugging Face id or a local folder)")
    if not (teacher_model or "").strip():
        raise ValueError("give the teacher model's name at the endpoint")
    url, key = ctx.endpoints.resolve(base_url, api_key)
    config = CollectConfig(
        session=name, tasks=(tasks or "").strip() or "humaneval",
        student=(student or "").strip(), teacher_model=teacher_model.strip(), method=method,
        adapter=(adapter or "").strip() or None, limit=limit, round=int(round_ or 1),
        samples=int(samples or 1), concurrency=int(concurrency or 1),
        teacher_tries=int(tries or 1), max_new_tokens=int(max_new_tokens or 512),
        sessions_dir=str(ctx.sessions_dir))
    teacher = QuietTeacher(OpenAITeacher(TeacherConfig(
        model=config.teacher_model, base_url=url, api_key=key, concurrency=config.concurrency,
        tries=config.teacher_tries)), f"teacher endpoint {url} (model {config.teacher_model})")
    return CollectJob(config, teacher=teacher, executor=ctx.executor())


def _desc(snap: CollectProgress) -> str:
    return (f"{snap.done}/{snap.total} tasks · passed {snap.passed} · refined {snap.refined} "
            f"· validated {snap.validated} · ${snap.cost_usd:.4f}")


def _progress(snap: CollectProgress, job: CollectJob, extra: str) -> str:
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
            f'<b data-testid="collect-cost">{cost}</b>{note}.{tail}</div>')


def _sim_summary(snap: CollectProgress) -> str:
    return (f"simulated session: {snap.attempts} attempts, {snap.passed} passed, "
            f"{snap.refined} refinements ({snap.validated} validated), cost $0 (SIMULATED)")
