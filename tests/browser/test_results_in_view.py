"""Issue 25, defect 10 in real Chromium at 1400x900: after Start or Run in Collect, Evaluate
and Train, clicked with the button at the bottom of the window, the result or status shows
inside the window, not below the fold."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server
from tests.browser.test_tabs import open_tab

pytestmark = pytest.mark.browser

AT_BOTTOM = """(id) => {
  const box = document.getElementById(id).getBoundingClientRect();
  window.scrollBy(0, box.bottom - window.innerHeight + 4);
  const now = document.getElementById(id).getBoundingClientRect();
  return now.height > 0 && now.top >= 0 && now.bottom <= window.innerHeight;
}"""
INSIDE = """(id) => {
  const box = document.getElementById(id).getBoundingClientRect();
  return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight;
}"""


def _click_at_the_bottom(page: Page, button: str) -> None:
    """Scroll so the button sits at the window's bottom edge (what is under it is below
    the fold), then click it."""
    # Scrolled again until it holds: a tab's late drawing (its command line) moves it.
    page.wait_for_function(AT_BOTTOM, arg=button, timeout=10_000)
    page.locator(f"#{button}").click()


def _in_view(page: Page, result: str, text: str) -> None:
    expect(page.locator(f"#{result}")).to_contain_text(text)
    page.wait_for_function(INSIDE, arg=result, timeout=10_000)


def test_the_result_of_start_or_run_shows_inside_the_window(app_server: Server, page: Page):
    open_tab(page, app_server, app_server.session(), "Evaluate")
    expect(page.locator("#persd-ev-contamination")).to_contain_text("overlap", timeout=90_000)
    page.locator("#persd-ev-student textarea").fill("")
    _click_at_the_bottom(page, "persd-ev-start")
    _in_view(page, "persd-ev-notice", "give the student model")
    _in_view(page, "persd-ev-status", "No evaluation running")

    page.get_by_role("tab", name="Train").click()
    expect(page.locator("#persd-train-examples")).to_contain_text("training example")
    expect(page.locator("#persd-train-command")).to_contain_text(re.compile(r"persd|#"))
    page.locator("#persd-train-student input").fill("no-such-folder/here")
    _click_at_the_bottom(page, "persd-train-start")
    _in_view(page, "persd-train-notice", "Cannot start")
    _in_view(page, "persd-train-status", "training run")

    page.get_by_role("tab", name="Collect").click()
    page.locator("#persd-col-session textarea").fill("in-view-sim")
    page.locator("#persd-col-limit input").fill("2")
    _click_at_the_bottom(page, "persd-col-run")
    _in_view(page, "persd-col-progress", "2/2 tasks")
