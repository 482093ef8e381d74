"""Reviewer studies: blind pairwise comparisons, assignment with overlap, agreement, the
study report, and ablations of the training data (which mistakes teach most; data
personalised for another student).

    from persd.studies import create_study, pair_view, judge, study_ratings, agreement
    study = create_study(store, "help-1", owner="lea", reviewers=["ana", "ben"], overlap=2,
                         sources=("persd", "stand"))
    view = pair_view(store, study, store.studies.reviewer_queue(study.id, "ana")[0], "ana")
    judge(store, view, "left", reason="it keeps her approach")
    summary = agreement(study_ratings(store, study))    # kappa, alpha, per reviewer, disputes

or `persd study create|status|agreement|adjudicate|reassign|report` and `persd ablate`.
"""

from __future__ import annotations

from persd.studies.agreement import Agreement, Ratings, agreement, study_ratings
from persd.studies.assignment import ReviewerProgress, create_study, plan_assignments, progress
from persd.studies.pairwise import (
    PairView,
    Source,
    StudyError,
    default_sources,
    judge,
    left_slot,
    pair_view,
)

__all__ = [
    "Agreement", "PairView", "Ratings", "ReviewerProgress", "Source", "StudyError", "agreement",
    "create_study", "default_sources", "judge", "left_slot", "pair_view", "plan_assignments", "progress",
    "study_ratings",
]
