"""The simulated teacher's own solutions (StanD, InpD) in a demo session, so the methods a
study compares exist offline too.

    add_demo_solutions(store, "stand", executor)   # every task of round 0
    add_demo_solutions(store, "inpd", executor)    # the tasks whose round-0 attempt failed

The simulated teacher answers with the task's reference solution (`SimulatedTeacher.solve`);
the real sandbox judges each one, as it judged everything else in the session. Adding again
writes nothing new (the store keeps one result per task, round and method).
"""

from __future__ import annotations

from typing import Any

from persd.demo.sim import TEACHER_MODEL, reference_program
from persd.store import SessionStore

ROUND = 0
METHODS = ("stand", "inpd")


def add_demo_solutions(store: SessionStore, method: str, executor: Any) -> int:
    """Store the simulated teacher's solution of each task `method` covers; how many were
    new. ValueError for a method that is not a direct solution."""
    if method not in METHODS:
        raise ValueError(f"method {method!r}: the simulated teacher solves for "
                         f"{' or '.join(METHODS)} (persd refinements come with the session)")
    tasks = {task.task_id: task for task in store.tasks.list()}
    failed = {a.task_id for a in store.attempts.list(round=ROUND)
              if a.execution is not None and not a.execution.result.passed}
    done = {r.task_id for r in store.refinements.list(method=method, round=ROUND)}
    todo = [tasks[t] for t in sorted(tasks) if t not in done and (method == "stand" or t in failed)]
    programs = {task.task_id: reference_program(task) for task in todo}
    runnable = [task for task in todo if programs[task.task_id]]
    results = executor.run_many([(programs[t.task_id], t.test, t.prompt) for t in runnable])
    with store.transaction():
        for task, result in zip(runnable, results):
            store.refinements.add(
                method, teacher_model=TEACHER_MODEL, program=programs[task.task_id],
                completion=programs[task.task_id][len(task.prompt):], task_id=task.task_id,
                round=ROUND, validated=bool(result.passed), execution=result,
                reason="" if result.passed else f"fails the hidden tests ({result.status})")
    return len(runnable)
