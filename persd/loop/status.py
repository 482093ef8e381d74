"""Reading a session's loop for the app and the CLI, and asking it to stop.

    state = loop_state(store)          # None when the session has no loop
    state.rounds, state.step, state.progress
    request_stop(store)                # SIGTERM to the loop's process; False if none runs
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field
from typing import Any

from persd.store.runs import process_alive
from persd.train import read_metrics


@dataclass
class LoopState:
    run_id: int
    status: str                      # the loop run's status
    round: int
    step: str                        # collect | gate | train | eval | done
    detail: dict[str, Any]
    rounds: list[dict[str, Any]]
    reason: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    progress: float | None = None    # share of the current step done, when it is known
    alive: bool = False              # its process is running

    def table(self) -> list[list[Any]]:
        """Round, examples approved, train steps, one-step and multi-step pass@1."""
        return [[r["round"], r.get("approved", "-"), r.get("steps", "-"),
                 _score(r.get("pass1_one_step")), _score(r.get("pass1_multi_step"))]
                for r in self.rounds]


def loop_state(store) -> LoopState | None:
    runs = store.runs.list(kind="loop")
    if not runs:
        return None
    run = runs[-1]
    state = run.result or {}
    alive = bool(run.pid) and run.status == "running" and process_alive(run.pid, run.process_start)
    view = LoopState(run.id, run.status, state.get("round", 0), state.get("step", "eval"),
                     state.get("detail") or {}, state.get("rounds") or [], state.get("reason", ""),
                     run.config, alive=alive)
    view.progress = _progress(store, view)
    return view


def request_stop(store) -> bool:
    """Ask the running loop to stop (it ends its step cleanly); False when none runs."""
    state = loop_state(store)
    if state is None or not state.alive:
        return False
    run = store.runs.get(state.run_id)
    os.kill(run.pid, signal.SIGTERM)
    return True


def _progress(store, state: LoopState) -> float | None:
    config = state.config
    if state.step == "collect":
        total = config.get("step_size") or (config.get("collect") or config).get("limit")
        return min(1.0, len(store.attempts.list(round=state.round)) / total) if total else None
    if state.step == "gate" and state.detail.get("needed"):
        return min(1.0, state.detail["decided"] / state.detail["needed"])
    if state.step == "train":
        active = store.runs.active("train")
        if active is None or not active.metrics_path:
            return None
        records = read_metrics(active.metrics_path) if os.path.exists(active.metrics_path) else []
        total = next((r["total_steps"] for r in records if r.get("event") == "start"), None)
        done = max((r.get("step", 0) for r in records if "loss" in r), default=0)
        return min(1.0, done / total) if total else None
    return None


def _score(value) -> str:
    return "-" if value is None else f"{value:.4f}"
