"""Errors raised by the session store; each message names the session file or record."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from persd.store.records import ReviewRecord


class StoreError(Exception):
    """Base of every session-store error: a message a user can act on."""


class SessionNotFound(StoreError, LookupError):
    """The named session has no database file (and `create` was not asked for)."""

    def __init__(self, name: str, sessions_dir: str, available: list[str]) -> None:
        existing = ", ".join(available) if available else "none yet"
        super().__init__(
            f"no session {name!r} in {sessions_dir} (existing sessions: {existing})"
        )
        self.name = name
        self.available = available


class SessionNameError(StoreError, ValueError):
    """A session name that could not be a safe file name."""


class ConfigMismatch(StoreError):
    """`set_config` on a session that was created with other settings."""

    def __init__(self, path: str, differences: dict[str, tuple[Any, Any]]) -> None:
        shown = "; ".join(
            f"{key}: stored {old!r}, given {new!r}" for key, (old, new) in differences.items()
        )
        super().__init__(f"session {path} was created with other settings: {shown}")
        self.differences = differences


class ReviewConflict(StoreError):
    """Someone else changed a review since the caller last read it."""

    def __init__(
        self, current: ReviewRecord, expected_version: int | None, action: str = "",
    ) -> None:
        who = current.reviewer or "nobody"
        when = current.updated_at or "never"
        doing = f"cannot {action}: " if action else ""
        expected = "" if expected_version is None else f"; you had version {expected_version}"
        super().__init__(
            f"{doing}refinement {current.refinement_id} was changed by {who} at {when} "
            f"(now {current.status}, version {current.version}{expected}); reload it and retry"
        )
        self.current = current
        self.expected_version = expected_version


class RunBusy(StoreError):
    """An exclusive run was asked for while another of that kind is queued or running."""


class RecordNotFound(StoreError, LookupError):
    """A task, attempt, refinement, execution or run id that the session does not hold."""
