"""`ExecutionResult`: what running one program against its tests produced."""

from __future__ import annotations

from dataclasses import asdict, dataclass

STATUSES = ("passed", "failed", "error", "timeout", "memory", "killed")


@dataclass(frozen=True)
class ExecutionResult:
    """The verdict on one program.

    status is one of STATUSES:
      passed   every test ran to completion and the harness saw it
      failed   an assertion of the tests failed
      error    an exception (syntax errors, exit() and a test that does not parse included)
      timeout  it ran out of CPU or wall time
      memory   it ran out of the memory cap
      killed   it ended without the harness seeing the tests finish (os._exit, a signal,
               the output cap, killing the harness)
    """

    status: str
    feedback: str               # the text a student or teacher reads; empty when passed
    duration_s: float
    tests_passed: int = 0       # distinct asserts that completed
    tests_total: int = 0        # asserts in the test source
    error_type: str = ""        # "AssertionError", "NameError", "Timeout", ... ("" when passed)
    failed_test: str = ""       # the first failing assert, names resolved to the function's
    actual: str = ""            # repr of what the function returned in that assert
    output: str = ""            # the tail of what the program printed
    isolation: str = ""         # "bwrap" or the fallback that ran it

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}
