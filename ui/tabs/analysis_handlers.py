"""What the Analysis tab's events do, testable without a browser.

    handlers = AnalysisHandlers(Stores("sessions"))
    out = handlers.show("demo")   # {"summary": html, "notes": html, "eval_row": update,
                                  #  "error_taxonomy": figure, ..., "tasks": DataFrame, ...}

`analyse(store)` builds the frames and `SessionAnalysis.figures()` the plotly figures; the
pass@1 charts' row stays hidden until the session has an eval run (a note says how).
"""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from persd.analysis import FIGURES, SessionAnalysis, analyse
from persd.review_reasons import reason_counts, tasks_with_wrong_tests
from persd.store import StoreError
from persd_app.tabs import Stores
from persd_app.tabs.review_render import SIMULATED_BADGE, esc, message
from persd_app.tabs.shown import for_people, percent

TABLES = ("tasks", "taxonomy", "teachers", "evals", "reasons")
OUTPUTS = ("summary", "notes", "eval_row", *FIGURES, *TABLES, "reasons_note")
TASK_TABLE = {"task_id": "task", "attempts": "attempts", "attempts_passed": "passed",
              "error_type": "attempt error", "refinements": "refinements",
              "validated": "validated", "review_status": "review", "diff_lines": "diff lines",
              "similarity": "similarity", "reference_similarity": "ref. similarity",
              "cost_usd": "cost $", "eval_one_step": "eval pass@1 (1-step)",
              "eval_multi_step": "eval pass@1 (multi)"}


class AnalysisHandlers:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    def show(self, session: str | None) -> dict[str, Any]:
        """Every chart and table of `session` (a session picked, the tab opened, Refresh)."""
        if not session:
            return {"summary": "", "notes": message("info", "Pick a session to analyse."),
                    "eval_row": gr.update(visible=False),
                    **{name: None for name in FIGURES},
                    **{name: pd.DataFrame() for name in TABLES}}
        try:
            store = self.stores.get(session)
            report, reasons = analyse(store), reason_table(store)
            excluded = sorted(tasks_with_wrong_tests(store))
        except StoreError as error:
            return {"summary": "", "notes": message("error", str(error))}
        figures = report.figures()
        return {"summary": summary_html(report), "notes": notes_html(report),
                "eval_row": gr.update(visible=not report.evals.empty),
                **{name: figures[name] for name in FIGURES},
                "tasks": task_table(report.tasks), "taxonomy": for_people(report.taxonomy),
                "teachers": for_people(report.teachers), "evals": for_people(report.evals),
                "reasons": reasons, "reasons_note": reasons_html(excluded)}


def reason_table(store) -> pd.DataFrame:
    """Rejections in force per reason of the taxonomy (persd.review_reasons), most first."""
    counts = reason_counts(store)
    table = pd.DataFrame({"reject reason": list(counts), "rejections": list(counts.values())})
    return table.sort_values("rejections", ascending=False, kind="stable", ignore_index=True)


def reasons_html(excluded: list[str]) -> str:
    """What the reasons mean for training: the tasks whose test a reviewer called wrong."""
    left_out = (f"Left out of training (a reviewer rejected a refinement as <i>test is "
                f"wrong</i>): <b>{esc(', '.join(excluded))}</b>." if excluded else
                "No task is left out of training: none was rejected as <i>test is wrong</i>.")
    return (f'<div class="persd-msg persd-msg-info" data-testid="analysis-reasons-note">'
            f"Reviewers pick a reason kind when they reject (Review, or Queue for several "
            f"records), with their own words beside it. {left_out}</div>")


def summary_html(report: SessionAnalysis) -> str:
    s = report.summary()
    sim = SIMULATED_BADGE if report.simulated else ""
    cost = "none (simulated)" if report.simulated else f"&#36;{s['cost_usd']:.4f}"
    sims = ""
    if s["median_similarity"] is not None:
        sims = (f' · median similarity to the attempt: refinement <b>'
                f'{percent(s["median_similarity"])}</b>, reference <b>'
                f'{percent(s["median_reference_similarity"])}</b>')
    return (f'<div class="persd-counts" data-testid="analysis-summary">{sim}'
            f'<span><b>{s["tasks"]}</b> tasks · <b>{s["attempts"]}</b> attempts '
            f'(<b>{s["attempts_passed"]}</b> passed) · <b>{s["refinements"]}</b> refinements '
            f'(<b>{s["validated"]}</b> validated) · teacher cost <b>{cost}</b> · '
            f'<b>{s["eval_runs"]}</b> eval runs{sims}</span></div>')


def notes_html(report: SessionAnalysis) -> str:
    return "".join(f'<div class="persd-msg persd-msg-info" data-testid="analysis-note">'
                   f'{esc(note)}</div>' for note in report.notes)


def task_table(frame: pd.DataFrame) -> pd.DataFrame:
    # Eval columns only once there is an eval run: empty columns would push the rest away.
    empty = [c for c in ("eval_one_step", "eval_multi_step")
             if c in frame and frame[c].isna().all()]
    table = for_people(frame.drop(columns=empty), sort_tasks=True, digits=4, names=TASK_TABLE)
    return table.astype(object).where(table.notna(), "")
