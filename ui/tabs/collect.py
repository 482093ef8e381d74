"""The Collect tab: run (or resume) a collection round from the browser.

Wiring only: `persd.jobs.CollectJob` runs `persd.collect.collect` (or, with the simulated
backend, `persd.demo.build_demo_session`) in a worker thread; this tab reports its progress
(gr.Progress) and the running cost from the session as the loop commits each step, so the
Review tab's queue fills while it runs. The API key is used for this run only and never
stored (the session records the teacher's model, not its key).
"""

from __future__ import annotations

import gradio as gr

from persd.collect import METHODS, CollectConfig
from persd.jobs import CollectJob, CollectProgress
from persd.store import session_path
from ui.tabs import AppContext
from ui.tabs.review_render import esc, message

TITLE = "Collect"
POLL_S = 1.0
BACKENDS = [("Real models: a student model and an OpenAI-compatible teacher", "real"),
            ("Simulated (offline demo: persd.sim student and teacher, real sandbox)", "sim")]


def build(ctx: AppContext) -> None:
    backend = gr.Radio(BACKENDS, value="real", label="Backends", elem_id="persd-col-backend")
    with gr.Row(equal_height=True):
        session = gr.Textbox(label="Session (new or existing; a rerun resumes it)",
                             elem_id="persd-col-session", min_width=180)
        tasks = gr.Textbox("humaneval", label="Tasks (humaneval, a JSONL/CSV/Parquet path, "
                           "mbpp:PATH)", elem_id="persd-col-tasks", scale=2)
        limit = gr.Number(0, label="Limit (first N tasks; 0: all)", precision=0, minimum=0,
                          elem_id="persd-col-limit", min_width=110)
    with gr.Group(visible=True) as real:
        with gr.Row(equal_height=True):
            student = gr.Textbox(label="Student model (Hugging Face id or folder)",
                                 placeholder="e.g. Qwen/Qwen2.5-Coder-0.5B or models/tiny",
                                 elem_id="persd-col-student", scale=2)
            adapter = gr.Textbox(label="Adapter (peft folder, round 2+)",
                                 elem_id="persd-col-adapter")
            method = gr.Dropdown(list(METHODS), value="persd", label="Method",
                                 elem_id="persd-col-method", min_width=100)
        with gr.Row(equal_height=True):
            base_url = gr.Textbox(label="Teacher endpoint (base URL; empty: OPENAI_BASE_URL)",
                                  placeholder="https://api.openai.com/v1 or "
                                  "http://localhost:8000/v1", elem_id="persd-col-base-url",
                                  scale=2)
            api_key = gr.Textbox(label="API key (empty: OPENAI_API_KEY; never stored)",
                                 type="password", elem_id="persd-col-api-key")
            teacher_model = gr.Textbox(label="Teacher model", placeholder="e.g. gpt-4o-mini",
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
    run = gr.Button("Run collection", variant="primary", elem_id="persd-col-run")
    progress_html = gr.HTML(elem_id="persd-col-progress")
    summary = gr.Code(label="Summary", language=None, interactive=False, visible=False,
                      elem_id="persd-col-summary")

    backend.change(lambda b: gr.Group(visible=b == "real"), [backend], [real],
                   show_progress="hidden")

    def prefill(name):
        return name or ""

    ctx.on_session(prefill, [ctx.session], [session], show_progress="hidden")

    def collect_run(backend, name, tasks, limit, student, adapter, method, base_url, api_key,
                    teacher_model, concurrency, tries, round_, samples, max_new_tokens,
                    progress=gr.Progress()):
        name = (name or "").strip()
        try:
            session_path(ctx.sessions_dir, name)
            job = _job(ctx, backend, name, tasks, limit, student, adapter, method, base_url,
                       api_key, teacher_model, concurrency, tries, round_, samples,
                       max_new_tokens)
        except ValueError as error:
            yield message("error", str(error)), gr.Code(visible=False), gr.skip()
            return
        progress(0, desc="Loading tasks, the student and checking the teacher")
        job.start()
        while not job.wait(POLL_S):
            snap = job.snapshot()
            progress((snap.done, snap.total) if snap.total else None, desc=_desc(snap),
                     unit="tasks")
            yield _progress(snap, job.note, running=True), gr.skip(), gr.skip()
        if job.error:
            yield (message("error", f"Collection failed: {job.error}"), gr.Code(visible=False),
                   gr.skip())
            return
        snap = job.snapshot()
        text = job.summary.table() if hasattr(job.summary, "table") else _sim_summary(snap)
        names = ctx.stores.names()
        yield (_progress(snap, "", running=False), gr.Code(text, visible=True),
               gr.Dropdown(choices=names))

    run.click(collect_run, [backend, session, tasks, limit, student, adapter, method, base_url,
                            api_key, teacher_model, concurrency, tries, round_, samples,
                            max_new_tokens], [progress_html, summary, ctx.session],
              concurrency_limit=1, concurrency_id="persd-collect",
              show_progress="full", show_progress_on=[progress_html])


def _job(ctx: AppContext, backend, name, tasks, limit, student, adapter, method, base_url,
         api_key, teacher_model, concurrency, tries, round_, samples,
         max_new_tokens) -> CollectJob:
    """The CollectJob for the form (ValueError with a message for bad settings)."""
    limit = int(limit) if limit else None
    if backend == "sim":
        config = CollectConfig(session=name, teacher_model="simulated-teacher",
                               student="simulated-student", limit=limit,
                               sessions_dir=str(ctx.sessions_dir))
        return CollectJob(config, executor=ctx.executor(), simulated=True)
    from persd.teacher import OpenAITeacher, TeacherConfig

    if not (teacher_model or "").strip():
        raise ValueError("give the teacher model's name at the endpoint")
    config = CollectConfig(
        session=name, tasks=(tasks or "").strip() or "humaneval",
        student=(student or "").strip(), teacher_model=teacher_model.strip(), method=method,
        adapter=(adapter or "").strip() or None, limit=limit, round=int(round_ or 1),
        samples=int(samples or 1), concurrency=int(concurrency or 1),
        teacher_tries=int(tries or 1), max_new_tokens=int(max_new_tokens or 512),
        sessions_dir=str(ctx.sessions_dir))
    teacher = OpenAITeacher(TeacherConfig(
        model=config.teacher_model, base_url=(base_url or "").strip() or None,
        api_key=api_key or None, concurrency=config.concurrency, tries=config.teacher_tries))
    return CollectJob(config, teacher=teacher, executor=ctx.executor())


def _desc(snap: CollectProgress) -> str:
    return (f"{snap.done}/{snap.total} tasks · passed {snap.passed} · refined {snap.refined} "
            f"· validated {snap.validated} · ${snap.cost_usd:.4f}")


def _progress(snap: CollectProgress, note: str, running: bool) -> str:
    state = "running" if running else "done"
    extra = f" · {esc(note)}" if note else ""
    return (f'<div class="persd-msg persd-msg-{"info" if running else "ok"}" '
            f'data-testid="collect-progress" data-state="{state}" data-done="{snap.done}">'
            f'<b>{"Collecting" if running else "Finished"}</b>: {snap.done}/{snap.total} tasks '
            f'· {snap.attempts} attempts ({snap.passed} passed) · {snap.refined} teacher results '
            f'({snap.validated} validated) · running cost <b data-testid="collect-cost">'
            f'${snap.cost_usd:.4f}</b>{extra}. New refinements are already in the Review '
            f'queue.</div>')


def _sim_summary(snap: CollectProgress) -> str:
    return (f"simulated session: {snap.attempts} attempts, {snap.passed} passed, "
            f"{snap.refined} refinements ({snap.validated} validated), cost $0 (SIMULATED)")
