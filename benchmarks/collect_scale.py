"""Collection at scale: live teacher calls at high concurrency against one Batch API job.

The teacher is the project's local OpenAI-compatible test server, in its own process:
a live call is answered after `--latency` seconds; a batch is answered `--batch-delay`
seconds after it is created (a real batch takes minutes to 24 hours: the delay here only
stands for "some fixed time"). The student is a stand-in whose every attempt is `pass`
(every attempt fails at once, so the teacher path is what is measured); attempts and
refinements still run in the real sandbox and land in a real session store. The tasks are
HumanEval's, repeated under distinct ids. Cost uses the built-in price of `--model`
(live) and half of it (batch), with the test server's token counts (words).

    .venv/bin/python benchmarks/collect_scale.py [--tasks 1000] [--latency 0.5] [--concurrency 64]
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
    """HumanEval repeated; a comment line makes each copy's requests distinct (else the
    batch would send identical requests once and the live cache would answer repeats)."""
    humaneval = load_tasks("humaneval")
    pool = []
    for i in range(count):
        task, tag = humaneval[i % len(humaneval)], f"# copy {i}\n"
        pool.append(dataclasses.replace(task, task_id=f"scale/{i}", prompt=tag + task.prompt,
                                        solution=tag + task.solution))
    return pool


def run(tasks, model: str, concurrency: int, batch: bool, executor: Executor):
    from persd.teacher import OpenAITeacher, TeacherConfig
    from persd.teacher.batch import BatchTeacher

    settings = TeacherConfig(model=model, concurrency=concurrency)
    teacher = BatchTeacher(settings, progress=False) if batch else OpenAITeacher(settings)
    with tempfile.TemporaryDirectory() as sessions:
        config = CollectConfig(session="scale", teacher_model=model, student="pass-student",
                               concurrency=concurrency, sessions_dir=sessions, batch_size=64,
                               teacher_batch=batch)
        started = time.perf_counter()
        summary = collect(config, student=PassStudent(), teacher=teacher, executor=executor,
                          tasks=tasks, progress=False)
        wall = time.perf_counter() - started
    assert summary.validated == len(tasks), summary.table()
    return wall, summary.cost_usd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.5, help="seconds per live call")
    parser.add_argument("--concurrency", type=int, default=64, help="live calls in flight")
    parser.add_argument("--batch-delay", type=float, default=5.0, help="seconds until a batch is answered")
    parser.add_argument("--poll", type=float, default=0.5, help="seconds between batch status polls")
    parser.add_argument("--model", default="gpt-4o-mini", help="whose built-in price to apply")
    args = parser.parse_args()
    os.environ["PERSD_BATCH_POLL_S"] = str(args.poll)
    print(f"{args.tasks} tasks (HumanEval repeated); student: a stand-in that always answers `pass` "
          f"(all attempts fail, so the teacher path is measured); teacher: local test server, "
          f"{args.latency} s per live call, batches answered after {args.batch_delay} s")
    server, base_url = serve_teacher(args.latency, "--batch-delay", str(args.batch_delay))
    os.environ.update(OPENAI_BASE_URL=base_url, OPENAI_API_KEY="bench")
    tasks = task_pool(args.tasks)
    try:
        with Executor(timeout_s=3.0) as executor:
            live = run(tasks, args.model, args.concurrency, False, executor)
            batch = run(tasks, args.model, args.concurrency, True, executor)
    finally:
        server.terminate()
        server.wait()
    ideal = args.tasks * args.latency / args.concurrency
    print(f"{'mode':<28}{'wall (s)':>10}{'cost (USD)':>14}")
    print(f"{f'live, concurrency {args.concurrency}':<28}{live[0]:>10.1f}{live[1]:>14.4f}"
          f"   (teacher-only ideal {ideal:.1f} s)")
    print(f"{'batch (one job, 50% price)':<28}{batch[0]:>10.1f}{batch[1]:>14.4f}"
          f"   (includes the {args.batch_delay:g} s batch delay)")
    print(f"batch/live: wall {batch[0] / live[0]:.2f}x, cost {batch[1] / live[1]:.2f}x")


if __name__ == "__main__":
    main()
