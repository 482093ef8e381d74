"""Training and evaluation runs, and the per-sample results of evaluations.

    run_id = store.runs.add("train", {"variant": "persd", ...}, exclusive=True)
    store.runs.update(run_id, status="running", pid=os.getpid(), metrics_path="out/metrics.jsonl")
    store.eval_samples.add(eval_id, "HumanEval/0", program=code, result=execution_result)

A run's pid is recorded with the process's start time (from /proc), so a run whose process
is gone, even if its pid was reused since, is found: `runs.add(exclusive=True)` marks such a
queued or running run failed ("process 1234 is gone") instead of refusing the new one.
"""

from __future__ import annotations

import builtins
import os
from pathlib import Path
from typing import Any

from persd.execution.result import ExecutionResult
from persd.store import rows
from persd.store.db import NOW_SQL, Database, from_json, to_json, where
from persd.store.errors import RecordNotFound, RunBusy, StoreError
from persd.store.executions import Executions
from persd.store.records import RUN_KINDS, RUN_STATUSES, EvalSampleRecord, RunRecord

_ACTIVE = ("queued", "running")
_EVAL_SELECT = rows.select_with_hidden_run("eval_samples", "s", "eval_sample")


class Runs:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self, kind: str, config: dict[str, Any], *, status: str = "queued", exclusive: bool = False,
    ) -> int:
        """A new run; with exclusive=True, RunBusy if a run of this kind is queued or
        running (checked and written in one transaction: one training job at a time)."""
        if kind not in RUN_KINDS:
            raise StoreError(f"unknown run kind {kind!r}; one of {RUN_KINDS}")
        _check_status(status)
        with self._db.write() as conn:
            if exclusive:
                _fail_lost(conn, kind)
                busy = conn.execute(
                    "SELECT id, status FROM runs WHERE kind = ? AND status IN (?, ?) LIMIT 1",
                    (kind, *_ACTIVE),
                ).fetchone()
                if busy is not None:
                    raise RunBusy(f"{kind} run {busy['id']} is {busy['status']}; one at a time")
            return conn.execute(
                "INSERT INTO runs (kind, status, config) VALUES (?, ?, ?) RETURNING id",
                (kind, status, to_json(config)),
            ).fetchone()[0]

    def update(
        self, run_id: int, *, status: str | None = None, result: dict[str, Any] | None = None,
        metrics_path: str | None = None, output: str | None = None, pid: int | None = None,
    ) -> RunRecord:
        """Change the given fields only."""
        changes: dict[str, Any] = {"metrics_path": metrics_path, "output": output, "pid": pid}
        if pid is not None:
            changes["process_start"] = process_start(pid)
        if status is not None:
            _check_status(status)
            changes["status"] = status
        if result is not None:
            changes["result"] = to_json(result)
        changes = {name: value for name, value in changes.items() if value is not None}
        assignments = "".join(f"{name} = ?, " for name in changes)
        with self._db.write() as conn:
            row = conn.execute(
                f"UPDATE runs SET {assignments}updated_at = {NOW_SQL} WHERE id = ? RETURNING *",
                (*changes.values(), run_id),
            ).fetchone()
            if row is None:
                raise RecordNotFound(f"no run {run_id} in session {self._db.path}")
            return rows.run(row)

    def get(self, run_id: int) -> RunRecord:
        return rows.run(self._db.one("SELECT * FROM runs WHERE id = ?", (run_id,), f"run {run_id}"))

    def list(self, kind: str | None = None,
             status: str | None = None) -> builtins.list[RunRecord]:
        """Runs, oldest first."""
        where_sql, params = where(("kind", kind), ("status", status))
        found = self._db.all(f"SELECT * FROM runs {where_sql} ORDER BY id", params)
        return [rows.run(row) for row in found]

    def active(self, kind: str) -> RunRecord | None:
        """The queued or running run of `kind`, if any (the newest)."""
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT * FROM runs WHERE kind = ? AND status IN (?, ?) ORDER BY id DESC LIMIT 1",
                (kind, *_ACTIVE),
            ).fetchone()
            return None if row is None else rows.run(row)



class EvalSamples:
    """The programs an evaluation run scored, each with its hidden-test run."""

    def __init__(self, db: Database, executions: Executions) -> None:
        self._db = db
        self._executions = executions

    def add(
        self, run_id: int, task_id: str, *, program: str, result: ExecutionResult | None = None,
        sample_index: int = 0, step: int = 0,
    ) -> EvalSampleRecord:
        """One evaluated program and (if given) its hidden-test run; idempotent per
        (run, task, sample, step). One transaction."""
        with self._db.write() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                raise RecordNotFound(f"no run {run_id} in session {self._db.path}")
            conn.execute(
                """INSERT INTO eval_samples (run_id, task_id, sample_index, step, program)
                VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (run_id, task_id, sample_index, step) DO NOTHING""",
                (run_id, task_id, sample_index, step, program),
            )
            key = (run_id, task_id, sample_index, step)
            sample_id = conn.execute(
                """SELECT id FROM eval_samples
                WHERE run_id = ? AND task_id = ? AND sample_index = ? AND step = ?""", key,
            ).fetchone()[0]
            if result is not None:
                self._executions.insert(conn, "eval_sample", sample_id, result, "hidden")
            return rows.eval_sample(
                conn.execute(f"{_EVAL_SELECT} WHERE s.id = ?", (sample_id,)).fetchone()
            )

    def list(self, run_id: int) -> builtins.list[EvalSampleRecord]:
        with self._db.read() as conn:
            found = conn.execute(
                f"{_EVAL_SELECT} WHERE s.run_id = ? ORDER BY s.id", (run_id,)
            )
            return [rows.eval_sample(row) for row in found]

    def count(self, run_id: int) -> int:
        """Samples (all steps) stored for `run_id` so far: an eval job's progress."""
        with self._db.read() as conn:
            return conn.execute("SELECT COUNT(*) FROM eval_samples WHERE run_id = ?",
                                (run_id,)).fetchone()[0]

    def get(self, sample_id: int) -> EvalSampleRecord:
        return rows.eval_sample(self._db.one(f"{_EVAL_SELECT} WHERE s.id = ?", (sample_id,),
                                             f"eval sample {sample_id}"))


def process_start(pid: int) -> int | None:
    """The start time of process `pid` (clock ticks since boot); None if it is gone or this
    is not Linux. With the pid it names one process: a pid is reused, the pair is not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else int(fields[19])


def process_alive(pid: int, start: int | None) -> bool:
    """Whether the process recorded as (`pid`, `start`) still runs; a zombie does not. With
    no start time recorded (an older run, or not Linux) any live process with the pid counts."""
    if Path("/proc/self/stat").exists():
        now = process_start(pid)
        return now is not None and (start is None or now == start)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def lost_error(pid: int) -> str:
    return f"process {pid} is gone"


def _fail_lost(conn, kind: str) -> None:
    """Mark failed the queued or running runs of `kind` whose process is gone."""
    active = conn.execute(
        "SELECT id, pid, process_start, result FROM runs "
        "WHERE kind = ? AND status IN (?, ?) AND pid IS NOT NULL", (kind, *_ACTIVE),
    ).fetchall()
    for row in active:
        if process_alive(row["pid"], row["process_start"]):
            continue
        result = {**(from_json(row["result"]) or {}), "error": lost_error(row["pid"])}
        conn.execute(
            f"UPDATE runs SET status = 'failed', result = ?, updated_at = {NOW_SQL} WHERE id = ?",
            (to_json(result), row["id"]),
        )


def _check_status(status: str) -> None:
    if status not in RUN_STATUSES:
        raise StoreError(f"unknown run status {status!r}; one of {RUN_STATUSES}")
