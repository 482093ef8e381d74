"""Values derived from a refinement that never change once it is stored (its risk flags,
signature, similarity), kept so that reading them again costs a query, not a recomputation.

    store.derived.get("queue-2", [12, 13])      # {12: {...}}: those stored under that kind
    store.derived.set("queue-2", {14: {"risk": 3, ...}})

`kind` names what was computed and by which rules (e.g. "queue-2"): a reader with newer
rules uses a new kind and the old rows are simply not read.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from persd.store.db import Database, from_json, to_json

MIGRATION = ("m017_derived_values", [
    """CREATE TABLE derived_values (
        kind TEXT NOT NULL,
        refinement_id INTEGER NOT NULL REFERENCES refinements (id),
        value TEXT NOT NULL,
        PRIMARY KEY (kind, refinement_id)
    )""",
])


class DerivedValues:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, kind: str, refinement_ids: Iterable[int] | None = None,
                       ) -> dict[int, Any]:
        """refinement id -> stored value of `kind` (all of them when no ids are given)."""
        wanted = None if refinement_ids is None else set(refinement_ids)
        with self._db.read() as conn:
            found = conn.execute(
                "SELECT refinement_id, value FROM derived_values WHERE kind = ?", (kind,))
            return {rid: from_json(value) for rid, value in found
                    if wanted is None or rid in wanted}

    def set(self, kind: str, values: Mapping[int, Any]) -> None:
        with self._db.write() as conn:
            conn.executemany(
                """INSERT INTO derived_values (kind, refinement_id, value) VALUES (?, ?, ?)
                ON CONFLICT (kind, refinement_id) DO UPDATE SET value = excluded.value""",
                [(kind, rid, to_json(value)) for rid, value in values.items()])
