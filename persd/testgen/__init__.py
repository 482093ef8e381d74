"""Unit tests for tasks that have a description and a reference solution but no tests.

    persd make-tests --input alpaca.jsonl --output tasks.jsonl --teacher-model gpt-4o-mini

    from persd.testgen import MakeTestsConfig, make_tests
    summary = make_tests(MakeTestsConfig("in.jsonl", "out.jsonl"), TeacherConfig("gpt-4o-mini"))
    print(summary.text())

The teacher is asked for test INPUTS only: calls of the function with literal arguments.
They are parsed with `ast` on the host (nothing the model wrote is evaluated here), then
the reference program runs them in the sandbox (persd.execution), in one program that
prints the repr of each result (`persd.execution.probe`). A call that raises, uses up its CPU budget,
kills the run or returns a value whose repr does not read back as an equal Python literal
is dropped. The kept calls become `assert f(args) == expected` (a float, or a flat list of
numbers with a float in it: within 1e-6 per item, relative above 1), the test list runs
once more against the reference, and the task is written as one MBPP-shaped JSON line.
Rows are appended as they finish and skipped on a rerun (by task_id), so a stopped run
resumes; dropped rows go to `<stem>.rejected.jsonl` with their reason, teacher replies to
`<stem>.teacher-cache.jsonl`.

With `teacher_batch` (`--teacher-batch`) every request goes out in one Batch API job at
half the price (persd.teacher.batch); the job is recorded in `<stem>.batches.json`, so a
run stopped while it waits resumes polling the same job instead of paying again.
"""

from __future__ import annotations

import ast
import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from persd.code.extract import extract_code
from persd.execution import make_executor
from persd.execution.probe import probe_calls
from persd.tasks import TaskFileError
from persd.tasks.sources import read_rows
from persd.teacher import OpenAITeacher
from persd.teacher.batch import BatchTeacher
from persd.teacher.ledger import JsonBatchLedger
from persd.testgen.inputs import Row, assert_for, input_messages, parse_calls

if TYPE_CHECKING:
    from persd.execution import Executor
    from persd.teacher import OpenAITeacher, TeacherCall, TeacherConfig
    from persd.teacher.ledger import BatchLedger

__all__ = ["MakeTestsConfig", "MakeTestsSummary", "JsonlCache",
           "ledger_path", "make_tests", "side_paths"]

TEXT_FIELDS = ("text", "instruction", "prompt", "description")
CODE_FIELDS = ("code", "solution")
# Reasons that stand on a rerun; row-level ones (bad_row, duplicate_task_id) are judged
# afresh each run, and teacher_error is a passing failure, so its tasks are tried again.
FINAL = {"reference_error", "no_inputs", "too_few_tests", "tests_fail_on_reference"}


@dataclass
class MakeTestsConfig:
    """Settings of `persd make-tests`.

    Parameters:
        input (`str`): rows with a description and a reference program: JSONL, CSV,
            Parquet or `hf:<dataset>[:split]` (`persd.tasks.sources`).
        output (`str`): the MBPP-shaped JSONL to write (appended to; existing task_ids skipped).
        n_inputs (`int`, default 5): test inputs asked of the teacher per task (at most
            this many are used).
        min_tests (`int`, default 3): tasks with fewer working inputs are dropped.
        call_timeout_s (`float`, default 1.0): CPU seconds per call of the reference.
        columns (`dict | None`): task field -> input column, e.g. {"code": "output"}.
        limit (`int | None`): only the first N input rows.
        cache (`bool`, default True): keep teacher replies in `<stem>.teacher-cache.jsonl`.
        workers (`int | None`): sandboxes running at once (default: CPU cores).
        teacher_batch (`bool`, default False): send every request in one OpenAI Batch API
            job (half price, answers within 24 h), recorded in `<stem>.batches.json`;
            requests it does not answer go live.
    """

    input: str
    output: str
    n_inputs: int = 5
    min_tests: int = 3
    call_timeout_s: float = 1.0
    columns: dict[str, str] | None = None
    limit: int | None = None
    cache: bool = True
    workers: int | None = None
    teacher_batch: bool = False

    def __post_init__(self) -> None:
        if self.n_inputs < 1 or self.min_tests < 1 or self.call_timeout_s <= 0:
            raise ValueError("make-tests needs n_inputs >= 1, min_tests >= 1, call_timeout_s > 0")
        if self.min_tests > self.n_inputs:
            raise ValueError(f"min_tests ({self.min_tests}) cannot exceed n_inputs ({self.n_inputs})")


@dataclass
class MakeTestsSummary:
    rows: int = 0                    # input rows considered (after --limit)
    skipped: int = 0                 # already in the output or rejected by an earlier run
    kept: int = 0
    tests: int = 0                   # asserts written
    dropped: Counter = field(default_factory=Counter)  # reason -> tasks
    calls: int = 0
    cached: int = 0
    batched: int = 0                 # calls answered by a Batch API job
    batch_ids: list[str] = field(default_factory=list)  # jobs that answered, created or resumed
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    cost_known: bool = True

    def add_call(self, call: TeacherCall) -> None:
        self.calls += 1
        self.cached += call.cached
        batch_id = getattr(call, "batch_id", None)  # set on BatchTeacher's answers
        self.batched += batch_id is not None
        if batch_id is not None and batch_id not in self.batch_ids:
            self.batch_ids.append(batch_id)
        self.prompt_tokens += call.prompt_tokens
        self.completion_tokens += call.completion_tokens
        self.cost_usd += call.cost_usd
        self.cost_known &= call.cost_known or call.cached

    def text(self) -> str:
        dropped = ", ".join(f"{reason} {n}" for reason, n in self.dropped.most_common()) or "none"
        cost = f"${self.cost_usd:.4f}" + ("" if self.cost_known else " (some calls had no price)")
        batched = f", {self.batched} from batch {', '.join(self.batch_ids)}" if self.batch_ids else ""
        return (f"{self.kept} tasks kept ({self.tests} tests), {sum(self.dropped.values())} "
                f"dropped ({dropped}), {self.skipped} already done, of {self.rows} rows.\n"
                f"Teacher: {self.calls} calls ({self.cached} cached{batched}), {self.prompt_tokens} + "
                f"{self.completion_tokens} tokens, {cost}.")


class Rejected(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


def tests_for(row: Row, calls: list[str], executor: Executor, config: MakeTestsConfig) -> list[str]:
    """The asserts that hold for the reference; raises Rejected."""
    outcomes = probe_calls(executor, row.code, calls, config.call_timeout_s)
    if outcomes.reference_error is not None:
        raise Rejected("reference_error", outcomes.reference_error)
    tests = [assert_for(calls[i], text) for i, text in sorted(outcomes.values.items())]
    if len(tests) < config.min_tests:
        why = Counter(outcomes.failures.values())
        raise Rejected("too_few_tests", f"{len(tests)} of {len(calls)} inputs usable, "
                                        f"min {config.min_tests}; dropped: {dict(why)}")
    check = executor.run(row.code, "\n".join(tests) + "\n")
    if not check.passed:
        raise Rejected("tests_fail_on_reference", check.feedback[:500])
    return tests


# ---------------------------------------------------------------- rows in and out

def side_paths(output: str | Path) -> tuple[Path, Path]:
    """(<stem>.rejected.jsonl, <stem>.teacher-cache.jsonl) beside the output file."""
    return _beside(output, ".rejected.jsonl"), _beside(output, ".teacher-cache.jsonl")


def ledger_path(output: str | Path) -> Path:
    """<stem>.batches.json beside the output file: the Batch API jobs of `teacher_batch`."""
    return _beside(output, ".batches.json")


def _beside(output: str | Path, suffix: str) -> Path:
    output = Path(output)
    return output.with_name(output.name.removesuffix(".jsonl") + suffix)


def _check_row(line: int, record: dict, default_id: str) -> Row:
    raw_id = record.get("task_id")
    task_id = str(raw_id).strip() if isinstance(raw_id, (int, str)) and str(raw_id).strip() \
        else default_id
    text = next((record[f] for f in TEXT_FIELDS if isinstance(record.get(f), str)
                 and record[f].strip()), None)
    code = next((record[f] for f in CODE_FIELDS if isinstance(record.get(f), str)
                 and record[f].strip()), None)
    if text is None or code is None:
        missing = "description" if text is None else "code"
        raise Rejected("bad_row", f"row {line}: no {missing}")
    code = code.replace("\r\n", "\n")
    if "```" in code:
        code = extract_code(code) or code
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError) as e:
        raise Rejected("bad_row", f"row {line}: code does not parse: {e}") from None
    defs = [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    entry = record.get("entry_point") if record.get("entry_point") in defs else None
    if not defs:
        raise Rejected("bad_row", f"row {line}: code has no top-level def")
    return Row(task_id, text.strip(), code, entry or defs[0])


def _read_input(config: MakeTestsConfig) -> list[tuple[int, dict]]:
    records = read_rows(config.input, config.columns)
    if not records:
        raise TaskFileError(config.input, "no rows")
    line, first = records[0]
    for names, what in ((TEXT_FIELDS, "description"), (CODE_FIELDS, "code")):
        if not any(n in first for n in names):
            raise TaskFileError(config.input, f"no {what} column ({'/'.join(names)}); columns: "
                                              f"{sorted(first)}; map one with --columns "
                                              f"{names[0]}=COLUMN", line, names[0])
    return records[:config.limit] if config.limit else records


def _done_ids(path: Path, keep=lambda row: True) -> set[str]:
    """task_ids in a JSONL we wrote; drops a torn last line and rows `keep` refuses."""
    if not path.exists():
        return set()
    text = path.read_text(encoding="utf-8")
    rows = []
    for raw in text.split("\n")[:-1] if not text.endswith("\n") else text.splitlines():
        try:
            row = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "task_id" in row and keep(row):
            rows.append(row)
    kept = "".join(json.dumps(r) + "\n" for r in rows)
    if kept != text:
        path.write_text(kept, encoding="utf-8")
    return {str(r["task_id"]) for r in rows}


class JsonlCache:
    """The teacher's ResponseCache in a JSON-lines file: read once, appended per reply."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.entries: dict[str, dict] = {}
        if self.path.exists():
            for raw in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    item = json.loads(raw)
                    self.entries[item["key"]] = item["value"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a torn last line: that reply is asked again

    def get(self, key: str) -> dict | None:
        return self.entries.get(key)

    def put(self, key: str, value: dict) -> None:
        self.entries[key] = value
        with self.path.open("a", encoding="utf-8") as file:
            file.write(json.dumps({"key": key, "value": value}) + "\n")


# ---------------------------------------------------------------- the run

def make_tests(config: MakeTestsConfig, teacher_config: TeacherConfig,
               progress: bool = True) -> MakeTestsSummary:
    """Run `persd make-tests`; TeacherError, TaskFileError and LedgerError (an unreadable
    `<stem>.batches.json`, a ValueError) propagate, work done is kept."""
    cache = JsonlCache(side_paths(config.output)[1]) if config.cache else None
    if not config.teacher_batch:
        return asyncio.run(_make_tests(config, OpenAITeacher(teacher_config, cache=cache), progress))
    ledger = JsonBatchLedger(ledger_path(config.output))
    teacher = BatchTeacher(teacher_config, cache=cache, progress=progress)
    summary = asyncio.run(_make_tests(config, teacher, progress, ledger))
    summary.batch_ids += [b for b in teacher.stats.resumed + teacher.stats.created
                          if b not in summary.batch_ids]
    return summary


async def _make_tests(config: MakeTestsConfig, teacher: OpenAITeacher, progress: bool,
                      ledger: BatchLedger | None = None) -> MakeTestsSummary:

    records = _read_input(config)
    output = Path(config.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    rejected_path = side_paths(output)[0]
    done = _done_ids(output) | _done_ids(rejected_path, lambda r: r.get("reason") in FINAL)
    summary = MakeTestsSummary(rows=len(records))
    with rejected_path.open("a", encoding="utf-8") as rejects:
        todo = _plan(config, records, done, rejects, summary)
        if not todo:
            return summary
        await teacher.check()  # a wrong key or URL fails before any work
        timeout = config.call_timeout_s * config.n_inputs + 2
        with make_executor(workers=config.workers, timeout_s=timeout) as executor, \
                output.open("a", encoding="utf-8") as out, \
                tqdm(total=len(todo), desc="make-tests", unit="task", disable=not progress) as bar:
            jobs = [asyncio.create_task(_one(row, record, teacher, executor, config, summary))
                    for row, record in todo]
            if ledger is not None:
                await asyncio.sleep(0)  # every job reaches its teacher request, then one batch
                jobs.append(asyncio.create_task(_flush(teacher, ledger)))
            try:
                for job in asyncio.as_completed(jobs):
                    done = await job
                    if done is None:  # the batch phase ended
                        continue
                    row, record, result = done
                    if isinstance(result, Rejected):
                        _reject(rejects, summary, row, record, result)
                    else:
                        out.write(json.dumps(_output_row(row, result, teacher.model)) + "\n")
                        out.flush()
                        summary.kept += 1
                        summary.tests += len(result)
                    bar.update()
            finally:
                for job in jobs:
                    job.cancel()
                await asyncio.gather(*jobs, return_exceptions=True)
                await teacher.aclose()
    return summary


async def _flush(teacher, ledger: BatchLedger) -> None:
    await teacher.flush(ledger, round=0)  # make-tests has no rounds


def _plan(config: MakeTestsConfig, records: list[tuple[int, dict]], done: set[str], rejects,
          summary: MakeTestsSummary) -> list[tuple[Row, dict]]:
    """The rows still to do; bad and duplicate rows are rejected here, before any call."""
    stem = Path(config.input.split("?")[0]).stem or "task"
    todo, seen = [], set()
    for line, record in records:
        try:
            row = _check_row(line, record, f"{stem}/{line}")
        except Rejected as error:
            row = Row(str(record.get("task_id") or f"{stem}/{line}"), "", "", "")
            _reject(rejects, summary, row, record, error)
            continue
        if row.task_id in seen:
            _reject(rejects, summary, row, record,
                    Rejected("duplicate_task_id", f"row {line} repeats {row.task_id!r}"))
            continue
        seen.add(row.task_id)
        if row.task_id in done:
            summary.skipped += 1
        else:
            todo.append((row, record))
    return todo


async def _one(row: Row, record: dict, teacher: OpenAITeacher, executor: Executor,
               config: MakeTestsConfig, summary: MakeTestsSummary
               ) -> tuple[Row, dict, list[str] | Rejected]:
    call = await teacher.ask(input_messages(row, config.n_inputs), "tests")
    summary.add_call(call)
    if call.error is not None:
        return row, record, Rejected("teacher_error", call.error)
    calls = parse_calls(call.raw_reply or "", row.entry_point, config.n_inputs)
    if not calls:
        reply = (call.raw_reply or "")[:200]
        return row, record, Rejected("no_inputs", f"no call of {row.entry_point}(...) with "
                                                  f"literal arguments in the reply: {reply!r}")
    try:
        return row, record, await asyncio.to_thread(tests_for, row, calls, executor, config)
    except Rejected as error:
        return row, record, error


def _output_row(row: Row, tests: list[str], model: str) -> dict:
    return {"task_id": row.task_id, "text": row.text, "code": row.code, "test_list": tests,
            "test_setup_code": "", "challenge_test_list": [], "entry_point": row.entry_point,
            "tests_by": f"persd make-tests ({model})"}


def _reject(file, summary: MakeTestsSummary, row: Row, record: dict, error: Rejected) -> None:
    original = {k: v for k, v in record.items() if isinstance(v, (str, int, float, bool, list))}
    file.write(json.dumps({"task_id": row.task_id, "reason": error.reason,
                           "detail": error.detail, "row": original}, default=str) + "\n")
    file.flush()
    summary.dropped[error.reason] += 1
