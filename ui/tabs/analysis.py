"""The Analysis tab: the session's charts and tables, drawn by `persd.analysis`.

Layout and wiring only; `persd_app.tabs.analysis_handlers` computes what is shown, when a session
is picked, whenever the tab is opened (a review or a collection elsewhere may have changed
it) and on Refresh. The pass@1 charts stay hidden until the session has an eval run.
"""

from __future__ import annotations

import gradio as gr

from persd_app.tabs import AppContext
from persd_app.tabs.analysis_handlers import OUTPUTS, AnalysisHandlers
from persd_app.tabs.keyed import Keyed

TITLE = "Analysis"
# Rows of two charts each; the evaluation rows stay hidden until the session has an eval run.
EVAL_LAYOUT = (("eval_runs", "before_after"), ("task_changes", "repair_effect"))
LAYOUT = (("error_taxonomy", "teacher_fixes"), ("personalisation", "teacher_yield"))


def build(ctx: AppContext) -> None:
    handlers = AnalysisHandlers(ctx.stores)
    with gr.Row(equal_height=False):
        summary = gr.HTML(elem_id="persd-an-summary")
        refresh = gr.Button("Refresh", size="sm", min_width=90, scale=0,
                            elem_id="persd-an-refresh")
    notes = gr.HTML(elem_id="persd-an-notes")
    widgets = dict(summary=summary, notes=notes)
    with gr.Column(visible=False) as widgets["eval_row"]:
        _plots(widgets, EVAL_LAYOUT)
    _plots(widgets, LAYOUT)
    with gr.Row(equal_height=False):
        widgets["reasons"] = gr.Dataframe(label="Why records were rejected (reasons in force)",
                                          interactive=False, max_height=260, scale=1,
                                          elem_id="persd-an-reasons")
        widgets["reasons_note"] = gr.HTML(elem_id="persd-an-reasons-note", scale=2)
    widgets["tasks"] = gr.Dataframe(label="Per task", interactive=False, max_height=420,
                                    wrap=False, show_search="search", pinned_columns=1,
                                    elem_id="persd-an-tasks")
    with gr.Accordion("Tables behind the charts", open=False):
        widgets["taxonomy"] = gr.Dataframe(label="Error taxonomy", interactive=False,
                                           elem_id="persd-an-taxonomy")
        widgets["teachers"] = gr.Dataframe(label="Teacher models: cost and yield",
                                           interactive=False, elem_id="persd-an-teachers")
        widgets["evals"] = gr.Dataframe(label="Eval runs (pass@1 per step)",
                                        interactive=False, elem_id="persd-an-evals")

    out = Keyed(**{name: widgets[name] for name in OUTPUTS})
    show = out.wire(handlers.show)
    ctx.on_session(show, [ctx.session], out.list, lazy=True, show_progress="minimal")
    refresh.click(show, [ctx.session], out.list, show_progress="minimal")


def _plots(widgets: dict, layout: tuple) -> None:
    for row in layout:
        with gr.Row(equal_height=True):
            for name in row:
                widgets[name] = gr.Plot(show_label=False, elem_id=f"persd-an-{name}",
                                        elem_classes=["persd-an-plot"])
