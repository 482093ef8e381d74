"""`import_file`: existing refinement data into a session, for review and training.

    from persd.importing import import_file
    report = import_file(store, "rows.jsonl", fmt="auto", tasks="tasks.jsonl")
    report.imported, report.already, report.bad      # counts, and BadRow(line, field, message)

Every row is read and checked before anything is written; then all the good rows go in
one transaction. A bad row stops the import (ImportFailed lists them all, by file:line and
field) unless `skip_bad`, which imports the others and reports the bad ones. A row whose
content is already in the session (same hash) is counted as `already` and not added again.

With `tasks`, each row is paired with a task by its task id *and* its function name
(`match="entry-point"`: the function name alone; persd.importing.pairing), and its attempt
and refinement are run against the task's hidden tests in the sandbox under `protocol`, as
collection does: the refinement is validated when it passes. A row that pairs with no task
is refused, counted by reason. Without tasks, rows become tasks of their own (named by task
id, else by the function name), keep the file's feedback text, and their refinements are
"not validated"; they stay reviewable. Each record's origin (gold code or a teacher's
refinement, persd.importing.origin) is stored with it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from persd.code.diffing import diff_size
from persd.execution import make_executor
from persd.execution.result import ExecutionResult, not_run
from persd.execution.verdicts import check_protocol
from persd.importing.formats import FORMATS, Parsed, RowError, detect_format, parse_row
from persd.importing.origin import row_origin
from persd.importing.pairing import Refused, TaskPairing
from persd.importing.read import read_data
from persd.store.imports import ImportItem
from persd.tasks import load_tasks
from persd.tasks.formats import Task, TaskFileError, function_header
from persd.tasks.sources import split_columns

NOT_RUN = "not validated: imported without --tasks, so not run here"


@dataclass(frozen=True)
class BadRow:
    file: str
    line: int
    field: str | None
    message: str
    reason: str = "bad row"     # refused rows alike share one (persd.importing.pairing)

    def __str__(self) -> str:
        what = f"field {self.field!r}: " if self.field else ""
        return f"{self.file}:{self.line}: {what}{self.message}"


class ImportFailed(ValueError):
    """Nothing was imported; the message lists the bad rows (the first 20)."""

    def __init__(self, bad: list[BadRow], hint: str = "") -> None:
        self.bad = bad
        hint = f" ({_reasons(bad)}){hint}"
        shown = "\n".join(f"  {row}" for row in bad[:20])
        more = f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else ""
        super().__init__(f"{len(bad)} bad row{'s' * (len(bad) != 1)}, nothing imported"
                         f"{hint}:\n{shown}{more}")


@dataclass
class ImportReport:
    file: str
    format: str
    rows: int = 0               # rows in the file
    imported: int = 0
    already: int = 0            # already in the session, or repeated in the file
    paired: int = 0             # persd rows imported through their persd-refine partner
    validated: int = 0          # refinements that pass their task's tests (with tasks)
    import_id: int | None = None
    bad: list[BadRow] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"rows": self.rows, "imported": self.imported, "already": self.already,
                "paired": self.paired, "validated": self.validated, "bad": len(self.bad)}

    def text(self) -> str:
        checked = (f"{self.validated} validated, {self.imported - self.validated} not"
                   if self.imported else "nothing new")
        extra = f"; {self.already} already in the session" if self.already else ""
        bad = f"; {len(self.bad)} rows skipped ({self.reasons()})" if self.bad else ""
        return f"Imported {self.imported} of {self.rows} rows from {self.file} ({self.format}): " \
               f"{checked}{extra}{bad}."

    def reasons(self) -> str:
        """The skipped rows counted by reason, most first: "213 same id, another function"."""
        return _reasons(self.bad)


def _reasons(bad: list[BadRow]) -> str:
    counts = Counter(row.reason for row in bad)
    return ", ".join(f"{count} {reason}" for reason, count in counts.most_common())


def import_file(
    store, file: str | Path, *, fmt: str = "auto", columns: Mapping[str, str] | None = None,
    tasks: str | list[Task] | None = None, skip_bad: bool = False, round: int = 0,
    teacher_model: str = "imported", workers: int | None = None, timeout_s: float = 3.0,
    progress: bool = True, match: str = "id", protocol: str = "strict", origin: str = "auto",
) -> ImportReport:
    """Import `file` into `store`; TaskFileError for an unreadable file or task spec,
    ImportFailed for bad rows (unless `skip_bad`). `match`: "id" (task id and function
    name) or "entry-point"; `protocol`: how the sandbox judges (persd.execution.verdicts);
    `origin`: "auto", "teacher" or "gold" (persd.importing.origin)."""
    check_protocol(protocol)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    spec, columns = split_columns(str(file), columns)
    name = spec
    records = read_data(spec)
    if not records:
        raise TaskFileError(name, "file is empty: no rows to import")
    if fmt == "auto":
        fmt = detect_format({**records[0][1], **{f: "" for f in columns or {}}})
    report = ImportReport(name, fmt, rows=len(records))
    paired = {r.get("refinement_id") for _, r in records if r.get("variant") == "persd-refine"}
    parsed: list[Parsed] = []
    for line, record in tqdm(records, desc="reading", unit="row", disable=not progress):
        try:
            row = parse_row(fmt, line, _mapped(record, columns), paired)
        except RowError as error:
            report.bad.append(BadRow(name, line, error.field, error.message))
            continue
        if row is None:
            report.paired += 1
        else:
            parsed.append(row)
    task_list = _load_tasks(tasks)
    matched = _match(store, name, parsed, task_list, round, report, match)
    if report.bad and not skip_bad:
        raise ImportFailed(report.bad, " (--skip-bad imports the good ones)")
    runs = _run(matched, workers, timeout_s, protocol, progress) if task_list is not None else None
    items = []
    for index, (row, task) in enumerate(matched):
        attempt_run, refinement_run = runs[index] if runs else (_file_feedback(row.feedback), None)
        validated = bool(refinement_run and refinement_run.passed)
        reason = "" if validated else (
            NOT_RUN if refinement_run is None
            else f"fails the hidden tests ({refinement_run.status}): "
                 f"{refinement_run.feedback.splitlines()[0] if refinement_run.feedback else ''}")
        items.append(ImportItem(
            digest=row.digest, line=row.line, task=task, method=row.method, round=round,
            refinement=row.refinement, teacher_model=row.teacher_model or teacher_model,
            validated=validated, reason=reason, feedback=row.feedback, attempt=row.attempt,
            attempt_run=attempt_run if row.attempt is not None else None,
            refinement_run=refinement_run, rerun=runs is not None,
            diff_lines=diff_size(row.attempt, row.refinement) if row.attempt else None,
            origin=row_origin(origin, name, fmt, row, task if task_list is not None else None),
            paper_parts=row.paper_parts,
        ))
        report.validated += validated
    report.imported = len(items)
    if items:
        spec = tasks if isinstance(tasks, str) else None
        report.import_id = store.imports.add(name, fmt, report.counts(), items, tasks=spec,
                                            protocol=protocol if runs is not None else None)
    return report


def _mapped(record: dict, columns: Mapping[str, str] | None) -> dict:
    """The row with each mapped column copied into its field; a missing one is a bad row."""
    for field_, column in (columns or {}).items():
        if column not in record:
            raise RowError(field_, f"no column {column!r} to map to this field; "
                                   f"columns: {sorted(record)}")
    return {**record, **{f: record[c] for f, c in (columns or {}).items()}}


def _load_tasks(tasks: str | list[Task] | None) -> list[Task] | None:
    if tasks is None or not isinstance(tasks, str):
        return tasks

    return load_tasks(tasks)


def _match(store, name: str, parsed: list[Parsed], tasks: list[Task] | None, round: int,
           report: ImportReport, match: str = "id") -> list[tuple[Parsed, Task]]:
    """Each new row with its task; rows already stored or repeated are counted, rows that
    pair with no task (persd.importing.pairing) are refused with their reason."""
    stored = store.imports.known_digests([row.digest for row in parsed])
    pairing = TaskPairing(tasks, store.tasks.list(), match)
    seen: set[str] = set()
    solved = {(r.task_id, r.method) for r in store.refinements.list(round=round) if r.attempt_id is None}
    out = []
    for row in parsed:
        if row.digest in stored or row.digest in seen:
            report.already += 1
            continue
        seen.add(row.digest)
        try:
            task = pairing.task_of(row) or _own_task(row, name)
        except Refused as refused:
            report.bad.append(BadRow(name, row.line, refused.field, refused.message,
                                     refused.reason))
            continue
        except RowError as error:
            report.bad.append(BadRow(name, row.line, error.field, error.message))
            continue
        pairing.add_own(task)
        if row.attempt is None:
            if (task.task_id, row.method) in solved:
                report.bad.append(BadRow(name, row.line, "task_id", f"task {task.task_id!r} "
                                         f"already has a {row.method!r} solution in round {round}",
                                         "solution already in the session"))
                continue
            solved.add((task.task_id, row.method))
        out.append((row, task))
    return out


def _own_task(row: Parsed, file: str) -> Task:
    entry = row.entry_point
    if entry is None:
        raise RowError("entry_point", "cannot tell the function: give an entry_point column "
                                      "or --tasks")
    prompt = row.prompt
    if prompt is None:
        try:
            prompt = function_header(row.refinement, entry) + "\n"
        except (SyntaxError, ValueError):
            raise RowError("refinement", f"no function {entry}() in the refinement") from None
    return Task(task_id=row.task_id or entry, prompt=prompt, entry_point=entry, test="",
                visible_test="", solution="", source=f"import:{file}")


def _run(matched: list[tuple[Parsed, Task]], workers: int | None, timeout_s: float,
         protocol: str, progress: bool) -> list[tuple]:
    """(attempt run or None, refinement run) per row, from the sandbox."""

    pairs = []
    for row, task in matched:
        if row.attempt is not None:
            pairs.append((row.attempt, task.test, task.prompt))
        pairs.append((row.refinement, task.test, task.prompt))
    if not pairs:
        return []
    results = []
    with make_executor(workers=workers, timeout_s=timeout_s, protocol=protocol) as executor, \
            tqdm(total=len(pairs), desc="running", unit="program", disable=not progress) as bar:
        size = executor.workers * 4
        for start in range(0, len(pairs), size):
            results += executor.run_many(pairs[start:start + size])
            bar.update(len(pairs[start:start + size]))
    runs, position = [], 0
    for row, _ in matched:
        attempt_run = None
        if row.attempt is not None:
            attempt_run, position = results[position], position + 1
        runs.append((attempt_run, results[position]))
        position += 1
    return runs


def _file_feedback(feedback: str) -> ExecutionResult | None:
    """The file's own feedback on an attempt, stored as its run (nothing ran here)."""
    if not feedback.strip():
        return None
    first = feedback.strip().split("\n", 1)[0]
    kind = first.split(":", 1)[0].strip()
    kind = kind if kind.isidentifier() else ""
    return not_run("failed" if kind == "AssertionError" else "error", feedback, kind)
