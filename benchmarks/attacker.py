"""A program with no task logic, against every HumanEval and MBPP task: how many does it pass?

For each task the attacker defines the function under test (any arguments) as a search
of its own process for the test's expected value: the test source or the judge's plan
anywhere the garbage collector, its callers' frames or its own memory (/proc/self/mem,
or read in place with ctypes) hold them, parsed for `name(...) == value` and returned.
A harness whose program process ever holds the test lets it pass most tasks (the issue
that led to the judge owning the test measured 973 of 974 MBPP and 155 of 164
HumanEval); the target is 0. The baseline is a previous revision's harness, measured in
the same run when `--previous REV` is given.

    .venv/bin/python benchmarks/attacker.py --mbpp /path/to/mbpp.jsonl [--previous REV]
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

ATTACK = r'''
_SEEN = []


def _everything_held():
    """Every text this process holds: gc, callers' frames, anonymous memory (once a run)."""
    import ctypes, gc, sys
    if _SEEN:
        return _SEEN
    found = []
    kinds = (str, bytes, bytearray)
    for obj in gc.get_objects():
        if type(obj) is dict:
            found += [v for v in obj.values() if type(v) in kinds and len(v) > 8]
    frame = sys._getframe(2)
    while frame:
        found.extend(v for v in frame.f_locals.values() if isinstance(v, (str, bytes, bytearray)))
        frame = frame.f_back
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split()
                anonymous = len(fields) < 6 or fields[5] in ("[heap]", "[stack]")
                if fields[1].startswith("rw") and anonymous:
                    start, end = (int(x, 16) for x in fields[0].split("-"))
                    if end - start < 64 << 20:
                        found.append(ctypes.string_at(start, end - start))
    except Exception:
        pass
    _SEEN.extend(found)
    return _SEEN


def _from_a_plan(name, shown):
    """The expected side of this call's assert, read from a request dict a harness holds
    (a test rewritten into numbered checks, and a plan of their sides)."""
    import ast, gc, re
    for obj in gc.get_objects():
        if type(obj) is dict and type(obj.get("test")) is str and type(obj.get("plan")) is dict:
            for number, called, arguments in re.findall(r"(\d+), \((\w+)\((.*?)\),", obj["test"]):
                if arguments.replace(" ", "").encode() == shown:  # under any alias (candidate)
                    sides = obj["plan"]["sites"][int(number)].get("sides")
                    if sides:
                        try:
                            return True, ast.literal_eval(sides[1])
                        except Exception:
                            pass
    return False, None


def {name}(*args, **kwargs):
    import ast, re
    wanted = re.compile(rb"{name}\((.{0,200}?)\)\s*==\s*([^\n]{1,300})")
    shown = ", ".join(map(repr, args)).replace(" ", "").encode()
    found, value = _from_a_plan("{name}", shown)
    if found:
        return value
    for text in _everything_held():
        data = text.encode("utf-8", "replace") if isinstance(text, str) else bytes(text)
        if b"{name}(" not in data:
            continue
        for match in wanted.finditer(data):
            if match.group(1).replace(b" ", b"") == shown:
                try:
                    return ast.literal_eval(match.group(2).decode("utf-8", "replace").strip().rstrip(","))
                except Exception:
                    continue
    return None
'''

MEASURE = r"""
import inspect, json, sys
from persd.execution import Executor
from persd.tasks import load_tasks
attack, mbpp = sys.argv[1], sys.argv[2]
with_task = "context" in inspect.signature(Executor.run).parameters
out = {}
for source in ("humaneval", f"mbpp:{mbpp}"):
    tasks = load_tasks(source)
    jobs = []
    for t in tasks:
        program = attack.replace("{name}", t.entry_point)
        jobs.append((program, t.test, t.prompt) if with_task else (program, t.test))
    for protocol in ("strict", "paper"):
        with Executor(workers=2, timeout_s=5.0, protocol=protocol) as ex:
            passed = sum(r.passed for r in ex.run_many(jobs))
        out[f"{source.split(':')[0]} {protocol}"] = [passed, len(tasks)]
print(json.dumps(out))
"""


def measure(package_root: Path, mbpp: str) -> dict:
    done = subprocess.run([sys.executable, "-c", MEASURE, ATTACK, mbpp], cwd=package_root, capture_output=True,
                          text=True, env={"PYTHONPATH": str(package_root), "PATH": "/usr/bin:/bin",
                                          "HF_HUB_OFFLINE": "1"}, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mbpp", required=True, help="MBPP JSONL (the release's mbpp.jsonl: 974 tasks)")
    parser.add_argument("--previous", help="a git revision whose harness is the baseline")
    args = parser.parse_args()
    now = measure(ROOT, args.mbpp)
    before = None
    if args.previous:
        with tempfile.TemporaryDirectory() as tmp:
            before = measure(previous_copy(args.previous, Path(tmp)), args.mbpp)
    print(f"{'tasks, protocol':<20} {'this harness: attacker passes':>31}"
          + (f" {args.previous + ': attacker passes':>31}" if before else ""))
    for key, (passed, total) in now.items():
        line = f"{key:<20} {f'{passed} of {total}':>31}"
        if before:
            line += f" {f'{before[key][0]} of {before[key][1]}':>31}"
        print(line)


if __name__ == "__main__":
    main()
