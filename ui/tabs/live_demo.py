"""The Live demo tab: multi-step repair of one task, step by step, in front of an audience.

Wiring only: `persd.demo.live.LiveRepair` runs the steps (the student's attempt, then repairs
from the visible tests' feedback; hidden tests judged for the audience, never prompted),
`persd.code.diffing.side_by_side_html` shows what changed between consecutive steps. The
student is a model (Hugging Face id or folder, plus an optional adapter) or the offline
simulated student, so the demo also works without a model. The loaded model is kept for
the next run (one at a time per app).
"""

from __future__ import annotations

import threading

import gradio as gr

from persd.code.diffing import diff_size, side_by_side_html, similarity
from persd.demo.live import (
    LiveError,
    LiveRepair,
    LiveStep,
    ModelBackend,
    SimulatedBackend,
    custom_task,
)
from persd.store import StoreError
from ui.tabs import AppContext
from ui.tabs.review_render import SIMULATED_BADGE, esc, message

TITLE = "Live demo"
STUDENTS = [("Simulated student (offline, persd.demo.sim)", "sim"), ("Model", "model")]
SOURCES = [("A task of the session", "session"), ("Type a task", "typed")]
EXAMPLE = dict(description="Return the second largest distinct number in the list, or None "
                           "if there is none.",
               header="def second_largest(numbers: list[int]) -> int | None:",
               tests="assert second_largest([1, 3, 2]) == 2\n"
                     "assert second_largest([5, 5]) is None\n"
                     "assert second_largest([4, 1, 4, 3]) == 3")


class Students:
    """The last loaded model student, reused while the same model and adapter are asked."""

    def __init__(self) -> None:
        self._key, self._student = None, None
        self._lock = threading.Lock()

    def get(self, model: str, adapter: str | None):
        from persd.student import HFStudent, StudentConfig, StudentLoadError

        key = (model, adapter)
        with self._lock:
            if self._key != key:
                try:
                    self._student = HFStudent(StudentConfig(
                        model=model, adapter=adapter, temperature=0.0, max_new_tokens=384))
                except (StudentLoadError, ValueError) as error:
                    raise LiveError(str(error)) from error
                self._key = key
            return self._student


def build(ctx: AppContext) -> None:
    students = Students()
    with gr.Row(equal_height=True):
        kind = gr.Radio(STUDENTS, value="sim", label="Student", elem_id="persd-live-student")
        model = gr.Textbox(label="Model (Hugging Face id or folder)", visible=False,
                           placeholder="e.g. models/tiny", elem_id="persd-live-model")
        adapter = gr.Textbox(label="Adapter (peft folder, e.g. a Train output)", visible=False,
                             elem_id="persd-live-adapter")
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
    with gr.Row():
        start = gr.Button("Start: first attempt", variant="primary", elem_id="persd-live-start")
        step = gr.Button("Next step (repair)", elem_id="persd-live-next")
        run_all = gr.Button("Run to the end", elem_id="persd-live-all")
    note = gr.HTML(message("info", "Press Start: the student makes its first attempt at "
                                   "the task; each Next step lets it repair the program from "
                                   "the visible tests' feedback."),
                   elem_id="persd-live-message")
    with gr.Row(equal_height=False):
        with gr.Column(scale=2, min_width=320):
            prompt = gr.Code(language="python", label="Task prompt (what the student completes)",
                             interactive=False, lines=12, max_lines=16, wrap_lines=True,
                             elem_id="persd-live-prompt")
            program = gr.Code(language="python", label="Current program", interactive=False,
                              lines=14, max_lines=22, wrap_lines=True,
                              elem_id="persd-live-program")
        with gr.Column(scale=4, min_width=420):
            steps_html = gr.HTML(elem_id="persd-live-steps", apply_default_css=False)
    state = gr.State(None)

    kind.change(lambda k: (gr.Textbox(visible=k == "model"), gr.Textbox(visible=k == "model")),
                [kind], [model, adapter], show_progress="hidden")
    source.change(lambda s: (gr.Dropdown(visible=s == "session"), gr.Group(visible=s == "typed")),
                  [source], [task_id, typed], show_progress="hidden")

    def tasks_of(session):
        if not session:
            return gr.Dropdown(choices=[], value=None)
        try:
            ids = [t.task_id for t in ctx.stores.get(session).tasks()]
        except StoreError:
            ids = []
        return gr.Dropdown(choices=ids, value=ids[0] if ids else None)

    ctx.on_session(tasks_of, [ctx.session], [task_id], show_progress="hidden")

    def preview(session, source, task_id):
        """The prompt of the chosen task, before any step runs."""
        if source != "session" or not session or not task_id:
            return gr.skip()
        try:
            return ctx.stores.get(session).task(task_id).prompt
        except StoreError:
            return gr.skip()

    task_id.change(preview, [ctx.session, source, task_id], [prompt], show_progress="hidden")

    def begin(session, kind, model, adapter, max_steps, source, task_id, description, header,
              tests):
        try:
            task = _task(ctx, session, source, task_id, description, header, tests)
            backend = _backend(ctx, students, kind, model, adapter)
            live = LiveRepair(task, backend, ctx.executor(), max_steps=int(max_steps or 3))
            live.next_step()
        except LiveError as error:
            return None, message("error", str(error)), gr.skip(), gr.skip(), gr.skip()
        return (live, _status(live), live.task.prompt, live.steps[-1].program,
                _steps_html(live, kind == "sim"))

    def advance(live: LiveRepair | None, kind):
        if live is None:
            return None, message("info", "Press Start first."), gr.skip(), gr.skip(), gr.skip()
        try:
            live.next_step()
        except LiveError as error:
            return live, message("info", str(error)), gr.skip(), gr.skip(), gr.skip()
        return (live, _status(live), gr.skip(), live.steps[-1].program,
                _steps_html(live, kind == "sim"))

    def to_the_end(live: LiveRepair | None, kind):
        if live is None:
            yield None, message("info", "Press Start first."), gr.skip(), gr.skip(), gr.skip()
            return
        while not live.done:
            yield advance(live, kind)
        yield live, _status(live), gr.skip(), gr.skip(), gr.skip()

    outputs = [state, note, prompt, program, steps_html]
    inputs = [ctx.session, kind, model, adapter, max_steps, source, task_id, description,
              header, tests]
    start.click(begin, inputs, outputs, show_progress="minimal", show_progress_on=[note])
    step.click(advance, [state, kind], outputs, show_progress="minimal",
               show_progress_on=[note])
    run_all.click(to_the_end, [state, kind], outputs, show_progress="minimal",
                  show_progress_on=[note])


def _task(ctx: AppContext, session, source, task_id, description, header, tests):
    if source == "typed":
        return custom_task(description or "", header or "", tests or "")
    if not session or not task_id:
        raise LiveError("pick a session and one of its tasks, or type a task")
    try:
        return ctx.stores.get(session).task(task_id)
    except StoreError as error:
        raise LiveError(str(error)) from error


def _backend(ctx: AppContext, students: Students, kind, model, adapter):
    if kind == "sim":
        return SimulatedBackend(ctx.executor())
    if not (model or "").strip():
        raise LiveError("give the model (a Hugging Face id or a local folder)")
    return ModelBackend(students.get(model.strip(), (adapter or "").strip() or None))


def _status(live: LiveRepair) -> str:
    last = live.steps[-1]
    if live.done:
        return message("ok" if last.visible and last.visible.passed else "warn",
                       f"Done: {live.outcome}.")
    return message("info", f"Step {last.index} done ({last.seconds:.1f} s): the visible tests "
                           "fail, press Next step to let the student repair it.")


def _verdict(title: str, result, note: str = "") -> str:
    if result is None:
        return f'<div class="persd-run">{esc(title)}: none{esc(note)}</div>'
    score = f" {result.tests_passed}/{result.tests_total}" if result.tests_total else ""
    verdict = "pass" if result.passed else f"fail ({esc(result.status)})"
    body = "" if result.passed or not result.feedback else \
        f'<pre class="persd-pre">{esc(result.feedback)}</pre>'
    return (f'<div class="persd-run persd-run-{"ok" if result.passed else "bad"}" '
            f'data-passed="{str(result.passed).lower()}"><b>{esc(title)}</b>: {verdict}'
            f'{esc(score)}{esc(note)}{body}</div>')


def _step_html(step: LiveStep, previous: LiveStep | None) -> str:
    what = "First attempt" if step.index == 0 else f"Repair step {step.index}"
    parts = [f'<div class="persd-header"><span class="persd-task">Step {step.index}</span>'
             f'<span class="persd-meta">{what} · {step.seconds:.2f} s</span></div>',
             _verdict("Visible tests (the student sees this feedback)", step.visible),
             _verdict("Hidden tests", step.hidden, " (for the audience only, never prompted)")]
    if previous is not None:
        changed = diff_size(previous.program, step.program)
        alike = similarity(previous.program, step.program)
        parts.append(f'<div class="persd-metrics">Changed <b>{changed}</b> lines · similarity '
                     f'to the previous step <b>{alike:.1%}</b></div>')
        parts.append(side_by_side_html(previous.program, step.program,
                                       f"Step {previous.index}", f"Step {step.index}",
                                       context=3))
    return f'<div class="persd-live-step" data-step="{step.index}">{"".join(parts)}</div>'


def _steps_html(live: LiveRepair, simulated: bool) -> str:
    badge = SIMULATED_BADGE if simulated else ""
    head = (f'<div class="persd-counts">{badge}<span>Student: <b>{esc(live.backend.label)}</b>'
            f' · task <b>{esc(live.task.task_id)}</b> · steps <b data-testid="live-steps">'
            f'{len(live.steps)}</b></span></div>')
    items = [_step_html(step, live.steps[i - 1] if i else None)
             for i, step in enumerate(live.steps)]
    latest, earlier = items[-1], reversed(items[:-1])
    # Earlier steps fold away so the newest stays in view; each opens on a click.
    folded = "".join(f"<details><summary>Step {len(items) - 2 - i}</summary>{item}</details>"
                     for i, item in enumerate(earlier))
    return head + latest + folded
