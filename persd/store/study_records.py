"""Records of reviewer studies (`persd.store.studies`): plain snapshots, like `records`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

STUDY_KINDS = ("pairwise", "review")
CHOICES = ("a", "b", "tie")             # a pairwise judgment, by the candidates' hidden slots
REVIEW_DECISIONS = ("approved", "rejected")  # what agreement on a review study compares


@dataclass(frozen=True)
class StudyRecord:
    id: int
    name: str
    kind: str               # one of STUDY_KINDS
    owner: str              # who may assign, reassign and adjudicate
    overlap: int            # how many reviewers decide each item
    config: dict[str, Any]  # sources of a pairwise study, seed, filters
    created_at: str


@dataclass(frozen=True)
class StudyItem:
    id: int
    study_id: int
    task_id: str
    attempt_id: int | None
    candidate_a: int         # a refinement id (the record itself in a review study)
    candidate_b: int | None  # None in a review study


@dataclass(frozen=True)
class Judgment:
    id: int
    item_id: int
    reviewer: str
    choice: str              # one of CHOICES
    left_slot: str           # "a" or "b": the candidate this reviewer saw on the left
    reason: str | None
    duration_s: float | None  # from showing the pair to the decision
    at: str


@dataclass(frozen=True)
class ReviewDecision:
    """A reviewer's decision in force on a refinement, read from the review audit trail."""

    refinement_id: int
    reviewer: str
    decision: str            # "approved" (approved or edited) or "rejected"
    at: str
    duration_s: float | None  # since the reviewer's previous action (None for the first)


@dataclass(frozen=True)
class Adjudication:
    item_id: int
    decision: str
    adjudicator: str
    reason: str | None
    at: str
