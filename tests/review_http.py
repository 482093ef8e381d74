"""Reviewers over HTTP: each a gradio_client session on the served app, pressing the review
tab's keys (open, approve, edit, reject, undo, next) as a browser's events would, each
request timed. Used by tests/test_review_load.py and benchmarks/review_http_load.py.

    endpoints = review_endpoints(running.page)         # {"approve": "/handler_6", ...}
    ana = HttpReviewer(running.url, "ana", endpoints)
    ana.open(); ana.press("approve"); ana.edit(1); ana.message   # the last answer's message
    run_reviewers(running.url, endpoints, reviewers=8, seconds=20)   # -> LoadResult
"""

from __future__ import annotations

import inspect
import random
import threading
import time
from dataclasses import dataclass, field

from persd_app.tabs.review_handlers import OUTPUTS, RECORD_OUTPUTS
from persd_app.tabs.review_query import ANY, DEFAULT_FILTERS, FILTER_NAMES

KEYS = ("open", "approve", "reject", "undo", "next")
ERROR_WORDS = ("Traceback", "Error", "locked", "session database")  # not a conflict: a fault


def review_endpoints(page) -> dict[str, str]:
    """The API name of the event each review handler method runs under (found by the
    method the event's function wraps: the names are numbered in wiring order)."""
    found: dict[str, str] = {}
    for dependency in page.fns.values():
        handler = inspect.unwrap(dependency.fn) if dependency.fn else None  # under Keyed.wire
        for cell in getattr(handler, "__closure__", None) or ():
            name = getattr(cell.cell_contents, "__name__", None)
            if name in KEYS and getattr(cell.cell_contents, "__self__", None) is not None:
                found.setdefault(name, f"/{dependency.api_name}")
    missing = set(KEYS) - set(found)
    if missing:
        raise LookupError(f"no review event for {sorted(missing)}")
    return found


class HttpReviewer:
    """One reviewer's browser session, as API calls. `view` holds the last answer by
    output name (the server keeps the state; the client sends back the drafts)."""

    def __init__(self, url: str, name: str, endpoints: dict[str, str],
                 session: str = "demo") -> None:
        from gradio_client import Client

        self.client = Client(url, verbose=False)
        self.name, self.endpoints, self.session = name, endpoints, session
        self.view: dict = {"drafts": {}, "editor": None}
        self.took: list[float] = []

    @property
    def message(self) -> str:
        return str(self.view.get("message") or "")

    def open(self) -> None:
        filters = {**DEFAULT_FILTERS, "f_status": ANY}  # decided records stay in view
        self._call("open", OUTPUTS, self.session, *(filters[n] for n in FILTER_NAMES),
                   False, False, None, None, False, "", None, self.name, self.view["drafts"], "")

    def press(self, key: str, code: str | None = None) -> None:
        """approve / reject / undo / next on the record shown (`code`: the editor's text)."""
        # The editor's text goes with the record it belongs to (`editor_of`, issue 25).
        self._call(key, RECORD_OUTPUTS, self.session, False, False,
                   self.view.get("editor") if code is None else code, self.view.get("editor_of"),
                   False, "load" if key == "reject" else "", None, self.name, self.view["drafts"])

    def edit(self, n: int) -> None:
        """Save an edit of the record shown (approve with changed code re-runs it first)."""
        self.press("approve", f"{str(self.view.get('editor') or '').rstrip()}\n# tidied {n}\n")

    def _call(self, key: str, names: tuple[str, ...], *args) -> None:
        started = time.perf_counter()
        answer = self.client.predict(*args, api_name=self.endpoints[key])
        self.took.append(time.perf_counter() - started)
        shown = [name for name in names if name != "state"]  # a gr.State stays on the server
        for name, value in zip(shown, answer if isinstance(answer, tuple) else (answer,)):
            if not (isinstance(value, dict) and value.get("__type__") == "update"):
                self.view[name] = value
            elif "value" in value:
                self.view[name] = value["value"]

    def close(self) -> None:
        self.client.close()


@dataclass
class LoadResult:
    reviewers: int
    seconds: float
    took: list[float] = field(default_factory=list)   # every request, in seconds
    failures: list[str] = field(default_factory=list)

    def percentile_ms(self, q: float) -> float:
        ordered = sorted(self.took)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000 \
            if ordered else float("nan")

    def line(self) -> str:
        return (f"{self.reviewers} reviewer(s), {self.seconds:.0f} s: {len(self.took)} requests, "
                f"{len(self.took) / self.seconds:.1f}/s, p50 {self.percentile_ms(0.5):.0f} ms, "
                f"p95 {self.percentile_ms(0.95):.0f} ms, {len(self.failures)} failure(s)")


def run_reviewers(url: str, endpoints: dict[str, str], reviewers: int, seconds: float,
                  pace_s: float = 0.0, session: str = "demo") -> LoadResult:
    """`reviewers` threads, each its own client, pressing approve, edit, reject, undo and
    next for `seconds` (waiting `pace_s` between presses); any exception or error message
    is a failure."""
    result = LoadResult(reviewers, seconds)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def reviewer(n: int) -> None:
        pick, who = random.Random(n), None
        try:
            who = HttpReviewer(url, f"r{n}", endpoints, session)
            who.open()
            while time.monotonic() < deadline:
                move = pick.choice(["approve", "approve", "edit", "reject", "undo", "next"])
                who.edit(len(who.took)) if move == "edit" else who.press(move)
                if any(word in who.message for word in ERROR_WORDS):
                    with lock:
                        result.failures.append(f"r{n} {move}: {who.message}")
                if not who.view.get("editor"):
                    who.open()
                time.sleep(pace_s)
        except Exception as error:  # noqa: BLE001  what the load is for: any of them
            with lock:
                result.failures.append(f"r{n}: {type(error).__name__}: {error}")
        finally:
            if who is not None:
                with lock:
                    result.took.extend(who.took)
                who.close()

    threads = [threading.Thread(target=reviewer, args=(n,)) for n in range(reviewers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    if any(thread.is_alive() for thread in threads):
        result.failures.append("a reviewer was still waiting for an answer 120 s after the end")
    return result
