"""Setting a study up: its items, and who decides each one (overlap k reviewers per item).

    study = create_study(store, "help-1", owner="lea", reviewers=["ana", "ben", "cy"],
                         overlap=2, kind="pairwise", sources=("persd", "stand"))
    study = create_study(store, "r1-audit", owner="lea", reviewers=["ana", "ben"], overlap=2,
                         kind="review", filters=QueueFilters(method="persd", round=0))
    progress(store, study)          # [ReviewerProgress("ana", assigned=8, done=3), ...]
    store.studies.reassign(study.id, "cy", "ana", by="lea")       # the owner moves cy's open items

Items are dealt round-robin in item order: item i goes to reviewers i*k .. i*k+k-1 (mod n),
so every item has k distinct reviewers and their loads differ by at most one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from persd.studies.pairwise import Source, StudyError, pairwise_items


def plan_assignments(item_ids: Sequence[int], reviewers: Sequence[str],
                     overlap: int) -> dict[int, list[str]]:
    """item id -> its `overlap` distinct reviewers, balanced round-robin."""
    names = list(dict.fromkeys(r.strip() for r in reviewers if r and r.strip()))
    if not names:
        raise StudyError("name at least one reviewer")
    if not 1 <= overlap <= len(names):
        raise StudyError(f"overlap {overlap} needs at least {overlap} reviewers "
                         f"({len(names)} named: {', '.join(names)})")
    return {item_id: [names[(index * overlap + j) % len(names)] for j in range(overlap)]
            for index, item_id in enumerate(item_ids)}


def create_study(store: Any, name: str, *, owner: str, reviewers: Sequence[str], overlap: int = 1,
                 kind: str = "pairwise", sources: tuple[str, str] = ("persd", "stand"),
                 filters: Any = None, validated_only: bool = True, limit: int | None = None,
                 seed: int = 0) -> Any:
    """Create the study, its items and its assignments; StudyError / StoreError say why not."""
    plan_assignments([], reviewers, overlap)  # check the reviewers before writing anything
    if kind == "pairwise":
        a, b = Source.parse(sources[0]), Source.parse(sources[1])
        items = pairwise_items(store, a, b, validated_only=validated_only, limit=limit)
        config = {"a": str(a), "b": str(b), "seed": seed, "validated_only": validated_only}
    elif kind == "review":
        rows = store.queue.list(filters, limit=limit or 1_000_000)
        if not rows:
            raise StudyError(f"no refinement of session {store.name} matches the filters")
        items = [{"task_id": r.task_id, "attempt_id": r.attempt_id,
                  "candidate_a": r.refinement_id} for r in rows]
        config = {"seed": seed, "filters": {k: v for k, v in (vars(filters) if filters else {}).items()
                                            if v is not None}}
    else:
        raise StudyError(f"unknown study kind {kind!r}: pairwise or review")
    config["reviewers"] = list(dict.fromkeys(reviewers))
    with store.transaction():
        study = store.studies.add(name, kind, owner=owner, overlap=overlap, config=config)
        created = store.studies.add_items(study.id, items)
        store.studies.assign(study.id, plan_assignments([i.id for i in created], reviewers, overlap),
                     by=owner)
    return study


@dataclass(frozen=True)
class ReviewerProgress:
    reviewer: str
    assigned: int
    done: int

    @property
    def left(self) -> int:
        return self.assigned - self.done


def progress(store: Any, study: Any) -> list[ReviewerProgress]:
    """Per reviewer: items assigned and decided, in the order reviewers were named."""
    decided = store.studies.decided(study.id)
    counts: dict[str, list[int]] = {r: [0, 0] for r in study.config.get("reviewers", [])}
    for item_id, names in store.studies.assignments(study.id).items():
        for reviewer in names:
            entry = counts.setdefault(reviewer, [0, 0])
            entry[0] += 1
            entry[1] += (item_id, reviewer) in decided
    return [ReviewerProgress(r, a, d) for r, (a, d) in counts.items() if a or d]
