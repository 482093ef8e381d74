"""The Collect tab: run (or resume) a collection round from the browser, and cancel it.

Layout and wiring only; `persd_app.tabs.collect_handlers` does the work through
`persd.jobs.CollectJob` (`persd.collect.collect`, or with the simulated backend
`persd.demo.build_demo_session`, in a worker thread) and reports its progress (gr.Progress)
and the running cost as the loop commits each step, so the Review tab's queue fills while
it runs. Cancel stops after the current student batch (everything done is kept; the same
settings resume it). The form starts from the picked session's settings; real results go
into a simulated session only once the user confirms it. The teacher endpoint is one the
operator listed (or, if allowed, one typed with its own key: `persd_app.endpoints`); the API key
is used for this run only and never stored.
"""

from __future__ import annotations

import gradio as gr

from persd.jobs import CollectJob
from persd_app.roles import operator_only
from persd_app.tabs import AppContext
from persd_app.tabs.collect_handlers import MODE_NOTES, OUTPUTS, CollectForm, CollectHandlers
from persd_app.tabs.form_fields import prompt_format, prompt_style, reveal_on_click, teacher_endpoint
from persd_app.tabs.keyed import Keyed
from persd_app.tabs.review_render import message

TITLE = "Collect"
BACKENDS = [("Real models: a student model and an OpenAI-compatible teacher", "real"),
            ("Simulated: the offline demo (persd.demo.sim)", "sim")]
METHOD_CHOICES = [("PERsD: the teacher refines each failed attempt", "persd"),
                  ("InpD: the teacher solves each failed task", "inpd"),
                  ("StanD: the teacher solves every task (no student)", "stand")]


def build(ctx: AppContext) -> None:
    handlers = CollectHandlers(ctx.stores, ctx.executor, ctx.endpoints, ctx.sessions_dir,
                               ctx.data_dirs)
    w: dict = {"picker": ctx.session}
    w["backend"] = gr.Radio(BACKENDS, value="real", label="Backends",
                            elem_id="persd-col-backend")
    w["mode_note"] = gr.HTML(message("info", MODE_NOTES["real"]), elem_id="persd-col-mode")
    with gr.Row(equal_height=True):
        w["session"] = gr.Textbox(label="Session", elem_id="persd-col-session", min_width=180,
                                  info="new or existing; running again resumes it")
        w["tasks"] = gr.Textbox(CollectForm.tasks, label="Tasks", elem_id="persd-col-tasks",
                                scale=2,
                                info="humaneval, mbpp:PATH, or a JSONL / CSV / Parquet file")
        limit = gr.Number(0, label="Limit", precision=0, minimum=0, elem_id="persd-col-limit",
                          min_width=110, info="the first N tasks; 0: all")
    # Shown for both backends: the simulated teacher also gives stand / inpd solutions.
    w["method"] = gr.Radio(METHOD_CHOICES, value=CollectForm.method, label="Method",
                           info="what the teacher is asked for", elem_id="persd-col-method")
    with gr.Group(visible=True) as w["real"]:
        with gr.Row(equal_height=True):
            w["student"] = gr.Textbox(label="Student model",
                                      info="Hugging Face id or local folder",
                                      placeholder="e.g. Qwen/Qwen2.5-Coder-0.5B or models/tiny",
                                      elem_id="persd-col-student", scale=2)
            adapter = gr.Textbox(label="Adapter (optional)",
                                 info="a peft folder, e.g. a Train output (round 2+)",
                                 elem_id="persd-col-adapter")
            fmt = prompt_format("persd-col")  # how the student is asked
            style = prompt_style("persd-col")
        with gr.Row(equal_height=True):
            base_url, api_key = teacher_endpoint(ctx, "persd-col")
            w["teacher_model"] = gr.Textbox(label="Teacher model",
                                            placeholder="e.g. gpt-4o-mini",
                                            info="the model's name at the endpoint",
                                            elem_id="persd-col-teacher-model")
        with gr.Row(equal_height=True):
            concurrency = gr.Number(CollectForm.concurrency, label="Teacher calls in flight", precision=0,
                                    minimum=1, elem_id="persd-col-concurrency")
            tries = gr.Number(CollectForm.tries, label="Teacher tries per task", precision=0, minimum=1,
                              elem_id="persd-col-tries")
            w["round"] = gr.Number(CollectForm.round, label="Round", precision=0, minimum=1,
                                   info="the picked session's latest round (resumes "
                                        "it); 1 for a new one",
                                   elem_id="persd-col-round")
            samples = gr.Number(CollectForm.samples, label="Attempts per task", precision=0, minimum=1,
                                elem_id="persd-col-samples")
            max_new_tokens = gr.Number(CollectForm.max_new_tokens, label="Max new tokens", precision=0, minimum=1,
                                       elem_id="persd-col-max-new-tokens")
    with gr.Row():
        w["run"] = gr.Button("Run collection", variant="primary", elem_id="persd-col-run",
                             scale=3)
        w["cancel"] = gr.Button("Cancel", variant="stop", interactive=False,
                                elem_id="persd-col-cancel", scale=1)
    with gr.Row(visible=False, equal_height=True, elem_id="persd-col-confirm-row") as \
            w["confirm_row"]:
        w["confirm_text"] = gr.HTML(elem_id="persd-col-confirm-text")
        confirm = gr.Button("Yes, add real results to this simulated session", variant="stop",
                            elem_id="persd-col-confirm", scale=0, min_width=240)
    w["command"] = gr.Code(language="shell", label="Equivalent command", interactive=False,
                           lines=2, wrap_lines=True, elem_id="persd-col-command")
    w["progress"] = gr.HTML(elem_id="persd-col-progress")
    w["summary"] = gr.Code(label="Summary", language=None, interactive=False, visible=False,
                           elem_id="persd-col-summary")
    w["current"] = gr.State("")  # the session this page's run collects into

    out = Keyed(**{name: w[name] for name in OUTPUTS})
    quiet = dict(show_progress="hidden")
    w["backend"].input(out.wire(handlers.switch_mode), [w["backend"], w["session"]], out.list,
                       **quiet)
    ctx.on_session(out.wire(handlers.prefill), [ctx.session], out.list, **quiet)

    form = [w["backend"], w["session"], w["tasks"], limit, w["student"], adapter, w["method"],
            base_url, api_key, w["teacher_model"], concurrency, tries, w["round"], samples,
            max_new_tokens]

    # The prompt format and style after the picked session: a script calling the API with the
    # earlier inputs (tests/test_data_dirs.py) still works, the format at its default.
    def run(backend, session, tasks, limit, student, adapter, method, base_url, api_key,
            teacher_model, concurrency, tries, round_, samples, max_new_tokens, picked, fmt,
            style, confirmed, progress=gr.Progress()):
        form = CollectForm(backend, session, tasks, limit, student, adapter, method, base_url,
                           api_key, teacher_model, concurrency, tries, round_, samples,
                           max_new_tokens, fmt, style)
        yield from handlers.run(form, picked, confirmed, progress)

    # The command follows the form while the tab is shown, and is drawn when it is opened.
    def command(*values):
        return handlers.command(CollectForm(*values))
    line, whole = out.only("command"), [*form, fmt, style]
    ctx.follow_form(whole, line.wire(command), whole, line.list, **quiet)

    running = dict(concurrency_limit=1, concurrency_id="persd-collect", show_progress="full",
                   show_progress_on=[w["progress"]])
    # `confirmed` is an input of both, so gr.Progress lands in its own parameter.
    run = operator_only(ctx, run, "start a collection")
    w["run"].click(out.wire(run), [*form, ctx.session, fmt, style, gr.State(False)], out.list,
                   **running)
    confirm.click(out.wire(run), [*form, ctx.session, fmt, style, gr.State(True)], out.list,
                  **running)
    for button in (w["run"], confirm):
        reveal_on_click(button, "persd-col-progress")
    reveal_on_click(w["run"], "persd-col-confirm-text")  # a simulated session asks first
    w["cancel"].click(out.wire(operator_only(ctx, handlers.cancel, "cancel a collection")),
                      [w["current"], w["session"]], out.list, **quiet)


def collect_job(ctx, backend, name, tasks, limit, student, adapter, method, base_url,
                api_key, teacher_model, concurrency, tries, round_, samples,
                max_new_tokens, fmt=CollectForm.prompt_format,
                style=CollectForm.prompt_style) -> CollectJob:
    """The CollectJob for the form's values (ValueError with a message for bad settings);
    the same as a click on Run builds (tests/test_app_security.py checks its endpoints)."""
    handlers = CollectHandlers(None, ctx.executor, ctx.endpoints, ctx.sessions_dir,
                               ctx.data_dirs)
    return handlers.job(CollectForm(backend, name, tasks, limit, student, adapter, method,
                                    base_url, api_key, teacher_model, concurrency, tries,
                                    round_, samples, max_new_tokens, fmt, style), name)
