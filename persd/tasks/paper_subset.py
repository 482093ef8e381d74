"""The paper's MBPP evaluation subset: `--tasks mbpp-paper:mbpp.jsonl`.

    from persd.tasks.paper_subset import PAPER_MBPP_IDS, in_paper_subset
    tasks = [t for t in load_tasks("mbpp:mbpp.jsonl") if in_paper_subset(t)]

The release (SalesforceAIResearch/PersDistill, Apache-2.0, code/eval_mbpp.py) scores MBPP on
a fixed set of 307 task ids, the MBPP tasks that are also in MBPP's "sanitized" edition
(its assert lists them). Its numbers are comparable only on the same tasks.
"""

from __future__ import annotations

from persd.tasks.formats import Task

# the ids as runs ("2-4" is 2, 3, 4), ascending
_RUNS = (
    "2-4 6-9 11-12 14 16-20 56-59 61-72 74-75 77 79-80 82-106 108-109 111 113 115-120 123-133 "
    "135 137-143 145 160-168 170-172 222-224 226-230 232-235 237-240 242 244-253 255-257 "
    "259-262 264-274 276-287 290-297 299-301 304-312 388-401 404-415 417-422 424-448 450-465 "
    "468 470-479 554-560 562-569 572-574 576-600 "
)
PAPER_MBPP_IDS = frozenset(
    number for run in _RUNS.split()
    for number in range(int(run.split("-")[0]), int(run.split("-")[-1]) + 1))
PREFIX = "MBPP/"


def in_paper_subset(task: Task) -> bool:
    """Whether an MBPP task (id "MBPP/<n>" or "<n>") is one the release scores."""
    number = task.task_id.removeprefix(PREFIX)
    return number.isdigit() and int(number) in PAPER_MBPP_IDS
