"""What every teacher backend shares: the protocol (with its optional capabilities), the
records a call returns, and the errors that end a run.

A new vendor or the Batch API is a new class that follows `Teacher`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from persd.execution import ExecutionResult
    from persd.tasks import Task
    from persd.teacher.ledger import BatchLedger

Validate = Callable[[str], "ExecutionResult"]


class TeacherError(Exception):
    """A teacher failure that ends the run; the message says what and where."""


class TeacherAuthError(TeacherError):
    """The endpoint rejected the API key (401/403), or there is no key at all."""


class TeacherUnavailable(TeacherError):
    """The endpoint cannot be reached, or keeps failing with 5xx after all retries."""


class TeacherModelNotFound(TeacherError):
    """The endpoint does not serve the model (404)."""


@dataclass
class TeacherCall:
    """One chat call to the teacher, as the session stores it."""

    purpose: str                 # "refine" | "solve" | "retry"
    model: str
    messages: list[dict]
    raw_reply: str | None        # None when the call failed
    prompt_tokens: int = 0       # for a cached call: the tokens of the original call
    completion_tokens: int = 0
    cost_usd: float = 0.0        # 0.0 for cached calls and models without a price
    cost_known: bool = True
    cached: bool = False
    error: str | None = None
    duration_s: float = 0.0
    batch_id: str | None = None  # the Batch API job that answered it, if any


@dataclass
class TeacherResult:
    """The outcome of refine() or solve() for one task."""

    program: str | None          # the latest teacher code that could run: task.prompt + completion
    completion: str | None
    validated: bool
    reason: str                  # why not validated ("" when validated)
    tries: int
    calls: list[TeacherCall]
    last_execution: ExecutionResult | None = None

    @property
    def cost_usd(self) -> float:
        return sum(call.cost_usd for call in self.calls)


class Teacher(Protocol):
    """What the collection loop needs from a teacher backend."""

    model: str

    async def check(self) -> None: ...

    async def refine(
        self, task: Task, code: str, feedback: str, validate: Validate
    ) -> TeacherResult: ...

    async def solve(self, task: Task, validate: Validate) -> TeacherResult: ...

    async def flush(self, ledger: BatchLedger, round: int) -> None:
        """Answer the requests the teacher holds back (a batch teacher sends them as one
        Batch API job); a live teacher holds none and returns at once."""
        ...

    async def aclose(self) -> None:
        """Release the connection; the teacher reconnects on its next call."""
        ...
