"""What a session shows: pandas frames of its records, and plotly figures drawn from them.

    from persd.analysis import analyse
    report = analyse(store)                  # a SessionAnalysis: frames + notes
    report.taxonomy                          # one row per error type of the student's attempts
    figures = report.figures()               # name -> plotly Figure, in FIGURES order

Frames (plain DataFrames; their columns are the `*_COLUMNS` constants of `.frames`):
  attempts        one row per student attempt and its hidden-test verdict
  refinements     one row per teacher result: validation, review, cost, and two diffs,
                  refinement-vs-attempt and reference-vs-attempt (how personal the repair is)
  taxonomy        per error type of the failed attempts: how many, how many the teacher fixed
  teachers        per teacher model: spend, validated refinements per dollar, acceptance
  evals           per finished eval run and step: pass@1 (one-step is step 0)
  tasks           per task: attempts, refinement, review, diffs, latest eval pass@1

No gradio here; the app's Analysis tab only puts these on screen. A session without eval
runs (e.g. the demo) gets empty eval frames and a note saying so; a simulated session's
figure titles say SIMULATED.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from persd.analysis.evals import eval_samples_frame, finished_eval_runs, is_simulated_run
from persd.analysis.frames import (
    attempts_frame,
    before_after,
    error_taxonomy,
    eval_frame,
    per_task,
    personalisation,
    refinements_frame,
    teacher_yield,
)

__all__ = ["FIGURES", "SessionAnalysis", "analyse", "attempts_frame", "before_after",
           "error_taxonomy", "eval_frame", "per_task", "personalisation",
           "refinements_frame", "teacher_yield"]

FIGURES = ("eval_runs", "before_after", "error_taxonomy", "teacher_fixes",
           "personalisation", "teacher_yield", "task_changes", "repair_effect")


@dataclass
class SessionAnalysis:
    session: str
    simulated: bool
    attempts: pd.DataFrame
    refinements: pd.DataFrame
    taxonomy: pd.DataFrame
    teachers: pd.DataFrame
    evals: pd.DataFrame
    tasks: pd.DataFrame
    notes: list[str] = field(default_factory=list)   # what is missing, in words
    # One row per evaluation sample (persd.analysis.evals); its runs' own labels decide
    # whether the eval figures say SIMULATED, not the session's.
    eval_samples: pd.DataFrame = field(default_factory=pd.DataFrame)
    evals_simulated: bool = False

    def figures(self) -> dict[str, Any]:
        """Every figure by name (FIGURES order); an empty frame gives a captioned blank."""
        from persd.analysis import eval_figures, evals  # noqa: PLC0415  heavy: plotly, loaded when a figure is drawn
        from persd.analysis import figures as draw  # noqa: PLC0415  heavy: plotly, loaded when a figure is drawn

        tag = " (SIMULATED)" if self.simulated else ""
        eval_tag = " (SIMULATED)" if self.evals_simulated else ""
        samples = self.eval_samples if len(self.eval_samples.columns) else \
            pd.DataFrame(columns=evals.SAMPLE_COLUMNS)
        return {
            "eval_runs": draw.eval_runs(self.evals, eval_tag),
            "before_after": draw.before_after(before_after(self.evals), eval_tag),
            "error_taxonomy": draw.error_taxonomy(self.taxonomy, tag),
            "teacher_fixes": draw.teacher_fixes(self.taxonomy, tag),
            "personalisation": draw.personalisation(personalisation(self.refinements), tag),
            "teacher_yield": draw.teacher_yield(self.teachers, tag),
            "task_changes": eval_figures.task_changes(evals.task_changes(samples), eval_tag),
            "repair_effect": eval_figures.repair_effect(evals.repair_effect(samples), eval_tag),
        }

    def summary(self) -> dict[str, Any]:
        """Headline numbers (for a caption or a report)."""
        refined = self.refinements
        with_diff = refined.dropna(subset=["similarity", "reference_similarity"])
        return {
            "tasks": len(self.tasks), "attempts": len(self.attempts),
            "attempts_passed": int(self.attempts["passed"].sum()),
            "refinements": len(refined), "validated": int(refined["validated"].sum()),
            "cost_usd": float(self.teachers["cost_usd"].sum()) if len(self.teachers) else 0.0,
            "median_similarity": _median(with_diff["similarity"]),
            "median_reference_similarity": _median(with_diff["reference_similarity"]),
            "eval_runs": int(self.evals["run_id"].nunique()),
        }


def _median(values: pd.Series) -> float | None:
    return None if values.empty else float(values.median())


def analyse(store) -> SessionAnalysis:
    """Read a SessionStore and build every frame."""
    attempts = attempts_frame(store)
    refinements = refinements_frame(store)
    evals = eval_frame(store)
    notes = []
    if attempts.empty:
        notes.append("No student attempts in this session yet: collect some first.")
    elif refinements.empty:
        notes.append("No teacher refinements in this session yet.")

    runs = finished_eval_runs(store)
    evals_simulated = bool(runs) and all(is_simulated_run(r) for r in runs)
    if evals.empty:
        notes.append("No evaluation runs in this session yet, so there is no pass@1 to "
                     "compare: evaluate the base student and each trained adapter in the "
                     f"Evaluate tab (or `persd eval --session {store.name} --round 0 ...`).")
    elif store.simulated and not evals_simulated:
        notes.append("The evaluation charts show a real model's results; the session's "
                     "tasks, attempts and refinements are SIMULATED.")
    return SessionAnalysis(
        session=store.name, simulated=store.simulated, attempts=attempts,
        refinements=refinements, taxonomy=error_taxonomy(attempts, refinements),
        teachers=teacher_yield(store.teacher_calls.usage(), refinements), evals=evals,
        tasks=per_task(attempts, refinements, store), notes=notes,
        eval_samples=eval_samples_frame(store), evals_simulated=evals_simulated)
