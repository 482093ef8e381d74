"""The Analysis tab: the session's charts and tables, drawn by `persd.analysis`.

Wiring only: `analyse(store)` builds the frames, `SessionAnalysis.figures()` the plotly
figures; this module puts them on screen when a session is picked, whenever the tab is
opened (a review or a collection elsewhere may have changed them) and on Refresh. The
pass@1 charts stay hidden until the session has an eval run; a note says how to make one.
"""

from __future__ import annotations

import gradio as gr
import pandas as pd

from persd.analysis import FIGURES, SessionAnalysis, analyse
from persd.store import StoreError
from ui.tabs import AppContext
from ui.tabs.review_render import SIMULATED_BADGE, esc, message

TITLE = "Analysis"
# Rows of two charts each, in FIGURES order.
LAYOUT = (("eval_runs", "before_after"), ("error_taxonomy", "teacher_fixes"),
          ("personalisation", "teacher_yield"), ("task_changes", "repair_effect"))
TASK_TABLE = {"task_id": "task", "attempts": "attempts", "attempts_passed": "passed",
              "error_type": "attempt error", "refinements": "refinements",
              "validated": "validated", "review_status": "review", "diff_lines": "diff lines",
              "similarity": "similarity", "reference_similarity": "ref. similarity",
              "cost_usd": "cost $", "eval_one_step": "eval pass@1 (1-step)",
              "eval_multi_step": "eval pass@1 (multi)"}


def build(ctx: AppContext) -> None:
    with gr.Row(equal_height=False):
        summary = gr.HTML(elem_id="persd-an-summary")
        refresh = gr.Button("Refresh", size="sm", min_width=90, scale=0,
                            elem_id="persd-an-refresh")
    notes = gr.HTML(elem_id="persd-an-notes")
    plots = {}
    rows = []
    for row in LAYOUT:
        with gr.Row(equal_height=True) as layout_row:
            for name in row:
                plots[name] = gr.Plot(show_label=False, elem_id=f"persd-an-{name}",
                                      elem_classes=["persd-an-plot"])
        rows.append(layout_row)
    eval_row = rows[0]
    tasks = gr.Dataframe(label="Per task", interactive=False, max_height=420, wrap=False,
                         show_search="search", pinned_columns=1, elem_id="persd-an-tasks")
    with gr.Accordion("Tables behind the charts", open=False):
        taxonomy = gr.Dataframe(label="Error taxonomy", interactive=False,
                                elem_id="persd-an-taxonomy")
        teachers = gr.Dataframe(label="Teacher models: cost and yield", interactive=False,
                                elem_id="persd-an-teachers")
        evals = gr.Dataframe(label="Eval runs (pass@1 per step)", interactive=False,
                             elem_id="persd-an-evals")

    outputs = [summary, notes, eval_row, *[plots[name] for name in FIGURES], tasks, taxonomy,
               teachers, evals]

    def show(session: str | None):
        if not session:
            return ("", message("info", "Pick a session to analyse."), gr.Row(visible=False),
                    *[None] * len(FIGURES), *[pd.DataFrame()] * 4)
        try:
            report = analyse(ctx.stores.get(session))
        except StoreError as error:
            return ("", message("error", str(error)), *[gr.update()] * (len(outputs) - 2))
        figures = report.figures()
        return (_summary(report), _notes(report), gr.Row(visible=not report.evals.empty),
                *[figures[name] for name in FIGURES], _task_table(report.tasks),
                _rounded(report.taxonomy), _rounded(report.teachers), _rounded(report.evals))

    ctx.on_session(show, [ctx.session], outputs, show_progress="minimal")
    refresh.click(show, [ctx.session], outputs, show_progress="minimal")
    if ctx.tab is not None:
        ctx.tab.select(show, [ctx.session], outputs, show_progress="minimal")


def _summary(report: SessionAnalysis) -> str:
    s = report.summary()
    sim = SIMULATED_BADGE if report.simulated else ""
    cost = "none (simulated)" if report.simulated else f"&#36;{s['cost_usd']:.4f}"
    sims = ""
    if s["median_similarity"] is not None:
        sims = (f' · median similarity to the attempt: refinement <b>{s["median_similarity"]:.1%}'
                f'</b>, reference <b>{s["median_reference_similarity"]:.1%}</b>')
    return (f'<div class="persd-counts" data-testid="analysis-summary">{sim}'
            f'<span><b>{s["tasks"]}</b> tasks · <b>{s["attempts"]}</b> attempts '
            f'(<b>{s["attempts_passed"]}</b> passed) · <b>{s["refinements"]}</b> refinements '
            f'(<b>{s["validated"]}</b> validated) · teacher cost <b>{cost}</b> · '
            f'<b>{s["eval_runs"]}</b> eval runs{sims}</span></div>')


def _notes(report: SessionAnalysis) -> str:
    return "".join(f'<div class="persd-msg persd-msg-info" data-testid="analysis-note">'
                   f'{esc(note)}</div>' for note in report.notes)


def _rounded(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.round(4) if len(frame) else frame


def _task_table(frame: pd.DataFrame) -> pd.DataFrame:
    # Eval columns only once there is an eval run: empty columns would push the rest away.
    empty = [c for c in ("eval_one_step", "eval_multi_step")
             if c in frame and frame[c].isna().all()]
    table = _rounded(frame.drop(columns=empty)).rename(columns=TASK_TABLE)
    return table.astype(object).where(table.notna(), "")
