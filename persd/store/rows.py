"""Conversions from SQLite rows to the records of `persd.store.records`."""

from __future__ import annotations

import sqlite3
from typing import Any

from persd.execution.result import ExecutionResult, detail_from_dict
from persd.store.db import from_json
from persd.store.records import (
    AttemptRecord,
    EvalSampleRecord,
    ExecutionRecord,
    RefinementRecord,
    ReviewEvent,
    ReviewRecord,
    RunRecord,
    TeacherCallRecord,
)
from persd.tasks import Task

EXECUTION_COLUMNS = (
    "id", "subject_kind", "subject_id", "tests", "status", "passed", "feedback",
    "duration_s", "tests_passed", "tests_total", "error_type", "created_at", "detail",
)
TASK_COLUMNS = ("task_id", "prompt", "entry_point", "test", "visible_test", "solution", "source")


def execution_columns(alias: str) -> str:
    """`e.id AS e_id, ...`: an execution joined into another query, read by `execution`."""
    return ", ".join(f"{alias}.{name} AS {alias}_{name}" for name in EXECUTION_COLUMNS)


def select_with_hidden_run(table: str, alias: str, subject_kind: str) -> str:
    """`SELECT alias.*, e.* ... FROM table alias LEFT JOIN` its hidden-test execution `e`."""
    return f"""SELECT {alias}.*, {execution_columns('e')} FROM {table} {alias}
    LEFT JOIN executions e
    ON e.subject_kind = '{subject_kind}' AND e.subject_id = {alias}.id AND e.tests = 'hidden'"""


def execution(row: sqlite3.Row, prefix: str = "") -> ExecutionRecord | None:
    """The run joined into `row` (columns named `prefix` + EXECUTION_COLUMNS), or None."""
    return None if row[f"{prefix}id"] is None else stored_execution(row, prefix)


def stored_execution(row: sqlite3.Row, prefix: str = "") -> ExecutionRecord:
    value = {name: row[f"{prefix}{name}"] for name in EXECUTION_COLUMNS}
    detail = value["detail"]
    outcomes, exception = detail_from_dict(from_json(detail) if detail else None)
    result = ExecutionResult(
        status=value["status"], feedback=value["feedback"], duration_s=value["duration_s"] or 0.0,
        tests_passed=value["tests_passed"] or 0, tests_total=value["tests_total"] or 0,
        error_type=value["error_type"], test_outcomes=outcomes, exception=exception,
        has_detail=detail is not None)
    return ExecutionRecord(id=value["id"], subject_kind=value["subject_kind"],
                           subject_id=value["subject_id"], tests=value["tests"],
                           created_at=value["created_at"], result=result)


def task(row: sqlite3.Row) -> Task:
    return Task(**{name: row[name] for name in TASK_COLUMNS})


def attempt(row: sqlite3.Row) -> AttemptRecord:
    return AttemptRecord(
        id=row["id"], task_id=row["task_id"], round=row["round"],
        sample_index=row["sample_index"], model=row["model"],
        sampling=from_json(row["sampling"]), prompt=row["prompt"],
        completion=row["completion"], program=row["program"], created_at=row["created_at"],
        execution=execution(row, "e_") if "e_id" in row.keys() else None,
    )


def refinement(row: sqlite3.Row) -> RefinementRecord:
    return RefinementRecord(
        id=row["id"], method=row["method"], task_id=row["task_id"], round=row["round"],
        attempt_id=row["attempt_id"], teacher_model=row["teacher_model"],
        program=row["program"], completion=row["completion"],
        validated=bool(row["validated"]), reason=row["reason"], tries=row["tries"],
        diff_lines=row["diff_lines"], error=row["error"], created_at=row["created_at"],
        updated_at=row["updated_at"],
        execution=execution(row, "e_") if "e_id" in row.keys() else None,
    )


def teacher_call(row: sqlite3.Row) -> TeacherCallRecord:
    values: dict[str, Any] = dict(row)
    values["messages"] = from_json(values["messages"])
    values["cached"] = bool(values["cached"])
    return TeacherCallRecord(**values)


def review(row: sqlite3.Row | None, refinement_id: int) -> ReviewRecord:
    if row is None:
        return ReviewRecord(refinement_id, "pending", None, None, None, None, 0, None)
    return ReviewRecord(
        refinement_id=row["refinement_id"], status=row["status"],
        edited_program=row["edited_program"], edit_execution_id=row["edit_execution_id"],
        reason=row["reason"], reviewer=row["reviewer"], version=row["version"],
        updated_at=row["updated_at"],
    )


def review_event(row: sqlite3.Row) -> ReviewEvent:
    values: dict[str, Any] = dict(row)
    values["payload"] = from_json(values["payload"])
    return ReviewEvent(**values)


def run(row: sqlite3.Row) -> RunRecord:
    values: dict[str, Any] = dict(row)
    values["config"] = from_json(values["config"])
    values["result"] = from_json(values["result"])
    return RunRecord(**values)


def eval_sample(row: sqlite3.Row) -> EvalSampleRecord:
    return EvalSampleRecord(
        id=row["id"], run_id=row["run_id"], task_id=row["task_id"],
        sample_index=row["sample_index"], step=row["step"], program=row["program"],
        created_at=row["created_at"], execution=execution(row, "e_"),
    )
