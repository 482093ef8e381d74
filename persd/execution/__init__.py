"""Sandboxed, parallel execution of untrusted programs against their tests.

    from persd.execution import Executor
    with Executor() as ex:
        r = ex.run(program, test)
        r.passed, r.status, r.feedback, r.duration_s

    from persd.execution import make_executor
    with make_executor("ray") as ex: ...          # or "http://HOST:PORT,...": see factory.py
"""

from persd.execution.executor import Executor, IsolationUnavailable
from persd.execution.factory import make_executor
from persd.execution.result import STATUSES, ExecutionResult

__all__ = ["Executor", "ExecutionResult", "IsolationUnavailable", "STATUSES", "make_executor"]
