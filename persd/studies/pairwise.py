"""Blind pairwise comparison: for one failed attempt, two candidate programs side by side,
each as a diff against the attempt, sources hidden and sides randomised per reviewer.

    a, b = Source.parse("persd"), Source.parse("stand")        # or "persd@1", "persd:gpt-4o"
    items = pairwise_items(store, a, b)      # [{"task_id", "attempt_id", "candidate_a", ...}]
    view = pair_view(store, study, item_id, "ana")   # what ana sees: left/right diffs, no source
    judge(store, view, "left", reason="keeps her loop")   # stored by hidden slot (a or b)

A candidate's slot ("a" or "b") says which source it came from and is never shown; which
slot appears on the left is a hash of (study seed, item, reviewer): the same reviewer sees
the same sides again, two reviewers see independent sides.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from persd.code.diffing import diff_size, side_by_side_html
from persd.store.records import METHODS, result_of

DIFF_CONTEXT = 3
PICKS = ("left", "right", "tie")


class StudyError(ValueError):
    """A study that cannot be built or a decision that cannot be taken; the message says why."""


@dataclass(frozen=True)
class Source:
    """Which teacher results fill one slot: a method, optionally one round and one teacher."""

    method: str
    round: int | None = None
    teacher: str | None = None

    @classmethod
    def parse(cls, text: str) -> Source:
        """`METHOD[@ROUND][:TEACHER]`, e.g. "persd", "stand", "persd@1", "persd:gpt-4o"."""
        spec, _, teacher = text.strip().partition(":")
        method, _, round_ = spec.partition("@")
        if method not in METHODS:
            raise StudyError(f"source {text!r}: the method must be one of {', '.join(METHODS)} "
                             "(METHOD[@ROUND][:TEACHER])")
        if round_ and not round_.isdigit():
            raise StudyError(f"source {text!r}: the round after @ must be a whole number")
        return cls(method, int(round_) if round_ else None, teacher or None)

    def __str__(self) -> str:
        round_ = f"@{self.round}" if self.round is not None else ""
        return f"{self.method}{round_}" + (f":{self.teacher}" if self.teacher else "")

    def matches(self, refinement: Any) -> bool:
        return (refinement.method == self.method and refinement.program is not None
                and refinement.error is None
                and self.round in (None, refinement.round)
                and self.teacher in (None, refinement.teacher_model))


def pairwise_items(store: Any, a: Source, b: Source, *, validated_only: bool = True,
                   limit: int | None = None) -> list[dict[str, Any]]:
    """One item per failed attempt that has a candidate from each source for its task.
    At least one source must be "persd": the attempt shown is that candidate's attempt."""
    if a == b:
        raise StudyError(f"both sources are {a}: compare two different sources")
    if "persd" not in (a.method, b.method):
        raise StudyError("one source must be persd (a refinement of an attempt): the pair is "
                         "shown as diffs against that attempt")
    results = [r for r in store.refinements.list() if not validated_only or r.validated]
    by_task: dict[str, list[Any]] = {}
    for refinement in results:
        by_task.setdefault(refinement.task_id, []).append(refinement)
    items = []
    for task_id, found in sorted(by_task.items()):
        firsts = [x for x in found if a.matches(x)], [x for x in found if b.matches(x)]
        if not firsts[0] or not firsts[1]:
            continue
        for first in firsts[0]:
            second = next((x for x in firsts[1] if x.id != first.id), None)
            if second is None:
                continue
            attempt_id = first.attempt_id if first.method == "persd" else second.attempt_id
            items.append({"task_id": task_id, "attempt_id": attempt_id,
                          "candidate_a": first.id, "candidate_b": second.id})
    if not items:
        raise StudyError(f"no task has both a {'validated ' if validated_only else ''}{a} and a "
                         f"{b} result in session {store.name} (collect the direct solutions "
                         "with `persd collect --method stand`, or in the Collect tab with "
                         "method StanD, simulated too)")
    return items[:limit]


def default_sources(store: Any) -> tuple[str, str]:
    """The first pair of sources that gives items in this session: persd against stand or
    inpd when those were collected, else two rounds, else two teachers of persd (a demo
    session holds persd refinements only). ("persd", "stand") when nothing pairs up: the
    error then says what to collect."""
    found = {(r.method, r.round, r.teacher_model) for r in store.refinements.list()
             if r.validated and r.program is not None}
    rounds = sorted({round_ for method, round_, _ in found if method == "persd"})
    teachers = sorted({teacher or "" for method, _, teacher in found if method == "persd"})
    tries = [("persd", "stand"), ("persd", "inpd")]
    tries += [(f"persd@{x}", f"persd@{y}") for x, y in zip(rounds, rounds[1:])]
    tries += [(f"persd:{x}", f"persd:{y}") for x, y in zip(teachers, teachers[1:]) if x and y]
    for a, b in tries:
        try:
            if pairwise_items(store, Source.parse(a), Source.parse(b), limit=1):
                return a, b
        except StudyError:
            continue
    return "persd", "stand"


def left_slot(seed: Any, item_id: int, reviewer: str) -> str:
    """The slot shown on the left to `reviewer`: fixed per (seed, item, reviewer)."""
    digest = hashlib.sha256(f"{seed}\x00{item_id}\x00{reviewer}".encode()).digest()
    return "a" if digest[0] % 2 == 0 else "b"


@dataclass(frozen=True)
class PairView:
    """One pair as a reviewer sees it: nothing here names a candidate's source."""

    study_id: int
    item_id: int
    reviewer: str
    task_id: str
    prompt: str
    attempt_program: str
    attempt_feedback: str
    error_type: str
    left_slot: str            # kept server-side; the page shows "Candidate 1" / "Candidate 2"
    left_program: str
    right_program: str
    left_diff_html: str
    right_diff_html: str
    left_diff_lines: int
    right_diff_lines: int
    previous_choice: str | None   # "left", "right" or "tie" when already judged
    shown_at: float               # time.monotonic() when built: the judgment's clock


def pair_view(store: Any, study: Any, item_id: int, reviewer: str) -> PairView:
    item = store.studies.item(item_id)
    if item.study_id != study.id or item.candidate_b is None:
        raise StudyError(f"item {item_id} is not a pair of study {study.name!r}")
    attempt = store.attempts.get(item.attempt_id)
    run = result_of(attempt.execution)
    programs = {"a": store.refinements.get(item.candidate_a).program or "",
                "b": store.refinements.get(item.candidate_b).program or ""}
    left = left_slot(study.config.get("seed", 0), item_id, reviewer)
    right = "b" if left == "a" else "a"
    previous = next((j for j in store.studies.judgments(study.id)
                     if j.item_id == item_id and j.reviewer == reviewer), None)
    return PairView(
        study_id=study.id, item_id=item_id, reviewer=reviewer, task_id=item.task_id,
        prompt=attempt.prompt, attempt_program=attempt.program,
        attempt_feedback=run.feedback if run else "", error_type=run.error_type if run else "",
        left_slot=left, left_program=programs[left], right_program=programs[right],
        left_diff_html=side_by_side_html(attempt.program, programs[left], "Student attempt",
                                         "Candidate 1", columns=1, context=DIFF_CONTEXT),
        right_diff_html=side_by_side_html(attempt.program, programs[right], "Student attempt",
                                          "Candidate 2", columns=1, context=DIFF_CONTEXT),
        left_diff_lines=diff_size(attempt.program, programs[left]),
        right_diff_lines=diff_size(attempt.program, programs[right]),
        previous_choice=None if previous is None else _pick_of(previous.choice, previous.left_slot),
        shown_at=time.monotonic())


def judge(store: Any, view: PairView, pick: str, *, reason: str = "",
          now: float | None = None) -> Any:
    """Store `pick` ("left", "right" or "tie") as the hidden slot it stands for."""
    if pick not in PICKS:
        raise StudyError(f"pick one of {', '.join(PICKS)}, not {pick!r}")
    right = "b" if view.left_slot == "a" else "a"
    choice = {"left": view.left_slot, "right": right, "tie": "tie"}[pick]
    elapsed = (time.monotonic() if now is None else now) - view.shown_at
    return store.studies.add_judgment(view.item_id, view.reviewer, choice, left_slot=view.left_slot,
                              reason=reason.strip() or None, duration_s=round(max(elapsed, 0), 3))


def _pick_of(choice: str, left: str) -> str:
    return "tie" if choice == "tie" else ("left" if choice == left else "right")
