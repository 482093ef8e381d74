"""Verdicts that cannot be gamed, measured: false passes on the hostile corpus (every
technique in tests/data/hostile/), false failures on the reference solutions of the 164
HumanEval tasks and of an MBPP file, under both protocols; throughput on the HumanEval
references against a previous revision's harness when --previous is given.

    .venv/bin/python benchmarks/verdicts.py --mbpp /path/to/mbpp.jsonl [--workers 2]
        [--timeout 10] [--previous REV]

MBPP is not shipped (Austin et al. 2021, Google Research, CC-BY-4.0); point --mbpp at
the release's mbpp.jsonl. The timeout is generous by default: a reference that is merely
slow (MBPP/123 needs about 3 s of CPU) is not a verdict error.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from persd.execution import Executor  # noqa: E402
from persd.tasks import load_tasks  # noqa: E402
from previous import previous_copy  # noqa: E402  (this folder)

HOSTILE = sorted((ROOT / "tests" / "data" / "hostile").glob("*.py"))
MARK = "# ---- test ----\n"
TASK_MARK = "# ---- task ----\n"

# Run under the package being measured (this one, or a previous revision's copy).
MEASURE = r"""
import inspect, json, sys, time
from pathlib import Path
from persd.execution import Executor
from persd.tasks import load_tasks
files, workers, timeout = json.loads(sys.argv[1])
with_task = "context" in inspect.signature(Executor.run).parameters  # a revision before it has none
def job(text):
    program, rest = text.split("# ---- test ----\n")
    test, _, task = rest.partition("# ---- task ----\n")
    return (program, test, task) if with_task else (program, test)
pairs = [job(Path(f).read_text()) for f in files]
tasks = load_tasks("humaneval")
with Executor(workers=workers, timeout_s=timeout) as ex:
    hostile = [name for name, r in zip(files, ex.run_many(pairs)) if r.passed]
    ex.run_many([(t.solution, t.test, t.prompt) for t in tasks[:20]])  # warm up
    rates = []
    for _ in range(3):
        started = time.perf_counter()
        passed = sum(r.passed for r in ex.run_many([(t.solution, t.test, t.prompt) for t in tasks]))
        rates.append(len(tasks) / (time.perf_counter() - started))
print(json.dumps({"hostile_passed": [Path(f).name for f in hostile], "rate": sorted(rates)[1],
                  "humaneval_passed": passed}))
"""


def hostile_job(path: Path) -> tuple[str, str, str]:
    """(program, test, the task's own code) of a file of the hostile corpus."""
    program, rest = path.read_text().split(MARK)
    test, _, task = rest.partition(TASK_MARK)
    return program, test, task


def measure(package_root: Path, workers: int, timeout: float) -> dict:
    args = json.dumps([[str(f) for f in HOSTILE], workers, timeout])
    done = subprocess.run([sys.executable, "-c", MEASURE, args], cwd=package_root, capture_output=True,
                          text=True, env={"PYTHONPATH": str(package_root), "PATH": "/usr/bin:/bin",
                                          "HF_HUB_OFFLINE": "1"}, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def false_failures(tasks, workers: int, timeout: float, protocol: str) -> list[tuple[str, str]]:
    with Executor(workers=workers, timeout_s=timeout, protocol=protocol) as ex:
        results = ex.run_many([(t.solution, t.test, t.prompt) for t in tasks])
    return [(t.task_id, r.feedback.splitlines()[0] if r.feedback else r.status)
            for t, r in zip(tasks, results) if not r.passed]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mbpp", required=True, help="MBPP JSONL (the release's mbpp.jsonl: 974 tasks)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--previous", help="A git revision whose harness to compare with (e.g. main)")
    args = parser.parse_args()

    pairs = [hostile_job(path) for path in HOSTILE]
    humaneval, mbpp = load_tasks("humaneval"), load_tasks(f"mbpp:{args.mbpp}")
    print(f"{'protocol':<9} {'hostile false passes':>22} {'HumanEval false failures':>26} "
          f"{'MBPP false failures':>21}")
    for protocol in ("strict", "paper"):
        started = time.perf_counter()
        with Executor(workers=args.workers, timeout_s=args.timeout, protocol=protocol) as ex:
            fooled = [p.name for p, r in zip(HOSTILE, ex.run_many(pairs)) if r.passed]
        he = false_failures(humaneval, args.workers, args.timeout, protocol)
        mb = false_failures(mbpp, args.workers, args.timeout, protocol)
        print(f"{protocol:<9} {f'{len(fooled)} of {len(pairs)}':>22} {f'{len(he)} of {len(humaneval)}':>26} "
              f"{f'{len(mb)} of {len(mbpp)}':>21}   ({time.perf_counter() - started:.0f} s)")
        for name in fooled:
            print(f"  FOOLED by {name}")
        for task_id, why in he + mb:
            print(f"  {task_id}: {why}")
    if args.previous:
        now = measure(ROOT, args.workers, 3.0)
        with tempfile.TemporaryDirectory() as tmp:
            before = measure(previous_copy(args.previous, Path(tmp)), args.workers, 3.0)
        print(f"\nHumanEval references, {args.workers} workers (median of 3):")
        print(f"  this harness      {now['rate']:6.1f} programs/s, hostile corpus passes: "
              f"{len(now['hostile_passed'])} of {len(HOSTILE)}")
        print(f"  {args.previous:<17} {before['rate']:6.1f} programs/s, hostile corpus passes: "
              f"{len(before['hostile_passed'])} of {len(HOSTILE)} {before['hostile_passed']}")
        print(f"  throughput ratio  {now['rate'] / before['rate']:.2f}")


if __name__ == "__main__":
    main()
