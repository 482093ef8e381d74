"""Sandboxed, parallel execution of untrusted programs against their tests.

    from persd.execution import Executor
    with Executor() as ex:
        r = ex.run(program, test)
        r.passed, r.status, r.feedback, r.duration_s
"""

from persd.execution.executor import Executor, IsolationUnavailable
from persd.execution.result import STATUSES, ExecutionResult

__all__ = ["Executor", "ExecutionResult", "IsolationUnavailable", "STATUSES"]
