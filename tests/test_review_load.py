"""Reviewers at once on one session: the review tab's handlers from many threads on a real
session store with the real sandbox, and the messages a clash between two of them gives."""

from __future__ import annotations

import random
import shutil
import sys
import threading
import time

import pytest

from persd.demo import build_demo_session
from persd.execution import Executor
from persd.store import SessionStore

REVIEWERS = 8
HAMMER_S = 8.0


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory):
    with Executor(workers=2) as executor:
        return build_demo_session(tmp_path_factory.mktemp("sessions"), limit=16,
                                  executor=executor)


@pytest.fixture
def handlers(demo_path, tmp_path):
    from persd_app.tabs import SharedExecutor, Stores
    from persd_app.tabs.review_handlers import ReviewHandlers

    shutil.copy(demo_path, tmp_path / "demo.sqlite")
    stores = Stores(tmp_path)
    yield ReviewHandlers(stores, SharedExecutor(workers=2))
    stores.close()


def _inputs(reviewer: str, **values):
    return _with(reviewer, **values)


def _with(reviewer: str, **values):
    from persd_app.tabs.review_handlers import Inputs, new_state

    return Inputs(session="demo", reviewer=reviewer, state=values.pop("state", new_state()),
                  **values)


def _edited(view: dict, n: int) -> str:
    return f"{view['editor'].rstrip()}\n# tidied {n}\n"


def test_a_kept_edit_names_its_author_not_the_one_who_pressed_a(handlers):
    ben = handlers.open(_inputs("ben"))
    shown = ben["state"]["id"]
    saved = handlers.approve(_inputs("ben", state=ben["state"], code=_edited(ben, 0)))
    assert "Saved edit" in saved["message"] and "by ben" in saved["message"]
    ana = handlers.open(_inputs("ana"), record=shown)
    assert ana["state"]["version"] == 1
    kept = handlers.approve(_inputs("ana", state=ana["state"], code=ana["editor"]))
    assert "Kept the saved edit" in kept["message"], kept["message"]
    assert "by ben" in kept["message"] and "by ana" not in kept["message"]
    assert handlers.stores.get("demo").reviews.get(shown).reviewer == "ben"


def test_reviewers_approving_and_editing_at_once_raise_nothing(handlers):
    """REVIEWERS threads press keys for HAMMER_S seconds: approve, edit, reject, undo, next,
    each reading the counts (the memo) while others write."""
    deadline = time.monotonic() + HAMMER_S
    failures: list[str] = []
    actions = [0] * REVIEWERS
    took: list[float] = []

    def reviewer(n: int) -> None:
        from persd_app.tabs.review_handlers import filters_from

        who, pick = f"r{n}", random.Random(n)
        every = filters_from("any")  # decided records stay in view: the writes go on

        def _inputs(reviewer: str, **values):
            return _with(reviewer, filters=every, **values)

        try:
            view = handlers.open(_inputs(who))
            while time.monotonic() < deadline:
                move = pick.choice(["approve", "approve", "edit", "reject", "undo", "next"])
                state, started = view["state"], time.perf_counter()
                if move == "approve":
                    shown = handlers.approve(_inputs(who, state=state, code=view.get("editor")))
                elif move == "edit":
                    shown = handlers.approve(_inputs(who, state=state,
                                                     code=_edited(view, actions[n])))
                elif move == "reject":
                    shown = handlers.reject(_inputs(who, state=state, reason="load"))
                else:
                    shown = getattr(handlers, move)(_inputs(who, state=state))
                if "Traceback" in str(shown.get("message")) or "Error" in str(
                        shown.get("message")):
                    failures.append(f"{who} {move}: {shown['message']}")
                took.append(time.perf_counter() - started)
                view = {**view, **shown}  # a handler answers only what changed
                if view["state"].get("id") is None:
                    view = handlers.open(_inputs(who))
                actions[n] += 1
        except Exception as error:  # noqa: BLE001  what the test is for: any of them
            failures.append(f"{who}: {type(error).__name__}: {error}")

    threads = [threading.Thread(target=reviewer, args=(n,)) for n in range(REVIEWERS)]
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads swap often, as on a busy many-core server
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=HAMMER_S + 60)
    finally:
        sys.setswitchinterval(switch)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    assert sum(actions) >= REVIEWERS * 3, actions
    took.sort()
    print(f"{sum(actions)} actions by {REVIEWERS} reviewers in {HAMMER_S:.0f} s, p95 "
          f"{took[int(len(took) * 0.95)] * 1000:.0f} ms")
    counts = handlers.stores.get("demo").queue.counts()
    assert sum(counts.values()) == len(handlers.stores.get("demo").queue.list(limit=1000))


# ---------------------------------------------------------------- over HTTP, a large session

HTTP_RECORDS = 10_000
PACE_S = {1: 0.2, REVIEWERS: 1.6}  # about 5 presses a second in all, as the issue measured
HTTP_SECONDS = {1: 8.0, REVIEWERS: 15.0}


@pytest.fixture(scope="module")
def served(demo_path, tmp_path_factory):
    """The app served on 127.0.0.1 over a copy of the demo session grown to HTTP_RECORDS."""
    from benchmarks.review_latency import grow
    from persd_app.app import launch
    from tests.ports import free_port
    from tests.review_http import review_endpoints

    folder = tmp_path_factory.mktemp("large")
    shutil.copy(demo_path, folder / "demo.sqlite")
    assert grow(folder / "demo.sqlite", HTTP_RECORDS) == HTTP_RECORDS
    running = launch(folder, port=free_port(), block=False, quiet=True)
    running.endpoints = review_endpoints(running.page)
    yield running
    running.close()


def test_over_http_a_conflict_names_the_edits_author(served):
    from tests.review_http import HttpReviewer

    ben, ana = (HttpReviewer(served.url, name, served.endpoints) for name in ("ben", "ana"))
    try:
        ben.open()
        ana.open()
        assert ana.view["header"] == ben.view["header"]  # the same record, both at version 0
        ben.edit(0)
        assert "Saved edit" in ben.message and "by ben" in ben.message, ben.message
        ana.press("reject")
        assert "Conflict: " in ana.message and "changed by ben" in ana.message, ana.message
        assert "ana" not in ana.message.split("Conflict: ")[1]
    finally:
        ben.close()
        ana.close()


def test_eight_reviewers_over_http_on_a_large_session_raise_nothing(served):
    """1, then REVIEWERS, gradio_client sessions approve, edit, reject, undo and move on
    through the served app's API at about the same total rate: no request fails; the p95 of
    each is printed (benchmarks/review_http_load.py runs it longer)."""
    from tests.review_http import run_reviewers

    for reviewers in (1, REVIEWERS):
        result = run_reviewers(served.url, served.endpoints, reviewers,
                               HTTP_SECONDS[reviewers], pace_s=PACE_S[reviewers])
        print(result.line())
        assert result.failures == []
        assert len(result.took) > reviewers  # each opened the session and pressed on
    with SessionStore.open(served.stores.sessions_dir, "demo") as store:
        assert store.queue.count() == HTTP_RECORDS
