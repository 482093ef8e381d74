"""Review actions on a session's refinements, and what the review screen shows for one.

    from persd.review import approve, reject, save_edit, undo, plan_bulk, apply_bulk, review_view
    view = review_view(store, refinement_id)            # task, attempt, refinement, diffs
    approve(store, view.refinement_id, reviewer="ana", expected_version=view.version)
    outcome = save_edit(store, executor, view.refinement_id, program, reviewer="ana",
                        expected_version=view.version)  # re-runs the hidden tests first
    plan = plan_bulk(store, QueueFilters(validated=True, max_diff_lines=4), "approved")
    plan.decided                                        # records a person decided: name them
    apply_bulk(store, plan, reviewer="ana")             # plan.count is what the user confirmed
    apply_bulk(store, plan.undecided(), reviewer="ana") # or leave the decided ones alone
    undo(store, "ana")

Every action is one store write (`store.reviews.set`), checked against the version the
reviewer saw: a record someone else changed meanwhile raises the store's `ReviewConflict`,
whose message says who changed it and when. Code a reviewer types runs only through the
sandboxed `Executor`. Accepting code that fails the hidden tests (a failing edit, or a
refinement that was never validated) needs `override=True`, otherwise `ReviewRefused`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from persd.code.diffing import code_similarity, diff_size, side_by_side_html
from persd.execution.result import ExceptionInfo, TestOutcome
from persd.store import ExecutionRecord, QueueFilters, ReviewConflict, ReviewRecord, SessionStore
from persd.store.records import result_of

__all__ = [
    "BULK_STATUSES", "BulkOutcome", "BulkPlan", "DecidedRecord", "EditOutcome", "ReviewConflict",
    "ReviewRefused", "ReviewView", "apply_bulk", "approve", "plan_bulk",
    "conflict_message", "reject", "review_view", "run_edit", "save_edit", "skip", "undo",
]

BULK_STATUSES = ("approved", "rejected", "skipped")
# Lines of unchanged code kept around each change in the diffs; the rest folds away.
DIFF_CONTEXT = 3


class ReviewRefused(Exception):
    """An action that would store something wrong (e.g. accept failing code without
    override); the message says why and what to do. `execution`: the run that failed."""

    def __init__(self, message: str, execution: ExecutionRecord | None = None) -> None:
        super().__init__(message)
        self.execution = execution


@dataclass(frozen=True)
class EditOutcome:
    review: ReviewRecord
    execution: ExecutionRecord   # the edited program's run against the hidden tests


@dataclass(frozen=True)
class DecidedRecord:
    """A record in a bulk plan that already holds a person's decision (an edit, an
    approval, a rejection or a skip) which the bulk action would replace."""

    refinement_id: int
    task_id: str
    status: str
    reviewer: str | None


@dataclass(frozen=True)
class BulkPlan:
    """What a bulk action will touch, read before the user confirms it."""

    status: str
    versions: dict[int, int]     # refinement id -> the review version seen
    left_out: int                # matches not included: failing code when approving
    # included records whose present decision differs from `status`: the question names them
    decided: tuple[DecidedRecord, ...] = ()

    @property
    def count(self) -> int:
        return len(self.versions)

    def undecided(self) -> BulkPlan:
        """The same plan without the records a person already decided."""
        kept = {d.refinement_id for d in self.decided}
        return BulkPlan(self.status, {rid: version for rid, version in self.versions.items()
                                      if rid not in kept}, self.left_out)


@dataclass(frozen=True)
class BulkOutcome:
    status: str
    updated: int
    conflicts: list[int]         # refinement ids someone else changed after the plan
    left_out: int


def _check_reviewer(reviewer: str) -> str:
    if not reviewer or not reviewer.strip():
        raise ReviewRefused("say who you are: a review needs a reviewer name")
    return reviewer.strip()


def _check_version(store: SessionStore, refinement_id: int, expected_version: int) -> None:
    current = store.reviews.get(refinement_id)
    if current.version != expected_version:
        raise ReviewConflict(current, expected_version)


def approve(
    store: SessionStore, refinement_id: int, *, reviewer: str, expected_version: int,
    override: bool = False,
) -> ReviewRecord:
    """Accept the teacher's refinement as it is."""
    reviewer = _check_reviewer(reviewer)
    refinement = store.refinements.get(refinement_id)
    if refinement.program is None:
        raise ReviewRefused(
            f"{refinement.task_id}: the teacher gave no code to approve; edit it or reject it"
        )
    if not refinement.validated and not override:
        why = refinement.reason or "it fails the hidden tests"
        raise ReviewRefused(
            f"{refinement.task_id}: the refinement is not validated ({why}); tick "
            "'override' to approve it anyway, or edit it into passing code"
        )
    return store.reviews.set(
        refinement_id, "approved", reviewer=reviewer, expected_version=expected_version,
    )


def run_edit(
    store: SessionStore, executor: Any, refinement_id: int, program: str,
) -> ExecutionRecord:
    """Run `program` against the task's hidden tests in the sandbox and store the run
    (subject "review_edit"); the review itself is unchanged."""
    if not program or not program.strip():
        raise ReviewRefused("the edited program is empty")
    refinement = store.refinements.get(refinement_id)
    task = store.tasks.get(refinement.task_id)
    result = executor.run(program, task.test, task.prompt)
    return store.executions.add("review_edit", refinement_id, result)


def save_edit(
    store: SessionStore, executor: Any, refinement_id: int, program: str, *,
    reviewer: str, expected_version: int, override: bool = False,
    execution: ExecutionRecord | None = None,
) -> EditOutcome:
    """Re-run the edited `program` against the hidden tests and store it as "edited".
    A failing edit raises ReviewRefused (carrying the run) unless `override`.
    `execution`: a run of this very program from `run_edit`, to avoid running it twice."""
    reviewer = _check_reviewer(reviewer)
    refinement = store.refinements.get(refinement_id)
    if program == refinement.program:
        raise ReviewRefused(f"{refinement.task_id}: the code is unchanged; approve it instead")
    # Refuse early: running code for a record that moved on would waste the reviewer's wait.
    _check_version(store, refinement_id, expected_version)
    if execution is None:
        execution = run_edit(store, executor, refinement_id, program)
    if not execution.result.passed and not override:
        raise ReviewRefused(
            f"{refinement.task_id}: the edited code fails the hidden tests "
            f"({execution.result.status}); fix it, or tick 'override' to save it anyway",
            execution=execution,
        )
    review = store.reviews.set(
        refinement_id, "edited", reviewer=reviewer, expected_version=expected_version,
        edited_program=program, edit_execution=execution.id,
    )
    return EditOutcome(review=review, execution=execution)


def reject(
    store: SessionStore, refinement_id: int, *, reviewer: str, expected_version: int,
    reason: str | None = None,
) -> ReviewRecord:
    return store.reviews.set(
        refinement_id, "rejected", reviewer=_check_reviewer(reviewer),
        expected_version=expected_version, reason=(reason or "").strip() or None,
    )


def skip(
    store: SessionStore, refinement_id: int, *, reviewer: str, expected_version: int,
) -> ReviewRecord:
    return store.reviews.set(
        refinement_id, "skipped", reviewer=_check_reviewer(reviewer),
        expected_version=expected_version,
    )


def conflict_message(store: SessionStore, error: ReviewConflict) -> str:
    """A conflict as a reviewer reads it: the task and who changed it, not internal ids."""
    current = error.current
    task_id = store.refinements.get(current.refinement_id).task_id
    who = current.reviewer or "someone"
    when = (current.updated_at or "").replace("T", " ")[:16]
    status = "back to pending" if current.status == "pending" else current.status
    return (f"{task_id} was changed by {who}{' at ' + when if when else ''} while you had it "
            f"open (now {status}, v{current.version}); nothing of yours was saved. The view "
            "shows their version: decide again if you still disagree.")


def undo(store: SessionStore, reviewer: str) -> ReviewRecord | None:
    """Revert `reviewer`'s last action (a whole bulk action at once); None when there is
    nothing to undo. ReviewConflict when someone else changed that record since."""
    return store.reviews.undo_last(_check_reviewer(reviewer))


def plan_bulk(
    store: SessionStore, filters: QueueFilters, status: str, *, override: bool = False,
) -> BulkPlan:
    """The records a bulk `status` over `filters` would change. Approving leaves out
    refinements that fail the hidden tests unless `override`."""
    if status not in BULK_STATUSES:
        raise ReviewRefused(f"bulk review sets one of {BULK_STATUSES}, not {status!r}")
    if status != "approved" or override or filters.validated is True:
        versions, left_out = store.queue.versions(filters), 0
    elif filters.validated is False:
        versions, left_out = {}, store.queue.count(filters)
    else:
        versions = store.queue.versions(replace(filters, validated=True))
        left_out = store.queue.count(filters) - len(versions)
    return BulkPlan(status, versions, left_out, _decided(store, versions, status))


def _decided(store: SessionStore, versions: dict[int, int], status: str,
             ) -> tuple[DecidedRecord, ...]:
    """The planned records whose review (version > 0) holds a decision other than `status`."""
    touched = tuple(rid for rid, version in versions.items() if version > 0)
    if not touched:
        return ()
    chunks = (touched[start:start + 5000] for start in range(0, len(touched), 5000))
    rows = [row for chunk in chunks   # in chunks: SQLite bounds the parameters of one query
            for row in store.queue.list(QueueFilters(refinement_ids=chunk), limit=len(chunk))]
    return tuple(DecidedRecord(row.refinement_id, row.task_id, row.status, row.reviewer)
                 for row in rows if row.status not in ("pending", status))


def apply_bulk(
    store: SessionStore, plan: BulkPlan, *, reviewer: str, reason: str | None = None,
) -> BulkOutcome:
    """Apply a confirmed plan in one transaction; records changed since are skipped."""
    reviewer = _check_reviewer(reviewer)
    if not plan.versions:
        return BulkOutcome(plan.status, 0, [], plan.left_out)
    result = store.reviews.bulk_set(
        plan.versions, plan.status, reviewer=reviewer, reason=(reason or "").strip() or None,
    )
    return BulkOutcome(plan.status, len(result.updated), result.conflicts, plan.left_out)


# ---------------------------------------------------------------- what the screen shows

@dataclass(frozen=True)
class ReviewView:
    """One record as the reviewer sees it. Programs are complete programs; diffs are HTML
    tables from `persd.code.diffing.side_by_side_html` (escaped, self-contained)."""

    refinement_id: int
    task_id: str
    round: int
    method: str
    teacher_model: str
    validated: bool
    validation_feedback: str      # why the refinement fails its tests ("" when it passes)
    status: str                   # review status
    version: int
    reviewer: str | None
    updated_at: str | None
    reason: str | None            # a rejection's reason
    description: str              # the task prompt: description and function header
    attempt_status: str           # of the attempt's hidden-test run ("" without one)
    attempt_error_type: str
    attempt_feedback: str
    failing_test: str             # the test the attempt failed ("" when unknown)
    attempt_tests: tuple[TestOutcome, ...]   # every test of the attempt's run, as data
    attempt_exception: ExceptionInfo | None  # the exception that ended the attempt's run
    attempt_has_detail: bool      # False for runs stored before detail was kept (text only)
    attempt_program: str
    refinement_program: str       # the teacher's ("" when it gave no code)
    current_program: str          # what would be stored: the edit if edited, else the above
    edit_execution: ExecutionRecord | None
    refinement_run: ExecutionRecord | None   # the teacher code's run (None: never run)
    similarity: float
    diff_size: int
    reference_program: str
    reference_diff_html: str | None = None   # attempt -> reference, when asked for
    reference_similarity: float | None = None
    reference_diff_size: int | None = None
    origin: str = "teacher refinement"  # or "gold refinement", "imported" (ImportSource.origin)
    imported_feedback: str = ""   # an imported attempt's error text, as its file gave it

    @property
    def refinement_label(self) -> str:
        """What the right-hand code is: "Teacher refinement", "Gold refinement", ..."""
        return "Imported refinement" if self.origin == "imported" else self.origin.capitalize()

    @property
    def diff_html(self) -> str:
        """attempt -> current_program as an HTML table (made when asked: the app draws
        its own, so that a draft can take the refinement's place)."""
        right = ("Edited refinement" if self.current_program != self.refinement_program
                 else self.refinement_label)
        return side_by_side_html(self.attempt_program, self.current_program, "Student attempt",
                                 right, context=DIFF_CONTEXT)


def review_view(
    store: SessionStore, refinement_id: int, *, with_reference: bool = False,
) -> ReviewView:
    """Everything the review screen shows for one refinement, read in one go.
    `with_reference` adds the attempt -> reference diff, which shows how personal the
    refinement is: a personal one is much closer to the attempt than the reference is."""
    item = store.queue.item(refinement_id)
    refinement, attempt, review = item.refinement, item.attempt, item.review
    run = result_of(attempt.execution) if attempt else None
    attempt_program = attempt.program if attempt else ""
    teacher_program = refinement.program or ""
    current = review.edited_program or teacher_program
    check = refinement.execution
    source = store.imports.source(refinement.id)
    view = ReviewView(
        refinement_id=refinement.id, task_id=refinement.task_id, round=refinement.round,
        method=refinement.method, teacher_model=refinement.teacher_model,
        validated=refinement.validated,
        validation_feedback="" if refinement.validated else (
            check.result.feedback if check else refinement.reason),
        status=review.status, version=review.version, reviewer=review.reviewer,
        updated_at=review.updated_at, reason=review.reason, description=item.task.prompt,
        attempt_status=run.status if run else "", attempt_error_type=run.error_type if run else "",
        attempt_feedback=run.feedback if run else "",
        failing_test=run.failing_test.source if run and run.failing_test else "",
        attempt_tests=run.test_outcomes if run else (), attempt_exception=run.exception if run else None,
        attempt_has_detail=bool(run and run.has_detail),
        attempt_program=attempt_program, refinement_program=teacher_program,
        current_program=current, edit_execution=item.edit_execution, refinement_run=check,
        similarity=code_similarity(attempt_program, current, item.task.prompt),
        diff_size=diff_size(attempt_program, current),
        reference_program=item.task.solution,
        origin=source.origin if source else "teacher refinement",
        imported_feedback=source.feedback if source else "",
    )
    return with_reference_diff(view) if with_reference else view


def with_reference_diff(view: ReviewView) -> ReviewView:
    """`view` with its attempt -> reference diff filled in."""
    if view.reference_diff_html is not None:
        return view
    a, ref = view.attempt_program, view.reference_program
    return replace(
        view,
        reference_diff_html=side_by_side_html(a, ref, "Student attempt", "Reference solution",
                                              context=DIFF_CONTEXT),
        reference_similarity=code_similarity(a, ref, view.description),
        reference_diff_size=diff_size(a, ref),
    )
