"""The rows of a data file, each with its line number, a column mapping applied.

    from persd.importing.read import read_data
    for line, row in read_data("rows.csv", {"attempt": "student_code"}):
        ...

Everything `persd.tasks.sources.read_rows` reads (JSONL, CSV, Parquet, `hf:`), plus JSON
arrays (`[{...}, {...}]` in a .json file), numbered by the line each element starts on; an
array is read whole, so one over `MAX_WHOLE_BYTES` is refused unread, as the task loader does.
A mapping goes from the field persd wants to the file's column. Errors are
`TaskFileError`s naming the file, the line and the field. A Parquet file is refused before
it is read when its own metadata proves a row too big: a 31 KB file can hold a 1 GB string.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from persd.tasks import sources
from persd.tasks.formats import Record, TaskFileError
from persd.tasks.sources import MAX_LINE_BYTES, apply_columns, read_rows, split_columns


def read_data(spec: str | Path, columns: Mapping[str, str] | None = None) -> list[Record]:
    spec, columns = split_columns(str(spec), columns)
    path = Path(spec).expanduser()
    if not spec.startswith("hf:") and path.suffix.lower() == ".json" and _is_array(path):
        return apply_columns(_read_json_array(path), columns, spec)
    if not spec.startswith("hf:") and path.suffix.lower() in (".parquet", ".pq"):
        _check_parquet(path)
    return read_rows(spec, columns)


def _check_parquet(path: Path, cap: int = MAX_LINE_BYTES) -> None:
    """Refuse a column chunk whose decompressed size, shared among its rows, is over `cap`
    per row: one of them is then bigger than that (no false alarm on many small rows)."""
    try:
        import pyarrow.parquet as pq  # noqa: PLC0415  heavy: pyarrow, for Parquet files only

        meta = pq.ParquetFile(path).metadata
    except Exception:  # noqa: BLE001  not readable: the ordinary reader says how
        return
    first = 1
    for index in range(meta.num_row_groups):
        group = meta.row_group(index)
        for column in range(group.num_columns):
            chunk = group.column(column)
            if chunk.total_uncompressed_size > cap * max(group.num_rows, 1):
                last = first + group.num_rows - 1
                rows = "" if last <= first else f"one of rows {first}-{last}, "
                raise TaskFileError(path, f"{rows}field {chunk.path_in_schema!r}: "
                                          f"{chunk.total_uncompressed_size:,} bytes "
                                          "decompressed, over "
                                          f"{cap // 2**20} MiB a row; not read", first)
        first += group.num_rows


def _is_array(path: Path) -> bool:
    try:
        with path.open("rb") as file:
            return file.read(4096).lstrip().startswith(b"[")
    except OSError:
        return False  # the ordinary reader says what is wrong with the file


def _read_json_array(path: Path) -> list[Record]:
    if path.stat().st_size > sources.MAX_WHOLE_BYTES:  # read at call time: tests lower it
        raise TaskFileError(path, f"a JSON array {sources.read_whole_refusal()}: write JSONL "
                                  "(one row a line, read a line at a time)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise TaskFileError(path, f"not UTF-8 text ({error.reason})") from None
    decoder = json.JSONDecoder()
    records: list[Record] = []
    position = text.index("[") + 1
    line, counted = 1, 0  # lines counted up to `counted` (not from the start each time)
    while True:
        position = _skip(text, position)
        if position < len(text) and text[position] == "]":
            break
        line, counted = line + text.count("\n", counted, position), position
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            raise TaskFileError(path, f"bad JSON: {error.msg}", error.lineno) from None
        if not isinstance(value, dict):
            raise TaskFileError(path, f"expected a JSON object, got {type(value).__name__}", line)
        records.append((line, value))
        position = _skip(text, position)
        if position < len(text) and text[position] == ",":
            position += 1
        elif position >= len(text) or text[position] != "]":
            raise TaskFileError(path, "bad JSON: expected ',' or ']' after an element",
                                text.count("\n", 0, position) + 1)
    return records


def _skip(text: str, position: int) -> int:
    while position < len(text) and text[position] in " \t\r\n":
        position += 1
    return position
