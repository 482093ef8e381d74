"""The online loop: rounds of collect -> review gate -> train -> evaluate, crash-safe.

    from persd.loop import LoopConfig, run_loop
    outcome = run_loop(LoopConfig(session="s", tasks="humaneval", eval_tasks="heldout.jsonl",
                                  student="models/tiny", teacher_model="gpt-4o-mini",
                                  output_dir="runs/s-loop", rounds=3))
    outcome.status, outcome.rounds    # "finished" | "stopped"; per-round pass@1 and runs

or `persd loop ...`. Round 0 evaluates the base student; each round r >= 1 collects with the
latest student (the previous round's adapter), passes the review gate, trains and evaluates
on the held-out set (one-step and multi-step pass@1). It ends after `rounds` rounds, when
one-step pass@1 has stopped improving (`patience`), when the online form's task pool runs
out, or on a stop request (SIGTERM: the app's Stop button), which ends the step in progress
cleanly (training saves a checkpoint).

The loop is a run of kind "loop" in the session store; its result is the loop's state
(round, step, per-round record) and is written at every step change, and every step's own
work is a collect, train or eval run beside it. `kill -9` at any step and the same command
again continues the step it was in: collection resumes its round, training resumes from
its last checkpoint, an interrupted evaluation is run again. A second loop of the session
while one runs is refused.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from persd.loop import steps
from persd.loop.config import AUTO_REVIEWER, GATES, TRAIN_FROM, LoopConfig, LoopError
from persd.loop.status import loop_state, request_stop
from persd.store import RunBusy, SessionStore, StoreError
from persd.store.runs import process_alive

__all__ = ["AUTO_REVIEWER", "GATES", "TRAIN_FROM", "LoopConfig", "LoopError", "LoopOutcome",
           "loop_state", "request_stop", "run_loop"]

STEPS = ("collect", "gate", "train", "eval")


@dataclass
class LoopOutcome:
    status: str                      # finished | stopped
    run_id: int
    reason: str = ""
    rounds: list[dict[str, Any]] = field(default_factory=list)


def run_loop(config: LoopConfig, echo: Callable[[str], None] = lambda message: None) -> LoopOutcome:
    """Run (or continue) the session's loop; `LoopError` for what a user can fix."""
    try:
        store = SessionStore.open(config.sessions_dir, config.session, create=True)
    except StoreError as error:
        raise LoopError(str(error)) from error
    stop = _StopFlag().install()
    try:
        run_id, state = _claim(store, config)
        loop = _Loop(config, store, run_id, state, stop, echo)
        try:
            return loop.run()
        except BaseException as error:
            loop._reopen()
            stopped = isinstance(error, KeyboardInterrupt)
            loop.store.runs.update(run_id, status="stopped" if stopped else "failed",
                                  result={**_state(loop.store, run_id), "error": str(error)})
            raise
        finally:
            store = loop.store
    finally:
        stop.uninstall()
        store.close()


def _claim(store, config: LoopConfig) -> tuple[int, dict[str, Any]]:
    """The unfinished loop with these settings to continue, or a new one; refused while
    another loop of the session runs."""
    for run in reversed(store.runs.list(kind="loop")):
        if run.status in ("queued", "running") and run.pid and process_alive(run.pid, run.process_start):
            raise LoopError(f"loop run {run.id} of session {config.session!r} is running "
                            f"(process {run.pid}); stop it first (one loop per session)")
    unfinished = [run for run in store.runs.list(kind="loop") if run.status != "finished"]
    if unfinished and {k: v for k, v in unfinished[-1].config.items() if k in config.identity()} \
            == config.identity():
        run = unfinished[-1]
        store.runs.update(run.id, status="running", pid=os.getpid())
        state = {k: v for k, v in (run.result or {}).items() if k != "error"}
        return run.id, state or _initial()
    try:
        run_id = store.runs.add("loop", config.to_dict(), status="running", exclusive=True)
    except RunBusy as error:
        raise LoopError(str(error)) from error
    store.runs.update(run_id, pid=os.getpid(), output=config.output_dir, result=_initial())
    return run_id, _initial()


def _initial() -> dict[str, Any]:
    return {"round": 0, "step": "eval", "rounds": [{"round": 0}], "detail": {}}


def _state(store, run_id: int) -> dict[str, Any]:
    return dict(store.runs.get(run_id).result or {})


class _Loop:
    def __init__(self, config, store, run_id, state, stop, echo) -> None:
        self.config, self.store, self.run_id, self.state = config, store, run_id, state
        self.stop, self.echo = stop, echo

    def run(self) -> LoopOutcome:
        while True:
            if self.stop.requested:
                return self._end("stopped", "stop requested")
            number, step = self.state["round"], self.state["step"]
            record = self.state["rounds"][number]
            self.echo(f"round {number}: {step}")
            if step == "collect":
                result = steps.collect_step(self.config, number, self._adapter(number - 1),
                                            self.store, lambda: self.stop.requested)
                if result.get("exhausted"):
                    self.state["rounds"].pop()
                    return self._end("finished", "the task pool is used up")
            elif step == "gate":
                result = steps.gate(self.config, number, self.store, lambda: self.stop.requested,
                                    self._detail)
            elif step == "train":
                result = steps.train_round(self.config, number, self._adapter(number - 1),
                                           self.store, self.echo)
            else:
                result = steps.evaluate_round(self.config, number, self._adapter(number), self.store,
                                              self.run_id, record.get("train_run"), self.echo,
                                              lambda: self.stop.requested)
            self._reopen()
            if result.pop("stopped", False):
                record.update(result)
                return self._end("stopped", f"stopped during {step}")
            record.update(result)
            ended = self._advance()
            if ended:
                return self._end("finished", ended)

    def _reopen(self) -> None:
        """A fresh connection after each step. Collection and training open the session
        again in this process, and closing the file descriptor persd.store.db reads the
        header with drops every POSIX lock this process holds on the file, this
        connection's WAL locks included: it would then read stale data or fail with a
        disk I/O error."""
        self.store.close()
        self.store = SessionStore.open(self.config.sessions_dir, self.config.session)

    def _adapter(self, number: int) -> str | None:
        return self.state["rounds"][number].get("adapter") if number >= 0 else None

    def _detail(self, detail: dict[str, Any]) -> None:
        self.state["detail"] = detail
        self._save()

    def _advance(self) -> str | None:
        """Moves to the next step; the reason the loop ends, if it does."""
        number, step = self.state["round"], self.state["step"]
        self.state["detail"] = {}
        if step != "eval":
            self.state["step"] = STEPS[STEPS.index(step) + 1]
            self._save()
            return None
        reason = self._done(number)
        if reason:
            self._save()
            return reason
        self.state["round"], self.state["step"] = number + 1, "collect"
        self.state["rounds"].append({"round": number + 1})
        self._save()
        return None

    def _done(self, number: int) -> str | None:
        if number >= self.config.rounds:
            return f"{self.config.rounds} round(s) done"
        scores = [r.get("pass1_one_step") for r in self.state["rounds"]]
        if self.config.patience and number >= self.config.patience:
            best_before = max(s for s in scores[: number - self.config.patience + 1] if s is not None)
            if all(s is not None and s <= best_before for s in scores[-self.config.patience:]):
                return (f"one-step pass@1 has not improved on {best_before:.4f} for "
                        f"{self.config.patience} round(s)")
        return None

    def _save(self) -> None:
        self.store.runs.update(self.run_id, result=self.state)

    def _end(self, status: str, reason: str) -> LoopOutcome:
        self.state["detail"], self.state["reason"] = {}, reason
        if status == "finished":
            self.state["step"] = "done"
        self.store.runs.update(self.run_id, status=status, result=self.state)
        return LoopOutcome(status, self.run_id, reason, list(self.state["rounds"]))


class _StopFlag:
    """SIGTERM/SIGINT ask the loop to stop after (or, in training, inside) the current step.
    Only the main thread can hold signal handlers; elsewhere the flag stays unset."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def install(self) -> _StopFlag:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGTERM, signal.SIGINT):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        self.requested = True

    def uninstall(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
