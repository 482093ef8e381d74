"""The Loop tab's event logic, testable without a browser: values keyed by component name.

    view = LoopHandlers(stores)
    view.refresh("s1")   # {"status": html, "progress": float | None, "rounds": DataFrame,
                         #  "curve": DataFrame, "stop": gr-free flag dict}
    view.stop("s1")      # asks the running loop to stop; a message
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from persd.loop import loop_state, request_stop

ROUND_COLUMNS = ["round", "approved", "train steps", "pass@1 one-step", "pass@1 multi-step"]
STEP_NAMES = {"collect": "collecting", "gate": "review gate", "train": "training",
              "eval": "evaluating", "done": "done"}


class LoopHandlers:
    def __init__(self, stores: Any) -> None:
        self.stores = stores

    def refresh(self, session: str | None) -> dict[str, Any]:
        state = loop_state(self.stores.get(session)) if session else None
        if state is None:
            return {"status": "No loop in this session. Start one with `persd loop --session "
                              f"{session or 'NAME'} ...` (see the README).",
                    "progress": None, "rounds": pd.DataFrame(columns=ROUND_COLUMNS),
                    "curve": pd.DataFrame(columns=["round", "pass@1", "inference"]),
                    "can_stop": False}
        step = STEP_NAMES.get(state.step, state.step)
        line = f"Loop run {state.run_id}: **{state.status}**, round {state.round}, {step}"
        if state.detail.get("waiting"):
            line += f" (waiting for reviewers: {state.detail['waiting']}; decide records in Review)"
        if state.progress is not None and state.status == "running":
            line += f", {state.progress:.0%} of the step"
        if state.reason:
            line += f". {state.reason}"
        if state.status == "running" and not state.alive:
            line += ". Its process is gone: run the same `persd loop` command to continue."
        return {"status": line, "progress": state.progress,
                "rounds": pd.DataFrame(state.table(), columns=ROUND_COLUMNS),
                "curve": _curve(state.rounds), "can_stop": state.alive}

    def stop(self, session: str | None) -> str:
        if not session:
            return "Pick a session first."
        if request_stop(self.stores.get(session)):
            return "Stop requested: the loop ends its current step cleanly (training saves a checkpoint)."
        return "No loop is running in this session."


def _curve(rounds: list[dict[str, Any]]) -> pd.DataFrame:
    points = [{"round": r["round"], "pass@1": r[key], "inference": name}
              for r in rounds for key, name in (("pass1_one_step", "one-step"),
                                                ("pass1_multi_step", "multi-step"))
              if r.get(key) is not None]
    return pd.DataFrame(points, columns=["round", "pass@1", "inference"])
