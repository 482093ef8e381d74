"""Reviewers at once through the served app's HTTP API on a large simulated session.

    .venv/bin/python benchmarks/review_http_load.py [--records 10000] [--seconds 60]
        [--reviewers 1 8] [--rate 5]

Builds the demo session grown to `--records` refinements (as benchmarks/review_latency.py
does), serves the app on 127.0.0.1 and runs, for each count in `--reviewers`, that many
gradio_client sessions pressing approve, edit, reject, undo and next (tests/review_http.py)
for `--seconds`, paced so that all of them together press about `--rate` keys a second.
Prints requests, p50 and p95 per count, and the ratio of each p95 to the first's; any
failed request is listed. Browser rendering time is not included.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.review_latency import grow  # noqa: E402
from persd.demo import build_demo_session  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=60.0, help="per reviewer count")
    parser.add_argument("--reviewers", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--rate", type=float, default=5.0, help="key presses a second, in all")
    args = parser.parse_args()

    from persd_app.app import launch
    from tests.ports import free_port
    from tests.review_http import review_endpoints, run_reviewers

    folder = Path(tempfile.mkdtemp(prefix="persd-bench-"))
    total = grow(build_demo_session(folder), args.records)
    running = launch(folder, port=free_port(), block=False, quiet=True)
    try:
        endpoints = review_endpoints(running.page)
        print(f"session: {total:,} refinements; app at {running.url}")
        first = None
        for reviewers in args.reviewers:
            result = run_reviewers(running.url, endpoints, reviewers, args.seconds,
                                   pace_s=reviewers / args.rate)
            first = first or result.percentile_ms(0.95)
            print(f"{result.line()}; p95 x{result.percentile_ms(0.95) / first:.2f} of the first")
            for failure in result.failures[:10]:
                print(f"  FAILED {failure}")
    finally:
        running.close()


if __name__ == "__main__":
    main()
