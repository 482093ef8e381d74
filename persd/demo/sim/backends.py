"""The simulated student and teacher, and the records of an offline demo session.

    from persd.demo.sim import SimulatedStudent, SimulatedTeacher, build_demo_records
    attempts = SimulatedStudent(seed=0).attempt_many(tasks, executor)
    reply = SimulatedTeacher(seed=0).refine(task, attempt.program, attempt.mutation)
"""

from __future__ import annotations

import ast
import hashlib
import random
import re
from dataclasses import dataclass

from persd.execution import ExecutionResult
from persd.code.splice import split_program
from persd.prompts import teacher_refine_messages
from persd.demo.sim.mutations import (
    KIND_WEIGHTS,
    Edit,
    Mutation,
    apply_edit,
    candidate_edits,
    revert,
)
from persd.tasks import Task

SIMULATED_LABEL = "simulated"
STUDENT_MODEL = "simulated-student"
TEACHER_MODEL = "simulated-teacher"


def reference_program(task: Task) -> str | None:
    """The reference solution as a program that starts with `task.prompt` (None: cannot).

    Laid out the way `split_program` lays out a teacher's code whenever that changes only
    blank lines and trailing spaces, so a reverted bug diffs as exactly the bug's lines.
    """
    split = split_program(task, task.solution)
    if not task.solution.startswith(task.prompt):
        return split[0] if split else None
    return split[0] if split and _code_lines(split[0]) == _code_lines(task.solution) \
        else task.solution


def _code_lines(program: str) -> list[str]:
    return [line.rstrip() for line in program.split("\n") if line.strip()]


def _rng(*parts: object) -> random.Random:
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _unit(*parts: object) -> float:
    return _rng(*parts).random()


# ---------------------------------------------------------------- the simulated student

@dataclass(frozen=True)
class SimAttempt:
    task_id: str
    program: str                  # task.prompt + completion
    completion: str
    result: ExecutionResult
    mutation: Mutation | None     # None: the reference, unchanged
    model: str = STUDENT_MODEL


class SimulatedStudent:
    """Attempts tasks by copying the reference and, for a `bug_rate` share of them
    (fixed per task id and seed), breaking it with one mutation that fails the hidden tests.

    Candidate bugs are tried in a seeded order that rotates through the kinds, at most
    `max_tries` per task; when none fails the tests the attempt is the reference.
    """

    def __init__(self, seed: int = 0, bug_rate: float = 0.6, max_tries: int = 8):
        self.seed, self.bug_rate, self.max_tries = seed, bug_rate, max_tries

    def wants_bug(self, task_id: str) -> bool:
        return _unit(self.seed, task_id, "bug") < self.bug_rate

    def candidates(self, task: Task, program: str) -> list[Edit]:
        """This task's candidate bugs in the order they are tried."""
        rng = _rng(self.seed, task.task_id, "order")
        by_kind: dict[str, list[Edit]] = {}
        for edit in candidate_edits(program, len(task.prompt)):
            by_kind.setdefault(edit.kind, []).append(edit)
        # Kinds in a weighted random order (Efraimidis-Spirakis keys), so the rarer
        # but common-in-practice bugs (off-by-one, a missed edge case) come up often.
        keys = {kind: rng.random() ** (1 / KIND_WEIGHTS.get(kind, 1.0)) for kind in by_kind}
        queues = [by_kind[kind] for kind in sorted(by_kind, key=keys.get, reverse=True)]
        for queue in queues:
            rng.shuffle(queue)
        ordered = []
        while any(queues):
            ordered += [queue.pop() for queue in queues if queue]
        return ordered[:self.max_tries]

    def attempt_many(self, tasks: list[Task], executor) -> list[SimAttempt]:
        """One attempt per task (tasks without a usable reference are left out), each
        judged by `executor.run_many`, in rounds of one candidate bug per task."""
        tasks = [t for t in tasks if reference_program(t) is not None]
        programs = [reference_program(t) for t in tasks]
        plans = [self.candidates(t, p) if self.wants_bug(t.task_id) else []
                 for t, p in zip(tasks, programs)]
        chosen: dict[int, tuple[str, Mutation, ExecutionResult]] = {}
        for round_ in range(self.max_tries):
            batch = [(i, *apply_edit(programs[i], plans[i][round_])) for i in range(len(tasks))
                     if i not in chosen and round_ < len(plans[i])]
            if not batch:
                break
            results = executor.run_many([(program, tasks[i].test, tasks[i].prompt) for i, program, _ in batch])
            for (i, program, mutation), result in zip(batch, results):
                if not result.passed:
                    chosen[i] = (program, mutation, result)
        rest = [i for i in range(len(tasks)) if i not in chosen]
        for i, result in zip(rest, executor.run_many([(programs[i], tasks[i].test, tasks[i].prompt) for i in rest])):
            chosen[i] = (programs[i], None, result)
        return [SimAttempt(t.task_id, chosen[i][0], chosen[i][0][len(t.prompt):], chosen[i][2],
                           chosen[i][1]) for i, t in enumerate(tasks)]

    def attempt(self, task: Task, executor) -> SimAttempt:
        return self.attempt_many([task], executor)[0]


# ---------------------------------------------------------------- the simulated teacher

@dataclass(frozen=True)
class SimReply:
    kind: str                 # "minimal" | "rewrite" | "still_wrong"
    code: str                 # the code block of the reply (the full function)
    raw_reply: str
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float = 0.0
    model: str = TEACHER_MODEL


_EXPLAIN = {
    "off_by_one": "a bound is off by one",
    "wrong_comparison": "the comparison is the wrong way round",
    "wrong_arithmetic": "the arithmetic operator is wrong",
    "missing_edge_case": "the edge case is not handled",
    "wrong_return": "the function returns the wrong value",
    "name_error": "a variable name is misspelled, which raises NameError",
    "wrong_constant": "a constant is wrong",
    "swapped_arguments": "the arguments are passed in the wrong order",
}


def _tokens(text: str) -> int:
    """A rough BPE-like token count (words and symbols), for plausible usage numbers."""
    return len(re.findall(r"\w+|[^\w\s]", text))


class SimulatedTeacher:
    """Repairs a simulated attempt by reverting its recorded mutation. A `still_wrong_rate`
    share of replies misses the bug (another line is "fixed" instead) and a `rewrite_rate`
    share rewrites the function from the reference (reformatted); fixed per task and seed."""

    model = TEACHER_MODEL

    def __init__(self, seed: int = 0, rewrite_rate: float = 0.15, still_wrong_rate: float = 0.1):
        self.seed, self.rewrite_rate, self.still_wrong_rate = seed, rewrite_rate, still_wrong_rate

    def kind_for(self, task_id: str) -> str:
        u = _unit(self.seed, task_id, "teacher")
        if u < self.still_wrong_rate:
            return "still_wrong"
        return "rewrite" if u < self.still_wrong_rate + self.rewrite_rate else "minimal"

    def refine(self, task: Task, attempt: str, mutation: Mutation | dict | None,
               feedback: str = "") -> SimReply:
        """A chat-style reply repairing `attempt` (a program starting with task.prompt)."""
        kind = self.kind_for(task.task_id) if mutation else "rewrite"
        m = mutation if isinstance(mutation, Mutation) or mutation is None else Mutation(**mutation)
        if kind == "minimal":
            code = revert(attempt, m)
            was = m.before.strip().split("\n")[0]
            change = (f"`{m.after.strip()}` should be `{was}`" if m.after
                      else f"it needs the check `{was}` before line {m.line}")
            prose = (f"The problem is around line {m.line}: "
                     f"{_EXPLAIN.get(m.kind, 'it is wrong')}; {change}. "
                     "Here is your function with only that fixed:")
        elif kind == "rewrite":
            code = ast.unparse(ast.parse(reference_program(task) or task.solution)) + "\n"
            prose = ("Your approach is hard to repair in place, so here is a cleaner version "
                     "of the whole function:")
        else:
            code = self._misfix(task, attempt, m)
            prose = "The failure comes from the logic below; this version should pass:"
        messages = teacher_refine_messages(task, attempt, feedback)
        reply = f"{prose}\n\n```python\n{code.rstrip()}\n```\n"
        return SimReply(kind, code, reply, sum(_tokens(x["content"]) for x in messages),
                        _tokens(reply))

    def _misfix(self, task: Task, attempt: str, m: Mutation) -> str:
        """The attempt with a different line changed and the real bug left in place."""
        bug_lines = set(range(m.line, m.line + max(1, len(m.after.split("\n")))))
        edits = candidate_edits(attempt, len(task.prompt))
        _rng(self.seed, task.task_id, "misfix").shuffle(edits)
        for edit in edits:
            new, change = apply_edit(attempt, edit)
            if change.line not in bug_lines and change.line + 1 not in bug_lines:
                return new
        return attempt

    def solve(self, task: Task) -> str:
        """The teacher's own solution (StanD, InpD): the reference."""
        return task.solution


# ---------------------------------------------------------------- demo records

@dataclass(frozen=True)
class SimRecord:
    task_id: str
    attempt_program: str
    attempt_completion: str            # attempt_program[len(task.prompt):]
    attempt_result: ExecutionResult
    mutation: dict | None              # Mutation.to_dict(); None: the reference
    refinement_program: str | None     # None when the attempt passed (or no code split)
    refinement_completion: str | None
    refinement_result: ExecutionResult | None
    refinement_kind: str | None        # "minimal" | "rewrite" | "still_wrong"
    teacher_raw_reply: str | None
    teacher_prompt_tokens: int = 0
    teacher_completion_tokens: int = 0
    teacher_cost_usd: float = 0.0
    student_model: str = STUDENT_MODEL
    teacher_model: str = TEACHER_MODEL
    simulated: bool = True
    label: str = SIMULATED_LABEL


def build_demo_records(tasks: list[Task], executor, seed: int = 0,
                       student: SimulatedStudent | None = None,
                       teacher: SimulatedTeacher | None = None) -> list[SimRecord]:
    """Simulated attempts for `tasks` and, for the failing ones, simulated refinements;
    everything judged by `executor` (its `run_many`, in parallel)."""
    student = student or SimulatedStudent(seed=seed)
    teacher = teacher or SimulatedTeacher(seed=seed)
    by_id = {t.task_id: t for t in tasks}
    attempts = student.attempt_many(tasks, executor)
    replies, splits = {}, {}
    for a in attempts:
        if not a.result.passed:
            task = by_id[a.task_id]
            replies[a.task_id] = teacher.refine(task, a.program, a.mutation, a.result.feedback)
            splits[a.task_id] = split_program(task, replies[a.task_id].code)
    runnable = [tid for tid, split in splits.items() if split]
    results = dict(zip(runnable, executor.run_many([(splits[tid][0], by_id[tid].test, by_id[tid].prompt)
                                                    for tid in runnable])))
    return [_record(a, replies.get(a.task_id), splits.get(a.task_id), results.get(a.task_id))
            for a in attempts]


def _record(a: SimAttempt, reply: SimReply | None, split: tuple[str, str] | None,
            result: ExecutionResult | None) -> SimRecord:
    return SimRecord(
        task_id=a.task_id, attempt_program=a.program, attempt_completion=a.completion,
        attempt_result=a.result, mutation=a.mutation.to_dict() if a.mutation else None,
        refinement_program=split[0] if split else None,
        refinement_completion=split[1] if split else None, refinement_result=result,
        refinement_kind=reply.kind if reply else None,
        teacher_raw_reply=reply.raw_reply if reply else None,
        teacher_prompt_tokens=reply.prompt_tokens if reply else 0,
        teacher_completion_tokens=reply.completion_tokens if reply else 0)
