"""Which task an imported row belongs to: by task id and function name, never by a guess.

    from persd.importing.pairing import TaskPairing, Refused
    pairing = TaskPairing(tasks, store.tasks.list(), match="id")
    task = pairing.task_of(row)      # a Task, None (no --tasks: the row makes its own), or
                                     # Refused(reason, field, message)

With tasks (`--tasks`), `match="id"` pairs a row with the task of the same id (exactly, or
the part after the last "/": row 19 is task "MBPP/19") *and* the same function name: an id
alone proves nothing, since another dataset's ids are only numbers too (the paper's
release numbers its rows by Code Alpaca ids, which land on unrelated MBPP tasks).
`match="entry-point"` pairs by the function name alone, when it names one task only.
Without tasks, a row joins the session's task of its id when the function names agree,
and is refused when they do not.
"""

from __future__ import annotations

from collections import Counter

from persd.importing.formats import Parsed
from persd.tasks.formats import Task

MATCHES = ("id", "entry-point")


class Refused(ValueError):
    """A row that pairs with no task; `reason` is short and shared by rows refused alike."""

    def __init__(self, reason: str, field: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.field, self.message = reason, field, message


class TaskPairing:
    def __init__(self, tasks: list[Task] | None, session_tasks: list[Task], match: str = "id"):
        if match not in MATCHES:
            raise ValueError(f"unknown match {match!r}; one of {', '.join(MATCHES)}")
        self.given, self.match = tasks is not None, match
        self.by_id = {task.task_id: task for task in (tasks if tasks is not None else session_tasks)}
        self.by_tail = _unique([(task.task_id.rsplit("/", 1)[-1], task) for task in tasks or ()])
        self.entry_count = Counter(task.entry_point for task in tasks or ())
        self.by_entry = {task.entry_point: task for task in tasks or ()}

    def task_of(self, row: Parsed) -> Task | None:
        if self.given and self.match == "entry-point":
            return self._by_entry(row)
        task = self.by_id.get(row.task_id) or (self.by_tail.get(row.task_id) if row.task_id else None)
        if task is None:
            if not self.given:
                return None
            if row.task_id is None:
                raise Refused("no task id", "task_id", "the row has no task id to pair it with a "
                              "task (--match entry-point pairs by the function name alone)")
            raise Refused("no task with this id", "task_id", f"no task of --tasks has id "
                          f"{row.task_id!r} (function {row.entry_point!r})")
        if row.entry_point != task.entry_point:
            where = "of --tasks" if self.given else "in the session"
            raise Refused("same id, another function", "task_id",
                          f"task id {row.task_id!r} is task {task.task_id!r} {where}, whose "
                          f"function is {task.entry_point!r}, but the row's is "
                          f"{row.entry_point!r}: not the same task")
        return task

    def add_own(self, task: Task) -> None:
        """A task made from a row (no --tasks): later rows of its id join it."""
        self.by_id.setdefault(task.task_id, task)

    def _by_entry(self, row: Parsed) -> Task:
        count = self.entry_count.get(row.entry_point, 0)
        if row.entry_point is None or count == 0:
            raise Refused("no task with this function", "entry_point", f"no task of --tasks "
                          f"defines {row.entry_point!r} (task id {row.task_id!r})")
        if count > 1:
            raise Refused("function of several tasks", "entry_point", f"{count} tasks of "
                          f"--tasks define {row.entry_point!r}: the row pairs with none")
        return self.by_entry[row.entry_point]


def _unique(pairs: list[tuple[str, Task]]) -> dict[str, Task]:
    """key -> task for the keys that name one task only (a shared key matches nothing)."""
    counts = Counter(key for key, _ in pairs)
    return {key: task for key, task in pairs if counts[key] == 1}
