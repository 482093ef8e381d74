"""The Live demo tab: multi-step repair of one task, step by step, in front of an audience.

Layout and wiring only; `persd_app.tabs.live_demo_handlers` runs the steps through
`persd.demo.live.LiveRepair` (the student's attempt, then repairs from the visible tests'
feedback; hidden tests judged for the audience, never prompted) and renders them. The
student is a model (Hugging Face id or folder, plus an optional adapter) or the offline
simulated student, which starts from a reference solution: the sessions' tasks have one,
and so does the typed example. The loaded model is kept for the next run (one per app).
"""

from __future__ import annotations

import gradio as gr

from persd.models import installed_models
from persd_app.tabs import AppContext
from persd_app.tabs.form_fields import prompt_style
from persd_app.tabs.keyed import Keyed
from persd_app.tabs.live_demo_handlers import EXAMPLE, OUTPUTS, START_HINT, LiveForm, LiveHandlers
from persd_app.tabs.review_render import message

TITLE = "Live demo"
STUDENTS = [("Simulated student (offline, persd.demo.sim)", "sim"), ("Model", "model")]
SOURCES = [("A task of the session", "session"), ("Type a task", "typed")]


def build(ctx: AppContext) -> None:
    handlers = LiveHandlers(ctx.stores, ctx.executor, ctx.data_dirs)
    with gr.Row(equal_height=True):
        kind = gr.Radio(STUDENTS, value="sim", label="Student", elem_id="persd-live-student")
        # The real SmolLM2 student, when `persd models get smollm2-135m` has written it here.
        model = gr.Textbox(next(iter(installed_models()), None), visible=False,
                           label="Model (Hugging Face id or folder)",
                           placeholder="e.g. models/tiny or models/smollm2-135m", elem_id="persd-live-model")
        adapter = gr.Textbox(label="Adapter (peft folder, e.g. a Train output)", visible=False,
                             elem_id="persd-live-adapter")
        # persd's prompts or the paper release's (a model student; the simulated one
        # starts from the reference and is asked nothing).
        style = prompt_style("persd-live", visible=False)
        max_steps = gr.Number(3, label="Max repair steps", precision=0, minimum=1, maximum=10,
                              elem_id="persd-live-max-steps", min_width=110)
    source = gr.Radio(SOURCES, value="session", label="Task", elem_id="persd-live-source")
    task_id = gr.Dropdown([], label="Task of the session", elem_id="persd-live-task",
                          filterable=True)
    with gr.Group(visible=False) as typed:
        description = gr.Textbox(EXAMPLE["description"], label="Description", lines=2,
                                 elem_id="persd-live-description")
        header = gr.Code(EXAMPLE["header"], language="python", label="Function header",
                         lines=2, elem_id="persd-live-header")
        tests = gr.Code(EXAMPLE["tests"], language="python",
                        label="Visible tests (asserts; shown to the student as feedback)",
                        lines=4, elem_id="persd-live-tests")
        solution = gr.Code(EXAMPLE["solution"], language="python",
                           label="Reference solution (the simulated student starts from it)",
                           lines=5, elem_id="persd-live-solution")
    with gr.Row():
        start = gr.Button("Start: first attempt", variant="primary", elem_id="persd-live-start")
        step = gr.Button("Next step (repair)", elem_id="persd-live-next")
        run_all = gr.Button("Run to the end", elem_id="persd-live-all")
    note = gr.HTML(message("info", START_HINT), elem_id="persd-live-message")
    with gr.Row(equal_height=False):
        # No wrapping in the code panes: CodeMirror's gutter measured wrapped lines before
        # the new program was laid out and the numbers drifted (issue 25); long lines
        # scroll sideways instead.
        with gr.Column(scale=3, min_width=420):
            prompt = gr.Code(language="python", label="Task prompt (the student completes it)",
                             interactive=False, lines=12, max_lines=16, wrap_lines=False,
                             elem_id="persd-live-prompt")
            program = gr.Code(language="python", label="Current program", interactive=False,
                              lines=14, max_lines=22, wrap_lines=False,
                              elem_id="persd-live-program")
        with gr.Column(scale=4, min_width=420):
            steps_html = gr.HTML(elem_id="persd-live-steps", apply_default_css=False)
    state = gr.State(None)

    widgets = dict(state=state, note=note, prompt=prompt, program=program, steps=steps_html)
    out = Keyed(**{name: widgets[name] for name in OUTPUTS})
    quiet = dict(show_progress="hidden")
    kind.change(Keyed(model=model, adapter=adapter, prompt_style=style).wire(
        handlers.student_kind), [kind], [model, adapter, style], **quiet)
    source.change(Keyed(task_id=task_id, typed=typed).wire(handlers.task_source), [source],
                  [task_id, typed], **quiet)
    ctx.on_session(Keyed(task_id=task_id).wire(handlers.tasks_of), [ctx.session], [task_id],
                   **quiet)
    # The prompt follows the task while the tab is shown, and is drawn when it is opened.
    ctx.follow_form([task_id, kind, style], Keyed(prompt=prompt).wire(handlers.preview),
                    [ctx.session, source, task_id, kind, style], [prompt], **quiet)

    def begin(*fields):
        return handlers.begin(LiveForm(*fields))

    form = [ctx.session, kind, model, adapter, max_steps, source, task_id, description,
            header, tests, solution, style]
    busy = dict(show_progress="minimal", show_progress_on=[note])
    start.click(out.wire(begin), form, out.list, **busy)
    # Both act on the task the form names now: a new run when it is not the one shown.
    step.click(out.wire(lambda live, *f: handlers.next_step(LiveForm(*f), live)),
               [state, *form], out.list, **busy)

    def to_the_end(live, *fields):
        yield from handlers.to_the_end(LiveForm(*fields), live)

    run_all.click(out.wire(to_the_end), [state, *form], out.list, **busy)
