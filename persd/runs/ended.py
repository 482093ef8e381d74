"""How a training child ended, recorded in its run row by whoever finds it ended: the
thread that waited for it (the app's jobs), or the next `persd train` or loop step of the
session when the one that started it was killed.

    record_train_end(store, run, code)   # code: its exit status; None if not ours to wait for
    settle_lost_trainer(store)           # the session's active train run, ended if it is gone

The metrics file's end line is the record when there is one (a trainer whose parent died
got SIGTERM, saved a checkpoint and wrote "stopped"); else the exit status, the log's last
line, or that the process is gone.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from persd.store import RunRecord, SessionStore
from persd.store.runs import lost_error, process_alive
from persd.text import log_tail
from persd.train.checkpoints import disk_full_message
from persd.train.metrics import read_metrics
from persd.train.outdir import LOG_FILE
from persd.train.run import EXIT_DISK_FULL, EXIT_STOPPED

EXIT_STATUS = {0: "finished", EXIT_STOPPED: "stopped"}   # persd.train.run's; others: failed
STALE_QUEUED_S = 120.0   # a queued run with no child this old was lost mid-start


def settle_lost_trainer(store: SessionStore) -> RunRecord | None:
    """The session's active train run, recorded as ended first if its process is gone."""
    run = store.runs.active("train")
    if run is None:
        return None
    if run.pid is None:
        return settle_queued(store, run)
    return run if trainer_alive(run) else record_train_end(store, run, None)


def settle_queued(store: SessionStore, run: RunRecord,
                  stale_s: float = STALE_QUEUED_S) -> RunRecord:
    """A run recorded but never given a process: failed once it is `stale_s` old."""
    if run.status == "queued" and age_s(run.created_at) > stale_s:
        return store.runs.update(run.id, status="failed", result={"error": "the run never started"})
    return run


def trainer_alive(run: RunRecord) -> bool:
    """Whether the run's process still runs, or is a dead child of this process whose
    waiting thread is recording its end."""
    return process_alive(run.pid, run.process_start) or _reaped_here(run.pid)


def record_train_end(store: SessionStore, run: RunRecord, code: int | None) -> RunRecord:
    """Record how the train run's (ended) process ended; `code` is its exit status."""
    end = _end_event(run.metrics_path)
    aborted = bool((run.result or {}).get("abort_requested_at"))
    # Aborted before the child installed its handler: killed by SIGTERM, no end line.
    status = end.get("status") or EXIT_STATUS.get(code) or ("stopped" if aborted else "failed")
    result = {**(run.result or {}), "exit_code": code,
              **{k: v for k, v in end.items() if k not in ("event", "time", "status")}}
    if result.get("error") == lost_error(run.pid):  # an earlier guess; this is the record
        del result["error"]
    if status == "failed" and not result.get("error"):
        result["error"] = _failure(run, code)
    return store.runs.update(run.id, status=status, result=result)


def age_s(created_at: str) -> float:
    """Seconds since an ISO timestamp of the store; 0 for one it cannot read."""
    try:
        created = datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return (datetime.now(timezone.utc) - created).total_seconds()


def _failure(run: RunRecord, code: int | None) -> str:
    if code is None:
        return lost_error(run.pid)
    if code == EXIT_DISK_FULL:  # its end line did not fit on the disk
        return disk_full_message(run.output)
    return _last_line(run.output) or f"the training process exited ({code})"


def _reaped_here(pid: int) -> bool:
    """A zombie child of this process: the thread that owns it is recording its end."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] == "Z" and int(fields[1]) == os.getpid()


def _end_event(metrics_path: str | None) -> dict[str, Any]:
    if not metrics_path or not Path(metrics_path).is_file():
        return {}
    ends = [m for m in read_metrics(metrics_path) if m.get("event") == "end"]
    return ends[-1] if ends else {}


def _last_line(output_dir: str | None) -> str:
    text = log_tail(Path(output_dir) / LOG_FILE if output_dir else None, 2000)
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
