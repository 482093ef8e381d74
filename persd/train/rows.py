"""Training rows: trl's prompt-completion format, normalised, loaded, fingerprinted.

    from persd.train.rows import load_rows, normalise_rows, split_at_rstrip
    rows = load_rows("persd.jsonl")            # JSONL, Parquet, a datasets.Dataset or a list
    rows = normalise_rows(rows)                # split at the prompt's rstrip; checked
    split_at_rstrip("def f():\n", "    return 1\n")  # ("def f():", "\n    return 1\n")

A row is `{"prompt": str, "completion": str, ...provenance}`; extra keys (task_id, variant,
round, ...) are kept for the model card and ignored by the trainer. trl appends the EOS
token to each completion itself (trl >= 1.0 `add_eos`), so rows carry none.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from persd import private
from persd.importing.read import read_data
from persd.tasks.formats import TaskFileError
from persd.train.config import TrainError

PROVENANCE_KEYS = ("variant", "source", "round", "kind", "teacher_model")


def split_at_rstrip(prompt: str, completion: str) -> tuple[str, str]:
    """Move the prompt's trailing whitespace to the front of the completion.

    A byte-level BPE merges "\\n" with the indentation after it ("\\n    " is one token),
    so a prompt ending in "\\n" does not tokenize as a prefix of prompt + completion: the
    boundary token would be half prompt, half completion, and the loss mask would cut it
    wrongly. Splitting at `prompt.rstrip()` puts the boundary where no merge crosses it.
    Idempotent; the concatenation is unchanged. Generation must then start from
    `prompt.rstrip()` too, so that training and inference see the same tokens.
    """
    head = prompt.rstrip()
    return head, prompt[len(head):] + completion


def normalise_rows(rows: Iterable[Any], where: str | None = None,
                   lines: list[int] | None = None, prompt_only: bool = False) -> list[dict[str, Any]]:
    """Plain dicts split at the prompt's rstrip; `TrainError` for an empty set or a bad row.
    A bad row is named `where:line` when the rows' file and line numbers are given.
    `prompt_only` (on-policy objectives: the model writes the completion) needs a prompt
    only; it is cut at its rstrip and the row's completion, if any, is dropped."""
    if prompt_only:
        return _prompt_rows(rows)
    out = []
    for index, row in enumerate(rows):
        row = _as_dict(row, index)
        missing = [k for k in ("prompt", "completion") if not isinstance(row.get(k), str)]
        if missing:
            where_ = f"{where}:{lines[index]}: field {missing[0]!r}: no text" if lines else \
                f"row {index} has no {' or '.join(missing)} text"
            raise TrainError(
                f"{where_} (rows need 'prompt' and 'completion' strings, or --columns to map "
                f"them; it has: {', '.join(sorted(row)) or 'nothing'})"
            )
        prompt, completion = split_at_rstrip(row["prompt"], row["completion"])
        if not completion.strip():
            raise TrainError(f"{where}:{lines[index]}: field 'completion': is empty" if lines
                             else f"row {index} has an empty completion")
        out.append({**row, "prompt": prompt, "completion": completion})
    if not out:
        raise TrainError("the curated set is empty: there is nothing to train on")
    return out


def _prompt_rows(rows: Iterable[Any]) -> list[dict[str, Any]]:
    out = []
    for index, row in enumerate(rows):
        row = _as_dict(row, index)
        if not isinstance(row.get("prompt"), str) or not row["prompt"].strip():
            raise TrainError(f"row {index} has no prompt text (on-policy rows need 'prompt')")
        out.append({**row, "prompt": row["prompt"].rstrip(), "completion": ""})
    if not out:
        raise TrainError("there are no prompts to train on")
    return out


def load_rows(source: Any) -> list[dict[str, Any]]:
    """Rows from a JSONL or Parquet file, a `datasets.Dataset`, or an iterable of dicts."""
    if isinstance(source, (str, Path)):
        return _read_file(Path(source))
    if hasattr(source, "to_list") and hasattr(source, "column_names"):  # datasets.Dataset
        return list(source.to_list())
    return list(source)


def load_data(path: str | Path, columns: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """`train --data`: a file's rows (JSONL, JSON array, CSV, Parquet, `hf:`), `columns`
    mapping prompt/completion to its own column names, normalised; errors name file:line."""
    try:
        records = read_data(path, columns)
    except TaskFileError as error:
        raise TrainError(str(error)) from error
    return normalise_rows([row for _, row in records], str(path), [line for line, _ in records])


def write_rows(rows: list[dict[str, Any]], path: Path) -> None:
    text = "".join(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in rows)
    atomic_write(path, text)


def fingerprint(rows: list[dict[str, Any]]) -> str:
    """sha256 of what the trainer sees (prompt, completion), in order."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps([row["prompt"], row["completion"]]).encode())
    return digest.hexdigest()


def provenance(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A summary for the model card: counts per provenance value, tasks, sizes."""
    summary: dict[str, Any] = {"rows": len(rows)}
    task_ids = {row["task_id"] for row in rows if row.get("task_id") is not None}
    if task_ids:
        summary["tasks"] = len(task_ids)
    for key in PROVENANCE_KEYS:
        counts = Counter(str(row[key]) for row in rows if row.get(key) is not None)
        if counts:
            summary[key] = dict(counts.most_common())
    summary["prompt_chars_mean"] = round(sum(len(r["prompt"]) for r in rows) / len(rows))
    summary["completion_chars_mean"] = round(sum(len(r["completion"]) for r in rows) / len(rows))
    return summary


def _as_dict(row: Any, index: int) -> dict[str, Any]:
    if isinstance(row, dict):
        return dict(row)
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        return dataclasses.asdict(row)
    if hasattr(row, "to_dict"):
        return dict(row.to_dict())
    raise TrainError(f"row {index} is a {type(row).__name__}, not a dict with prompt and completion")


def _read_file(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise TrainError(f"data file {path} does not exist")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq  # noqa: PLC0415  heavy: pyarrow, for Parquet files only

        return pq.read_table(path).to_pylist()
    rows = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise TrainError(f"{path}:{number}: not valid JSON ({error.msg})") from error
    return rows


def atomic_write(path: Path, text: str) -> None:
    """Write then rename: a reader (another rank, the UI) never sees half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    private.write_text(tmp, text)  # 0600, as the session it comes from
    tmp.replace(path)
