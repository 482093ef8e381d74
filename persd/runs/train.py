"""A training run: rows, the session's run row, the child process, followed to its end.

    outcome = train_run(config, data="rows.jsonl", sessions_dir="sessions", ...)
    outcome.status   # "finished" | "stopped" | "failed"

What `persd train`, the loop and the ablations run. Rows come from `data` (JSONL/Parquet) or
from the session (`persd.data.build_examples` for the variant). With `config.session` the
run is recorded in the session store (settings, status, pid, metrics path, output, result);
a recorded run whose process is gone is first recorded as ended (persd.runs.ended), so it
does not block this one. The training itself runs in a child process (persd.train.run);
SIGINT/SIGTERM here are forwarded to it as one SIGTERM (a clean, resumable stop), and a
`kill -9` here ends the child too (its death signal).
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from persd.data import build_examples
from persd.store import RunBusy, SessionStore, StoreError
from persd.runs.ended import settle_lost_trainer
from persd.text import log_tail
from persd.train.checkpoints import disk_full_message
from persd.train.config import TrainConfig, TrainError
from persd.train.objectives import check_inputs, prompt_rows
from persd.train.outdir import LOG_FILE, METRICS_FILE, prepare_output_dir, trim_resumed_metrics
from persd.train.run import EXIT_DISK_FULL
from persd.train.rows import load_data, load_rows, normalise_rows
from persd.train.runner import check_model_path, start_training

POLL_S = 0.5
ECHO_EVERY_S = 2.0


@dataclass
class TrainOutcome:
    status: str                       # finished | stopped | failed
    end: dict[str, Any] = field(default_factory=dict)   # the metrics file's end line
    start: dict[str, Any] = field(default_factory=dict)
    run_id: int | None = None
    log_tail: str = ""
    exit_code: int | None = None
    last_echo: float = float("-inf")


def train_run(
    config: TrainConfig, *, data: str | None, sessions_dir: str, metrics: str | None = None,
    launcher: str | None = None, echo: Callable[[str], None] = print, selection: str = "auto",
    columns: dict[str, str] | None = None,
) -> TrainOutcome:
    """Train as a child process and follow it to the end; `TrainError` for bad input."""
    store = _open_store(sessions_dir, config.session) if config.session else None
    try:
        rows = _rows(config, data, store, selection, columns)
        check_model_path(config.student)
        check_inputs(config)
        prepare_output_dir(config, rows, write=False)  # a refused run is not recorded
        metrics_path = Path(metrics or Path(config.output_dir) / METRICS_FILE)
        run_id = None
        if store is not None:
            run_id = _add_run(store, config, data, len(rows))
        if config.resume:
            trim_resumed_metrics(metrics_path, config.output_dir)
        # Made before the child starts, so that it skips only what an earlier run wrote.
        follower = _MetricsFollower(metrics_path, skip_existing=config.resume)
        try:
            process = start_training(config, rows, metrics_path, launcher=launcher)
        except BaseException as error:
            if store is not None:
                store.runs.update(run_id, status="failed", result={"error": str(error)})
            raise
        if store is not None:
            store.runs.update(run_id, status="running", pid=process.pid,
                             metrics_path=str(metrics_path), output=config.output_dir)
        outcome = _follow(process, follower, echo)
        outcome.run_id = run_id
        if outcome.exit_code == EXIT_DISK_FULL and not outcome.end.get("error"):
            # The end line did not fit on the disk; the exit status says why.
            outcome.end.update(error=disk_full_message(config.output_dir), disk_full=True)
        if outcome.status == "failed" and not outcome.end.get("disk_full"):
            outcome.log_tail = "\n".join(log_tail(Path(config.output_dir) / LOG_FILE).splitlines()[-15:])
        if store is not None:
            result = {k: v for k, v in outcome.end.items() if k not in ("event", "time")}
            store.runs.update(run_id, status=outcome.status, result=result)
        return outcome
    finally:
        if store is not None:
            store.close()


def _open_store(sessions_dir: str, session: str) -> SessionStore:
    try:
        return SessionStore.open(sessions_dir, session)
    except StoreError as error:
        raise TrainError(str(error)) from error


def _rows(config: TrainConfig, data: str | None, store, selection: str,
          columns: dict[str, str] | None = None) -> list[dict[str, Any]]:
    if config.objective != "sft":
        return _prompt_rows(config, data, store)
    if data:
        return load_data(data, columns)
    if store is None:
        raise TrainError("nothing to train on: give --data FILE or --session NAME")
    try:
        rows = build_examples(store, config.variant or "persd", selection=selection,
                              prompt_style=config.prompt_style)
    except ValueError as error:
        raise TrainError(str(error)) from error
    if not rows:
        raise TrainError(
            f"session {config.session!r} has no {config.variant or 'persd'} examples: the curated "
            "set is empty (collect, then review or validate refinements first)"
        )
    return normalise_rows(rows)


def _prompt_rows(config: TrainConfig, data: str | None, store) -> list[dict[str, Any]]:
    """On-policy objectives need prompts (and grpo tests): --data rows, or the session's tasks."""
    if data:
        return normalise_rows(load_rows(data), prompt_only=True)
    if store is None:
        raise TrainError(f"objective {config.objective!r} needs prompts: give --session NAME "
                         "(its tasks) or --data FILE")
    return normalise_rows(prompt_rows(store.tasks.list(), config.objective, config.reward_tests),
                          prompt_only=True)


def _add_run(store, config: TrainConfig, data: str | None, n_rows: int) -> int:
    settle_lost_trainer(store)  # records a run whose process is gone as ended, saying how
    source = f"session:{config.variant}" if config.objective == "sft" else "session:tasks"
    record = {**config.to_dict(), "data": data or source, "rows": n_rows}
    try:
        return store.runs.add("train", record, status="queued", exclusive=True)
    except RunBusy as error:
        raise TrainError(f"{error} (training runs one at a time per session)") from error


def _follow(process, follower: _MetricsFollower, echo: Callable[[str], None]) -> TrainOutcome:
    """Tail the metrics file until the child exits, forwarding stop signals to it."""
    outcome = TrainOutcome(status="failed")
    previous = {s: signal.signal(s, lambda *_: _stop(process)) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while True:
            exited = process.poll() is not None
            for record in follower.new_records():
                _report(record, outcome, echo)
            if exited:
                break
            time.sleep(POLL_S)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    outcome.exit_code = process.returncode
    if outcome.end:
        outcome.status = outcome.end.get("status", "failed")
    return outcome


def _stop(process) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)


def _report(record: dict[str, Any], outcome: TrainOutcome, echo: Callable[[str], None]) -> None:
    """One line for the start, then a progress line at most every ECHO_EVERY_S seconds."""
    if record.get("event") == "start":
        outcome.start = record
        echo(f"Training on {record.get('train_rows')} rows ({record.get('eval_rows')} held out), "
             f"{record.get('total_steps')} steps on {record.get('device')}"
             + (f", resuming at step {record['resumed_from_step']}" if record.get("resumed_from_step") else ""))
    elif record.get("event") == "end":
        outcome.end = record
    elif "loss" in record or "eval_loss" in record:
        total = outcome.start.get("total_steps") or "?"
        now = time.monotonic()
        if now - outcome.last_echo < ECHO_EVERY_S and record["step"] != total and "eval_loss" not in record:
            return
        outcome.last_echo = now
        parts = [f"step {record['step']}/{total}"]
        if record.get("loss") is not None:
            parts.append(f"loss {record['loss']:.4f}")
        if record.get("eval_loss") is not None:
            parts.append(f"eval_loss {record['eval_loss']:.4f}")
        if record.get("tokens_per_s"):
            parts.append(f"{record['tokens_per_s']:.0f} tokens/s")
        echo("  ".join(parts))


class _MetricsFollower:
    """Reads the complete lines appended to a file since the last call."""

    def __init__(self, path: Path, skip_existing: bool = False) -> None:
        # A resumed run appends to the earlier run's file: start after what is there.
        self.path, self.partial = path, ""
        self.offset = path.stat().st_size if skip_existing and path.is_file() else 0

    def new_records(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        with self.path.open(encoding="utf-8") as file:
            file.seek(self.offset)
            chunk = file.read()
            self.offset = file.tell()
        lines = (self.partial + chunk).split("\n")
        self.partial = lines.pop()
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return records

