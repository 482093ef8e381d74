"""Issue 25, defect 9, in real Chromium at 1400x900: nothing cut off or misaligned. Table
headers keep whole words, Evaluate's sample browser stays inside the page, the Review editor
gets the room while editing, the empty Loop chart says why, and Live demo's code panes do
not wrap (their line numbers cannot drift)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server
from tests.browser.test_tabs import open_tab
from tests.test_store import Result

pytestmark = pytest.mark.browser
LONG_LINE = "    return x  # " + "y" * 200


def plant_eval(server: Server, session: str) -> None:
    """A finished eval run whose samples hold a 200-character line, tasks 0..11."""
    with server.store(session) as store:
        run = store.runs.add("eval", {"model": "simulated-student", "round": 0,
                                     "simulated": True})
        for i in range(12):
            store.eval_samples.add(run, f"HumanEval/{i}", program=f"def f(x):\n{LONG_LINE}\n",
                                  result=Result("failed", "assert f(1) == 2", 0.01, 0, 1,
                                                "AssertionError"))
        store.runs.update(run, status="finished",
                         result={"steps": [{"step": 0, "pass_at_k": {"pass@1": 0.0}}]})


def test_evaluate_headers_keep_words_and_samples_stay_on_the_page(app_server: Server,
                                                                  page: Page):
    session = app_server.session()
    plant_eval(app_server, session)
    open_tab(page, app_server, session, "Evaluate")
    detail = page.get_by_test_id("eval-sample")
    expect(detail).to_be_visible()
    # The sample's long line wraps inside the page: nothing scrolls it off to the right.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400
    box = detail.bounding_box()
    assert box["x"] + box["width"] <= 1400
    # (Natural task order is checked on the handler: tests/test_tab_words.py.)
    expect(page.locator("#persd-ev-browser-count")).to_contain_text("12 of 12 samples")
    # Every header on one line: "count" is not "co/un/t".
    heights = page.locator("#persd-ev-samples-table th .header").evaluate_all(
        "els => els.map(e => e.getBoundingClientRect().height)")
    line = min(heights)
    assert heights and max(heights) < 1.5 * line, heights


def test_review_editor_gets_the_room_while_editing(app_server: Server, page: Page):
    session = app_server.session()
    open_tab(page, app_server, session, "Review")
    expect(page.locator("#persd-header .persd-task")).to_be_visible()
    page.locator("body").press("e")
    editor = page.locator("#persd-editor-col")
    expect(page.locator("#persd-record.persd-editing")).to_have_count(1)
    assert editor.bounding_box()["width"] >= 480  # about 310 px before (issue 25)


def test_empty_loop_chart_says_why_and_live_code_does_not_wrap(app_server: Server,
                                                               page: Page):
    session = app_server.session()
    open_tab(page, app_server, session, "Loop")
    expect(page.get_by_test_id("loop-no-curve")).to_be_visible()
    expect(page.locator("#persd-loop-curve")).to_be_hidden()
    page.get_by_role("tab", name="Live demo").click()
    prompt = page.locator("#persd-live-prompt .cm-content")
    expect(prompt).to_be_visible()
    assert "cm-lineWrapping" not in (prompt.get_attribute("class") or "")
