"""The session's tasks: `store.tasks.add(tasks)`, `store.tasks.list()`, `store.tasks.get(id)`.

Adding is idempotent: a task already stored is kept, one whose content differs is refused.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable

from persd.store import rows
from persd.store.db import Database, placeholders
from persd.store.errors import StoreError
from persd.tasks import Task


class Tasks:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, tasks: Iterable[Task]) -> int:
        """Store tasks not yet there; returns how many were new. A stored task_id whose
        content differs raises StoreError naming it (its `source` may differ)."""
        added = 0
        with self._db.write() as conn:
            for task in tasks:
                row = conn.execute(
                    "SELECT * FROM tasks WHERE task_id = ?", (task.task_id,)
                ).fetchone()
                if row is None:
                    names = rows.TASK_COLUMNS
                    conn.execute(
                        f"INSERT INTO tasks ({', '.join(names)}) VALUES ({placeholders(names)})",
                        [getattr(task, name) for name in names],
                    )
                    added += 1
                    continue
                changed = [n for n in rows.TASK_COLUMNS[1:-1] if row[n] != getattr(task, n)]
                if changed:
                    raise StoreError(
                        f"task {task.task_id!r} is already in session {self._db.path} with a "
                        f"different {', '.join(changed)}; use a new session or task id"
                    )
        return added

    def list(self) -> builtins.list[Task]:
        with self._db.read() as conn:
            return [rows.task(row) for row in conn.execute("SELECT * FROM tasks ORDER BY rowid")]

    def get(self, task_id: str) -> Task:
        with self._db.read() as conn:
            return rows.task(self._db.require(conn, "tasks", "task_id", task_id, "task"))
