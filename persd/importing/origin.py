"""Where an imported refinement came from: a teacher's refinement, or the gold code.

    from persd.importing.origin import row_origin, ORIGINS
    row_origin("auto", "finetuning_data_gold_rectification_nochatgpt.jsonl", "rectify", row, task)
    # -> "gold refinement"

The paper's release pairs its rectify prompts with two kinds of completion: the teacher's
refinements, and, in the files its pipeline names "gold rectification", the dataset's own
gold code. Training on either teaches different things, so the origin is stored with each
record and the review screen names it. `auto` says "gold refinement" for a file named
gold, or a refinement whose function is the task's reference (with --tasks); "teacher
refinement" for persd's own exports; else "imported" (the file does not say).
"""

from __future__ import annotations

from persd.code.functions import same_function
from persd.importing.formats import Parsed
from persd.tasks.formats import Task

ORIGINS = ("auto", "teacher", "gold")
GOLD, TEACHER, UNKNOWN = "gold refinement", "teacher refinement", "imported"


def row_origin(asked: str, file: str, fmt: str, row: Parsed, task: Task | None) -> str:
    if asked not in ORIGINS:
        raise ValueError(f"unknown origin {asked!r}; one of {', '.join(ORIGINS)}")
    if asked != "auto":
        return GOLD if asked == "gold" else TEACHER
    if "gold" in file.replace("\\", "/").rsplit("/", 1)[-1].lower():
        return GOLD
    if task is not None and task.solution and same_function(row.refinement,
                                                             task.solution, task.entry_point):
        return GOLD
    return TEACHER if fmt == "persd" else UNKNOWN
