"""Who reviews what, and the operator's review guidelines.

    store.review_assignments.assign([12, 13], "ana", by="lea")   # an operator's assignment
    store.review_assignments.assigned_to("ana")   # refinement ids: ana's assignments plus the
                                    # records of review studies assigned to her (persd.store.studies)
    store.guidelines.set("Reject code that ...", author="lea")
    store.guidelines.latest()       # Guidelines(text, author, at) or None

Guidelines keep their history (each save is a new row); the latest is in force.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from persd.store.db import NOW_SQL, Database, placeholders
from persd.store.errors import StoreError

_NOW = f"TEXT NOT NULL DEFAULT ({NOW_SQL})"
MIGRATION = ("m016_review_assignments_and_guidelines", [
    f"""CREATE TABLE review_assignments (
        refinement_id INTEGER NOT NULL REFERENCES refinements (id),
        reviewer TEXT NOT NULL,
        assigned_by TEXT NOT NULL,
        at {_NOW},
        PRIMARY KEY (refinement_id, reviewer)
    )""",
    "CREATE INDEX review_assignments_reviewer ON review_assignments (reviewer, refinement_id)",
    f"""CREATE TABLE review_guidelines (
        id INTEGER PRIMARY KEY,
        text TEXT NOT NULL,
        author TEXT NOT NULL,
        at {_NOW}
    )""",
])
# The refinement ids assigned to a reviewer (given twice): directly, or by a review study.
ASSIGNED_SQL = """SELECT refinement_id FROM review_assignments WHERE reviewer = ?
    UNION SELECT i.candidate_a FROM study_assignments a
    JOIN study_items i ON i.id = a.item_id JOIN studies s ON s.id = i.study_id
    WHERE a.reviewer = ? AND s.kind = 'review'"""
MAX_GUIDELINES = 20_000  # characters: a page of guidance, not a document store


@dataclass(frozen=True)
class Guidelines:
    text: str
    author: str
    at: str


class ReviewAssignments:
    def __init__(self, db: Database) -> None:
        self._db = db

    def assign(self, refinement_ids: Iterable[int], reviewer: str, *, by: str) -> int:
        """Assign refinements to `reviewer` (kept if already there); returns how many were
        added. Unknown ids raise StoreError and nothing is assigned."""
        reviewer, ids = (reviewer or "").strip(), list(dict.fromkeys(refinement_ids))
        if not reviewer or not (by or "").strip():
            raise StoreError("an assignment needs a reviewer and who assigns it")
        with self._db.write() as conn:
            known = {row[0] for row in conn.execute(
                f"SELECT id FROM refinements WHERE id IN ({placeholders(ids)})", ids)} \
                if ids else set()
            missing = [rid for rid in ids if rid not in known]
            if missing:
                raise StoreError(f"no refinement {', '.join(map(str, missing[:5]))} "
                                 f"in session {self._db.path}")
            return sum(conn.execute(
                """INSERT INTO review_assignments (refinement_id, reviewer, assigned_by)
                VALUES (?, ?, ?) ON CONFLICT DO NOTHING""", (rid, reviewer, by)).rowcount
                for rid in ids)

    def unassign(self, refinement_ids: Iterable[int], reviewer: str) -> int:
        ids = list(refinement_ids)
        with self._db.write() as conn:
            return conn.execute(
                f"""DELETE FROM review_assignments WHERE reviewer = ?
                AND refinement_id IN ({placeholders(ids)})""", [reviewer, *ids]).rowcount \
                if ids else 0

    def assigned_to(self, reviewer: str) -> set[int]:
        """Refinement ids assigned to `reviewer`, directly or through a review study."""
        with self._db.read() as conn:
            found = conn.execute(ASSIGNED_SQL, (reviewer, reviewer))
            return {row[0] for row in found}

    def reviewers_of(self) -> dict[int, list[str]]:
        """refinement id -> reviewers assigned to it (both kinds of assignment)."""
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT refinement_id, reviewer FROM review_assignments
                UNION SELECT i.candidate_a, a.reviewer FROM study_assignments a
                JOIN study_items i ON i.id = a.item_id JOIN studies s ON s.id = i.study_id
                WHERE s.kind = 'review' ORDER BY 1, 2""")
            plan: dict[int, list[str]] = {}
            for refinement_id, reviewer in found:
                plan.setdefault(refinement_id, []).append(reviewer)
            return plan



class ReviewGuidelines:
    def __init__(self, db: Database) -> None:
        self._db = db

    def set(self, text: str, *, author: str) -> Guidelines:
        if len(text or "") > MAX_GUIDELINES:
            raise StoreError(f"guidelines are limited to {MAX_GUIDELINES} characters "
                             f"(these have {len(text)}); shorten them")
        if not (author or "").strip():
            raise StoreError("guidelines need an author")
        with self._db.write() as conn:
            row = conn.execute(
                "INSERT INTO review_guidelines (text, author) VALUES (?, ?) RETURNING *",
                (text or "", author.strip())).fetchone()
            return Guidelines(row["text"], row["author"], row["at"])

    def latest(self) -> Guidelines | None:
        with self._db.read() as conn:
            row = conn.execute(
                "SELECT * FROM review_guidelines ORDER BY id DESC LIMIT 1").fetchone()
            return None if row is None else Guidelines(row["text"], row["author"], row["at"])
