"""What a collection round still has to do, read from what the store holds.

    work = store.pending.work(round=0, method="persd", task_ids=[t.task_id for t in tasks])
    work.needs_attempt      # [(task_id, sample_index)] with no attempt yet
    work.needs_execution    # attempt ids with no hidden-test run yet
    work.needs_refinement   # failed attempt ids with no refinement, or one that hit a teacher error
    work.needs_solution     # "stand": every task, "inpd": failed tasks, without a teacher solution

Every step of the loop is committed before the next starts, so after a crash (even
`kill -9`) this lists exactly the steps that are missing; a teacher call that failed
leaves no refinement (or one with `error` set), so it is listed again and retried.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from persd.store.db import Database
from persd.store.errors import RecordNotFound, StoreError
from persd.store.records import METHODS, PendingWork


class Pending:
    def __init__(self, db: Database) -> None:
        self._db = db

    def work(
        self, round: int, *, method: str = "persd", samples: int = 1,
        task_ids: Iterable[str] | None = None,
    ) -> PendingWork:
        """The missing steps of `round` for `task_ids` (default: every task in the session),
        in task order. "stand" needs no student attempts, so it lists none."""
        if method not in METHODS:
            raise StoreError(f"unknown method {method!r}; one of {METHODS}")
        with self._db.read() as conn:
            order = _tasks_in_scope(conn, task_ids, self._db.path)
            scope = set(order)
            needs_attempt: list[tuple[str, int]] = []
            needs_execution: list[int] = []
            needs_refinement: list[int] = []
            failed_tasks: set[str] = set()
            waiting: set[str] = set()  # tasks whose teacher step is missing
            if method != "stand":
                have = {tuple(row) for row in conn.execute(
                    "SELECT task_id, sample_index FROM attempts WHERE round = ?", (round,)
                )}
                needs_attempt = [
                    (task_id, index) for task_id in order for index in range(samples)
                    if (task_id, index) not in have
                ]
                for row in _attempt_states(conn, round):
                    if row["task_id"] not in scope:
                        continue
                    if row["passed"] is None:
                        needs_execution.append(row["id"])
                    elif not row["passed"]:
                        failed_tasks.add(row["task_id"])
                        if method == "persd" and (row["refinement_id"] is None or row["error"]):
                            needs_refinement.append(row["id"])
                            waiting.add(row["task_id"])
            needs_solution: list[str] = []
            if method != "persd":
                solved = {r[0] for r in conn.execute(
                    """SELECT task_id FROM refinements WHERE round = ? AND method = ?
                    AND attempt_id IS NULL AND error IS NULL""", (round, method),
                )}
                wanted = order if method == "stand" else [t for t in order if t in failed_tasks]
                needs_solution = [task_id for task_id in wanted if task_id not in solved]
            waiting.update(needs_solution)
            return PendingWork(
                round=round, method=method, needs_attempt=needs_attempt,
                needs_execution=needs_execution, needs_refinement=needs_refinement,
                needs_solution=needs_solution,
                teacher_errors=_teacher_errors(conn, round, method, waiting),
            )


def _tasks_in_scope(
    conn: sqlite3.Connection, task_ids: Iterable[str] | None, path: object,
) -> list[str]:
    stored = [row[0] for row in conn.execute("SELECT task_id FROM tasks ORDER BY rowid")]
    if task_ids is None:
        return stored
    wanted = set(task_ids)
    missing = sorted(wanted - set(stored))
    if missing:
        raise RecordNotFound(f"tasks not in session {path}: {', '.join(missing[:10])}")
    return [task_id for task_id in stored if task_id in wanted]


def _attempt_states(conn: sqlite3.Connection, round: int) -> list[sqlite3.Row]:
    return conn.execute(
        """SELECT a.id, a.task_id, e.passed, r.id AS refinement_id, r.error
        FROM attempts a
        LEFT JOIN executions e
            ON e.subject_kind = 'attempt' AND e.subject_id = a.id AND e.tests = 'hidden'
        LEFT JOIN refinements r ON r.attempt_id = a.id AND r.method = 'persd'
        WHERE a.round = ? ORDER BY a.id""",
        (round,),
    ).fetchall()


def _teacher_errors(
    conn: sqlite3.Connection, round: int, method: str, waiting: set[str],
) -> dict[str, str]:
    """The latest teacher error of each task still waiting for the teacher."""
    errors: dict[str, str] = {}
    for task_id, error in conn.execute(
        """SELECT task_id, error FROM refinements WHERE round = ? AND method = ?
        AND error IS NOT NULL ORDER BY updated_at, id""", (round, method),
    ):
        errors[task_id] = error
    for task_id, error in conn.execute(
        """SELECT task_id, error FROM teacher_calls WHERE round = ? AND error IS NOT NULL
        ORDER BY id""",
        (round,),
    ):
        errors[task_id] = error
    return {task_id: error for task_id, error in errors.items() if task_id in waiting}
