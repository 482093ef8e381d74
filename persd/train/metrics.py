"""Metrics as JSON lines, and the stop request a SIGTERM raises (persd.train.callback uses both).

    {"event": "start", "time": ..., "total_steps": 40, "train_rows": 8, "eval_rows": 0, ...}
    {"step": 1, "epoch": 0.5, "loss": 7.9, "learning_rate": 0.002, "tokens_per_s": 1520.3,
     "tokens": 3012, "time": 1732520000.1}
    {"step": 2, "epoch": 1.0, "eval_loss": 7.1, "time": ...}          # when there is an eval split
    {"event": "end", "status": "finished" | "stopped" | "failed", "error": "...", "time": ...}

Each line is flushed as it is written, so a UI can tail the file. `tokens_per_s` counts the
non-padding prompt and completion tokens processed since the previous line, over the
wall time since then. Only the main process writes (multi-process runs log once).
Light: no torch or transformers import, so the CLI and the app can read metrics quickly.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any

END_STATUSES = ("finished", "stopped", "failed")


class MetricsWriter:
    """Appends JSON lines to a file, flushing each one. `None` path: writes nothing."""

    def __init__(self, path: str | Path | None, append: bool = False) -> None:
        self.path = Path(path) if path else None
        self._file = None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("a" if append else "w", encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            return
        record = {k: _finite(v) for k, v in record.items()}
        self._file.write(json.dumps({**record, "time": round(time.time(), 3)}) + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            file, self._file = self._file, None
            try:
                file.close()
            except OSError:
                pass  # a full disk: the line that did not fit is lost, the error says why


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The complete lines of a metrics file (a line still being written is skipped)."""
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def drop_steps_after(path: str | Path, step: int) -> None:
    """Remove the lines of steps after `step` (events stay); rewrites the file only if one
    goes, in place of the old one at once."""
    path = Path(path)
    if not path.is_file():
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [line for line in lines if _step(line) is None or _step(line) <= step]
    if len(kept) == len(lines):
        return
    partial = path.with_name(f".{path.name}.tmp")
    partial.write_text("".join(kept), encoding="utf-8")
    partial.replace(path)


def _step(line: str) -> int | None:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    step = record.get("step") if isinstance(record, dict) and "event" not in record else None
    return step if isinstance(step, int) else None


class StopRequest:
    """Turns SIGTERM (and SIGINT) into a flag the training loop checks between steps.

    A second signal of the same kind restores the default action, so a stuck run can
    still be killed by sending it again.
    """

    def __init__(self) -> None:
        self.requested = False
        self.signal_name = ""
        self._previous: dict[int, Any] = {}

    def install(self) -> StopRequest:
        """Catch the signals; a no-op off the main thread, where Python cannot (run training
        from a UI thread as a child process instead: `start_training`)."""
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def uninstall(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            signal.signal(signum, signal.SIG_DFL)
            signal.raise_signal(signum)
            return
        self.requested = True
        self.signal_name = signal.Signals(signum).name


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
