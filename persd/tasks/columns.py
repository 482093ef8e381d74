"""Column mapping: task field -> the source's column, for any task source.

    from persd.tasks.columns import apply_columns, parse_columns, split_columns
    split_columns("tasks.csv?text=instruction&code=output")   # ("tasks.csv", {"text": ...})
    parse_columns("text=instruction,code=output")               # the CLI's --columns
    apply_columns(records, {"text": "instruction"}, "tasks.csv")

Errors name the file, line and field, and never the source's own column names (a CSV
header is the file's content).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from persd.tasks.formats import Record, TaskFileError

__all__ = ["apply_columns", "parse_columns", "split_columns"]

_MAPPING = re.compile(r"^[A-Za-z_]\w*=[^&=]+(?:&[A-Za-z_]\w*=[^&=]+)*$")


def split_columns(spec: str, columns: Mapping[str, str] | None = None
                  ) -> tuple[str, dict[str, str] | None]:
    """Take a trailing `?field=column&...` off `spec`; `columns` entries win over it."""
    base, sep, query = spec.rpartition("?")
    mapping: dict[str, str] = {}
    if sep and _MAPPING.match(query):
        spec = base
        mapping = dict(pair.split("=", 1) for pair in query.split("&"))
    mapping.update(columns or {})
    return spec, mapping or None


def parse_columns(text: str) -> dict[str, str] | None:
    """A command-line mapping "text=instruction,code=output" ('&' works too)."""
    mapping = {}
    for pair in filter(None, re.split(r"[,&]", text)):
        field, sep, column = (part.strip() for part in pair.partition("="))
        if not (sep and field.isidentifier() and column):
            raise ValueError(f"bad column mapping {pair!r}: expected FIELD=COLUMN, e.g. "
                             "text=instruction,code=output")
        mapping[field] = column
    return mapping or None


def apply_columns(records: list[Record], columns: Mapping[str, str] | None,
                  where: str | Path) -> list[Record]:
    """Copy each mapped column into its task field (`{"text": "instruction"}`)."""
    if not columns:
        return records
    for field, column in columns.items():
        if not (isinstance(field, str) and field.isidentifier() and isinstance(column, str)):
            raise TaskFileError(where, f"bad column mapping {field!r} -> {column!r}: expected "
                                       "task field name -> column name")
    mapped = []
    for line, record in records:
        for field, column in columns.items():
            if column not in record:
                raise TaskFileError(where, f"no column {column!r} to map to this field", line, field)
        mapped.append((line, {**record, **{f: record[c] for f, c in columns.items()}}))
    return mapped
