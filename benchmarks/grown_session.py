"""The review benchmarks' session: the simulated demo grown to `--records` refinements."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from persd.demo import build_demo_session
from persd.store import SessionStore
from persd.store.records import result_of


def grown_session(parser: argparse.ArgumentParser, name: str = "bench") -> tuple[argparse.Namespace, Path, int]:
    """(the parsed arguments, its sessions folder, refinements in it): adds --records and
    --sessions-dir to the benchmark's `parser`, builds the demo session `name` in
    --sessions-dir (or a temp folder) and grows it to --records; says how long each took."""
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--sessions-dir", help="keep the session here (default: a temp dir)")
    args = parser.parse_args()
    folder = Path(args.sessions_dir or tempfile.mkdtemp(prefix="persd-bench-"))
    started = time.perf_counter()
    path = build_demo_session(folder, name=name)
    built = time.perf_counter() - started
    total = grow(path, args.records)
    grown = time.perf_counter() - started - built
    print(f"session: {total:,} refinements in {path} (demo {built:.1f} s, grown in {grown:.1f} s)")
    return args, folder, total


def grow(path: Path, records: int) -> int:
    """Copy the session's attempts and refinements as new sample indexes until it holds
    `records` refinements; returns the count."""
    with SessionStore(path) as store:
        seeds = [(store.attempts.get(r.attempt_id), r) for r in store.refinements.list()]
        have = len(seeds)
        sample = 1
        with store.transaction():
            while have < records:
                for attempt, refinement in seeds:
                    if have >= records:
                        break
                    copy = store.attempts.add(
                        attempt.task_id, attempt.round, sample_index=sample, model=attempt.model,
                        prompt=attempt.prompt, completion=attempt.completion,
                        program=attempt.program, sampling=attempt.sampling)
                    store.executions.add("attempt", copy.id, attempt.execution.result)
                    store.refinements.add(
                        "persd", attempt_id=copy.id, teacher_model=refinement.teacher_model,
                        program=refinement.program, completion=refinement.completion,
                        validated=refinement.validated, reason=refinement.reason,
                        diff_lines=refinement.diff_lines, execution=result_of(refinement.execution))
                    have += 1
                sample += 1
        return store.queue.count()
