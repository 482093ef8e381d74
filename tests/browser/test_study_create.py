"""Issue 25, defect 6 (part): a study created on the demo session in real Chromium shows
its queue at once, without reopening the tab."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server
from tests.browser.test_tabs import open_tab

pytestmark = pytest.mark.browser


def test_a_review_study_created_on_the_demo_session_opens_at_once(app_server: Server,
                                                                  page: Page):
    session = app_server.session()
    open_tab(page, app_server, session, "Study")
    expect(page.get_by_text("No study", exact=False).first).to_be_visible()
    page.get_by_role("button", name="Owner: set up, reassign, agreement").click()
    page.locator("#persd-study-name textarea").fill("first-pass")
    page.get_by_label("Kind").click()
    page.get_by_role("option", name="review", exact=True).click()
    page.locator("#persd-study-reviewers textarea").fill("local")
    page.get_by_label("Reviewers per item").fill("1")
    page.locator("#persd-study-create").click()
    expect(page.locator("#persd-study-owner-message")).to_contain_text("Created first-pass")
    # The new study's queue at once, without reopening the tab.
    expect(page.get_by_test_id("study-progress")).to_be_visible()
    expect(page.locator("#persd-study-message")).to_contain_text("HumanEval/0")
    with app_server.store(session) as store:
        (study,) = store.studies.list()
        assert study.name == "first-pass" and study.kind == "review"
