"""Collection wall time against the ideal, with a teacher of fixed latency.

The teacher is the project's local OpenAI-compatible test server, in its own process,
answering every call after `--latency` seconds; the student is a stand-in whose every attempt is `pass` (so
all attempts fail at once and the teacher path is what is measured). Each attempt and
each refinement still runs in the real sandbox and lands in a real session store.
Ideal wall time = teacher calls x latency / concurrency.

    .venv/bin/python benchmarks/collect_throughput.py [--tasks 300] [--latency 0.5]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time

from persd.collect import CollectConfig, collect
from persd.execution import Executor
from persd.tasks import load_tasks
from teacher_server import serve_teacher  # benchmarks/teacher_server.py



class PassStudent:
    """Answers `pass` to every prompt: a student that always fails, instantly."""

    def complete(self, prompts, n=None, **sampling):
        return [["    pass\n"] * (n or 1) for _ in prompts]


def task_pool(count: int):
    humaneval = load_tasks("humaneval")
    return [dataclasses.replace(humaneval[i % len(humaneval)], task_id=f"bench/{i}") for i in range(count)]


def run(tasks, concurrency: int, base_url: str, executor: Executor) -> float:
    os.environ.update(OPENAI_BASE_URL=base_url, OPENAI_API_KEY="bench")
    with tempfile.TemporaryDirectory() as sessions:
        config = CollectConfig(session="bench", teacher_model="bench-teacher", student="pass-student",
                               concurrency=concurrency, sessions_dir=sessions, batch_size=64)
        started = time.perf_counter()
        summary = collect(config, student=PassStudent(), executor=executor, tasks=tasks, progress=False)
        wall = time.perf_counter() - started
        assert summary.validated == len(tasks), summary.table()
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=300, help="tasks at concurrency 32")
    parser.add_argument("--serial-tasks", type=int, default=24, help="tasks at concurrency 1")
    parser.add_argument("--latency", type=float, default=0.5)
    args = parser.parse_args()
    print(f"teacher latency {args.latency} s per call; student: always `pass` (all attempts fail)")
    import openai  # noqa: F401  (a one-time import, not part of any collection's wall time)

    server, base_url = serve_teacher(args.latency, "--model", "bench-teacher")  # listed, as a real
    # endpoint lists its models, so the start-up check is one GET
    try:
        with Executor(timeout_s=3.0) as executor:
            for concurrency, count in ((1, args.serial_tasks), (32, args.tasks)):
                report(concurrency, count, args.latency, run(task_pool(count), concurrency, base_url, executor))
    finally:
        server.terminate()


def report(concurrency: int, count: int, latency: float, wall: float) -> None:
    ideal = count * latency / concurrency
    waves = -(-count // concurrency) * latency  # whole rounds of calls: the real floor
    print(f"concurrency {concurrency:>2}: {count:>4} tasks  wall {wall:6.2f} s  "
          f"ideal {ideal:6.2f} s  ratio {wall / ideal:.2f}x (target <= 1.25x at 32; "
          f"whole rounds of calls alone take {waves:.2f} s = {waves / ideal:.2f}x)")


if __name__ == "__main__":
    main()
