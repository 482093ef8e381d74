"""Plain records returned by `SessionStore`: one dataclass per table or query.

Every record is a snapshot; changing one changes nothing in the database. Times are
ISO 8601 strings in UTC with milliseconds (e.g. "2025-01-31T12:00:00.123Z").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from persd.execution.result import STATUSES as EXECUTION_STATUSES  # noqa: F401 (re-exported)
from persd.execution.result import ExecutionResult

SUBJECT_KINDS = ("attempt", "refinement", "review_edit", "eval_sample")
TEST_KINDS = ("hidden", "visible")
METHODS = ("persd", "stand", "inpd")
REVIEW_STATUSES = ("pending", "approved", "edited", "rejected", "skipped")
RUN_KINDS = ("train", "eval", "collect", "loop")
RUN_STATUSES = ("queued", "running", "finished", "failed", "stopped")


@dataclass(frozen=True)
class ExecutionRecord:
    """A stored run: the sandbox's verdict (`result`) and what it was a run of."""

    id: int
    subject_kind: str       # one of SUBJECT_KINDS: what subject_id points at
    subject_id: int         # attempt, refinement (also for review edits) or eval sample id
    tests: str              # "hidden" or "visible": which tests were run
    created_at: str
    result: ExecutionResult  # result.has_detail is False for runs stored without detail


def result_of(execution: ExecutionRecord | None) -> ExecutionResult | None:
    """The verdict of a stored run that may be missing (a record never run)."""
    return execution.result if execution is not None else None


@dataclass(frozen=True)
class AttemptRecord:
    id: int
    task_id: str
    round: int
    sample_index: int
    model: str
    sampling: dict[str, Any]
    prompt: str
    completion: str
    program: str            # the complete program: prompt + completion
    created_at: str
    execution: ExecutionRecord | None = None  # its hidden-test run, once there is one


@dataclass(frozen=True)
class RefinementRecord:
    id: int
    method: str             # "persd" refines an attempt; "stand"/"inpd" are teacher solutions
    task_id: str
    round: int
    attempt_id: int | None  # set for "persd" only
    teacher_model: str
    program: str | None     # None when the teacher never produced code
    completion: str | None
    validated: bool         # the program passed the hidden tests
    reason: str             # why it is not validated ("" when it is)
    tries: int
    diff_lines: int | None  # size of the attempt -> refinement diff, computed by the caller
    error: str | None       # a teacher failure: the row is retried on the next run
    created_at: str
    updated_at: str
    execution: ExecutionRecord | None = None  # its validation run (hidden tests)


@dataclass(frozen=True)
class TeacherCallRecord:
    id: int
    refinement_id: int | None
    attempt_id: int | None
    task_id: str | None
    round: int | None
    purpose: str            # e.g. "refine", "solve"
    model: str
    messages: list[Any]
    raw_reply: str | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float
    cached: bool
    error: str | None
    duration_s: float | None
    created_at: str
    batch_id: str | None    # the Batch API job that answered it; None for live calls


@dataclass(frozen=True)
class PendingWork:
    """What a collection round still has to do; empty lists mean the round is complete."""

    round: int
    method: str
    needs_attempt: list[tuple[str, int]] = field(default_factory=list)  # (task_id, sample_index)
    needs_execution: list[int] = field(default_factory=list)  # attempt ids without a hidden run
    needs_refinement: list[int] = field(default_factory=list)  # failed attempt ids ("persd")
    needs_solution: list[str] = field(default_factory=list)  # task ids ("stand", "inpd")
    teacher_errors: dict[str, str] = field(default_factory=dict)  # task_id -> last error

    @property
    def done(self) -> bool:
        return not (
            self.needs_attempt or self.needs_execution
            or self.needs_refinement or self.needs_solution
        )

    @property
    def needs_attempt_tasks(self) -> list[str]:
        return list(dict.fromkeys(task_id for task_id, _ in self.needs_attempt))


@dataclass(frozen=True)
class ReviewRecord:
    refinement_id: int
    status: str             # one of REVIEW_STATUSES
    edited_program: str | None
    edit_execution_id: int | None
    reason: str | None
    reviewer: str | None    # None while never reviewed
    version: int            # 0 while never reviewed; +1 on every change
    updated_at: str | None


@dataclass(frozen=True)
class ReviewEvent:
    id: int
    refinement_id: int
    kind: str               # "action" or "undo"
    batch: str | None       # shared by the events of one bulk action
    undoes: int | None      # for "undo": the action event it reverted
    old_status: str
    new_status: str
    reviewer: str
    version: int            # the review's version after this event
    at: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class BulkReviewResult:
    updated: list[ReviewRecord]
    conflicts: list[int]    # refinement ids skipped: their version moved on


@dataclass(frozen=True)
class QueueFilters:
    """Filters of the review queue; None means "any"."""

    status: str | tuple[str, ...] | None = None
    error_type: str | None = None     # of the student's attempt, e.g. "AssertionError"
    validated: bool | None = None
    round: int | None = None
    method: str | None = None
    search: str | None = None         # substring of task_id or prompt, case-insensitive
    task_id: str | None = None        # exact task id, or a prefix when it ends with "*"
    max_diff_lines: int | None = None  # rows without diff_lines are left out when set
    # only these refinements (e.g. those failing with one signature: persd.analysis.signatures)
    refinement_ids: tuple[int, ...] | None = None
    # only those assigned to this reviewer, directly or by a review study ("My queue")
    assigned_to: str | None = None


@dataclass(frozen=True)
class QueueRow:
    refinement_id: int
    task_id: str
    round: int
    method: str
    attempt_id: int | None
    teacher_model: str
    validated: bool
    diff_lines: int | None
    error_type: str         # of the attempt's hidden-test run ("" if none)
    attempt_status: str | None
    feedback: str           # of the attempt's hidden-test run
    status: str             # review status
    version: int
    reviewer: str | None
    updated_at: str | None


@dataclass(frozen=True)
class ReviewItem:
    """Everything the review screen shows for one refinement."""

    refinement: RefinementRecord
    task: Any               # persd.tasks.Task
    attempt: AttemptRecord | None
    review: ReviewRecord
    edit_execution: ExecutionRecord | None


@dataclass(frozen=True)
class RunRecord:
    id: int
    kind: str               # one of RUN_KINDS
    status: str             # one of RUN_STATUSES
    config: dict[str, Any]
    result: dict[str, Any] | None
    metrics_path: str | None
    output: str | None
    pid: int | None
    created_at: str
    updated_at: str
    process_start: int | None = None   # of `pid`, from /proc (persd.store.runs.process_start)


@dataclass(frozen=True)
class EvalSampleRecord:
    id: int
    run_id: int
    task_id: str
    sample_index: int
    step: int               # 0: one-step; k: after k refinement steps
    program: str
    created_at: str
    execution: ExecutionRecord | None = None

    @property
    def passed(self) -> bool:
        return bool(self.execution and self.execution.result.passed)

    @property
    def status(self) -> str | None:
        return self.execution.result.status if self.execution else None

    @property
    def feedback(self) -> str:
        return self.execution.result.feedback if self.execution else ""
