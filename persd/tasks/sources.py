"""Task sources beyond JSONL: CSV and Parquet files, Hugging Face datasets, column mapping.

    from persd.tasks import load_tasks
    load_tasks("tasks.csv")                          # MBPP- or HumanEval-shaped columns
    load_tasks("tasks.parquet")
    load_tasks("tasks.json")                         # a JSON array of task objects (or JSONL)
    load_tasks("hf:org/name")                        # datasets.load_dataset(name): split "train"
    load_tasks("hf:org/name:test")                   # ... a named split
    load_tasks("hf:org/name:sanitized:test")         # ... a config and a split
    load_tasks("hf:/data/saved")                     # a dataset saved with save_to_disk
    load_tasks("hf:/data/tasks.json")                # a local file, read as the file itself
    load_tasks("hf:org/name?text=instruction&code=output")    # task field -> column mapping

`READERS` picks a reader by file suffix (anything else is read as JSONL, or as a JSON array
when it starts with `[`) and `SOURCES` by spec prefix; `source_forms()` describes both. A
column mapping applies to every source, JSONL included. Errors number rows from 1 (in a CSV
file the header is line 1) and never quote the file's content. JSONL is read a line at a
time; a CSV file or a JSON array is read whole, so either is refused over MAX_WHOLE_BYTES.
A CSV list cell (`test_list`, ...) is a JSON or Python list, or statements (one test each).
"""

from __future__ import annotations

import ast
import gzip
import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from persd.tasks.columns import apply_columns, parse_columns, split_columns
from persd.tasks.formats import Record, TaskFileError

__all__ = ["READERS", "SOURCES", "apply_columns", "parse_columns", "read_records", "read_rows",
           "source_forms", "split_columns"]

LIST_FIELDS = ("test_list", "challenge_test_list", "test_imports")
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`")
_SAVED_MARKERS = ("state.json", "dataset_dict.json")  # what save_to_disk writes in its folder


def read_rows(spec: str, columns: Mapping[str, str] | None = None) -> list[Record]:
    """The raw rows of any task source (a file or `hf:...`), column mapping applied."""
    spec, columns = split_columns(str(spec), columns)
    path = Path(spec).expanduser() if not spec.startswith("hf:") else spec
    return apply_columns(read_records(path), columns, spec)


# ---------------------------------------------------------------- CSV

def _read_csv(path: Path) -> list[Record]:
    import pandas as pd

    if path.is_file() and path.stat().st_size > MAX_WHOLE_BYTES:
        raise TaskFileError(path, f"{read_whole_refusal()}: split it, or write JSONL (read a line at a time)")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except FileNotFoundError:
        raise TaskFileError(path, "file does not exist") from None
    except IsADirectoryError:
        raise TaskFileError(path, "is a directory, not a task file") from None
    except pd.errors.EmptyDataError:
        return []
    except UnicodeDecodeError as e:
        raise TaskFileError(path, f"not UTF-8 text ({e.reason})") from None
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise TaskFileError(path, f"cannot read as CSV: {_reason(e)}") from None
    unnamed = [c for c in frame.columns if str(c).startswith("Unnamed: ")]
    if unnamed:
        raise TaskFileError(path, f"the header row has {len(unnamed)} empty column name(s)", 1)
    return [(number, _csv_record(row)) for number, row in
            enumerate(frame.to_dict(orient="records"), 2)]


def _csv_record(row: dict) -> dict:
    record: dict = {}
    for key, value in row.items():
        if key == "task_id" and value.strip().isdigit():
            value = int(value)  # as a JSONL or Parquet MBPP file would hold it
        elif key in LIST_FIELDS:
            value = _cell_list(value)
        elif value.lstrip().startswith("["):
            value = _literal_list(value, value)
        record[key] = value
    return record


def _cell_list(text: str) -> list | str:
    """A list cell: a JSON/Python list, or plain statements (one test each); "" is []."""
    if not text.strip():
        return []
    if text.lstrip().startswith("["):
        return _literal_list(text, text)
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return [text]  # the shape builder says what does not parse, and where
    return [ast.get_source_segment(text, node) for node in tree.body]


def _literal_list(text: str, fallback):
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, list):
            return value
    return fallback


# ---------------------------------------------------------------- Parquet

def _read_parquet(path: Path) -> list[Record]:
    try:
        import pyarrow.parquet as pq  # noqa: PLC0415  heavy: pyarrow, for Parquet files only
    except ImportError:
        raise TaskFileError(path, "reading Parquet needs pyarrow (pip install pyarrow)") from None
    if not path.exists():
        raise TaskFileError(path, "file does not exist")
    if path.is_dir():
        raise TaskFileError(path, "is a directory, not a task file")
    try:
        rows = pq.read_table(path).to_pylist()
    except Exception as e:  # pyarrow raises its own ArrowInvalid/ArrowException family
        raise TaskFileError(path, f"cannot read as Parquet: {_reason(e)}") from None
    return list(enumerate(rows, 1))


# ---------------------------------------------------------------- Hugging Face datasets

def _hf_parts(target: str) -> tuple[str, str | None, str | None]:
    """"name", "name:split" or "name:config:split"."""
    parts = target.split(":")
    if len(parts) > 3 or not all(parts):
        raise TaskFileError(f"hf:{target}", "expected hf:<dataset>[:<split>] or "
                                            "hf:<dataset>:<config>:<split>")
    if len(parts) == 3:
        return parts[0], parts[1], parts[2]
    return parts[0], None, parts[1] if len(parts) == 2 else None


def _read_hf(target: str) -> list[Record]:
    """A hub dataset through `datasets`; a local file through READERS, a saved folder through
    load_from_disk: a local file leaves no copy in the datasets cache."""
    where = f"hf:{target}"
    name, config, split = _hf_parts(target)
    try:
        import datasets
    except ImportError:
        raise TaskFileError(where, "reading Hugging Face datasets needs the datasets package "
                                   "(pip install datasets)") from None
    local = Path(name).expanduser()
    if local.is_file():
        if not any(local.name.lower().endswith(suffix) for suffix in READERS):
            raise TaskFileError(where, f"cannot tell the format of {local.name}: expected "
                                       f"one of {', '.join(READERS)}")
        return _reader_for(local)(local)
    if local.is_dir() and not any((local / f).exists() for f in _SAVED_MARKERS):
        raise TaskFileError(where, "a local folder not saved with save_to_disk: name one of "
                                   "its task files instead (hf:<folder>/<file> or the file)")
    try:
        data = datasets.load_from_disk(str(local)) if local.is_dir() else \
            datasets.load_dataset(name, config)
    except Exception as e:  # datasets raises many kinds: missing, offline, bad files
        raise TaskFileError(where, f"cannot load the dataset: {type(e).__name__}: "
                                   f"{_reason(e)}") from None
    return list(enumerate(_pick_split(data, split, where).to_list(), 1))


def _pick_split(data, split: str | None, where: str):
    if not hasattr(data, "keys"):  # a Dataset, not a DatasetDict
        own = getattr(data, "split", None)
        if split is not None and own is not None and str(own) != split:
            raise TaskFileError(where, f"no split {split!r}: this dataset is split {str(own)!r}")
        return data
    splits = list(data.keys())
    chosen = split or ("train" if "train" in splits or len(splits) != 1 else splits[0])
    if chosen not in splits:
        raise TaskFileError(where, f"no split {chosen!r}; splits: {', '.join(splits)} "
                                   f"(name one: hf:<dataset>:<split>)")
    return data[chosen]


def _reason(error: BaseException) -> str:
    """A library error's first line, its quoted parts left out (the file's text a parser quotes)."""
    text = str(error).strip()
    return _QUOTED.sub("…", text.splitlines()[0])[:200] if text else type(error).__name__


# ---------------------------------------------------------------- readers (by file suffix)

MAX_LINE_BYTES = 32 * 1024 * 1024  # one row of code, JSON-escaped, many times over
_ONE_OBJECT_BYTES = 16 * 1024 * 1024  # read whole only to say "one object over lines"
MAX_WHOLE_BYTES = 256 * 1024 * 1024  # a CSV file or a JSON array: read whole, a few times over


def _read_json(path: Path) -> list[Record]:
    """JSON lines (one object per line) or one JSON array of objects, pretty-printed or not.
    Lines are read one at a time: a bad line is reported without reading what follows, a
    line over MAX_LINE_BYTES is refused once that much is read."""
    try:
        with gzip.open(path, "rb") if path.name.endswith(".gz") else path.open("rb") as file:
            if _first_char(file) == b"[":
                file.seek(0)
                if len(data := file.read(MAX_WHOLE_BYTES + 1)) > MAX_WHOLE_BYTES:
                    raise TaskFileError(path, f"a JSON array {read_whole_refusal()}: write JSONL (one task a "
                                              "line, read a line at a time)")
                return _json_array(path, data)
            file.seek(0)
            return _json_lines(path, file)
    except FileNotFoundError:
        raise TaskFileError(path, "file does not exist") from None
    except IsADirectoryError:
        raise TaskFileError(path, "is a directory, not a task file") from None
    except (OSError, EOFError) as e:  # unreadable, or a corrupt gzip stream
        raise TaskFileError(path, f"cannot read: {e}") from None


def read_whole_refusal() -> str:
    return f"over {MAX_WHOLE_BYTES / 2**20:g} MiB, and this format is read whole"


def _first_char(file) -> bytes:
    while (char := file.read(1)) and char.isspace():
        pass
    return char


def _json_lines(path: Path, file) -> list[Record]:
    records, number = [], 0
    while raw := file.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) > MAX_LINE_BYTES:
            raise TaskFileError(path, f"a line over {MAX_LINE_BYTES // 2**20} MiB: too long "
                                      "for one row", number)
        text = _utf8(path, raw, number).strip()
        if not text:
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as e:
            if not records:
                file.seek(0)
                head = file.read(_ONE_OBJECT_BYTES + 1)
                if len(head) <= _ONE_OBJECT_BYTES and _one_object(head):
                    raise TaskFileError(path, "one JSON object over several lines: write one "
                                              "task object per line (JSONL) or a JSON array "
                                              "of them") from None
            raise TaskFileError(path, f"bad JSON: {e.msg} (column {e.colno})", number) from None
        except RecursionError:
            raise TaskFileError(path, "bad JSON: nested too deeply", number) from None
        records.append((number, _object(path, record, number)))
    return records


def _one_object(data: bytes) -> bool:
    try:
        return isinstance(json.loads(data), dict)
    except (ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError
        return False


def _json_array(path: Path, data: bytes) -> list[Record]:
    """Each element of a JSON array with the line it starts on."""
    text, decoder, records = _utf8(path, data, None), json.JSONDecoder(), []
    at = text.index("[") + 1
    while True:
        at = _skip_space(text, at)
        if text.startswith("]", at):
            break
        line = text.count("\n", 0, at) + 1
        try:
            record, at = decoder.raw_decode(text, at)
        except json.JSONDecodeError as e:
            raise TaskFileError(path, f"bad JSON: {e.msg} (column {e.colno})", e.lineno) from None
        records.append((line, _object(path, record, line)))
        at = _skip_space(text, at)
        if text.startswith(",", at):
            at += 1
        elif not text.startswith("]", at):
            raise TaskFileError(path, "bad JSON: expected ',' or ']' in the array",
                                text.count("\n", 0, at) + 1)
    if text[at + 1:].strip():
        raise TaskFileError(path, "bad JSON: text after the array's closing ']'",
                            text.count("\n", 0, at) + 1)
    return records


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in " \t\r\n":
        at += 1
    return at


def _utf8(path: Path, data: bytes, line: int | None) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = line if line is not None else data[: e.start].count(b"\n") + 1
        raise TaskFileError(path, f"not UTF-8 text ({e.reason})", line) from None


def _object(path: Path, record, line: int) -> dict:
    if not isinstance(record, dict):
        raise TaskFileError(path, f"expected a JSON object (one task), got "
                                  f"{type(record).__name__}", line)
    return record


# Suffix -> (what it reads, reader); any other name is read as JSON.
READERS: dict[str, tuple[str, Callable[[Path], list[Record]]]] = {
    ".jsonl": ("JSONL or a JSON array", _read_json),
    ".jsonl.gz": ("JSONL or a JSON array", _read_json),
    ".json": ("JSONL or a JSON array", _read_json),
    ".json.gz": ("JSONL or a JSON array", _read_json),
    ".csv": ("CSV", _read_csv),
    ".parquet": ("Parquet", _read_parquet),
    ".pq": ("Parquet", _read_parquet),
}


# Spec prefix -> (what it reads, reader of a source that is not a local file, given the
# rest of the spec).
SOURCES: dict[str, tuple[str, Callable[[str], list[Record]]]] = {
    "hf": ("<dataset>[:<split>] (a Hugging Face dataset: hub id, saved folder or data file)",
           _read_hf),
}
_DEFAULT_READER = _read_json  # for a file name with none of READERS' suffixes


def source_forms() -> str:
    """The sources a task spec may name, from READERS and SOURCES."""
    by_form: dict[str, list[str]] = {}
    for suffix, (form, reader) in READERS.items():
        by_form.setdefault(form, []).append(suffix)
        if reader is _DEFAULT_READER and "any other name" not in by_form[form]:
            by_form[form].append("any other name")
    for suffixes in by_form.values():  # "any other name" last
        suffixes.sort(key=lambda suffix: suffix == "any other name")
    files = [f"{form} ({', '.join(suffixes)})" for form, suffixes in by_form.items()]
    return "; ".join(files + [f"{prefix}:{what}" for prefix, (what, _) in SOURCES.items()])


def _reader_for(path: Path) -> Callable[[Path], list[Record]]:
    name = path.name.lower()
    for suffix in sorted(READERS, key=len, reverse=True):
        if name.endswith(suffix):
            return READERS[suffix][1]
    return _DEFAULT_READER


def read_records(path: str | Path) -> list[Record]:
    """The raw records of one source: a SOURCES spec ("hf:...") or a file, by its suffix.
    An error says which sources would load."""
    prefix, sep, rest = os.fspath(path).partition(":")
    try:
        if sep and prefix in SOURCES:
            return SOURCES[prefix][1](rest)
        path = Path(path)
        return _reader_for(path)(path)
    except TaskFileError as e:
        raise e.with_hint(f"tasks load from: {source_forms()}") from None
