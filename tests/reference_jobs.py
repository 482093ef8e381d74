"""HumanEval's reference programs as executor jobs, and verdicts to compare, for the tests
of every executor backend (local, Ray, HTTP): each must judge them as the local one does."""

from __future__ import annotations

import json

from persd.execution import Executor
from persd.tasks import load_tasks


def reference_jobs(count: int = 20) -> list[tuple[str, str, str]]:
    """(program, test, context) of the first `count` HumanEval reference solutions."""
    return [(task.solution, task.test, task.prompt) for task in load_tasks("humaneval")[:count]]


def as_dicts(results) -> list[dict]:
    """Results as the JSON a remote backend sends back (what every backend must equal)."""
    return json.loads(json.dumps([result.to_dict() for result in results]))


def verdicts(results) -> list[tuple]:
    """What must be equal across backends: status, tests passed and run, feedback."""
    return [(r["status"], r["tests_passed"], r["tests_total"], r["feedback"])
            for r in (x if isinstance(x, dict) else x.to_dict() for x in results)]


def local_verdicts(jobs, workers: int = 2) -> list[dict]:
    """The local Executor's results for `jobs`, as dicts."""
    with Executor(workers=workers) as executor:
        return as_dicts(executor.run_many(jobs))
