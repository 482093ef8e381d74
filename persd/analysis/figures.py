"""Plotly figures of a session analysis, one function per chart; see `persd.analysis`.

    from persd.analysis.figures import error_taxonomy
    figure = error_taxonomy(report.taxonomy, tag=" (SIMULATED)")
    figure.show()   # or gr.Plot(figure), or figure.write_html("taxonomy.html")

Every function takes the frame it draws and a title suffix (`tag`), and returns a
`plotly.graph_objects.Figure`; an empty frame gives a blank figure whose caption says
what is missing, so a caller can always show the result.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

ONE_STEP, MULTI_STEP = "#6366f1", "#f59e0b"
FIXED, UNFIXED, UNREFINED = "#10b981", "#ef4444", "#94a3b8"
COMPARISON_COLOURS = {"refinement vs attempt": "#6366f1", "reference vs attempt": "#f59e0b"}
HEIGHT = 360


def _layout(figure: go.Figure, title: str, tag: str, **options) -> go.Figure:
    # The legend sits at the foot of the whole figure (container coordinates) and the
    # axes make room for their own tick labels, so rotated category names never end up
    # under the legend.
    figure.update_layout(
        title={"text": title + tag, "x": 0.01, "font": {"size": 15}}, template="plotly_white",
        height=HEIGHT, margin={"l": 50, "r": 20, "t": 60, "b": 40},
        legend={"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom",
                "x": 0}, **options)
    figure.update_xaxes(automargin=True)
    figure.update_yaxes(automargin=True)
    return figure


def blank(title: str, message: str, tag: str = "") -> go.Figure:
    """A figure holding only its title and `message` (for an empty frame)."""
    figure = go.Figure()
    figure.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper",
                          yref="paper", font={"size": 13, "color": "#64748b"})
    figure.update_xaxes(visible=False)
    figure.update_yaxes(visible=False)
    return _layout(figure, title, tag)


def _percent(values) -> list[str]:
    return ["" if pd.isna(v) else f"{v:.0%}" for v in values]


def eval_runs(evals: pd.DataFrame, tag: str = "") -> go.Figure:
    """pass@1 after the first attempt and after the last repair step, per eval run."""
    title = "pass@1 per eval run: one-step vs multi-step"
    if evals.empty:
        return blank(title, "No evaluation runs yet (persd eval --session ...)", tag)
    firsts = evals.sort_values("step").groupby("run_id").first()
    lasts = evals.sort_values("step").groupby("run_id").last()
    labels = [_run_label(run_id, row) for run_id, row in firsts.iterrows()]
    figure = go.Figure([
        go.Bar(name="one-step (step 0)", x=labels, y=firsts["pass_at_1"], marker_color=ONE_STEP,
               text=_percent(firsts["pass_at_1"]), textposition="outside"),
        go.Bar(name="multi-step (last step)", x=labels, y=lasts["pass_at_1"],
               marker_color=MULTI_STEP, text=_percent(lasts["pass_at_1"]),
               textposition="outside",
               customdata=lasts["step"], hovertemplate="after %{customdata} step(s): %{y:.3f}"),
    ])
    return _layout(figure, title, tag, barmode="group",
                   yaxis={"title": "pass@1", "range": [0, 1.1], "tickformat": ".0%"})


def _run_label(run_id, row) -> str:
    round_ = "?" if pd.isna(row["round"]) else int(row["round"])
    adapter = str(row["adapter"]).rstrip("/").rsplit("/", 1)[-1] if row["adapter"] else "base"
    return f"run {run_id} · round {round_} · {adapter}"


def before_after(rounds: pd.DataFrame, tag: str = "") -> go.Figure:
    """pass@1 per round (latest run of each): the student before and after training."""
    title = "Before / after per round (pass@1)"
    if rounds.empty:
        return blank(title, "No evaluation runs yet: evaluate the base student (round 0) "
                            "and each trained round", tag)
    labels = [f"round {r}" if r >= 0 else "round ?" for r in rounds["round"]]
    figure = go.Figure([
        go.Bar(name="one-step", x=labels, y=rounds["one_step"], marker_color=ONE_STEP,
               text=_percent(rounds["one_step"]), textposition="outside"),
        go.Bar(name="multi-step", x=labels, y=rounds["multi_step"], marker_color=MULTI_STEP,
               text=_percent(rounds["multi_step"]), textposition="outside"),
    ])
    return _layout(figure, title, tag, barmode="group",
                   yaxis={"title": "pass@1", "range": [0, 1.1], "tickformat": ".0%"})


def error_taxonomy(taxonomy: pd.DataFrame, tag: str = "") -> go.Figure:
    """How the student's attempts failed: failed attempts per error type."""
    title = "Error taxonomy of the student's failed attempts"
    if taxonomy.empty:
        return blank(title, "No failed attempts in this session", tag)
    figure = go.Figure(go.Bar(
        x=taxonomy["error_type"], y=taxonomy["attempts"], marker_color=ONE_STEP,
        text=_percent(taxonomy["share"]), textposition="outside", name="failed attempts"))
    top = float(taxonomy["attempts"].max()) * 1.18
    return _layout(figure, title, tag, yaxis={"title": "failed attempts", "range": [0, top]},
                   xaxis={"title": "error type (hidden tests)"}, showlegend=False)


def teacher_fixes(taxonomy: pd.DataFrame, tag: str = "") -> go.Figure:
    """Per error type: refinements that pass the hidden tests, ones that do not, and
    failed attempts without a refinement; the label is the validated share."""
    title = "Which errors the teacher fixed"
    if taxonomy.empty or not taxonomy["refined"].any():
        return blank(title, "No teacher refinements yet", tag)
    x = taxonomy["error_type"]
    unfixed = taxonomy["refined"] - taxonomy["validated"]
    missing = (taxonomy["attempts"] - taxonomy["refined"]).clip(lower=0)
    figure = go.Figure([
        go.Bar(name="validated refinement", x=x, y=taxonomy["validated"], marker_color=FIXED,
               text=_percent(taxonomy["validated_share"]), textposition="inside"),
        go.Bar(name="refinement fails the tests", x=x, y=unfixed, marker_color=UNFIXED),
        go.Bar(name="no refinement", x=x, y=missing, marker_color=UNREFINED),
    ])
    return _layout(figure, title, tag, barmode="stack", yaxis={"title": "failed attempts"})


def personalisation(pairs: pd.DataFrame, tag: str = "") -> go.Figure:
    """How close the teacher stays to the student's attempt, next to how far the
    reference solution is from it: similarity and diff-size distributions."""
    title = "Personalisation: refinement vs attempt, reference vs attempt"
    if pairs.empty:
        return blank(title, "No refinement with an attempt to compare", tag)
    figure = make_subplots(rows=1, cols=2, horizontal_spacing=0.12,
                           subplot_titles=("similarity to the attempt (100%: same)",
                                           "changed lines"))
    low, size = _similarity_bins(pairs["similarity"])
    for comparison, group in pairs.groupby("comparison", sort=False):
        colour = COMPARISON_COLOURS.get(comparison)
        common = {"name": comparison, "marker_color": colour, "opacity": 0.65,
                  "legendgroup": comparison}
        # Identical programs (similarity 1) go in the top bin, not in one past 100%.
        figure.add_trace(go.Histogram(x=group["similarity"].clip(upper=1 - size / 2),
                                      xbins={"start": low, "end": 1, "size": size},
                                      hovertemplate="%{x}: %{y}", **common), row=1, col=1)
        figure.add_trace(go.Histogram(x=group["diff_lines"], showlegend=False, **common),
                         row=1, col=2)
    figure.update_xaxes(range=[low, 1], tickformat=".0%" if size >= 0.01 else ".1%",
                        row=1, col=1)
    figure.update_yaxes(title_text="refinements", row=1, col=1)
    return _layout(figure, title, tag, barmode="overlay")


def _similarity_bins(similarity: pd.Series) -> tuple[float, float]:
    """(start, bin width) for similarity histograms ending at 1: about 20 bins over the
    span the data needs, so refinements that all sit near 100% still spread out."""
    values = similarity.dropna()
    lowest = float(values.min()) if len(values) else 0.0
    for size in (0.0025, 0.005, 0.01, 0.02, 0.05):
        if (1 - lowest) / size <= 20:
            break
    start = 1 - size * (int((1 - lowest) / size) + 1)
    return max(0.0, min(round(start, 6), lowest)), size


def teacher_yield(teachers: pd.DataFrame, tag: str = "") -> go.Figure:
    """Per teacher model: validated refinements per dollar, validation and acceptance rate."""
    title = "Cost and yield per teacher model"
    if teachers.empty:
        return blank(title, "No teacher calls in this session", tag)
    figure = make_subplots(rows=1, cols=3, horizontal_spacing=0.08, subplot_titles=(
        "validated refinements per $", "validated share", "accepted by reviewers"))
    models = teachers["teacher_model"]
    per_usd = teachers["validated_per_usd"]
    figure.add_trace(go.Bar(x=models, y=per_usd.fillna(0), marker_color=FIXED,
                            text=["free / no price" if pd.isna(v) else f"{v:,.0f}"
                                  for v in per_usd], textposition="outside"), row=1, col=1)
    figure.add_trace(go.Bar(x=models, y=teachers["validation_rate"], marker_color=ONE_STEP,
                            text=_percent(teachers["validation_rate"]), textposition="outside"),
                     row=1, col=2)
    figure.add_trace(go.Bar(x=models, y=teachers["acceptance_rate"].fillna(0),
                            marker_color=MULTI_STEP, textposition="outside",
                            text=["not reviewed" if pd.isna(v) else f"{v:.0%}"
                                  for v in teachers["acceptance_rate"]]), row=1, col=3)
    if per_usd.isna().all():
        figure.update_yaxes(visible=False, row=1, col=1)
    figure.update_yaxes(range=[0, 1.15], tickformat=".0%", row=1, col=2)
    figure.update_yaxes(range=[0, 1.15], tickformat=".0%", row=1, col=3)
    return _layout(figure, title, tag, showlegend=False)


def loss_curves(runs: list[tuple[str, list[tuple[int, float]], list[tuple[int, float]]]],
                title: str = "Training loss", total_steps: int | None = None) -> go.Figure:
    """One line per run: (label, [(step, loss)], [(step, eval loss)]), e.g. from
    `persd.jobs.TrainJob.losses` / `.eval_losses`, for a live or a past run."""
    if not any(losses or evals for _, losses, evals in runs):
        return blank(title, "No loss logged yet")
    figure = go.Figure()
    for label, losses, evals in runs:
        if losses:
            figure.add_trace(go.Scatter(x=[s for s, _ in losses], y=[v for _, v in losses],
                                        mode="lines+markers", name=f"{label} loss",
                                        marker={"size": 5}))
        if evals:
            figure.add_trace(go.Scatter(x=[s for s, _ in evals], y=[v for _, v in evals],
                                        mode="lines+markers", name=f"{label} eval loss",
                                        line={"dash": "dash"}))
    xaxis = {"title": "step"}
    if total_steps:
        xaxis["range"] = [0, total_steps + 0.5]
    return _layout(figure, title, "", xaxis=xaxis, yaxis={"title": "loss"})
