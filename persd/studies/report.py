"""The study report: how often one source's candidate wins, overall, by the attempt's error
type and by the size of its diff, with Wilson intervals; and every judgment as a table.

    frame = judgments_frame(store, study)         # one row per judgment (pandas)
    items = item_outcomes(frame, store.studies.adjudications(study.id))
    table = win_rates(items, study, by="error_type")   # group, items, wins, ..., ci_low, ci_high
    fig = win_rate_figure(table, study)
    export_judgments(frame, "help-1.csv")          # or .parquet

An item's outcome is the owner's adjudication when there is one, else the majority of its
judgments, else a tie. The win rate is wins / (wins + losses): ties are counted apart, and
the interval is Wilson's (statsmodels `proportion_confint(method="wilson")`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from persd.code.diffing import diff_size
from persd.studies.agreement import majority

DIFF_BINS = ((1, 2), (3, 5), (6, 10), (11, 25), (26, None))
GROUPS = {"all": None, "error_type": "error_type", "diff_size": "diff_bin"}
EXPORT_FORMATS = (".csv", ".parquet")


def focus_slot(study: Any) -> str:
    """The slot whose wins are counted: the personalised one ("a" unless only b is persd)."""
    a, b = str(study.config.get("a", "")), str(study.config.get("b", ""))
    return "b" if b.startswith("persd") and not a.startswith("persd") else "a"


def diff_bin(lines: int) -> str:
    for low, high in DIFF_BINS:
        if high is None or lines <= high:
            return f"{low}+" if high is None else f"{low}-{high}"
    return "?"


def judgments_frame(store: Any, study: Any):
    """Every judgment of a pairwise study, with its item's task, error type, diff sizes,
    sources, the side shown and the time taken."""
    import pandas as pd

    items = {item.id: item for item in store.studies.items(study.id)}
    facts: dict[int, dict[str, Any]] = {}
    focus = focus_slot(study)
    for item_id, item in items.items():
        attempt = store.attempts.get(item.attempt_id)
        sizes = {slot: diff_size(attempt.program, store.refinements.get(ref).program or "")
                 for slot, ref in (("a", item.candidate_a), ("b", item.candidate_b))}
        facts[item_id] = {
            "task_id": item.task_id, "attempt_id": item.attempt_id,
            "error_type": (attempt.execution.result.error_type if attempt.execution else "") or "-",
            "candidate_a": item.candidate_a, "candidate_b": item.candidate_b,
            "diff_a": sizes["a"], "diff_b": sizes["b"], "diff_bin": diff_bin(sizes[focus])}
    adjudicated = store.studies.adjudications(study.id)
    rows = []
    for j in store.studies.judgments(study.id):
        right = "b" if j.left_slot == "a" else "a"
        rows.append({
            "study": study.name, "item_id": j.item_id, **facts[j.item_id],
            "source_a": study.config.get("a"), "source_b": study.config.get("b"),
            "reviewer": j.reviewer, "choice": j.choice,
            "chosen_source": study.config.get(j.choice, "tie"),
            "left_slot": j.left_slot,
            "picked_side": "tie" if j.choice == "tie" else ("left" if j.choice == j.left_slot
                                                            else "right"),
            "right_slot": right, "reason": j.reason, "duration_s": j.duration_s, "at": j.at,
            "adjudicated": adjudicated[j.item_id].decision if j.item_id in adjudicated else None})
    columns = ["study", "item_id", "task_id", "attempt_id", "error_type", "candidate_a",
               "candidate_b", "diff_a", "diff_b", "diff_bin", "source_a", "source_b",
               "reviewer", "choice", "chosen_source", "left_slot", "picked_side", "right_slot",
               "reason", "duration_s", "at", "adjudicated"]
    return pd.DataFrame(rows, columns=columns)


def item_outcomes(frame, adjudications: dict[int, Any]):
    """One row per judged item: its error type, diff bin and outcome (a, b or tie)."""
    import pandas as pd

    rows = []
    for item_id, group in frame.groupby("item_id", sort=True):
        rated = dict(zip(group["reviewer"], group["choice"]))
        decided = adjudications.get(item_id)
        outcome = decided.decision if decided is not None else (majority(rated) or "tie")
        first = group.iloc[0]
        rows.append({"item_id": item_id, "error_type": first["error_type"],
                     "diff_bin": first["diff_bin"], "judgments": len(group),
                     "outcome": outcome, "adjudicated": decided is not None})
    return pd.DataFrame(rows, columns=["item_id", "error_type", "diff_bin", "judgments",
                                       "outcome", "adjudicated"])


def win_rates(items, study: Any, by: str = "all", alpha: float = 0.05):
    """Wins of the focus slot per group, with a Wilson interval on wins / (wins + losses)."""
    import pandas as pd
    from statsmodels.stats.proportion import proportion_confint

    if by not in GROUPS:
        raise ValueError(f"group by one of {', '.join(GROUPS)}, not {by!r}")
    focus = focus_slot(study)
    other = "b" if focus == "a" else "a"
    column = GROUPS[by]
    groups = [("all", items)] if column is None else list(items.groupby(column, sort=True))
    rows = []
    for name, group in groups:
        wins, losses = int((group["outcome"] == focus).sum()), int((group["outcome"] == other).sum())
        decisive = wins + losses
        low, high = (proportion_confint(wins, decisive, alpha=alpha, method="wilson")
                     if decisive else (float("nan"), float("nan")))
        rows.append({"group": str(name), "items": len(group), "wins": wins, "losses": losses,
                     "ties": len(group) - decisive,
                     "win_rate": wins / decisive if decisive else float("nan"),
                     "ci_low": float(low), "ci_high": float(high)})
    if column is not None and by == "diff_size":
        order = {diff_bin(low): n for n, (low, _) in enumerate(DIFF_BINS)}
        rows.sort(key=lambda r: order.get(r["group"], 99))
    return pd.DataFrame(rows, columns=["group", "items", "wins", "losses", "ties", "win_rate",
                                       "ci_low", "ci_high"])


def win_rate_figure(table, study: Any, by: str = "all"):
    """Bars of the win rate per group with the Wilson interval, n on each bar."""
    import plotly.graph_objects as go

    focus = focus_slot(study)
    mine, theirs = study.config.get(focus, focus), study.config.get("b" if focus == "a" else "a")
    title = {"all": "overall", "error_type": "by the attempt's error type",
             "diff_size": f"by {mine} diff size (lines)"}[by]
    labels = [f"{g}<br>n={w + loss}" + (f" +{t} tie{'s' if t != 1 else ''}" if t else "")
              for g, w, loss, t in zip(table["group"], table["wins"], table["losses"],
                                       table["ties"])]
    fig = go.Figure(go.Bar(
        x=labels, y=table["win_rate"],
        error_y={"type": "data", "symmetric": False,
                 "array": table["ci_high"] - table["win_rate"],
                 "arrayminus": table["win_rate"] - table["ci_low"]},
        marker_color="#6366f1", hovertemplate="%{x}: %{y:.0%}<extra></extra>"))
    fig.add_hline(y=0.5, line_dash="dot", opacity=0.6)
    fig.update_layout(title={"text": f"{mine} vs {theirs}, {title}<br><sup>wins / (wins + "
                             "losses), 95% Wilson interval</sup>", "font": {"size": 14}},
                      yaxis={"range": [0, 1.02], "tickformat": ".0%",
                             "title": f"{mine} win rate"},
                      xaxis={"title": None, "type": "category"}, height=340,
                      margin={"l": 55, "r": 15, "t": 60, "b": 50})
    return fig


def export_judgments(frame, path: str | Path, *, force: bool = False) -> Path:
    """Write every judgment to .csv or .parquet (by the file's suffix)."""
    target = Path(path)
    if target.suffix not in EXPORT_FORMATS:
        raise ValueError(f"{target}: export to a {' or '.join(EXPORT_FORMATS)} file")
    if target.exists() and not force:
        raise ValueError(f"{target} exists; pass force to overwrite it")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.suffix == ".csv":
        frame.to_csv(target, index=False)
    else:
        frame.to_parquet(target, index=False)
    return target
