"""Coding tasks: the `Task` record and `load_tasks`.

    from persd.tasks import load_tasks
    tasks = load_tasks("humaneval")        # the 164 HumanEval tasks, offline
    tasks = load_tasks("my_tasks.jsonl")   # HumanEval- or MBPP-shaped JSONL, detected
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    task_id: str
    prompt: str          # description + function header: what the student completes
    entry_point: str     # name of the function under test
    test: str            # hidden tests, self-contained (HumanEval: ends with check(entry_point))
    visible_test: str    # feedback tests shown to models (docstring examples); may be ""
    solution: str        # the complete reference program
    source: str          # where the task came from: "humaneval", a file path, ...
