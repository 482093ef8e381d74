"""Why a refinement was rejected: a short taxonomy plus the reviewer's own words.

    from persd.review_reasons import compose, parse, reason_counts, tasks_with_wrong_tests
    reason = compose("hard_codes", "returns 21 when n == 7")  # "[hard-codes the tests] returns…"
    parse(reason)                     # ("hard_codes", "returns 21 when n == 7")
    reason_counts(store)              # {"wrong fix": 3, "hard-codes the tests": 1, ...}
    tasks_with_wrong_tests(store)     # {"HumanEval/32"}: left out of training rows

The kind is written at the start of the review's own `reason` (as "[label] text"), so the
audit trail, undo and every reader of the reason keep it with no change to the store.
A reason typed before the taxonomy existed, or without a kind, reads as "other".
"""

from __future__ import annotations

import re
from typing import Any

# kind -> label shown to reviewers and in Analysis
REASON_KINDS = {
    "wrong_fix": "wrong fix",
    "hard_codes": "hard-codes the tests",
    "not_personalised": "not personalised",
    "style": "style",
    "test_wrong": "test is wrong",
    "other": "other",
}
_KIND_OF_LABEL = {label: kind for kind, label in REASON_KINDS.items()}
_PREFIX = re.compile(r"^\[(?P<label>[^\]]+)\]\s*(?P<text>.*)\Z", re.S)


class ReasonError(ValueError):
    """A reason kind outside the taxonomy; the message lists the kinds."""


def kind_of(choice: str | None) -> str | None:
    """The kind for a kind or its label (None for nothing chosen)."""
    if not choice:
        return None
    if choice in REASON_KINDS:
        return choice
    if choice in _KIND_OF_LABEL:
        return _KIND_OF_LABEL[choice]
    raise ReasonError(f"unknown reject reason {choice!r}; one of "
                      f"{', '.join(REASON_KINDS.values())}")


def compose(kind: str | None, text: str | None) -> str | None:
    """The stored reason: "[label] text", the text alone without a kind, None if empty."""
    words = (text or "").strip()
    chosen = kind_of(kind)
    if chosen is None:
        return words or None
    return f"[{REASON_KINDS[chosen]}] {words}".rstrip()


def parse(reason: str | None) -> tuple[str | None, str]:
    """(kind, free text) of a stored reason; (None, "") for none."""
    if not reason:
        return None, ""
    found = _PREFIX.match(reason.strip())
    if found and found["label"] in _KIND_OF_LABEL:
        return _KIND_OF_LABEL[found["label"]], found["text"].strip()
    return "other", reason.strip()


def rejected_reasons(store: Any, round: int | None = None) -> list[tuple[int, str, str]]:
    """(refinement id, kind, text) of every rejection in force."""
    found = []
    for refinement_id, review in store.reviews.by_refinement(round).items():
        if review.status == "rejected":
            kind, text = parse(review.reason)
            found.append((refinement_id, kind or "other", text))
    return found


def reason_counts(store: Any, round: int | None = None) -> dict[str, int]:
    """Rejections in force per reason label, every label present (maybe 0)."""
    counts = dict.fromkeys(REASON_KINDS.values(), 0)
    for _, kind, _ in rejected_reasons(store, round):
        counts[REASON_KINDS[kind]] += 1
    return counts


def tasks_with_wrong_tests(store: Any) -> set[str]:
    """Tasks with a refinement rejected as "test is wrong": training rows skip them."""
    marked = {rid for rid, kind, _ in rejected_reasons(store) if kind == "test_wrong"}
    if not marked:
        return set()
    return {r.task_id for r in store.refinements.list() if r.id in marked}
