"""Evaluation samples as frames: before and after training, and what multi-step repair fixes.

    from persd.analysis.evals import eval_samples_frame, task_changes, error_mix, repair_effect
    samples = eval_samples_frame(store)          # one row per (run, task, sample, step)
    task_changes(samples)     # per task: pass rate in one round's run and the next one's
    error_mix(samples)        # per run: share of each error type of the first attempts
    repair_effect(samples)    # per run and step-0 error type: fixed at step 1..K, still failing

Only finished eval runs count; for each round the latest run stands for it. Every row
keeps the keys a drill-down needs (run_id, step, error_type, task_id), so a click on a
table row can open exactly the samples behind it. Labels say "real model" or
"SIMULATED" from the run itself (`run_label`), not from the session.
"""

from __future__ import annotations

import pandas as pd

from persd.analysis.signatures import signature_of
from persd.store.records import result_of

SAMPLE_COLUMNS = ["sample_id", "run_id", "round", "run", "task_id", "sample_index", "step",
                  "passed", "status", "error_type", "signature"]
CHANGE_COLUMNS = ["task_id", "from_round", "to_round", "from_run", "to_run", "before",
                  "after", "change", "error_before", "error_after"]
MIX_COLUMNS = ["run_id", "round", "run", "error_type", "samples", "share"]
REPAIR_COLUMNS = ["run_id", "run", "error_type", "failed_at_step_0", "fixed", "fixed_at",
                  "still_failing", "fix_rate"]
CHANGES = ("fail → pass", "pass → fail", "still passes", "still fails")
PASSED = "(passed)"


def run_label(run) -> str:
    """"run 3 · round 1 · r1-adapter" (the adapter folder's name, or "base")."""
    config = run.config or {}
    adapter = str(config.get("adapter") or "").rstrip("/").rsplit("/", 1)[-1] or "base"
    round_ = config.get("round")
    return f"run {run.id} · round {'?' if round_ is None else round_} · {adapter}"


def is_simulated_run(run) -> bool:
    """An eval of the simulated student (the demo's): only then is it labelled SIMULATED."""
    config = run.config or {}
    return bool(config.get("simulated")) or str(config.get("model", "")).startswith("simulated")


def finished_eval_runs(store) -> list:
    return [r for r in store.runs.list(kind="eval") if r.status == "finished" and r.result]


def eval_samples_frame(store, run_ids: list[int] | None = None) -> pd.DataFrame:
    """Every sample of the session's finished eval runs (or of `run_ids`)."""
    rows = []
    for run in finished_eval_runs(store):
        if run_ids is not None and run.id not in run_ids:
            continue
        label = run_label(run)
        for s in store.eval_samples.list(run.id):
            e = result_of(s.execution)
            rows.append({
                "sample_id": s.id, "run_id": run.id, "round": (run.config or {}).get("round"),
                "run": label, "task_id": s.task_id, "sample_index": s.sample_index,
                "step": s.step, "passed": s.passed, "status": e.status if e else "not run",
                "error_type": PASSED if s.passed else (e.error_type or e.status) if e
                else "not run",
                "signature": signature_of(e) if e else "not run"})
    return pd.DataFrame(rows, columns=SAMPLE_COLUMNS).astype({"passed": bool})


def _latest_per_round(samples: pd.DataFrame) -> list[tuple[int, int]]:
    """(round, run_id) of the latest run of each known round, in round order."""
    known = samples.dropna(subset=["round"])
    if known.empty:
        return []
    latest = known.groupby(known["round"].astype(int))["run_id"].max()
    return [(int(r), int(i)) for r, i in latest.sort_index().items()]


def task_changes(samples: pd.DataFrame, step: int = 0) -> pd.DataFrame:
    """Per task, between the latest runs of consecutive rounds: pass rate at `step` before
    and after, the change (fail → pass, pass → fail, still ...), and the most frequent
    error type on each side. A task passes when most of its samples pass."""
    rounds = _latest_per_round(samples)
    rows = []
    for (r0, run0), (r1, run1) in zip(rounds, rounds[1:]):
        before = _per_task(samples, run0, step)
        after = _per_task(samples, run1, step)
        for task_id in sorted(set(before.index) & set(after.index)):
            b, a = before.loc[task_id], after.loc[task_id]
            passed_before, passed_after = b["rate"] > 0.5, a["rate"] > 0.5
            change = CHANGES[0] if passed_after and not passed_before else CHANGES[1] \
                if passed_before and not passed_after else CHANGES[2] if passed_after \
                else CHANGES[3]
            rows.append({"task_id": task_id, "from_round": r0, "to_round": r1,
                         "from_run": run0, "to_run": run1, "before": b["rate"],
                         "after": a["rate"], "change": change, "error_before": b["error"],
                         "error_after": a["error"]})
    return pd.DataFrame(rows, columns=CHANGE_COLUMNS)


def _per_task(samples: pd.DataFrame, run_id: int, step: int) -> pd.DataFrame:
    rows = samples[(samples["run_id"] == run_id) & (samples["step"] == step)]
    rate = rows.groupby("task_id")["passed"].mean()
    failed = rows[~rows["passed"]]
    error = failed.groupby("task_id")["error_type"].agg(lambda s: s.mode().iloc[0])
    return pd.DataFrame({"rate": rate, "error": error.reindex(rate.index).fillna(PASSED)})


def error_mix(samples: pd.DataFrame, step: int = 0) -> pd.DataFrame:
    """Per run (in round order): the share of each outcome of the student's first
    attempts (step 0), passed included, so runs of different size compare."""
    rows = samples[samples["step"] == step]
    if rows.empty:
        return pd.DataFrame(columns=MIX_COLUMNS)
    counts = rows.groupby(["run_id", "round", "run", "error_type"], dropna=False).size()
    frame = counts.rename("samples").reset_index()
    frame["share"] = frame["samples"] / frame.groupby("run_id")["samples"].transform("sum")
    return frame.sort_values(["round", "run_id", "samples"], ascending=[True, True, False],
                             ignore_index=True)[MIX_COLUMNS]


def repair_effect(samples: pd.DataFrame) -> pd.DataFrame:
    """Per run with repair steps and per error type at step 0: how many of those failing
    samples pass after the last step, the first step at which they passed, how many
    still fail, and the share fixed."""
    rows = []
    for run_id, run in samples.groupby("run_id"):
        last = int(run["step"].max())
        if last == 0:
            continue
        by_slot = run.pivot_table(index=["task_id", "sample_index"], columns="step",
                                  values="passed", aggfunc="first")
        first = run[run["step"] == 0].set_index(["task_id", "sample_index"])
        failed = first[~first["passed"]]
        for error_type, group in failed.groupby("error_type"):
            fixed_at: dict[int, int] = {}
            for slot in group.index:
                steps = by_slot.loc[slot]
                passed = [int(s) for s in steps.index if s > 0 and bool(steps[s])]
                if passed:
                    fixed_at[passed[0]] = fixed_at.get(passed[0], 0) + 1
            fixed = sum(fixed_at.values())
            rows.append({"run_id": run_id, "run": run["run"].iloc[0],
                         "error_type": error_type, "failed_at_step_0": len(group),
                         "fixed": fixed,
                         "fixed_at": ", ".join(f"step {k}: {v}" for k, v in
                                               sorted(fixed_at.items())),
                         "still_failing": len(group) - fixed,
                         "fix_rate": fixed / len(group)})
    frame = pd.DataFrame(rows, columns=REPAIR_COLUMNS)
    return frame.sort_values(["run_id", "failed_at_step_0"], ascending=[True, False],
                             ignore_index=True) if len(frame) else frame
