"""Multi-step repair of one task, one step at a time: the app's live demo.

    from persd.demo.live import LiveRepair, ModelBackend, SimulatedBackend, custom_task
    live = LiveRepair(task, ModelBackend(HFStudent(StudentConfig(model="models/tiny"))), executor)
    step = live.next_step()      # step 0: the first attempt
    step = live.next_step()      # step 1: a repair from the visible tests' feedback
    step.program, step.visible.feedback, step.prompt, live.done, live.outcome

Each step is the same as a step of `persd.evaluate`'s multi-step inference: the student
completes `student_attempt_prompt` first, then `student_refine_prompt` with the feedback
of the task's *visible* tests (docstring examples) while they fail. The hidden tests are
run too when the task has them, for the audience, and never reach a prompt.

Backends: `ModelBackend` wraps any `persd.student.Student` (a Hugging Face model with an
optional adapter); `SimulatedBackend` is the offline demo's student (persd.demo.sim): its first
attempt is the reference with one injected bug, preferring a bug the visible tests catch,
and its repair reverts that bug. It needs a task with a reference solution.
"""

from __future__ import annotations

import ast
import re
import textwrap
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from persd.demo.sim import SimulatedStudent, apply_edit, reference_program, revert
from persd.paper_style import paper_repair_prompt
from persd.prompts import student_refine_prompt
from persd.student import attempt, refine
from persd.student.base import task_prompt
from persd.tasks import Task

if TYPE_CHECKING:
    from persd.execution import ExecutionResult
    from persd.tasks import Task

CUSTOM_ID = "custom"


class LiveError(ValueError):
    """A task or backend the demo cannot run, with a message for the audience."""


class Backend(Protocol):
    label: str

    def first(self, task: Task) -> str:
        """A complete program (task.prompt + body) for the task."""

    def repair(self, task: Task, program: str, feedback: str) -> str:
        """A complete program repairing `program`, which failed with `feedback`."""


@dataclass(frozen=True)
class LiveStep:
    index: int                          # 0: the first attempt; k: the k-th repair
    prompt: str                         # what the student was given
    program: str                        # the complete program it produced
    visible: ExecutionResult | None     # the visible tests' verdict (None: the task has none)
    hidden: ExecutionResult | None      # for the audience only (None: no hidden tests)
    seconds: float                      # the student's time for this step


@dataclass
class LiveRepair:
    task: Task
    backend: Backend
    executor: Any
    max_steps: int = 3                  # repairs after the first attempt
    steps: list[LiveStep] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return bool(self.steps) and self.outcome != ""

    @property
    def outcome(self) -> str:
        """"" while another step may run; else why it stopped, in words."""
        if not self.steps:
            return ""
        last = self.steps[-1]
        if last.visible is None:
            return "no visible tests: nothing to repair from"
        if last.visible.passed:
            return f"the visible tests pass after {_steps(last.index)}"
        if last.index >= self.max_steps:
            return f"still failing after {_steps(last.index)} (the limit)"
        return ""

    def next_step(self) -> LiveStep:
        if self.done:
            raise LiveError(f"finished: {self.outcome}")
        clock = time.perf_counter()
        paper = getattr(self.backend, "prompt_style", "persd") == "paper"
        if not self.steps:
            prompt = task_prompt(self.task, "paper" if paper else "persd")
            program = self.backend.first(self.task)
        elif paper:  # the release's wording of the error needs the run itself
            previous = self.steps[-1]
            prompt = paper_repair_prompt(self.task, previous.program, previous.visible or "")
            program = self.backend.repair(self.task, previous.program, previous.visible or "")
        else:
            previous = self.steps[-1]
            feedback = previous.visible.feedback if previous.visible else ""
            prompt = student_refine_prompt(self.task, previous.program, feedback)
            program = self.backend.repair(self.task, previous.program, feedback)
        seconds = time.perf_counter() - clock
        visible, hidden = self._judge(program)
        step = LiveStep(len(self.steps), prompt, program, visible, hidden, round(seconds, 3))
        self.steps.append(step)
        return step

    def _judge(self, program: str) -> tuple[ExecutionResult | None, ExecutionResult | None]:
        pairs = [(program, t, self.task.prompt) for t in (self.task.visible_test, self.task.test) if t.strip()]
        results = iter(self.executor.run_many(pairs)) if pairs else iter(())
        visible = next(results) if self.task.visible_test.strip() else None
        hidden = next(results) if self.task.test.strip() else None
        return visible, hidden


def _steps(repairs: int) -> str:
    return "the first attempt" if repairs == 0 else \
        f"{repairs} repair step{'s' if repairs > 1 else ''}"


# ---------------------------------------------------------------- backends

class ModelBackend:
    """A `persd.student.Student` (e.g. HFStudent with an adapter), one sample per step,
    asked in persd's prompts or (`prompt_style="paper"`) the release's."""

    def __init__(self, student, prompt_style: str = "persd", **sampling: Any) -> None:
        self.student, self.sampling, self.prompt_style = student, sampling, prompt_style
        self.label = getattr(student, "name", type(student).__name__)

    def first(self, task: Task) -> str:
        return attempt(self.student, [task], n=1, style=self.prompt_style, **self.sampling)[0][0]

    def repair(self, task: Task, program: str, feedback: Any) -> str:
        return refine(self.student, [(task, program, feedback)], style=self.prompt_style,
                      **self.sampling)[0]


class SimulatedBackend:
    """The offline demo's student (SIMULATED): the reference with one injected bug, then
    the bug reverted. Deterministic per seed and task."""

    label = "simulated student (persd.demo.sim)"

    def __init__(self, executor, seed: int = 0) -> None:
        self.executor, self.seed = executor, seed
        self._bugs: dict[str, Any] = {}

    def first(self, task: Task) -> str:
        reference = reference_program(task) if task.solution else None
        if not reference:
            raise LiveError("the simulated student needs a task with a reference solution: "
                            "pick a task of the session, give the typed task its reference "
                            "solution, or choose a model as the student")
        candidates = SimulatedStudent(seed=self.seed).candidates(task, reference)
        mutated = [apply_edit(reference, edit) for edit in candidates]
        if not mutated:
            return reference
        suites = [t for t in (task.visible_test, task.test) if t.strip()]
        verdicts = self.executor.run_many([(program, tests, task.prompt) for program, _ in mutated
                                           for tests in suites])
        caught = [[not r.passed for r in verdicts[i * len(suites):(i + 1) * len(suites)]]
                  for i in range(len(mutated))]
        # The first bug that every suite catches, else the first the visible tests catch.
        best = max(range(len(mutated)), key=lambda i: (all(caught[i]), caught[i][0], -i))
        program, mutation = mutated[best]
        self._bugs[task.task_id] = mutation
        return program

    def repair(self, task: Task, program: str, feedback: str) -> str:
        mutation = self._bugs.get(task.task_id)
        if mutation is None:
            return program
        try:
            return revert(program, mutation)
        except (ValueError, IndexError):  # the program is not the one it broke
            return program


# ---------------------------------------------------------------- a task typed in the app

_DEF = re.compile(r"^\s*(?:async\s+)?def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)


def custom_task(description: str, header: str, visible_tests: str, solution: str = "") -> Task:
    """A Task from what a presenter typed: a description, the function header (imports
    and the `def` line; a full HumanEval-style prompt also works), visible tests (asserts
    calling the function) and, optionally, a reference solution (the whole function; the
    simulated student starts from it). It has no hidden tests."""
    header = header.strip("\n")
    found = _DEF.findall(header)
    if not found:
        raise LiveError("the function header needs a `def name(...):` line")
    prompt = header.rstrip() + "\n"
    if description.strip() and '"""' not in header:
        indent = re.search(r"^(\s*)def", header, re.MULTILINE).group(1) + "    "
        body = textwrap.indent(description.strip(), indent)
        prompt += f'{indent}"""\n{body}\n{indent}"""\n'
    try:
        ast.parse(prompt + "    pass\n")
    except SyntaxError as error:
        raise LiveError(f"the header does not parse: {error.msg} (line {error.lineno})") \
            from error
    if not visible_tests.strip():
        raise LiveError("give at least one visible test, e.g. "
                        f"`assert {found[-1]}(...) == ...`")
    try:
        ast.parse(visible_tests)
    except SyntaxError as error:
        raise LiveError(f"the visible tests do not parse: {error.msg} (line {error.lineno})") \
            from error
    solution = solution.strip("\n") if solution.strip() else ""
    if solution:
        try:
            defined = {node.name for node in ast.parse(solution).body
                       if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
        except SyntaxError as error:
            raise LiveError(f"the reference solution does not parse: {error.msg} "
                            f"(line {error.lineno})") from error
        if found[-1] not in defined:
            raise LiveError(f"the reference solution must define {found[-1]}()")
        solution += "\n"
    return Task(task_id=CUSTOM_ID, prompt=prompt, entry_point=found[-1], test="",
                visible_test=visible_tests.strip() + "\n", solution=solution,
                source="typed in the app")
