"""The Loop tab: a session's online loop (persd loop): rounds, the current step and its
progress, pass@1 by round (one-step and multi-step), and a Stop button.

Wiring only: `persd_app.tabs.loop_handlers.LoopHandlers` reads the loop's run in the store; a
timer refreshes the view every few seconds while the tab is shown. The loop itself runs
from the command line (`persd loop`); its wait gate goes on once reviewers have decided
enough records in the Review tab.
"""

from __future__ import annotations

import gradio as gr

from persd_app.roles import operator_only
from persd_app.tabs import AppContext
from persd_app.tabs.loop_handlers import LoopHandlers

TITLE = "Loop"
REFRESH_S = 3.0
EMPTY_CURVE = ('<div class="persd-empty-panel" data-testid="loop-no-curve"><b>pass@1 by round'
               '</b><br>No round evaluated yet: a point per round appears here as the loop '
               'evaluates them.</div>')


def build(ctx: AppContext) -> None:
    handlers = LoopHandlers(ctx.stores)
    with gr.Row(equal_height=False):
        status = gr.Markdown(elem_id="persd-loop-status")
        stop = gr.Button("Stop loop", variant="stop", size="sm", scale=0, min_width=110,
                         interactive=False, elem_id="persd-loop-stop")
    progress = gr.Slider(0, 1, label="Current step", interactive=False, elem_id="persd-loop-progress")
    with gr.Row(equal_height=True):
        rounds = gr.Dataframe(label="Rounds", interactive=False, elem_id="persd-loop-rounds")
        with gr.Column():
            # Without points the chart collapses to a line (issue 25): a panel says why
            # instead, until the first round is evaluated.
            curve = gr.LinePlot(x="round", y="pass@1", color="inference",
                                title="pass@1 by round", y_title="pass@1", x_title="round",
                                y_lim=[0, 1], height=300, visible=False,
                                elem_id="persd-loop-curve")
            no_curve = gr.HTML(EMPTY_CURVE, elem_id="persd-loop-no-curve")
    note = gr.Markdown(elem_id="persd-loop-note")
    timer = ctx.timer(REFRESH_S)

    outputs = [status, progress, rounds, curve, no_curve, stop]

    def show(session):
        view = handlers.refresh(session)
        drawn = not view["curve"].empty
        return {status: view["status"], rounds: view["rounds"],
                curve: gr.LinePlot(value=view["curve"], visible=drawn),
                no_curve: gr.HTML(visible=not drawn),
                progress: gr.Slider(value=view["progress"] or 0, visible=view["progress"] is not None),
                stop: gr.Button(interactive=view["can_stop"])}

    ctx.on_session(show, [ctx.session], outputs, lazy=True, show_progress="hidden")
    timer.tick(show, [ctx.session], outputs, show_progress="hidden")
    stop.click(operator_only(ctx, handlers.stop, "stop the loop"), [ctx.session], [note]).then(show, [ctx.session], outputs)
