"""The teacher's response cache: replies by request hash, so a rerun costs nothing."""

from __future__ import annotations

import hashlib
import json
from typing import Protocol


def cache_key(request: dict) -> str:
    """sha256 of a request's model, messages and sampling parameters (canonical JSON)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()



class ResponseCache(Protocol):
    """Replies by request hash; `persd.store.SessionStore` implements the same two methods."""

    def get(self, key: str) -> dict | None: ...

    def put(self, key: str, value: dict) -> None: ...


class MemoryCache:
    """A ResponseCache in a dict, for tests and one-off scripts."""

    def __init__(self) -> None:
        self.entries: dict[str, dict] = {}

    def get(self, key: str) -> dict | None:
        return self.entries.get(key)

    def put(self, key: str, value: dict) -> None:
        self.entries[key] = value
