"""SpreadExecutor's bookkeeping when endpoints die: every verdict once, a killer contained.

The endpoints run programs on a real local Executor; the one fault they script is the
one no real program can cause through the jail: taking its whole node down.
"""

from __future__ import annotations

import threading

import pytest

from persd.execution import Executor
from persd.execution.remote import EndpointLost, NoEndpoints, SpreadExecutor

KILLER = "# takes the node down\n"


class Node:
    """An endpoint on a real Executor that dies when a batch holds the killer."""

    def __init__(self, name: str, executor: Executor) -> None:
        self.name, self.capacity, self._executor = name, 1, executor
        self.dead = False

    def run_batch(self, jobs):
        if self.dead or any(KILLER in program for program, _, _ in jobs):
            self.dead = True
            raise EndpointLost(f"{self.name} died")
        return self._executor.run_many(jobs)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def executor():
    with Executor(workers=2) as local:
        yield local


def programs(n: int) -> list[tuple[str, str, str]]:
    return [(f"def f():\n    return {i}\n", f"assert f() == {i}", "") for i in range(n)]


def test_a_killer_is_killed_alone_and_every_other_verdict_arrives_once(executor):
    nodes = [Node(f"node{i}", executor) for i in range(5)]
    jobs = programs(40)
    jobs[17] = (KILLER + jobs[17][0], jobs[17][1], "")
    with SpreadExecutor(nodes, limits=executor.limits, protocol="strict", isolation="bwrap") as spread:
        results = spread.run_many(jobs)
        assert [r.status for r in results] == ["passed"] * 17 + ["killed"] + ["passed"] * 22
        assert "lost 3 times" in results[17].feedback
        assert len(spread.lost) == 3  # the killer's three attempts, no more
        assert sum(spread.served.values()) == 39
        assert spread.run(*programs(1)[0]).passed  # the survivors still serve


def test_no_endpoint_left_is_an_error(executor):
    with SpreadExecutor([Node("only", executor)], limits=executor.limits, protocol="strict",
                        isolation="bwrap", max_attempts=1) as spread:
        assert spread.run(KILLER + "x = 1", "").status == "killed"
        with pytest.raises(NoEndpoints, match="only"):
            spread.run("x = 1", "")


class Recording(Node):
    """A Node that records its batches' sizes and how many it held at once."""

    def __init__(self, name: str, executor: Executor) -> None:
        super().__init__(name, executor)
        self.sizes: list[int] = []
        self.now = self.most = 0
        self._lock = threading.Lock()

    def run_batch(self, jobs):
        with self._lock:
            self.sizes.append(len(jobs))
            self.now += 1
            self.most = max(self.most, self.now)
        try:
            return super().run_batch(jobs)
        finally:
            with self._lock:
                self.now -= 1


def test_a_sandbox_has_its_next_batch_waiting_and_batches_shrink_to_one(executor):
    nodes = [Recording(f"node{i}", executor) for i in range(2)]
    jobs = programs(64)
    with SpreadExecutor(nodes, limits=executor.limits, protocol="strict", isolation="bwrap") as spread:
        results = spread.run_many(jobs)
    assert [r.status for r in results] == ["passed"] * 64
    assert all(node.most >= 2 for node in nodes), [node.most for node in nodes]  # one runs, one waits
    sizes = [size for node in nodes for size in node.sizes]
    # what is left over the four batches in flight (two per sandbox), rounded up
    assert sum(sizes) == 64 and max(sizes) == 16 and min(sizes) == 1
    assert len(sizes) <= 20, sorted(sizes)  # few calls: each costs about a short program
