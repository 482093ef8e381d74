"""Server-side latency of the review screen on a 10,000-record simulated session.

    .venv/bin/python benchmarks/review_latency.py [--records 10000] [--actions 300]

Builds the demo session (simulated HumanEval records judged by the real sandbox), repeats
its records as further samples until the session holds `--records` refinements, then
times the review tab's own handlers (the functions the Gradio events call) from an
approve click to the next record fully rendered: the store write, the next-record query,
the record, its diff HTML, the counts. Prints p50/p95 against the 150 ms target. Browser
and network time are not included.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from persd.demo import build_demo_session  # noqa: E402
from persd.store import SessionStore  # noqa: E402

TARGET_P95_MS = 150.0


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
                    store.executions.add("attempt", copy.id, attempt.execution)
                    store.refinements.add(
                        "persd", attempt_id=copy.id, teacher_model=refinement.teacher_model,
                        program=refinement.program, completion=refinement.completion,
                        validated=refinement.validated, reason=refinement.reason,
                        diff_lines=refinement.diff_lines, execution=refinement.execution)
                    have += 1
                sample += 1
        return store.queue.count()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--actions", type=int, default=300, help="approvals to time")
    parser.add_argument("--sessions-dir", help="keep the session here (default: a temp dir)")
    args = parser.parse_args()

    from persd_app.tabs import SharedExecutor, Stores
    from persd_app.tabs.review_handlers import Inputs, ReviewHandlers, new_state

    folder = Path(args.sessions_dir or tempfile.mkdtemp(prefix="persd-bench-"))
    started = time.perf_counter()
    path = build_demo_session(folder, name="bench")
    built = time.perf_counter() - started
    total = grow(path, args.records)
    grown = time.perf_counter() - started - built
    print(f"session: {total:,} refinements in {path} (demo {built:.1f} s, grown in {grown:.1f} s)")

    stores = Stores(folder)
    handlers = ReviewHandlers(stores, SharedExecutor(workers=1))
    shown = handlers.open(Inputs(session="bench", reviewer="bench", state=new_state()))
    timings = []
    for _ in range(args.actions):
        # override: the session holds some unvalidated refinements, approved like the rest
        i = Inputs(session="bench", reviewer="bench", state=shown["state"], code=shown["editor"],
                   override=True)
        t0 = time.perf_counter()
        after = handlers.approve(i)
        timings.append((time.perf_counter() - t0) * 1000)
        assert after["state"]["id"] != shown["state"]["id"], after["message"]
        shown = after
    nav = []
    for _ in range(100):
        t0 = time.perf_counter()
        shown = handlers.next(Inputs(session="bench", reviewer="bench", state=shown["state"]))
        nav.append((time.perf_counter() - t0) * 1000)
    stores.close()

    p50, p95 = statistics.median(timings), percentile(timings, 0.95)
    print(f"approve -> next record rendered, {len(timings)} actions on {total:,} records:")
    print(f"  p50 {p50:6.1f} ms   p95 {p95:6.1f} ms   max {max(timings):6.1f} ms   "
          f"target p95 <= {TARGET_P95_MS:.0f} ms: {'MET' if p95 <= TARGET_P95_MS else 'MISSED'}")
    print(f"next (navigation only): p50 {statistics.median(nav):.1f} ms, "
          f"p95 {percentile(nav, 0.95):.1f} ms")


if __name__ == "__main__":
    main()
