"""Values derived from a refinement that never change once it is stored (its risk flags,
signature, similarity), kept so that reading them again costs a query, not a recomputation.

    store.derived.get("queue-2", [12, 13])      # {12: {...}}: those stored under that kind
    store.derived.set("queue-2", {14: {"risk": 3, ...}})

`kind` names what was computed and by which rules (e.g. "queue-2"): a reader with newer
rules uses a new kind and the old rows are simply not read.

Two processes on one session (two `persd app`s) share the work through a lease:

    if store.derived.claim("queue-2", owner, lease_s=60):   # renewed by claiming again
        ...compute, store...
        store.derived.release("queue-2", owner)

A claim is granted when nobody holds the kind, its holder asks again, or the holder's
lease ran out (a process that died frees it after `lease_s`).
"""

from __future__ import annotations

import time
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
CLAIMS_MIGRATION = ("m019_derived_claims", [
    # Who computes a kind of derived value now, until when (seconds since the epoch).
    """CREATE TABLE derived_claims (
        kind TEXT PRIMARY KEY,
        owner TEXT NOT NULL,
        expires_at REAL NOT NULL
    )""",
])


class DerivedValues:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, kind: str, refinement_ids: Iterable[int] | None = None) -> dict[int, Any]:
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

    def claim(self, kind: str, owner: str, lease_s: float) -> bool:
        """Take (or renew) the lease on computing `kind` for `lease_s` seconds; False
        while another owner's lease runs."""
        now = time.time()
        with self._db.write() as conn:
            conn.execute(
                """INSERT INTO derived_claims (kind, owner, expires_at) VALUES (?, ?, ?)
                ON CONFLICT (kind) DO UPDATE SET owner = excluded.owner,
                    expires_at = excluded.expires_at
                WHERE derived_claims.owner = excluded.owner OR derived_claims.expires_at < ?""",
                (kind, owner, now + lease_s, now))
            holder = conn.execute("SELECT owner FROM derived_claims WHERE kind = ?",
                                  (kind,)).fetchone()
            return holder is not None and holder[0] == owner

    def release(self, kind: str, owner: str) -> None:
        with self._db.write() as conn:
            conn.execute("DELETE FROM derived_claims WHERE kind = ? AND owner = ?", (kind, owner))
