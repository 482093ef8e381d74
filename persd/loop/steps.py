"""The four steps of a loop round, each idempotent so that a rerun may repeat any of them:
collect (persd.collect resumes its round), the review gate (approves only what is still
pending), train (resumes from the round's last checkpoint) and evaluate (an interrupted
evaluation is marked failed and run again)."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from persd.collect import CollectError, SessionBusy
from persd.data import build_examples
from persd.loop.config import AUTO_REVIEWER, LoopConfig, LoopError
from persd.runs.collect import collect_round, round_tasks
from persd.runs.ended import settle_lost_trainer, trainer_alive
from persd.runs.evaluate import pass_at_1, start_eval, wait_eval
from persd.runs.train import train_run
from persd.store import SessionStore
from persd.tasks import TaskFileError
from persd.train import TrainConfig, TrainError
from persd.train.outdir import CONFIG_FILE, last_checkpoint

DECIDED = ("approved", "edited", "rejected", "skipped")


def collect_step(config: LoopConfig, round_: int, adapter: str | None, store,
                 should_stop: Callable[[], bool]) -> dict[str, Any]:
    """Collect round `round_` with the latest student; with `step_size`, the next untried
    tasks, `step_size` at a time, until the round holds that many validated refinements."""
    settings = config.collect_round(round_, adapter)
    try:
        tasks = round_tasks(dataclasses.replace(settings, limit=config.collect.limit))
        if not config.step_size:
            summary = collect_round(settings, tasks=tasks, progress=False, should_stop=should_stop)
            return {"tasks": summary.tasks, "validated": summary.validated,
                    "stopped": summary.stopped_by is not None}
        tried = {a.task_id for a in store.attempts.list() if a.round != round_}
        pool = [task for task in tasks if task.task_id not in tried]
        mine = {a.task_id for a in store.attempts.list(round=round_)}
        step = config.step_size
        take = max(step, -(-sum(task.task_id in mine for task in pool) // step) * step)
        if not pool:
            return {"tasks": 0, "validated": 0, "stopped": False, "exhausted": True}
        while True:  # a round's task list only grows, so a rerun redoes nothing
            summary = collect_round(settings, tasks=pool[:take], progress=False,
                                    should_stop=should_stop)
            if summary.stopped_by is not None:
                return {"tasks": summary.tasks, "validated": summary.validated, "stopped": True}
            if _validated(config, round_) >= step or take >= len(pool):
                return {"tasks": summary.tasks, "validated": _validated(config, round_), "stopped": False}
            take += step
    except (CollectError, SessionBusy, TaskFileError) as error:
        raise LoopError(f"round {round_}, collect: {error}") from error


def _validated(config: LoopConfig, round_: int) -> int:
    """Read on a fresh connection: collect's own open of the session, in this process, has
    dropped the POSIX locks of the connections opened before it (see _Loop._reopen)."""
    with SessionStore.open(config.sessions_dir, config.session) as store:
        return sum(1 for r in store.refinements.list(round=round_) if r.validated)


def gate(config: LoopConfig, round_: int, store, should_stop: Callable[[], bool],
         report: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """The review gate of a round: auto-approve, or wait for reviewers' decisions."""
    reviews = store.reviews.by_refinement(round_)
    if config.gate == "auto":
        refinements = {r.id: r for r in store.refinements.list(round=round_)}
        pending = [rid for rid, review in reviews.items()
                   if review.status == "pending" and rid in refinements and refinements[rid].validated]
        if pending:
            store.reviews.bulk_set(pending, "approved", reviewer=AUTO_REVIEWER,
                                  reason="validated: approved by the persd loop's auto gate")
        return _decisions(store, round_)
    needed = min(config.wait_for, len(reviews))
    while True:
        counts = _decisions(store, round_)
        report({"waiting": f"{counts['decided']}/{needed} decided", **counts, "needed": needed})
        if counts["decided"] >= needed:
            return counts
        if should_stop():
            return {**counts, "stopped": True}
        time.sleep(config.poll_s)


def _decisions(store, round_: int) -> dict[str, Any]:
    reviews = store.reviews.by_refinement(round_).values()
    return {"records": len(reviews),
            "decided": sum(r.status in DECIDED for r in reviews),
            "approved": sum(r.status in ("approved", "edited") for r in reviews),
            "auto_approved": sum(r.status == "approved" and r.reviewer == AUTO_REVIEWER for r in reviews)}


def train_round(config: LoopConfig, round_: int, previous_adapter: str | None, store,
                echo: Callable[[str], None]) -> dict[str, Any]:
    """Train round `round_`; the adapter folder, or None when there is nothing to train on."""
    continuing = config.train_from == "previous" and previous_adapter is not None
    rows = build_examples(store, "persd", round=round_ if config.train_from == "previous" else None,
                          selection="approved", prompt_style=config.train.get("prompt_style", "persd"))
    if not rows:
        return {"adapter": previous_adapter, "skipped": "no approved examples"}
    root = Path(config.output_dir)
    root.mkdir(parents=True, exist_ok=True)
    data = root / f"round-{round_}.rows.jsonl"
    data.write_text("".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))
    out = root / f"round-{round_}"
    if (out / "adapter_config.json").is_file() and not last_checkpoint(out):
        return {"adapter": str(out), "rows": len(rows)}  # finished before a crash was recorded
    started = (out / CONFIG_FILE).is_file()
    settings = {**config.train, "student": config.collect.student, "output_dir": str(out),
                "prompt_format": config.collect.prompt_format,
                "variant": "persd", "session": config.session,
                "init_adapter": previous_adapter if continuing else None,
                "resume": started and last_checkpoint(out) is not None,
                "overwrite": started and last_checkpoint(out) is None}
    _wait_for_lost_trainer(store)
    try:
        outcome = train_run(TrainConfig.from_dict(settings), data=str(data),
                                    sessions_dir=config.sessions_dir, echo=echo)
    except TrainError as error:
        raise LoopError(f"round {round_}, train: {error}") from error
    if outcome.status == "stopped":
        return {"stopped": True, "train_run": outcome.run_id}
    if outcome.status != "finished":
        raise LoopError(f"round {round_}, train failed: {outcome.end.get('error') or outcome.log_tail}")
    return {"adapter": str(out), "rows": len(rows), "train_run": outcome.run_id,
            "steps": outcome.end.get("steps"), "continued_from": previous_adapter if continuing else None}


def _wait_for_lost_trainer(store, limit_s: float = 120.0) -> None:
    """A trainer whose loop was killed gets SIGTERM and saves a checkpoint before it ends;
    wait for that, so that its folder is free and its run recorded as ended."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        active = settle_lost_trainer(store)
        if active is None or not active.pid or not trainer_alive(active):
            return
        time.sleep(0.5)


def evaluate_round(config: LoopConfig, round_: int, adapter: str | None, store, loop_run: int,
                   train_run_id: int | None, echo: Callable[[str], None],
                   should_stop: Callable[[], bool]) -> dict[str, Any]:
    """One-step and multi-step pass@1 of the round's student on the held-out set, by an
    eval child (persd.runs.evaluate.start_eval: the loop's children end with it)."""
    for run in store.runs.list(kind="eval"):
        if (run.status in ("queued", "running") and run.config.get("loop_run") == loop_run
                and run.config.get("round") == round_):
            store.runs.update(run.id, status="failed", result={"error": "interrupted; evaluated again"})
    meta = {"model": config.collect.student, "adapter": adapter,
            "task_spec": config.collect.eval_tasks, "limit": config.eval_limit, "round": round_,
            "loop_run": loop_run, "train_run": train_run_id, "objective": "sft",
            "prompt_format": config.collect.student_format()}
    try:
        run_id, child = start_eval(store, config.eval, meta, sessions_dir=config.sessions_dir,
                                   output_dir=Path(config.output_dir) / f"round-{round_}-eval",
                                   exclusive=False)
    except OSError as error:
        raise LoopError(f"round {round_}, eval: {error}") from error
    run = wait_eval(store, run_id, child, echo=echo, should_stop=should_stop)
    if run.status == "stopped":
        return {"stopped": True, "eval_run": run_id}
    if run.status != "finished":
        raise LoopError(f"round {round_}, eval: {(run.result or {}).get('error')}")
    return {"eval_run": run_id, "pass1_one_step": pass_at_1(run, 0),
            "pass1_multi_step": pass_at_1(run, -1)}
