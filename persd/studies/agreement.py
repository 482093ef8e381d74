"""Agreement between reviewers, computed by statsmodels and krippendorff (not by hand).

    ratings = study_ratings(store, study)    # Ratings: item -> {reviewer: category}
    summary = agreement(ratings)
    summary.cohen          # {("ana", "ben"): 0.62, ...}: Cohen's kappa per pair of reviewers
    summary.fleiss         # Fleiss' kappa over the items with the usual number of raters
    summary.alpha          # Krippendorff's alpha (nominal), missing ratings allowed
    summary.reviewers      # per reviewer: decisions, median seconds, agreement with the others
    summary.disagreements  # items whose reviewers disagree and no one has adjudicated

Categories: a pairwise study's choices ("a", "b", "tie"); a review study's decisions in
force ("approved", with edits, or "rejected"). A statistic that is undefined (fewer than
two rated items, every rating the same) is None, not a number.
"""

from __future__ import annotations

import itertools
import math
import statistics
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from persd.store.study_records import CHOICES, REVIEW_DECISIONS


@dataclass
class Ratings:
    categories: tuple[str, ...]
    by_item: dict[int, dict[str, str]] = field(default_factory=dict)   # item -> reviewer -> category
    seconds: dict[str, list[float]] = field(default_factory=dict)      # reviewer -> decision times
    adjudicated: dict[int, str] = field(default_factory=dict)          # item -> owner's decision

    @property
    def reviewers(self) -> list[str]:
        return sorted({r for rated in self.by_item.values() for r in rated})


@dataclass(frozen=True)
class ReviewerFigures:
    reviewer: str
    decisions: int
    median_s: float | None          # median seconds per decision (None: not measured)
    with_others: int                # items where the others had a strict majority
    agree_with_majority: float | None  # share of those where this reviewer sided with it


@dataclass(frozen=True)
class Agreement:
    items: int                                  # items with at least two ratings
    cohen: dict[tuple[str, str], float | None]
    fleiss: float | None
    fleiss_items: int                           # items Fleiss' kappa was computed on
    alpha: float | None
    reviewers: list[ReviewerFigures]
    disagreements: list[int]


def study_ratings(store: Any, study: Any) -> Ratings:
    """The study's decisions as ratings (the owner's adjudications kept apart)."""
    adjudicated = {i: a.decision for i, a in store.studies.adjudications(study.id).items()}
    if study.kind == "pairwise":
        ratings = Ratings(CHOICES, adjudicated=adjudicated)
        for j in store.studies.judgments(study.id):
            ratings.by_item.setdefault(j.item_id, {})[j.reviewer] = j.choice
            if j.duration_s is not None:
                ratings.seconds.setdefault(j.reviewer, []).append(j.duration_s)
        return ratings
    ratings = Ratings(REVIEW_DECISIONS, adjudicated=adjudicated)
    item_of = {item.candidate_a: item.id for item in store.studies.items(study.id)}
    for d in store.studies.review_decisions(item_of):
        ratings.by_item.setdefault(item_of[d.refinement_id], {})[d.reviewer] = d.decision
        if d.duration_s is not None:
            ratings.seconds.setdefault(d.reviewer, []).append(d.duration_s)
    return ratings


def cohen_kappa(ratings: Ratings, first: str, second: str) -> float | None:
    """Cohen's kappa of two reviewers over the items both rated."""
    from statsmodels.stats.inter_rater import cohens_kappa

    index = {c: n for n, c in enumerate(ratings.categories)}
    table = [[0] * len(index) for _ in index]
    shared = 0
    for rated in ratings.by_item.values():
        if first in rated and second in rated:
            table[index[rated[first]]][index[rated[second]]] += 1
            shared += 1
    if shared < 2:
        return None
    return _number(lambda: cohens_kappa(table, return_results=False))


def fleiss_kappa(ratings: Ratings) -> tuple[float | None, int]:
    """Fleiss' kappa over the items rated by the most common number of reviewers (it needs
    the same number of raters per item); returns (kappa, items used)."""
    from statsmodels.stats.inter_rater import fleiss_kappa as fleiss

    sizes = Counter(len(r) for r in ratings.by_item.values() if len(r) >= 2)
    if not sizes:
        return None, 0
    raters = max(sizes, key=lambda n: (sizes[n], n))
    table = [[list(rated.values()).count(c) for c in ratings.categories]
             for rated in ratings.by_item.values() if len(rated) == raters]
    if len(table) < 2:
        return None, len(table)
    return _number(lambda: fleiss(table, method="fleiss")), len(table)


def krippendorff_alpha(ratings: Ratings) -> float | None:
    """Krippendorff's alpha, nominal, over every item with two or more ratings."""
    import krippendorff
    import numpy as np  # noqa: PLC0415  heavy: numpy, for the bootstrap only

    items = [rated for rated in ratings.by_item.values() if len(rated) >= 2]
    if len(items) < 2:
        return None
    index = {c: n for n, c in enumerate(ratings.categories)}
    data = np.full((len(ratings.reviewers), len(items)), np.nan)
    for column, rated in enumerate(items):
        for row, reviewer in enumerate(ratings.reviewers):
            if reviewer in rated:
                data[row, column] = index[rated[reviewer]]
    values = {v for rated in items for v in rated.values()}
    if len(values) < 2:
        return None  # one value everywhere: no variation to agree on
    return _number(lambda: krippendorff.alpha(
        reliability_data=data, level_of_measurement="nominal",
        value_domain=list(range(len(ratings.categories)))))


def agreement(ratings: Ratings) -> Agreement:
    fleiss, fleiss_items = fleiss_kappa(ratings)
    pairs = itertools.combinations(ratings.reviewers, 2)
    return Agreement(
        items=sum(len(r) >= 2 for r in ratings.by_item.values()),
        cohen={(x, y): cohen_kappa(ratings, x, y) for x, y in pairs},
        fleiss=fleiss, fleiss_items=fleiss_items, alpha=krippendorff_alpha(ratings),
        reviewers=[_figures(ratings, r) for r in ratings.reviewers],
        disagreements=[item for item, rated in sorted(ratings.by_item.items())
                       if len(set(rated.values())) > 1 and item not in ratings.adjudicated])


def majority(rated: dict[str, str]) -> str | None:
    """The strict plurality of the ratings, None on a tie between categories."""
    counts = Counter(rated.values()).most_common()
    if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
        return None
    return counts[0][0]


def _figures(ratings: Ratings, reviewer: str) -> ReviewerFigures:
    mine = [(item, rated) for item, rated in ratings.by_item.items() if reviewer in rated]
    compared = agreed = 0
    for _, rated in mine:
        others = majority({r: c for r, c in rated.items() if r != reviewer})
        if others is not None:
            compared += 1
            agreed += rated[reviewer] == others
    times = ratings.seconds.get(reviewer, [])
    return ReviewerFigures(
        reviewer=reviewer, decisions=len(mine),
        median_s=round(statistics.median(times), 1) if times else None,
        with_others=compared, agree_with_majority=agreed / compared if compared else None)


def _number(compute) -> float | None:
    with warnings.catch_warnings(), __import__("numpy").errstate(divide="ignore", invalid="ignore"):
        warnings.simplefilter("ignore")
        try:
            value = float(compute())
        except (ZeroDivisionError, ValueError):
            return None
    return None if math.isnan(value) or math.isinf(value) else value
