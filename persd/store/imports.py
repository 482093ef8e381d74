"""Records brought in from files (`persd import`): the import, and each record's source.

    items = [ImportItem(digest=..., line=3, task=task, method="persd", round=0, ...)]
    import_id = store.imports.add("data.jsonl", "rectify", counts, items)  # one transaction
    store.imports.known_digests(["ab12...", ...])  # those already in the session
    store.imports.source(refinement_id)            # ImportSource or None (collected here)

An imported record becomes what collection would have stored: the task (unless the session
has it), the student's attempt with its hidden-test run, the refinement with its validation
run, so review, export and training treat it like collected data. When the importer did not
run the code here (no tasks to run it against), the attempt's run holds the file's own
feedback text (no duration, no test counts) and `ImportSource.rerun` is False.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass

from persd.execution.result import ExecutionResult
from persd.store.db import Database, from_json, placeholders, to_json
from persd.store.errors import StoreError
from persd.store.executions import Executions
from persd.store.refinements import Refinements
from persd.store.tasks import Tasks
from persd.tasks import Task

IMPORT_MODEL = "imported"


@dataclass(frozen=True)
class ImportItem:
    """One record to store; programs are complete programs."""

    digest: str                 # content hash: the same record is never imported twice
    line: int                   # where it is in the file (row number for Parquet)
    task: Task                  # stored unless the session has this task_id already
    method: str                 # "persd" (has an attempt), "stand" or "inpd"
    round: int
    refinement: str
    teacher_model: str
    validated: bool
    reason: str                 # why not validated ("" when it is)
    feedback: str = ""          # the file's own feedback text, kept as given
    attempt: str | None = None
    attempt_run: ExecutionResult | None = None     # the attempt's run, or None
    refinement_run: ExecutionResult | None = None  # the refinement's run, or None
    rerun: bool = False         # the runs above were made here, in the sandbox
    diff_lines: int | None = None
    origin: str = "imported"    # "gold refinement", "teacher refinement" or "imported"
    paper_parts: dict | None = None  # a release row's raw pieces (persd.importing.rectify)


@dataclass(frozen=True)
class ImportSource:
    import_id: int
    file: str
    format: str
    line: int
    rerun: bool
    created_at: str
    origin: str = "imported"    # as ImportItem.origin
    feedback: str = ""          # the file's own error text for the attempt
    paper_parts: dict | None = None  # as ImportItem.paper_parts

    @property
    def where(self) -> str:
        """"imported: FILE:LINE", the file by its name."""
        return f"imported: {str(self.file).replace(chr(92), '/').rsplit('/', 1)[-1]}:{self.line}"


@dataclass(frozen=True)
class ImportRecord:
    id: int
    file: str
    format: str
    tasks: str | None
    counts: dict[str, int]
    created_at: str
    protocol: str | None = None  # how its rows were judged here (None: not run)


class Imports:
    def __init__(self, db: Database, *, tasks: Tasks, executions: Executions,
                 refinements: Refinements) -> None:
        self._db = db
        self._tasks = tasks
        self._executions = executions
        self._refinements = refinements

    def known_digests(self, digests: builtins.list[str]) -> set[str]:
        found: set[str] = set()
        with self._db.read() as conn:
            for start in range(0, len(digests), 500):
                chunk = digests[start:start + 500]
                found |= {row[0] for row in conn.execute(
                    f"SELECT digest FROM import_records WHERE digest IN ({placeholders(chunk)})",
                    chunk)}
        return found

    def add(self, file: str, fmt: str, counts: dict[str, int], items: builtins.list[ImportItem],
                   *, tasks: str | None = None, protocol: str | None = None) -> int:
        """Store the import and all its records in one transaction; returns its id.
        `protocol`: how its rows were judged here (None: not run)."""
        with self._db.write() as conn:
            import_id = conn.execute(
                "INSERT INTO imports (file, format, tasks, counts, protocol) VALUES (?, ?, ?, ?, ?) "
                "RETURNING id", (file, fmt, tasks, to_json(counts), protocol),
            ).fetchone()[0]
            for item in items:
                self._add_item(conn, import_id, item)
            return import_id

    def _add_item(self, conn, import_id: int, item: ImportItem) -> None:
        task = item.task
        if conn.execute("SELECT 1 FROM tasks WHERE task_id = ?", (task.task_id,)).fetchone() is None:
            self._tasks.add([task])
        attempt_id = None
        if item.attempt is not None:
            attempt_id = conn.execute(
                """INSERT INTO attempts (task_id, round, sample_index, model, sampling, prompt,
                    completion, program)
                VALUES (?1, ?2, (SELECT COALESCE(MAX(sample_index) + 1, 0) FROM attempts
                                 WHERE task_id = ?1 AND round = ?2), ?3, '{}', ?4, ?5, ?6)
                RETURNING id""",
                (task.task_id, item.round, IMPORT_MODEL, task.prompt,
                 _after(task.prompt, item.attempt), item.attempt),
            ).fetchone()[0]
            if item.attempt_run is not None:
                self._executions.insert(conn, "attempt", attempt_id, item.attempt_run, "hidden")
        elif conn.execute(
            """SELECT 1 FROM refinements WHERE attempt_id IS NULL AND task_id = ? AND round = ?
            AND method = ?""", (task.task_id, item.round, item.method),
        ).fetchone() is not None:
            raise StoreError(f"task {task.task_id!r} already has a {item.method!r} solution in "
                             f"round {item.round}")
        refinement = self._refinements.add(
            item.method, teacher_model=item.teacher_model, program=item.refinement,
            completion=_after(task.prompt, item.refinement), validated=item.validated,
            reason=item.reason, attempt_id=attempt_id,
            task_id=None if attempt_id else task.task_id, round=None if attempt_id else item.round,
            diff_lines=item.diff_lines, execution=item.refinement_run,
        )
        conn.execute(
            """INSERT INTO import_records (digest, import_id, line, task_id, attempt_id,
                refinement_id, feedback, rerun, origin, paper_parts)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (item.digest, import_id, item.line, task.task_id, attempt_id, refinement.id,
             item.feedback, int(item.rerun), item.origin,
             None if item.paper_parts is None else to_json(item.paper_parts)),
        )

    def source(self, refinement_id: int) -> ImportSource | None:
        """Where an imported refinement came from; None for one collected here."""
        with self._db.read() as conn:
            row = conn.execute(
                """SELECT i.id, i.file, i.format, r.line, r.rerun, i.created_at, r.origin,
                    r.feedback, r.paper_parts
                FROM import_records r JOIN imports i ON i.id = r.import_id
                WHERE r.refinement_id = ?""", (refinement_id,),
            ).fetchone()
        if row is None:
            return None
        return ImportSource(row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6], row[7],
                            None if row[8] is None else from_json(row[8]))

    def list(self) -> builtins.list[ImportRecord]:
        with self._db.read() as conn:
            rows = conn.execute("SELECT * FROM imports ORDER BY id").fetchall()
        return [ImportRecord(row["id"], row["file"], row["format"], row["tasks"],
                             from_json(row["counts"]), row["created_at"], row["protocol"])
                for row in rows]


def _after(prompt: str, program: str) -> str:
    return program[len(prompt):] if program.startswith(prompt) else program
