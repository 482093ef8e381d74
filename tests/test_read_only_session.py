"""A session this process cannot write opens read-only for viewing (SQLite mode=ro): the app
shows it with its actions off and says why, and an action that still reaches the store is
refused in words, the file unchanged (issue 22)."""

from __future__ import annotations

import hashlib
import os
import subprocess

import pytest

from persd.demo import build_demo_session
from persd.execution import Executor
from persd.store import StoreError
from tests.ports import free_port


@pytest.fixture
def read_only_demo(read_only_folder):
    folder, make_read_only = read_only_folder
    with Executor(workers=1) as executor:
        path = build_demo_session(folder, limit=3, executor=executor)
    make_read_only()
    return path


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_read_only_session_is_viewed_and_its_actions_are_refused(read_only_demo):
    from persd_app.app import WRITE_ACTIONS, _banner_html
    from persd_app.tabs import SharedExecutor, Stores
    from persd_app.tabs.review_handlers import Inputs, ReviewHandlers, new_state

    before = _digest(read_only_demo)
    stores = Stores(read_only_demo.parent)
    try:
        store = stores.get("demo")
        assert store.readonly and len(store.tasks.list()) == 3
        banner = _banner_html(stores, "demo", "")
        assert "READ-ONLY session" in banner and "cannot write" in banner
        assert all(f"#{button}" in banner for button in ("persd-approve", "persd-col-run"))
        assert "persd-approve" in WRITE_ACTIONS
        handlers = ReviewHandlers(stores, SharedExecutor(workers=1))
        shown = handlers.open(Inputs(session="demo", reviewer="ana", state=new_state()))
        assert shown["state"]["id"] is not None and shown["editor"]  # it can be read
        refused = handlers.approve(Inputs(session="demo", reviewer="ana", state=shown["state"],
                                          code=shown["editor"]))
        assert "is open read-only" in refused["message"], refused["message"]
        with pytest.raises(StoreError, match="open read-only.*viewed, not changed"):
            store.set_config({"student": "x"})
        assert _digest(read_only_demo) == before
        _make_writable(read_only_demo.parent)  # as the banner asks: then a reload is enough
        assert not stores.get("demo").readonly
        assert "READ-ONLY" not in _banner_html(stores, "demo", "")
    finally:
        stores.close()


def _make_writable(folder) -> None:
    if os.geteuid() == 0:  # the read_only_folder fixture's tmpfs, remounted
        subprocess.run(["mount", "-o", "remount,rw", str(folder)], check=True)
    else:
        folder.chmod(0o755)


def test_the_app_serves_a_read_only_session_saying_why(read_only_demo):
    from gradio_client import Client

    from persd_app.app import launch

    running = launch(read_only_demo.parent, port=free_port(), block=False, quiet=True)
    try:
        shown = Client(running.url, verbose=False).predict(api_name="/on_load")
    finally:
        running.close()
    assert "READ-ONLY session" in str(shown) and "demo.sqlite" in str(shown)
