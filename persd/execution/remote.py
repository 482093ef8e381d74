"""`SpreadExecutor`: the Executor interface over sandboxes that live elsewhere.

    with SpreadExecutor([endpoint_a, endpoint_b]) as ex:   # see ray_backend.py, http_backend.py
        results = ex.run_many([(program, test, context), ...])  # same order as given

An endpoint is one remote pool of persd sandboxes (a Ray actor on a node, an HTTP
service) with a `capacity` (its sandboxes) and a blocking `run_batch(jobs)` that returns
one ExecutionResult per (program, test, context), in order, or raises `EndpointLost`
when the pool itself is gone (its node died, its service stopped answering). Programs
travel in batches of consecutive jobs (`batch_size` at most, smaller toward the end
so that the endpoints finish together), each batch to the live endpoint with the fewest
programs in flight, two batches per sandbox at a time: the second waits at the endpoint
while the first runs, so a sandbox never idles while a batch's verdicts travel back and
the next batch travels out (on loopback that wait is short and no gain was measurable;
across machines it is a network round trip per batch). When its endpoint is lost, the
endpoint is dropped and the batch's programs run again on others, one per call. Each
batch is owned by exactly one caller thread from submission to verdicts, so a verdict
is never lost or counted twice: verdicts the lost endpoint may still have computed are
never read. A program whose endpoints die under it `max_attempts` times in all (it may
be what kills them) is `killed`.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

from persd.execution.result import ExecutionResult

logger = logging.getLogger(__name__)

BATCH_CHARS = 512 * 1024  # a batch's text at most (one large program still travels alone)


class EndpointLost(RuntimeError):
    """The remote pool is gone (not the program's verdict)."""


class NoEndpoints(RuntimeError):
    """Every endpoint of a SpreadExecutor is lost."""


class Endpoint(Protocol):
    name: str        # where it runs, for messages: "node 127.0.0.2", "http://127.0.0.1:8080"
    capacity: int    # programs it runs at once

    def run_batch(self, jobs: list[tuple[str, str, str]]) -> list[ExecutionResult]: ...

    def close(self) -> None: ...


class SpreadExecutor:
    """Spreads programs over endpoints; the Executor's interface (run, run_many, close)."""

    def __init__(self, endpoints: list, *, limits: dict, protocol: str, isolation: str,
                 max_attempts: int = 3, batch_size: int = 32) -> None:
        if not endpoints:
            raise NoEndpoints("no sandbox endpoint to run programs on")
        self.endpoints = list(endpoints)
        self.limits = limits
        self.protocol = protocol
        self.isolation = isolation
        self.max_attempts = max_attempts
        self.batch_size = batch_size
        self.lost: list[str] = []            # names of the endpoints dropped, in order
        self.served: Counter[str] = Counter()  # verdicts read from each endpoint, by name
        self._in_flight = {id(endpoint): 0 for endpoint in self.endpoints}
        self._lock = threading.Lock()
        # two batches in flight per sandbox (see the module docstring)
        self._threads = ThreadPoolExecutor(2 * self.workers, thread_name_prefix="persd-spread")
        self._closed = False

    @property
    def workers(self) -> int:
        return sum(endpoint.capacity for endpoint in self.endpoints)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run(self, code: str, test: str, context: str = "") -> ExecutionResult:
        return self._run_batch([(code, test, context)])[0]

    def run_many(self, jobs) -> list[ExecutionResult]:
        """Runs (code, test) or (code, test, context) tuples spread over the endpoints;
        results in the order given."""
        jobs = [(job[0], job[1], job[2] if len(job) > 2 else "") for job in jobs]
        return [result for batch in self._threads.map(self._run_batch, self._batches(jobs)) for result in batch]

    def _batches(self, jobs: list[tuple]) -> list[list[tuple]]:
        """Consecutive programs, several per call: a round trip (an actor call, an HTTP
        request) costs about as much as a short program. Each batch holds at most what is
        left divided by the batches in flight at once (two per sandbox), rounded up:
        guided self-scheduling, so batches shrink to one program only for the last few and
        no sandbox is left with a long queue while the others are done. (A quarter of what
        was left per sandbox, rounded down, made 40 calls of 164 programs, 15 of them
        single; the calls' cost was most of Ray's overhead: benchmarks/executor_cluster.py.)"""
        in_flight = 2 * max(1, self.workers)
        batches: list[list[tuple]] = []
        size = weight = 0
        for index, job in enumerate(jobs):
            chars = sum(len(part) if isinstance(part, (str, bytes)) else 0 for part in job)
            if not batches or len(batches[-1]) >= size or weight + chars > BATCH_CHARS:
                size = max(1, min(self.batch_size, -(-(len(jobs) - index) // in_flight)))
                batches.append([])
                weight = 0
            batches[-1].append(job)
            weight += chars
        return batches

    def _run_batch(self, jobs: list[tuple], attempts: int | None = None) -> list[ExecutionResult]:
        if self._closed:
            raise RuntimeError("this executor is closed")
        attempts = self.max_attempts if attempts is None else attempts
        for attempt in range(attempts):
            endpoint = self._take(len(jobs))
            try:
                results = endpoint.run_batch(jobs)
                with self._lock:
                    self.served[endpoint.name] += len(results)
                return results
            except EndpointLost as error:
                self._drop(endpoint, error)
            finally:
                self._give_back(endpoint, len(jobs))
            if len(jobs) > 1:  # one program per call from now on: a killer takes only itself down
                return [result for job in jobs for result in self._run_batch([job], attempts - attempt - 1)]
        return [ExecutionResult(status="killed", duration_s=0.0, error_type="SandboxLost",
                                feedback=f"The sandboxes running this program were lost {self.max_attempts} "
                                         "times (it may be what killed them).")] * len(jobs)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._threads.shutdown(wait=True)
        for endpoint in self.endpoints:
            endpoint.close()

    def _take(self, programs: int):
        with self._lock:
            if not self.endpoints:
                raise NoEndpoints(f"every sandbox endpoint is lost: {', '.join(self.lost)}")
            endpoint = min(self.endpoints, key=lambda e: self._in_flight[id(e)] / e.capacity)
            self._in_flight[id(endpoint)] += programs
            return endpoint

    def _give_back(self, endpoint, programs: int) -> None:
        with self._lock:
            self._in_flight[id(endpoint)] -= programs

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
