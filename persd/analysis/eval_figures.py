"""Plotly figures of evaluation samples and failure signatures; see `persd.analysis.evals`.

    from persd.analysis.eval_figures import task_changes, error_mix, repair_effect
    figure = repair_effect(evals.repair_effect(samples))

Each takes the frame of the same name and a title suffix (`tag`); an empty frame gives a
captioned blank. Bars carry `customdata` with the keys of the records behind them, so a
click can open them; the tables beside the figures are the reliable drill-down.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from persd.analysis.evals import CHANGES
from persd.analysis.figures import FIXED, UNFIXED, UNREFINED, _layout, _percent, blank

CHANGE_COLOURS = dict(zip(CHANGES, (FIXED, UNFIXED, "#6366f1", UNREFINED)))
PALETTE = ("#10b981", "#ef4444", "#f59e0b", "#6366f1", "#8b5cf6", "#ec4899", "#14b8a6",
           "#84cc16", "#f97316", "#0ea5e9", "#64748b")


def task_changes(changes: pd.DataFrame, tag: str = "") -> go.Figure:
    """Tasks per round transition and error type before: which went fail → pass, which
    went back, which stayed."""
    title = "Per task, from one round to the next (step 0)"
    if changes.empty:
        return blank(title, "Evaluate two rounds (the base, then an adapter) to compare", tag)
    frame = changes.assign(
        where=[f"round {a}→{b} · {e}" for a, b, e in
               zip(changes["from_round"], changes["to_round"], changes["error_before"])])
    order = sorted(frame["where"].unique())
    bars = []
    for change in CHANGES:
        part = frame[frame["change"] == change].groupby("where").size().reindex(order,
                                                                               fill_value=0)
        bars.append(go.Bar(name=change, x=order, y=part.values,
                           marker_color=CHANGE_COLOURS[change],
                           customdata=[change] * len(order)))
    return _layout(go.Figure(bars), title, tag, barmode="stack",
                   yaxis={"title": "tasks"}, xaxis={"title": "rounds · error type before"})


def error_mix(mix: pd.DataFrame, tag: str = "") -> go.Figure:
    """The outcome mix of the student's first attempts, per eval run (100% stacked)."""
    title = "Error mix of the student's attempts, per eval run"
    if mix.empty:
        return blank(title, "No evaluation samples yet", tag)
    runs = list(dict.fromkeys(mix["run"]))
    kinds = list(dict.fromkeys(mix.sort_values("samples", ascending=False)["error_type"]))
    if "(passed)" in kinds:
        kinds.remove("(passed)")
        kinds.insert(0, "(passed)")
    bars = []
    for i, kind in enumerate(kinds):
        part = mix[mix["error_type"] == kind].set_index("run")
        share = part["share"].reindex(runs)
        bars.append(go.Bar(name=kind, x=runs, y=share.fillna(0),
                           text=_percent(share), textposition="inside",
                           marker_color=PALETTE[i % len(PALETTE)],
                           customdata=part["run_id"].reindex(runs)))
    return _layout(go.Figure(bars), title, tag, barmode="stack",
                   yaxis={"title": "share of samples", "tickformat": ".0%",
                          "range": [0, 1]})


def repair_effect(repair: pd.DataFrame, tag: str = "") -> go.Figure:
    """Per error type at step 0: samples multi-step repair fixed, and those still failing."""
    title = "What multi-step repair fixes (step 0 → last step)"
    if repair.empty:
        return blank(title, "No eval run with repair steps yet (refine steps ≥ 1)", tag)
    x = [f"{t} · run {r}" if repair["run_id"].nunique() > 1 else t
         for t, r in zip(repair["error_type"], repair["run_id"])]
    figure = go.Figure([
        go.Bar(name="fixed by repair", x=x, y=repair["fixed"], marker_color=FIXED,
               text=_percent(repair["fix_rate"]), textposition="inside"),
        go.Bar(name="still failing", x=x, y=repair["still_failing"], marker_color=UNFIXED),
    ])
    return _layout(figure, title, tag, barmode="stack", yaxis={"title": "samples"},
                   xaxis={"title": "error type at step 0"})


def signatures(frame: pd.DataFrame, title: str, tag: str = "", top: int = 10) -> go.Figure:
    """The most frequent failure signatures (horizontal bars, the longest on top)."""
    if frame.empty:
        return blank(title, "No failures to group", tag)
    head = frame.head(top).iloc[::-1]
    labels = [s if len(s) <= 60 else s[:59] + "…" for s in head["signature"]]
    figure = go.Figure(go.Bar(x=head["count"], y=labels, orientation="h",
                              marker_color=UNFIXED, customdata=head["signature"],
                              hovertemplate="%{customdata}: %{x}<extra></extra>"))
    figure = _layout(figure, title, tag, xaxis={"title": "failed runs"}, showlegend=False)
    figure.update_layout(height=max(260, 60 + 32 * len(head)))
    return figure
