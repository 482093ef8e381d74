"""Tables as people read them: worded headers, shares in percent, tasks in natural order.

    for_people(frame)        # "example_task" -> "example task", 0.9983 -> "99.8%",
                             # HumanEval/2 before HumanEval/10
    percent(0.9983)          # "99.8%"

Only the shown copy changes: column order stays, so a row click still zips its values with
the stored column names.
"""

from __future__ import annotations

import pandas as pd

from persd.analysis.queue import task_sort_key

# Columns whose values are fractions of 1 (shown as percent everywhere in the app).
FRACTIONS = frozenset({"similarity", "reference_similarity", "share", "fix_rate", "before",
                       "after", "pass_at_1", "pass@1", "rate", "agreement", "win_rate",
                       "ci_low", "ci_high"})
TASK_COLUMNS = ("task_id", "task", "example_task")


def percent(value, digits: int = 1) -> str:
    """0.9983 -> "99.8%"; 0.9996 -> ">99.9%" (never "100.0%" beside a diff of 2 lines);
    a missing value -> ""."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    value = float(value)
    shown = f"{value:.{digits}%}"
    if value < 1 and shown == f"{1:.{digits}%}":
        return f">{100 - 10 ** -digits:.{digits}f}%"
    return shown


def worded(name: str) -> str:
    """A stored column name as a header: "failed_at_step_0" -> "failed at step 0"."""
    return name.replace("_", " ")


def natural_task_order(frame: pd.DataFrame, column: str | None = None) -> pd.DataFrame:
    """Rows ordered by task id with digit runs compared as numbers (a stable sort)."""
    column = column or next((c for c in TASK_COLUMNS if c in frame.columns), None)
    if column is None or frame.empty:
        return frame
    keys = frame[column].astype(str).map(task_sort_key)
    order = sorted(range(len(frame)), key=lambda i: keys.iloc[i])
    return frame.iloc[order].reset_index(drop=True)


def for_people(frame: pd.DataFrame, *, sort_tasks: bool = False, digits: int = 3,
               names: dict[str, str] | None = None) -> pd.DataFrame:
    """A copy with fractions as percent, other floats rounded, headers in words."""
    if sort_tasks:
        frame = natural_task_order(frame)
    shown = frame.copy()
    for column in shown.columns:
        if column in FRACTIONS:
            shown[column] = shown[column].map(percent).astype(object)
        elif pd.api.types.is_float_dtype(shown[column]):
            shown[column] = shown[column].round(digits)
    names = names or {}
    return shown.rename(columns={c: names.get(c, worded(str(c))) for c in shown.columns})
