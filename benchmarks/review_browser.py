"""Review screen latency as a reviewer feels it: a key press in Chromium to the next record
painted, on a 10,000-record simulated session, beside the server-side time of the same
events measured in the same run.

    .venv/bin/python benchmarks/review_browser.py [--records 10000] [--actions 120]
        [--visit-tabs [TAB ...]] [--settle-s 5]

Builds the session as benchmarks/review_latency.py does, serves the real app on
127.0.0.1, opens it in Debian's Chromium (Playwright) at 1400x900 and alternates J (next)
and A (approve, which shows the next record). Each action is timed in the page from the
keydown to the frame after the record header changed (requestAnimationFrame); the review
handlers are wrapped to time the server's part. Prints p50/p95 of both and the machine's
load, against the 150 ms target.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from grown_session import grown_session  # noqa: E402
from review_latency import TARGET_P95_MS, percentile  # noqa: E402


# Resolves with the ms from the key press to the first frame painted after the record
# header shows another record.
_PRESS = """(key) => new Promise((resolve) => {
  const header = document.getElementById("persd-header");
  const record = () => { const h = header.querySelector(".persd-header[data-refinement]");
                         return h ? h.getAttribute("data-refinement") : null; };
  const before = record();
  const t0 = performance.now();
  const seen = new MutationObserver(() => {
    if (record() === before) return;
    seen.disconnect();
    requestAnimationFrame(() => resolve(performance.now() - t0));
  });
  seen.observe(header, {childList: true, subtree: true, attributes: true});
  setTimeout(() => { seen.disconnect(); resolve(-1); }, 15000);  // no new record: counted apart
  document.dispatchEvent(new KeyboardEvent("keydown", {key, bubbles: true}));
})"""


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def summary(name: str, values: list[float]) -> str:
    return (f"{name:<28} p50 {statistics.median(values):6.1f} ms   p95 "
            f"{percentile(values, 0.95):6.1f} ms   max {max(values):6.1f} ms   (n={len(values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=120, help="key presses to time")
    parser.add_argument("--visit-tabs", nargs="*", metavar="TAB",
                        help="open these tabs (no name: every other tab) once first, then "
                             "come back to Review: their events then weigh on the page too")
    parser.add_argument("--settle-s", type=float, default=5.0,
                        help="with --visit-tabs: seconds to wait back on Review before timing")
    args, folder, _ = grown_session(parser)

    from playwright.sync_api import sync_playwright

    from persd_app.app import launch
    from persd_app.tabs.review_handlers import ReviewHandlers

    server: dict[str, list[float]] = {"next": [], "approve": []}
    for name in server:
        original = getattr(ReviewHandlers, name)

        def timed(self, i, _original=original, _name=name):
            t0 = time.perf_counter()
            out = _original(self, i)
            server[_name].append((time.perf_counter() - t0) * 1000)
            return out
        setattr(ReviewHandlers, name, timed)

    running = launch(folder, port=_free_port(), block=False, quiet=True)
    browser_ms: dict[str, list[float]] = {"j": [], "a": []}
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
            page = chromium.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{running.url.rstrip('/')}/?session=bench")
            page.wait_for_selector("[data-testid=task-id]", timeout=120_000)
            if args.visit_tabs is not None:
                names = [t.inner_text() for t in page.get_by_role("tab").all()]
                names = [names[0], *(args.visit_tabs or names[1:])]
                for name in [*names[1:], names[0]]:
                    page.get_by_role("tab", name=name).click()
                    page.wait_for_timeout(3000)  # its loads (analysis of 10,000 records)
                page.wait_for_timeout(args.settle_s * 1000)
                print(f"visited tabs first: {', '.join(names[1:])}")
            # the session holds some unvalidated refinements, approved like the rest
            page.locator("#persd-override input").check()
            page.locator("#persd-header").click()  # keys act only outside form fields
            for _ in range(3):  # warm up: first events compile and fill caches
                page.evaluate(_PRESS, "j")
            for name in server:
                server[name].clear()
            refused = 0
            for k in range(args.actions):
                key = "j" if k % 2 == 0 else "a"
                elapsed = page.evaluate(_PRESS, key)
                if elapsed < 0 and key == "a":
                    # A record approve refuses (a teacher reply with no code) stays on
                    # screen: counted apart, and J moves past it.
                    refused += 1
                    page.evaluate(_PRESS, "j")
                    continue
                if elapsed < 0:
                    raise SystemExit(f"key {key!r} showed no new record within 15 s")
                browser_ms[key].append(elapsed)
            chromium.close()
    finally:
        running.close()
    load = os.getloadavg()
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} / {load[1]:.2f} / "
          f"{load[2]:.2f} (1/5/15 min)")
    every = browser_ms["j"] + browser_ms["a"]
    if refused:
        print(f"{refused} approve(s) refused by the record itself (not timed)")
    print(summary("J: key -> next painted", browser_ms["j"]))
    print(summary("A: key -> next painted", browser_ms["a"]))
    print(summary("all keys (browser)", every))
    print(summary("server: next handler", server["next"]))
    print(summary("server: approve handler", server["approve"]))
    p95 = percentile(every, 0.95)
    print(f"target p95 <= {TARGET_P95_MS:.0f} ms in the browser: "
          f"{'MET' if p95 <= TARGET_P95_MS else 'MISSED'} ({p95:.1f} ms)")


if __name__ == "__main__":
    main()
