"""What the judge's calls to the program cost: milliseconds per program as a test makes more
calls, batched (asserts in straight-line code, sent in one message) and one by one (calls
in a loop), against a named baseline measured in the same run: the same programs under
a previous revision's harness (`--previous REV`, default HEAD~1 of this checkout's history
where the judge did not own the test yet), or none.

    .venv/bin/python benchmarks/judge_round_trips.py [--previous REV] [--runs 200]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from previous import previous_copy  # this folder

ROOT = Path(__file__).resolve().parents[1]

MEASURE = r"""
import json, sys, time
from persd.execution import Executor
runs = int(sys.argv[1])
program = "def add(a, b):\n    return a + b\n"
cases = {
    "0 calls": "assert True\n",
    "1 call": "assert add(1, 1) == 2\n",
    "10 calls, straight-line": "".join(f"assert add({i}, 1) == {i + 1}\n" for i in range(10)),
    "100 calls, straight-line": "".join(f"assert add({i}, 1) == {i + 1}\n" for i in range(100)),
    "10 calls, in a loop": "for i in range(10):\n    assert add(i, 1) == i + 1\n",
    "100 calls, in a loop": "for i in range(100):\n    assert add(i, 1) == i + 1\n",
}
out = {}
with Executor(workers=1, timeout_s=5.0) as ex:
    for name, test in cases.items():
        for _ in range(20):
            assert ex.run(program, test).passed
        started = time.perf_counter()
        for _ in range(runs):
            ex.run(program, test)
        out[name] = (time.perf_counter() - started) / runs * 1000
print(json.dumps(out))
"""


def measure(package_root: Path, runs: int) -> dict:
    done = subprocess.run([sys.executable, "-c", MEASURE, str(runs)], cwd=package_root, capture_output=True,
                          text=True, env={"PYTHONPATH": str(package_root), "PATH": "/usr/bin:/bin"}, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--previous", help="a git revision whose harness is the baseline (e.g. f364b24)")
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    now = measure(ROOT, args.runs)
    before = None
    if args.previous:
        with tempfile.TemporaryDirectory() as tmp:
            before = measure(previous_copy(args.previous, Path(tmp)), args.runs)
    print(f"{'test':<28} {'this harness ms/program':>24}" + (f" {args.previous + ' ms/program':>24} {'ratio':>7}" if before else ""))
    for name, ms in now.items():
        line = f"{name:<28} {ms:>24.2f}"
        if before:
            line += f" {before[name]:>24.2f} {before[name] / ms:>7.2f}"
        print(line)


if __name__ == "__main__":
    main()
