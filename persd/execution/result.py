"""`ExecutionResult`: what running one program against its tests produced."""

from __future__ import annotations

from dataclasses import asdict, dataclass

STATUSES = ("passed", "failed", "error", "timeout", "memory", "killed")


@dataclass(frozen=True)
class TestOutcome:
    """One test (an assert) of a run, as data: what review and analysis read."""

    source: str                 # the assert, with the program's own function names
    status: str                 # "passed", "failed" (the assert was false, or consumed a value
                                # that is not builtin data: then `error` says why), "error"
                                # (evaluating it raised), "timeout"/"memory"/"killed" (the run
                                # stopped inside it), "not_run" (the run never reached it)
    returned: str = ""          # repr of what the function under test returned
    expected: str = ""          # repr of the value it was compared with, when one was
    error: str = ""             # "IndexError: list index out of range" when it raised


@dataclass(frozen=True)
class Frame:
    file: str                   # "program.py" or "test.py": only the program's own frames
    line: int
    function: str
    source: str


@dataclass(frozen=True)
class ExceptionInfo:
    """The exception that ended a run (or the place a timeout stopped it)."""

    type: str
    message: str
    frames: tuple[Frame, ...] = ()   # the innermost frames (a deep recursion keeps its last)
    frames_omitted: int = 0          # outer frames left out (deep recursion)


@dataclass(frozen=True)
class ExecutionResult:
    """The verdict on one program.

    status is one of STATUSES:
      passed   the run completed and the judge saw every assert hold (judged on builtin
               copies of what the program returned: see verdicts.py)
      failed   an assert did not hold (the first one decides; the others still run)
      error    an exception (syntax errors, exit() and a test that does not parse included)
      timeout  it ran out of CPU or wall time
      memory   it ran out of the memory cap
      killed   it ended without the harness seeing the tests finish (os._exit, a signal,
               the output cap, killing the harness)
    """

    status: str
    feedback: str               # the text a student or teacher reads; empty when passed
    duration_s: float
    tests_passed: int = 0       # asserts seen holding (every time they ran)
    tests_total: int = 0        # asserts in the test source
    error_type: str = ""        # "AssertionError", "NameError", "Timeout", ... ("" when passed)
    failed_test: str = ""       # the first failing assert, names resolved to the function's
    actual: str = ""            # repr of what the function returned in that assert
    output: str = ""            # the tail of what the program printed
    isolation: str = ""         # "bwrap" or the fallback that ran it
    test_outcomes: tuple[TestOutcome, ...] = ()  # every assert's outcome, in source order
    exception: ExceptionInfo | None = None  # what ended the run, as data
    # False when only status, feedback and error_type are known for sure: a run imported
    # with the file's own error text (nothing ran here: duration and counts are 0, stored
    # as NULL), or one stored by a persd that kept no structured detail (no outcomes).
    has_detail: bool = True

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    @property
    def failing_test(self) -> TestOutcome | None:
        """The first test that did not pass, or None."""
        return next((t for t in self.test_outcomes if t.status != "passed"), None)

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def not_run(status: str, feedback: str, error_type: str) -> ExecutionResult:
    """A verdict known only from its text (e.g. the error an imported file gives for an
    attempt): nothing ran here, so it has no duration, test counts or detail."""
    return ExecutionResult(status=status, feedback=feedback, duration_s=0.0,
                           error_type=error_type, has_detail=False)


def detail_from_dict(data: dict | None) -> tuple[tuple[TestOutcome, ...], ExceptionInfo | None]:
    """(test_outcomes, exception) as stored with an execution; empty for None (rows
    written before structured detail was kept)."""
    if not data:
        return (), None
    tests = tuple(TestOutcome(**test) for test in data.get("tests") or ())
    raw = data.get("exception")
    exception = None if not raw else ExceptionInfo(
        raw["type"], raw["message"], tuple(Frame(**frame) for frame in raw.get("frames") or ()),
        raw.get("frames_omitted", 0))
    return tests, exception
