"""`SpreadExecutor`: the Executor interface over sandboxes that live elsewhere.

    with SpreadExecutor([endpoint_a, endpoint_b]) as ex:   # see ray_backend.py, http_backend.py
        results = ex.run_many([(program, test, context), ...])  # same order as given

An endpoint is one remote pool of persd sandboxes (a Ray actor on a node, an HTTP
service) with a `capacity` (its sandboxes) and a blocking `run(program, test, context)`
that returns an ExecutionResult or raises `EndpointLost` when the pool itself is gone
(its node died, its service stopped answering). A program goes to the live endpoint
with the fewest programs in flight; when its endpoint is lost, the endpoint is dropped
and the program runs again on another. Each program is owned by exactly one caller
thread from submission to verdict, so a verdict is never lost or counted twice: a
verdict the lost endpoint may still have computed is never read. A program whose
endpoints die under it `max_attempts` times (it may be what kills them) is `killed`.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from persd.execution.result import ExecutionResult

logger = logging.getLogger(__name__)


class EndpointLost(RuntimeError):
    """The remote pool is gone (not the program's verdict)."""


class NoEndpoints(RuntimeError):
    """Every endpoint of a SpreadExecutor is lost."""


class Endpoint(Protocol):
    name: str        # where it runs, for messages: "node 127.0.0.2", "http://127.0.0.1:8080"
    capacity: int    # programs it runs at once

    def run(self, program: str, test: str, context: str) -> ExecutionResult: ...

    def close(self) -> None: ...


class SpreadExecutor:
    """Spreads programs over endpoints; the Executor's interface (run, run_many, close)."""

    def __init__(self, endpoints: list, *, limits: dict, protocol: str, isolation: str,
                 max_attempts: int = 3) -> None:
        if not endpoints:
            raise NoEndpoints("no sandbox endpoint to run programs on")
        self.endpoints = list(endpoints)
        self.limits = limits
        self.protocol = protocol
        self.isolation = isolation
        self.max_attempts = max_attempts
        self.lost: list[str] = []            # names of the endpoints dropped, in order
        self.served: Counter[str] = Counter()  # verdicts read from each endpoint, by name
        self._in_flight = {id(endpoint): 0 for endpoint in self.endpoints}
        self._lock = threading.Lock()
        self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="persd-spread")
        self._closed = False

    @property
    def workers(self) -> int:
        return sum(endpoint.capacity for endpoint in self.endpoints)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, code: str, test: str, context: str = "") -> ExecutionResult:
        if self._closed:
            raise RuntimeError("this executor is closed")
        for _ in range(self.max_attempts):
            endpoint = self._take()
            try:
                result = endpoint.run(code, test, context)
                with self._lock:
                    self.served[endpoint.name] += 1
                return result
            except EndpointLost as error:
                self._drop(endpoint, error)
            finally:
                self._give_back(endpoint)
        return ExecutionResult(status="killed", duration_s=0.0, error_type="SandboxLost",
                               feedback=f"The sandboxes running this program were lost {self.max_attempts} "
                                        "times (it may be what killed them).")

    def run_many(self, jobs) -> list[ExecutionResult]:
        """Runs (code, test) or (code, test, context) tuples spread over the endpoints;
        results in the order given."""
        return list(self._threads.map(lambda job: self.run(*job), jobs))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._threads.shutdown(wait=True)
        for endpoint in self.endpoints:
            endpoint.close()

    def _take(self):
        with self._lock:
            if not self.endpoints:
                raise NoEndpoints(f"every sandbox endpoint is lost: {', '.join(self.lost)}")
            endpoint = min(self.endpoints, key=lambda e: self._in_flight[id(e)] / e.capacity)
            self._in_flight[id(endpoint)] += 1
            return endpoint

    def _give_back(self, endpoint) -> None:
        with self._lock:
            self._in_flight[id(endpoint)] -= 1

    def _drop(self, endpoint, error: Exception) -> None:
        with self._lock:
            if endpoint not in self.endpoints:
                return
            self.endpoints.remove(endpoint)
            self.lost.append(endpoint.name)
        logger.warning("persd: sandbox endpoint %s lost (%s); its programs run again elsewhere",
                       endpoint.name, error)
        try:
            endpoint.close()
        except Exception:  # it is gone already; closing is a courtesy
            pass
