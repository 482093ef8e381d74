"""Issue 25, defect 11: Gradio tracebacks "didn't return enough output values (needed: 13,
returned: 1)". The Study tab's handlers answer with the outputs they change; opening the
tab again while a pair was on screen changed none, and Gradio reads an empty answer as
one value for its 13 outputs. It shows on the page as nothing (no toast), only as the
server's traceback, so the test reads the server's log: in real Chromium, across tab
switches, Esc in Review's editor and a reload, no event fails and the pair stays."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from persd.studies import create_study
from tests.browser.conftest import Server
from tests.browser.test_review_app import Review
from tests.test_studies import add_direct_solutions

pytestmark = pytest.mark.browser
FAILED = ("didn't return enough output values", "Traceback")


def _settled(page: Page) -> None:
    page.wait_for_timeout(1000)   # the tab's events have answered (or failed) by then


def test_reopening_the_study_tab_keeps_its_pair_without_an_error(app_server: Server,
                                                                 page: Page, capfd):
    name = app_server.session()
    with app_server.store(name) as store:
        add_direct_solutions(store)
        create_study(store, "again", owner="local", reviewers=["local"], limit=2)
    review = Review(page).open(app_server.url, name)
    header = page.locator("#persd-study-header .persd-header")
    for _ in range(2):
        page.get_by_role("tab", name="Study").click()
        expect(page.locator("[data-testid=study-task]")).to_be_visible()
        shown = header.get_attribute("data-item")
        page.get_by_role("tab", name="Review").click()
        review.click("persd-edit")                        # the editor, left with Esc
        page.locator("#persd-editor .cm-content").click()
        page.keyboard.press("Escape")
        page.keyboard.press("Escape")
        page.get_by_role("tab", name="Study").click()     # opened again: the same pair
        expect(header).to_have_attribute("data-item", shown)
        _settled(page)
        page.reload()
        expect(review.task_id).to_be_visible()
    _settled(page)
    logged = "".join(capfd.readouterr())
    assert not [line for line in logged.splitlines() if any(f in line for f in FAILED)], logged
