"""Server-side latency of the Queue tab on a 10,000-record simulated session.

    .venv/bin/python benchmarks/review_queue.py [--records 10000] [--repeats 20]

Builds the demo session and grows it to `--records` refinements (as
benchmarks/review_latency.py does), then times the Queue tab's own handlers (the functions
its Gradio events call), each from the event to the table it returns: open (the first open
ever of a session with more than SYNC_LIMIT records not computed yet returns the table with
those ready and leaves the rest to a background pass that keeps them in the session: printed
apart, with the time the pass takes; then opens as a new app process and as the same one), sort (each order in
turn), filter (status, risk flag, text), select 100 (the ✓ column edited with 100 ticks)
and a bulk act on those 100 (the question, then the confirmed action and the redraw).
Prints p50/p95 of each against the 1 s target. Browser and network time are not included.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from grown_session import grown_session  # noqa: E402
from review_latency import percentile  # noqa: E402

from persd.analysis.queue import ORDERS  # noqa: E402
from persd_app.tabs import Stores  # noqa: E402
from persd_app.tabs.queue_handlers import QueueHandlers, View  # noqa: E402

TARGET_P95_MS = 1000.0


def timed(fn: Callable[[], object], repeats: int) -> list[float]:
    timings = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        timings.append((time.perf_counter() - t0) * 1000)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed calls per operation")
    args, folder, total = grown_session(parser)
    stores = Stores(folder)

    def view(**given) -> View:
        return View(session="bench", reviewer="bench", **given)

    results = {}
    t0 = time.perf_counter()
    opening = QueueHandlers(stores)
    shown = opening.show(view())
    first = (time.perf_counter() - t0) * 1000
    table = opening._table("bench")
    print(f"first open: {first:.0f} ms, {len(shown['table'])} records drawn, "
          f"{table.pending:,} left to the background pass")
    table.wait()
    print(f"background pass: every record computed and kept {time.perf_counter() - t0:.1f} s "
          f"after the first open{f' (stopped: {table.error})' if table.error else ''}")
    results["open (new process, stored)"] = timed(
        lambda: QueueHandlers(stores).show(view()), args.repeats)
    handlers = QueueHandlers(stores)
    handlers.show(view())
    results["open (again, in memory)"] = timed(lambda: handlers.show(view()), args.repeats)
    orders = iter(list(ORDERS.values()) * args.repeats)
    results["sort"] = timed(lambda: handlers.show(view(order=next(orders))), args.repeats)
    filters = iter([{"status": "pending"}, {"flag": "not personalised"},
                    {"text": "HumanEval/1"}] * args.repeats)
    results["filter"] = timed(lambda: handlers.show(view(**next(filters))), args.repeats)

    table = handlers.show(view(order="task"))["table"]
    ticked = table.assign(**{"✓": [i < 100 for i in range(len(table))]})
    state = {}

    def select() -> None:
        state.update(handlers.pick(view(order="task"), ticked)["state"])
    results["select 100"] = timed(select, args.repeats)
    assert len(state["selected"]) == 100, state
    statuses = iter(["approved", "rejected"] * args.repeats)

    def bulk() -> None:
        asked = handlers.ask(view(order="task", state=dict(state)), next(statuses))
        done = handlers.confirm(view(order="task", state=asked["state"]), overwrite=True)
        assert "100 records set" in done["counts"], done["counts"]
    results["bulk act on 100"] = timed(bulk, args.repeats)
    stores.close()

    print(f"Queue tab handlers on {total:,} records (server side; target p95 <= "
          f"{TARGET_P95_MS:.0f} ms):")
    for name, timings in results.items():
        p95 = percentile(timings, 0.95)
        print(f"  {name:30s} p50 {statistics.median(timings):7.1f} ms   p95 {p95:7.1f} ms   "
              f"n={len(timings):3d}   {'MET' if p95 <= TARGET_P95_MS else 'MISSED'}")


if __name__ == "__main__":
    main()
