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
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# grow: also imported from here by tests/test_review_load.py
from grown_session import grow, grown_session  # noqa: E402,F401
from persd_app.tabs import SharedExecutor, Stores  # noqa: E402
from persd_app.tabs.review_handlers import Inputs, ReviewHandlers, new_state  # noqa: E402

TARGET_P95_MS = 150.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=300, help="approvals to time")
    args, folder, total = grown_session(parser)
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
