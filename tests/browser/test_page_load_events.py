"""What a page load runs on the server: only the events of the tab on screen (Review) and
of the page's header. Every event the page ever ran keeps its inputs in Gradio's loading
state, which the page walks on every message of every later event: tabs that loaded
themselves unseen cost each review key press about 30 ms on a 10,000-record session
(benchmarks/review_browser.py). They load when they are opened."""

from __future__ import annotations

import re

from gradio.blocks import Blocks
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server
from tests.browser.test_tabs import open_tab

import pytest

pytestmark = pytest.mark.browser


def _ids_under(node: dict) -> set[int]:
    found = {node["id"]}
    for child in node.get("children") or []:
        found |= _ids_under(child)
    return found


def _tab_components(config: dict) -> dict[str, set[int]]:
    """elem_id of each tab -> the ids of the components inside it."""
    elem_ids = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    tabs: dict[str, set[int]] = {}

    def walk(node: dict) -> None:
        elem_id = elem_ids.get(node["id"]) or ""
        if elem_id.startswith("persd-tab-"):
            tabs[elem_id] = _ids_under(node)
            return
        for child in node.get("children") or []:
            walk(child)
    walk(config["layout"])
    return tabs


@pytest.fixture
def server_calls(monkeypatch) -> list:
    """The server functions (BlockFunction) the app runs while the test lasts."""
    calls: list = []
    original = Blocks.call_function

    async def recorded(self, block_fn, *args, **kwargs):
        calls.append(block_fn)
        return await original(self, block_fn, *args, **kwargs)
    monkeypatch.setattr(Blocks, "call_function", recorded)
    return calls


# Filled at once, not when opened: a later fill would overwrite what the user types. Train's
# reads two fields (the variant names the output; a typed student is kept); Evaluate's
# contamination check follows its form's restore, and its message says the form has landed.
AT_LOAD = {"TrainHandlers.attach", "EvaluateHandlers.contamination"}


def _inputs_in_other_tabs(calls: list, tabs: dict[str, set[int]], shown: str) -> list[str]:
    elsewhere = set().union(*(ids for name, ids in tabs.items() if name != shown))
    names = ((getattr(call.fn, "__qualname__", str(call.fn)), call) for call in calls)
    return sorted({f"{name} reads {block._id}" for name, call in names if name not in AT_LOAD
                   for block in call.inputs if block._id in elsewhere})


def test_a_page_load_runs_no_event_of_the_tabs_not_shown(app_server: Server, page: Page,
                                                          server_calls: list):
    tabs = _tab_components(app_server.running.page.get_config_file())
    assert len(tabs) >= 8, sorted(tabs)  # every tab found: the check below means something
    page.goto(f"{app_server.url}/?session={app_server.session()}")
    expect(page.get_by_test_id("task-id")).to_be_visible()
    page.wait_for_timeout(3000)  # the page's load events have all been sent by now
    assert server_calls, "the page load ran nothing on the server"
    assert _inputs_in_other_tabs(server_calls, tabs, "persd-tab-review") == []


# What each form's command line reads before anyone touches the form.
COMMAND_LINES = [("Train", "persd-train-command", r"persd train|give the student model"),
                 ("Evaluate", "persd-ev-command", r"persd eval|give the student model"),
                 ("Collect", "persd-col-command", r"persd collect|simulated"),
                 ("Loop", "persd-loop-command", r"persd loop|# \w")]


@pytest.mark.parametrize(("tab", "elem_id", "drawn"), COMMAND_LINES,
                         ids=[tab for tab, _, _ in COMMAND_LINES])
def test_a_tab_loads_when_it_is_opened(app_server: Server, page: Page, server_calls: list,
                                       tab: str, elem_id: str, drawn: str):
    open_tab(page, app_server, app_server.session(), tab)
    # Drawn by the tab's opening: no field has changed.
    expect(page.locator(f"#{elem_id}")).to_contain_text(re.compile(drawn))
    tabs = _tab_components(app_server.running.page.get_config_file())
    assert _inputs_in_other_tabs(server_calls, tabs, "persd-tab-review") != []


def test_picking_a_session_shows_its_banner_first(app_server: Server, page: Page,
                                                  server_calls: list):
    """The banner that says a session is simulated is the first thing a pick changes: drawn
    after the tabs' loads, the last session's banner stayed up for a second or two."""
    from persd.store import SessionStore

    with SessionStore.open(app_server.sessions_dir, "real-model", create=True) as store:
        store.set_config({"student": "Qwen/Qwen2.5-Coder-0.5B"})
    page.goto(f"{app_server.url}/?session={app_server.session()}")
    expect(page.get_by_test_id("task-id")).to_be_visible()
    expect(page.get_by_test_id("simulated-banner")).to_be_visible()
    page.wait_for_timeout(2000)  # the page's load events are done
    server_calls.clear()
    page.locator("#persd-session input").click()
    page.get_by_role("option", name="real-model", exact=True).click()
    expect(page.get_by_test_id("simulated-banner")).to_be_hidden()
    blocks = app_server.running.page.blocks.values()
    picker = next(block._id for block in blocks if block.elem_id == "persd-session")

    def picked() -> list[str]:
        return [call.fn.__qualname__ for call in server_calls if (picker, "change") in call.targets]
    for _ in range(100):  # the Review tab's load of the new session too
        if len(picked()) >= 2:
            break
        page.wait_for_timeout(100)
    assert len(picked()) >= 2 and picked()[0].endswith("show_banner"), picked()
