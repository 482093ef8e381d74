"""Reviewer studies: items, who decides each (overlap k), pairwise judgments, adjudications.

    studies = store.studies
    study = studies.add("help-1", "pairwise", owner="lea", overlap=2,
                        config={"a": "persd", "b": "stand"})
    items = studies.add_items(study.id, [{"task_id": ..., "attempt_id": ...,
                                          "candidate_a": 12, "candidate_b": 40}])
    studies.assign(study.id, {items[0].id: ["ana", "ben"]}, by="lea")
    studies.reviewer_queue(study.id, "ana")          # item ids ana has still to decide
    studies.add_judgment(items[0].id, "ana", "a", left_slot="b", duration_s=14.2)
    studies.adjudicate(items[0].id, "tie", adjudicator="lea")

Only the owner assigns, reassigns and adjudicates. The decisions of a review study are not
stored here: they are the reviewers' actions in `review_events` (`review_decisions`).
"""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from persd.store.db import Database, from_json, placeholders, to_json
from persd.store.errors import RecordNotFound, StoreError
from persd.store.study_records import (
    CHOICES,
    STUDY_KINDS,
    Adjudication,
    Judgment,
    ReviewDecision,
    StudyItem,
    StudyRecord,
)

# A reviewer's pause longer than this is a break, not time spent on the next decision.
MAX_DECISION_S = 1800.0
_DECIDED_REVIEW = "e.new_status IN ('approved', 'edited', 'rejected')"


class Studies:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, name: str, kind: str, *, owner: str, overlap: int = 1,
                  config: dict[str, Any] | None = None) -> StudyRecord:
        if kind not in STUDY_KINDS:
            raise StoreError(f"unknown study kind {kind!r}; one of {STUDY_KINDS}")
        if not (name or "").strip() or not (owner or "").strip():
            raise StoreError("a study needs a name and an owner")
        if overlap < 1:
            raise StoreError("overlap must be at least 1 (reviewers per item)")
        with self._db.write() as conn:
            if conn.execute("SELECT 1 FROM studies WHERE name = ?", (name,)).fetchone():
                raise StoreError(f"session {self._db.path} already has a study named {name!r}")
            row = conn.execute(
                """INSERT INTO studies (name, kind, owner, overlap, config) VALUES (?, ?, ?, ?, ?)
                RETURNING *""", (name.strip(), kind, owner.strip(), overlap, to_json(config or {})),
            ).fetchone()
            return _study(row)

    def get(self, name: str | int) -> StudyRecord:
        column = "id" if isinstance(name, int) else "name"
        with self._db.read() as conn:
            row = conn.execute(f"SELECT * FROM studies WHERE {column} = ?", (name,)).fetchone()
            if row is None:
                known = [r[0] for r in conn.execute("SELECT name FROM studies ORDER BY id")]
                raise RecordNotFound(f"no study {name!r} in session {self._db.path} (studies: "
                                     f"{', '.join(known) or 'none yet'})")
            return _study(row)

    def list(self) -> builtins.list[StudyRecord]:
        with self._db.read() as conn:
            return [_study(row) for row in conn.execute("SELECT * FROM studies ORDER BY id")]

    def add_items(self, study_id: int,
                  items: Iterable[Mapping[str, Any]]) -> builtins.list[StudyItem]:
        """Add items (task_id, attempt_id, candidate_a, candidate_b); ones already there
        are kept as they are. Returns every item of the study."""
        with self._db.write() as conn:
            for item in items:
                conn.execute(
                    """INSERT INTO study_items (study_id, task_id, attempt_id, candidate_a,
                    candidate_b) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (study_id, candidate_a, COALESCE(candidate_b, 0)) DO NOTHING""",
                    (study_id, item["task_id"], item.get("attempt_id"), item["candidate_a"],
                     item.get("candidate_b")),
                )
        return self.items(study_id)

    def items(self, study_id: int) -> builtins.list[StudyItem]:
        with self._db.read() as conn:
            found = conn.execute("SELECT * FROM study_items WHERE study_id = ? ORDER BY id",
                                 (study_id,))
            return [StudyItem(**dict(row)) for row in found]

    def item(self, item_id: int) -> StudyItem:
        row = self._db.one("SELECT * FROM study_items WHERE id = ?", (item_id,),
                           f"study item {item_id}")
        return StudyItem(**dict(row))

    # -- who decides what --------------------------------------------------------------

    def assign(self, study_id: int, plan: Mapping[int, Iterable[str]], *, by: str) -> int:
        """Give each item to its reviewers (an assignment already there is kept); returns
        how many assignments were added."""
        added = 0
        with self._db.write() as conn:
            _check_owner(conn, study_id, by, "assign items")
            for item_id, reviewers in plan.items():
                for reviewer in reviewers:
                    added += conn.execute(
                        """INSERT INTO study_assignments (item_id, reviewer, assigned_by)
                        VALUES (?, ?, ?) ON CONFLICT (item_id, reviewer) DO NOTHING""",
                        (item_id, reviewer, by),
                    ).rowcount
        return added

    def assignments(self, study_id: int) -> dict[int, builtins.list[str]]:
        """item id -> its reviewers, for every item of the study (maybe [])."""
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT i.id, a.reviewer FROM study_items i
                LEFT JOIN study_assignments a ON a.item_id = i.id
                WHERE i.study_id = ? ORDER BY i.id, a.id""", (study_id,))
            plan: dict[int, builtins.list[str]] = {}
            for item_id, reviewer in found:
                plan.setdefault(item_id, [])
                if reviewer is not None:
                    plan[item_id].append(reviewer)
            return plan

    def decided(self, study_id: int) -> set[tuple[int, str]]:
        """(item id, reviewer) of every decision made in the study."""
        with self._db.read() as conn:
            return _decided(conn, study_id)

    def reviewer_queue(self, study_id: int, reviewer: str) -> builtins.list[int]:
        """The items assigned to `reviewer` that they have not decided yet, in order."""
        with self._db.read() as conn:
            done = _decided(conn, study_id)
            found = conn.execute(
                """SELECT i.id FROM study_items i JOIN study_assignments a ON a.item_id = i.id
                WHERE i.study_id = ? AND a.reviewer = ? ORDER BY i.id""", (study_id, reviewer))
            return [item_id for (item_id,) in found if (item_id, reviewer) not in done]

    def reassign(self, study_id: int, from_reviewer: str, to_reviewer: str, *, by: str,
                 item_ids: Iterable[int] | None = None) -> tuple[builtins.list[int], builtins.list[int]]:
        """Move `from_reviewer`'s undecided items (or those of `item_ids`) to `to_reviewer`.
        Returns (moved, kept): an item `to_reviewer` already has stays with its reviewer,
        since each item needs distinct reviewers."""
        if not to_reviewer.strip() or to_reviewer == from_reviewer:
            raise StoreError("reassign to another, named reviewer")
        wanted = None if item_ids is None else set(item_ids)
        moved, kept = [], []
        with self._db.write() as conn:
            _check_owner(conn, study_id, by, "reassign items")
            done = _decided(conn, study_id)
            found = conn.execute(
                """SELECT a.id, a.item_id FROM study_assignments a JOIN study_items i
                ON i.id = a.item_id WHERE i.study_id = ? AND a.reviewer = ? ORDER BY a.item_id""",
                (study_id, from_reviewer)).fetchall()
            for assignment_id, item_id in found:
                if (item_id, from_reviewer) in done or (wanted is not None and item_id not in wanted):
                    continue
                if conn.execute("SELECT 1 FROM study_assignments WHERE item_id = ? AND reviewer = ?",
                                (item_id, to_reviewer)).fetchone():
                    kept.append(item_id)
                    continue
                conn.execute("UPDATE study_assignments SET reviewer = ?, assigned_by = ? "
                             "WHERE id = ?", (to_reviewer, by, assignment_id))
                moved.append(item_id)
        return moved, kept

    # -- decisions ---------------------------------------------------------------------

    def add_judgment(self, item_id: int, reviewer: str, choice: str, *, left_slot: str,
                     reason: str | None = None, duration_s: float | None = None) -> Judgment:
        """Record (or revise) `reviewer`'s pairwise choice. When the study has assignments,
        only an assigned reviewer may judge the item."""
        if choice not in CHOICES:
            raise StoreError(f"unknown choice {choice!r}; one of {CHOICES}")
        if left_slot not in ("a", "b") or not (reviewer or "").strip():
            raise StoreError("a judgment needs a reviewer and the side shown (left_slot a or b)")
        with self._db.write() as conn:
            item = conn.execute("SELECT study_id FROM study_items WHERE id = ?",
                                (item_id,)).fetchone()
            if item is None:
                raise RecordNotFound(f"no study item {item_id} in session {self._db.path}")
            assigned = {r for (r,) in conn.execute(
                "SELECT reviewer FROM study_assignments WHERE item_id = ?", (item_id,))}
            if assigned and reviewer not in assigned:
                raise StoreError(f"item {item_id} is assigned to {', '.join(sorted(assigned))}, "
                                 f"not to {reviewer}")
            row = conn.execute(
                """INSERT INTO study_judgments (item_id, reviewer, choice, left_slot, reason,
                duration_s) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (item_id, reviewer) DO UPDATE SET choice = excluded.choice,
                left_slot = excluded.left_slot, reason = excluded.reason,
                duration_s = excluded.duration_s, at = excluded.at RETURNING *""",
                (item_id, reviewer, choice, left_slot, reason or None, duration_s),
            ).fetchone()
            return Judgment(**dict(row))

    def judgments(self, study_id: int) -> builtins.list[Judgment]:
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT j.* FROM study_judgments j JOIN study_items i ON i.id = j.item_id
                WHERE i.study_id = ? ORDER BY j.id""", (study_id,))
            return [Judgment(**dict(row)) for row in found]

    def review_decisions(self, refinement_ids: Iterable[int]) -> builtins.list[ReviewDecision]:
        """Each reviewer's decision in force (not undone) on each refinement: their latest
        approve/edit/reject, from the audit trail. Edits count as approvals."""
        ids = list(refinement_ids)
        if not ids:
            return []
        with self._db.read() as conn:
            events = conn.execute(
                f"""SELECT e.id, e.refinement_id, e.reviewer, e.new_status, e.at,
                EXISTS (SELECT 1 FROM review_events u WHERE u.undoes = e.id) AS undone
                FROM review_events e WHERE e.kind = 'action' AND e.reviewer IN (SELECT DISTINCT
                reviewer FROM review_events WHERE refinement_id IN ({placeholders(ids)}))
                ORDER BY e.id""", ids).fetchall()
        wanted, latest, previous_at = set(ids), {}, {}
        for event in events:
            seconds = _seconds_between(previous_at.get(event["reviewer"]), event["at"])
            previous_at[event["reviewer"]] = event["at"]
            key = (event["refinement_id"], event["reviewer"])
            if event["refinement_id"] not in wanted or event["undone"]:
                continue
            if event["new_status"] in ("approved", "edited", "rejected"):
                decision = "rejected" if event["new_status"] == "rejected" else "approved"
                latest[key] = ReviewDecision(key[0], key[1], decision, event["at"], seconds)
            else:
                latest.pop(key, None)  # skipped or back to pending: no decision in force
        return sorted(latest.values(), key=lambda d: (d.refinement_id, d.reviewer))

    def adjudicate(self, item_id: int, decision: str, *, adjudicator: str,
                   reason: str | None = None) -> Adjudication:
        """The owner's decision on an item, stored apart from the reviewers' own."""
        with self._db.write() as conn:
            item = conn.execute("SELECT study_id FROM study_items WHERE id = ?",
                                (item_id,)).fetchone()
            if item is None:
                raise RecordNotFound(f"no study item {item_id} in session {self._db.path}")
            _check_owner(conn, item["study_id"], adjudicator, "adjudicate")
            row = conn.execute(
                """INSERT INTO study_adjudications (item_id, decision, adjudicator, reason)
                VALUES (?, ?, ?, ?) ON CONFLICT (item_id) DO UPDATE SET
                decision = excluded.decision, adjudicator = excluded.adjudicator,
                reason = excluded.reason, at = excluded.at RETURNING *""",
                (item_id, decision, adjudicator, reason or None)).fetchone()
            return Adjudication(**dict(row))

    def adjudications(self, study_id: int) -> dict[int, Adjudication]:
        with self._db.read() as conn:
            found = conn.execute(
                """SELECT d.* FROM study_adjudications d JOIN study_items i ON i.id = d.item_id
                WHERE i.study_id = ?""", (study_id,))
            return {row["item_id"]: Adjudication(**dict(row)) for row in found}


def _study(row: sqlite3.Row) -> StudyRecord:
    return StudyRecord(**{**dict(row), "config": from_json(row["config"]) or {}})


def _check_owner(conn: sqlite3.Connection, study_id: int, who: str, action: str) -> None:
    row = conn.execute("SELECT name, owner FROM studies WHERE id = ?", (study_id,)).fetchone()
    if row is None:
        raise RecordNotFound(f"no study {study_id}")
    if row["owner"] != who:
        raise StoreError(f"only the owner of study {row['name']!r} ({row['owner']}) may "
                         f"{action}; you are {who or 'nobody'}")


def _decided(conn: sqlite3.Connection, study_id: int) -> set[tuple[int, str]]:
    kind = conn.execute("SELECT kind FROM studies WHERE id = ?", (study_id,)).fetchone()
    if kind is None:
        raise RecordNotFound(f"no study {study_id}")
    if kind[0] == "pairwise":
        found = conn.execute(
            """SELECT j.item_id, j.reviewer FROM study_judgments j JOIN study_items i
            ON i.id = j.item_id WHERE i.study_id = ?""", (study_id,))
    else:
        found = conn.execute(
            f"""SELECT DISTINCT i.id, e.reviewer FROM study_items i JOIN review_events e
            ON e.refinement_id = i.candidate_a WHERE i.study_id = ? AND e.kind = 'action'
            AND {_DECIDED_REVIEW}
            AND NOT EXISTS (SELECT 1 FROM review_events u WHERE u.undoes = e.id)""", (study_id,))
    return {(item_id, reviewer) for item_id, reviewer in found}


def _seconds_between(earlier: str | None, later: str) -> float | None:
    if earlier is None:
        return None
    gap = (datetime.fromisoformat(later) - datetime.fromisoformat(earlier)).total_seconds()
    return round(gap, 3) if 0 <= gap <= MAX_DECISION_S else None
