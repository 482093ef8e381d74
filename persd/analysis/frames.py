"""The frames of a session analysis, read from a SessionStore; see `persd.analysis`.

    from persd.analysis.frames import attempts_frame, refinements_frame, error_taxonomy
    taxonomy = error_taxonomy(attempts_frame(store), refinements_frame(store))

Each function returns a DataFrame with the columns of its `*_COLUMNS` constant, also
when there is nothing to show (then it is empty), so callers never special-case.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from persd.code.diffing import code_similarity, diff_size
from persd.store.records import result_of
from persd.demo.sim import reference_program

ATTEMPT_COLUMNS = ["attempt_id", "task_id", "round", "sample_index", "model", "status",
                   "passed", "error_type", "tests_passed", "tests_total"]
REFINEMENT_COLUMNS = ["refinement_id", "task_id", "round", "method", "teacher_model",
                      "attempt_id", "attempt_error_type", "validated", "review_status",
                      "reviewer", "diff_lines", "similarity", "reference_diff_lines",
                      "reference_similarity", "cost_usd", "prompt_tokens", "completion_tokens"]
TAXONOMY_COLUMNS = ["error_type", "attempts", "share", "refined", "validated",
                    "validated_share", "accepted", "rejected"]
TEACHER_COLUMNS = ["teacher_model", "calls", "cached", "errors", "prompt_tokens",
                   "completion_tokens", "cost_usd", "refinements", "validated",
                   "validation_rate", "validated_per_usd", "reviewed", "accepted",
                   "acceptance_rate"]
EVAL_COLUMNS = ["run_id", "round", "model", "adapter", "tasks", "samples", "step",
                "pass_at_1", "refined", "fixed", "broken"]
TASK_COLUMNS = ["task_id", "attempts", "attempts_passed", "error_type", "refinements",
                "validated", "review_status", "diff_lines", "similarity",
                "reference_similarity", "cost_usd", "eval_one_step", "eval_multi_step"]
ACCEPTED = ("approved", "edited")
PASSED = "(passed)"


# ---------------------------------------------------------------- frames read from the store

def attempts_frame(store) -> pd.DataFrame:
    rows = []
    for a in store.attempts.list():
        e = result_of(a.execution)
        rows.append({
            "attempt_id": a.id, "task_id": a.task_id, "round": a.round,
            "sample_index": a.sample_index, "model": a.model,
            "status": e.status if e else "not run", "passed": bool(e and e.passed),
            "error_type": (e.error_type or PASSED) if e and not e.passed else
                          (PASSED if e else "not run"),
            "tests_passed": e.tests_passed if e else None,
            "tests_total": e.tests_total if e else None,
        })
    return pd.DataFrame(rows, columns=ATTEMPT_COLUMNS).astype({"passed": bool})


def refinements_frame(store) -> pd.DataFrame:
    """Teacher results with their review, cost and the two diffs against the attempt."""
    tasks = {t.task_id: t for t in store.tasks.list()}
    attempts = {a.id: a for a in store.attempts.list()}
    reviews = store.reviews.by_refinement()
    spend: dict[int, list[float]] = {}
    for call in store.teacher_calls.list():
        if call.refinement_id is not None:
            cost, prompt, completion = spend.setdefault(call.refinement_id, [0.0, 0, 0])
            spend[call.refinement_id] = [cost + (0.0 if call.cached else call.cost_usd),
                                         prompt + call.prompt_tokens,
                                         completion + call.completion_tokens]
    references: dict[str, str | None] = {}
    rows = []
    for r in store.refinements.list():
        attempt = attempts.get(r.attempt_id) if r.attempt_id is not None else None
        review = reviews.get(r.id)
        row = {
            "refinement_id": r.id, "task_id": r.task_id, "round": r.round, "method": r.method,
            "teacher_model": r.teacher_model, "attempt_id": r.attempt_id,
            "attempt_error_type": _error_type(attempt), "validated": r.validated,
            "review_status": review.status if review else "pending",
            "reviewer": review.reviewer if review else None,
            "diff_lines": None, "similarity": None, "reference_diff_lines": None,
            "reference_similarity": None,
        }
        cost, prompt, completion = spend.get(r.id, [0.0, 0, 0])
        row.update(cost_usd=cost, prompt_tokens=prompt, completion_tokens=completion)
        if attempt is not None and r.program:
            row["diff_lines"] = r.diff_lines if r.diff_lines is not None else \
                diff_size(attempt.program, r.program)
            prompt = tasks[r.task_id].prompt if r.task_id in tasks else ""
            row["similarity"] = code_similarity(attempt.program, r.program, prompt)
            if r.task_id not in references:
                references[r.task_id] = _reference(tasks.get(r.task_id))
            reference = references[r.task_id]
            if reference:
                row["reference_diff_lines"] = diff_size(attempt.program, reference)
                row["reference_similarity"] = code_similarity(attempt.program, reference,
                                                              prompt)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=REFINEMENT_COLUMNS).astype(
        {"validated": bool, "cost_usd": float})
    for column in ("diff_lines", "reference_diff_lines"):
        frame[column] = frame[column].astype("Int64")
    for column in ("similarity", "reference_similarity"):
        frame[column] = frame[column].astype("float64")
    return frame


def _error_type(attempt) -> str:
    if attempt is None:
        return ""
    e = result_of(attempt.execution)
    return "not run" if e is None else (e.error_type or PASSED) if not e.passed else PASSED


def _reference(task) -> str | None:
    """The reference laid out as the student's programs are (prompt first), so the diff
    counts code, not layout."""
    if task is None or not task.solution:
        return None

    return reference_program(task) or task.solution


def eval_frame(store, k: int = 1) -> pd.DataFrame:
    """One row per (finished eval run, step); pass_at_1 is pass@k of that step."""
    rows = []
    for run in store.runs.list(kind="eval"):
        if run.status != "finished" or not run.result:
            continue
        config, result = run.config or {}, run.result
        for step in result.get("steps", []):
            rows.append({
                "run_id": run.id, "round": config.get("round"),
                "model": config.get("model") or result.get("student"),
                "adapter": config.get("adapter") or "",
                "tasks": len(result.get("tasks", [])),
                "samples": (config.get("eval") or {}).get("samples"),
                "step": step.get("step"), "pass_at_1": step.get("pass_at_k", {}).get(f"pass@{k}"),
                "refined": step.get("refined"), "fixed": step.get("fixed"),
                "broken": step.get("broken"),
            })
    return pd.DataFrame(rows, columns=EVAL_COLUMNS)


# ---------------------------------------------------------------- derived frames

def error_taxonomy(attempts: pd.DataFrame, refinements: pd.DataFrame) -> pd.DataFrame:
    """Failed attempts by error type, and what the teacher made of them."""
    failed = attempts[~attempts["passed"] & (attempts["status"] != "not run")]
    if failed.empty:
        return pd.DataFrame(columns=TAXONOMY_COLUMNS)
    counts = failed.groupby("error_type").size().rename("attempts")
    persd = refinements[refinements["method"] == "persd"]
    by_type = persd.groupby("attempt_error_type")
    frame = pd.DataFrame({
        "attempts": counts,
        "refined": by_type.size(),
        "validated": by_type["validated"].sum(),
        "accepted": by_type["review_status"].apply(lambda s: int(s.isin(ACCEPTED).sum())),
        "rejected": by_type["review_status"].apply(lambda s: int((s == "rejected").sum())),
    }).reindex(counts.index).fillna(0)
    frame = frame.astype({c: int for c in ("attempts", "refined", "validated", "accepted",
                                           "rejected")})
    frame["share"] = frame["attempts"] / frame["attempts"].sum()
    frame["validated_share"] = _ratio(frame["validated"], frame["refined"])
    frame = frame.rename_axis("error_type").reset_index()
    return frame.sort_values(["attempts", "error_type"], ascending=[False, True],
                             ignore_index=True)[TAXONOMY_COLUMNS]


def personalisation(refinements: pd.DataFrame) -> pd.DataFrame:
    """Long form for plotting: one row per (refinement, comparison) with diff size and
    similarity; comparison is "refinement vs attempt" or "reference vs attempt"."""
    parts = []
    for comparison, diff, sim in (("refinement vs attempt", "diff_lines", "similarity"),
                                  ("reference vs attempt", "reference_diff_lines",
                                   "reference_similarity")):
        part = refinements[["refinement_id", "task_id", diff, sim]].dropna()
        part = part.rename(columns={diff: "diff_lines", sim: "similarity"})
        part.insert(2, "comparison", comparison)
        parts.append(part)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return frame.astype({"diff_lines": "int64", "similarity": "float64"}) if len(frame) else \
        pd.DataFrame(columns=["refinement_id", "task_id", "comparison", "diff_lines",
                              "similarity"])


def teacher_yield(usage: list[dict[str, Any]], refinements: pd.DataFrame) -> pd.DataFrame:
    """Per teacher model: what it cost (store.teacher_calls.usage()) and what it yielded."""
    spend = pd.DataFrame(usage, columns=["model", "calls", "cached", "errors",
                                         "prompt_tokens", "completion_tokens", "cost_usd"])
    spend = spend.rename(columns={"model": "teacher_model"}).set_index("teacher_model")
    by_model = refinements.groupby("teacher_model")
    decided = refinements[refinements["review_status"].isin((*ACCEPTED, "rejected"))]
    made = pd.DataFrame({
        "refinements": by_model.size(),
        "validated": by_model["validated"].sum(),
        "reviewed": decided.groupby("teacher_model").size(),
        "accepted": decided[decided["review_status"].isin(ACCEPTED)]
                    .groupby("teacher_model").size(),
    })
    frame = spend.join(made, how="outer").fillna(0)
    if frame.empty:
        return pd.DataFrame(columns=TEACHER_COLUMNS)
    counts = ["calls", "cached", "errors", "prompt_tokens", "completion_tokens", "refinements",
              "validated", "reviewed", "accepted"]
    frame = frame.astype({c: int for c in counts})
    frame["cost_usd"] = frame["cost_usd"].astype(float)
    frame["validation_rate"] = _ratio(frame["validated"], frame["refinements"])
    # Free teachers (local, simulated, unknown price) have no "per dollar": left empty.
    frame["validated_per_usd"] = _ratio(frame["validated"], frame["cost_usd"])
    frame["acceptance_rate"] = _ratio(frame["accepted"], frame["reviewed"])
    return frame.rename_axis("teacher_model").reset_index()[TEACHER_COLUMNS]


def before_after(evals: pd.DataFrame) -> pd.DataFrame:
    """Per round (the latest finished eval run of each): one-step and multi-step pass@1."""
    columns = ["round", "run_id", "one_step", "multi_step", "refine_steps"]
    if evals.empty:
        return pd.DataFrame(columns=columns)
    known = evals.assign(round=evals["round"].fillna(-1).astype(int))
    latest = known.groupby("round")["run_id"].max()
    rows = []
    for round_, run_id in latest.items():
        steps = known[known["run_id"] == run_id].sort_values("step")
        rows.append({"round": round_, "run_id": run_id,
                     "one_step": steps["pass_at_1"].iloc[0],
                     "multi_step": steps["pass_at_1"].iloc[-1],
                     "refine_steps": int(steps["step"].iloc[-1])})
    return pd.DataFrame(rows, columns=columns)


def per_task(attempts: pd.DataFrame, refinements: pd.DataFrame, store) -> pd.DataFrame:
    """One row per task of the session, with the latest eval run's pass@1 per task."""
    task_ids = [t.task_id for t in store.tasks.list()]
    frame = pd.DataFrame(index=pd.Index(task_ids, name="task_id"))
    by_task = attempts.groupby("task_id")
    frame["attempts"] = by_task.size()
    frame["attempts_passed"] = by_task["passed"].sum()
    failed = attempts[~attempts["passed"]]
    frame["error_type"] = failed.groupby("task_id")["error_type"].first()
    refined = refinements.groupby("task_id")
    frame["refinements"] = refined.size()
    frame["validated"] = refined["validated"].sum()
    latest = refinements.sort_values("refinement_id").groupby("task_id").last()
    for column in ("review_status", "diff_lines", "similarity", "reference_similarity"):
        frame[column] = latest[column] if column in latest else None
    frame["cost_usd"] = refined["cost_usd"].sum()
    one, multi = _latest_eval_per_task(store)
    frame["eval_one_step"] = pd.Series(one, dtype="float64")
    frame["eval_multi_step"] = pd.Series(multi, dtype="float64")
    for column in ("attempts", "attempts_passed", "refinements", "validated"):
        frame[column] = frame[column].fillna(0).astype(int)
    frame["cost_usd"] = frame["cost_usd"].fillna(0.0)
    frame["error_type"] = frame["error_type"].fillna("")
    frame["review_status"] = frame["review_status"].fillna("")
    return frame.reset_index()[TASK_COLUMNS]


def _latest_eval_per_task(store, k: int = 1) -> tuple[dict[str, float], dict[str, float]]:
    runs = [r for r in store.runs.list(kind="eval") if r.status == "finished" and r.result]
    if not runs:
        return {}, {}
    one, multi = {}, {}
    for task in runs[-1].result.get("tasks", []):
        values = task.get("pass_at_k", {}).get(f"pass@{k}") or []
        if values:
            one[task["task_id"]], multi[task["task_id"]] = values[0], values[-1]
    return one, multi


def _ratio(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    """numerator / denominator, NaN where the denominator is 0."""
    denominator = denominator.astype(float)
    return numerator.astype(float) / denominator.where(denominator > 0)
