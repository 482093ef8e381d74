"""What the Live demo tab's events do, testable without a browser.

    handlers = LiveHandlers(Stores("sessions"), SharedExecutor())
    out = handlers.begin(LiveForm(session="demo", task_id="HumanEval/0"))
    out["note"], out["steps"], out["state"]          # the LiveRepair is the page's state
    out = handlers.advance(out["state"], "sim")

Each handler returns {output name: value} for the names in `OUTPUTS` it changes. A new
run, and a run that cannot start, clear what the previous task left on screen.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import gradio as gr

from persd.code.diffing import diff_size, side_by_side_html, similarity
from persd.data_dirs import EVERYWHERE, DataDirs, PathRefused
from persd.demo.live import (
    LiveError,
    LiveRepair,
    LiveStep,
    ModelBackend,
    SimulatedBackend,
    custom_task,
)
from persd.prompts import PROMPT_STYLES
from persd.store import StoreError
from persd.student.base import task_prompt
from persd.student import HFStudent, StudentConfig, StudentLoadError
from persd_app.tabs import SharedExecutor, Stores
from persd_app.tabs.review_render import SIMULATED_BADGE, esc, message
from persd_app.tabs.shown import percent

OUTPUTS = ("state", "note", "prompt", "program", "steps")
EXAMPLE = dict(description="Return the second largest distinct number in the list, or None "
                           "if there is none.",
               header="def second_largest(numbers: list[int]) -> int | None:",
               tests="assert second_largest([1, 3, 2]) == 2\n"
                     "assert second_largest([5, 5]) is None\n"
                     "assert second_largest([4, 1, 4, 3]) == 3",
               solution="def second_largest(numbers: list[int]) -> int | None:\n"
                        "    distinct = sorted(set(numbers), reverse=True)\n"
                        "    if len(distinct) < 2:\n"
                        "        return None\n"
                        "    return distinct[1]\n")
START_HINT = ("Press Start: the student makes its first attempt at the task; each Next step "
              "lets it repair the program from the visible tests' feedback.")


@dataclass
class LiveForm:
    """The tab's form: who the student is and which task it attempts."""

    session: str | None = None
    kind: str = "sim"                    # "sim" or "model"
    model: str = ""
    adapter: str = ""
    max_steps: int | float | None = 3
    source: str = "session"              # "session" or "typed"
    task_id: str | None = None
    description: str = EXAMPLE["description"]
    header: str = EXAMPLE["header"]
    tests: str = EXAMPLE["tests"]
    solution: str = EXAMPLE["solution"]
    prompt_style: str = "persd"          # a model student's prompts: "persd" or "paper"


class Students:
    """The last loaded model student, reused while the same model and adapter are asked."""

    def __init__(self) -> None:
        self._key, self._student = None, None
        self._lock = threading.Lock()

    def get(self, model: str, adapter: str | None):
        key = (model, adapter)
        with self._lock:
            if self._key != key:
                try:
                    self._student = HFStudent(StudentConfig(
                        model=model, adapter=adapter, temperature=0.0, max_new_tokens=384,
                        prompt_format="auto"))  # chat for an instruct model (SmolLM2)
                except (StudentLoadError, ValueError) as error:
                    raise LiveError(str(error)) from error
                self._key = key
            return self._student


class LiveHandlers:
    def __init__(self, stores: Stores, executor: SharedExecutor,
                 data_dirs: DataDirs | None = None) -> None:
        self.stores, self.executor = stores, executor
        self.data_dirs = data_dirs or EVERYWHERE  # the folders Model and Adapter may name
        self.students = Students()

    def student_kind(self, kind: str) -> dict[str, Any]:
        shown = kind == "model"
        return {"model": gr.update(visible=shown), "adapter": gr.update(visible=shown),
                "prompt_style": gr.update(visible=shown)}

    def task_source(self, source: str) -> dict[str, Any]:
        return {"task_id": gr.update(visible=source == "session"),
                "typed": gr.update(visible=source == "typed")}

    def tasks_of(self, session: str | None) -> dict[str, Any]:
        ids: list[str] = []
        if session:
            try:
                ids = [t.task_id for t in self.stores.get(session).tasks.list()]
            except StoreError:
                pass
        return {"task_id": gr.update(choices=ids, value=ids[0] if ids else None)}

    def preview(self, session: str | None, source: str, task_id: str | None,
                kind: str = "sim", style: str = "persd") -> dict[str, Any]:
        """The prompt the student will be given on the chosen task, before any step runs
        (in the prompt style picked for a model student)."""
        if source != "session" or not session or not task_id:
            return {}
        try:
            task = self.stores.get(session).tasks.get(task_id)
        except StoreError:
            return {}
        form = LiveForm(kind=kind, prompt_style=style)
        return {"prompt": task_prompt(task, self._style(form)
                                      if style in PROMPT_STYLES else "persd")}

    def begin(self, form: LiveForm) -> dict[str, Any]:
        """A new run: the first attempt. Whatever the last run showed is replaced."""
        try:
            live = LiveRepair(self._task(form), self._backend(form), self.executor(),
                              max_steps=int(form.max_steps or 3))
            live.next_step()
        except LiveError as error:
            return {"state": None, "note": message("error", str(error)), "prompt": "",
                    "program": "", "steps": ""}
        # The prompt the student was given: the release's wording with the paper style.
        return {"state": live, "note": status_html(live), "prompt": live.steps[0].prompt,
                "program": live.steps[-1].program, "steps": steps_html(live, form.kind == "sim")}

    def advance(self, live: LiveRepair | None, kind: str) -> dict[str, Any]:
        if live is None:
            return {"note": message("info", "Press Start first.")}
        try:
            live.next_step()
        except LiveError as error:
            return {"note": message("info", str(error))}
        return {"state": live, "note": status_html(live), "program": live.steps[-1].program,
                "steps": steps_html(live, kind == "sim")}

    def next_step(self, form: LiveForm, live: LiveRepair | None) -> dict[str, Any]:
        """Next step of the run shown; a new run when the form names another task or
        student than the run (or there is none yet)."""
        if self._current(form, live) is None:
            return self.begin(form)
        return self.advance(live, form.kind)

    def to_the_end(self, form: LiveForm, live: LiveRepair | None):
        """Every step left. After a finished run, or once the form names another task or
        student, a new run on what the form says (issue 25: the old result stayed)."""
        live = self._current(form, live)
        if live is None or live.done:
            out = self.begin(form)
            yield out
            live = out["state"]
            if live is None:
                return
        while not live.done:
            yield self.advance(live, form.kind)
        yield {"note": status_html(live)}

    def _current(self, form: LiveForm, live: LiveRepair | None) -> LiveRepair | None:
        """`live` if it is a run of the form's task with the form's student, else None."""
        if live is None:
            return None
        try:
            task = self._task(form)
        except LiveError:
            return live  # the form names no task: keep going on the run shown
        same_task = (task.task_id, task.prompt, task.test) == \
            (live.task.task_id, live.task.prompt, live.task.test)
        same_student = (form.kind == "sim") == isinstance(live.backend, SimulatedBackend) \
            and getattr(live.backend, "prompt_style", "persd") == self._style(form)
        return live if same_task and same_student else None

    @staticmethod
    def _style(form: LiveForm) -> str:
        """The prompt style the form asks of its student (the simulated one has none)."""
        return "persd" if form.kind == "sim" else (form.prompt_style or "persd")

    def _task(self, form: LiveForm):
        if form.source == "typed":
            return custom_task(form.description or "", form.header or "", form.tests or "",
                               form.solution or "")
        if not form.session or not form.task_id:
            raise LiveError("pick a session and one of its tasks, or type a task")
        try:
            return self.stores.get(form.session).tasks.get(form.task_id)
        except StoreError as error:
            raise LiveError(str(error)) from error

    def _backend(self, form: LiveForm):
        if form.kind == "sim":
            return SimulatedBackend(self.executor())
        try:
            model = self.data_dirs.model("Model", form.model)
            adapter = self.data_dirs.model("Adapter", form.adapter) or None
        except PathRefused as error:
            raise LiveError(str(error)) from error
        if not model:
            raise LiveError("give the model (a Hugging Face id or a local folder)")
        if form.prompt_style not in PROMPT_STYLES:
            raise LiveError(f"prompt style must be one of {', '.join(PROMPT_STYLES)}")
        return ModelBackend(self.students.get(model, adapter), prompt_style=form.prompt_style)


def status_html(live: LiveRepair) -> str:
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
                     f'to the previous step <b>{percent(alike)}</b></div>')
        parts.append(side_by_side_html(previous.program, step.program,
                                       f"Step {previous.index}", f"Step {step.index}",
                                       context=3))
    return f'<div class="persd-live-step" data-step="{step.index}">{"".join(parts)}</div>'


def steps_html(live: LiveRepair, simulated: bool) -> str:
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
