"""The review tab in real Chromium against the real app on a simulated demo session:
approve, edit (failing, then fixed), undo, filter + bulk approve, two reviewers on one
record, keyboard shortcuts, the demo offer on an empty folder, and the README screenshots
(PERSD_UPDATE_SCREENSHOT=1 writes assets/review-screen.png and assets/analysis-screen.png)."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from persd.store import QueueFilters
from tests.browser.conftest import USERS, Server

pytestmark = pytest.mark.browser
ASSETS = Path(__file__).resolve().parents[2] / "assets"
SCREENSHOT = ASSETS / "review-screen.png"
ANALYSIS_SCREENSHOT = ASSETS / "analysis-screen.png"


class Review:
    """The review screen, driven the way a reviewer does."""

    def __init__(self, page: Page) -> None:
        self.page = page

    def open(self, url: str, session: str, login: tuple[str, str] | None = None) -> Review:
        self.page.goto(f"{url}/?session={session}")
        if login:
            self.page.get_by_label("username").fill(login[0])
            self.page.get_by_label("password").fill(login[1])
            self.page.get_by_role("button", name="Login").click()
        expect(self.task_id).to_be_visible()
        expect(self.page.locator("#persd-session input")).to_have_value(session)
        return self

    @property
    def task_id(self):
        return self.page.locator("[data-testid=task-id]")

    @property
    def message(self):
        return self.page.locator("#persd-message")

    def count(self, status: str):
        return self.page.locator(f".persd-count[data-status={status}] b")

    def pending(self) -> int:
        return int(self.count("pending").inner_text())

    def click(self, elem_id: str) -> None:
        self.page.locator(f"#{elem_id}").click()

    def editor_text(self) -> str:
        return self.page.locator("#persd-editor .cm-content").inner_text()

    def set_editor(self, code: str) -> None:
        self.click("persd-edit")  # the refinement side becomes the editor
        content = self.page.locator("#persd-editor .cm-content")
        expect(content).to_be_visible()
        content.click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.press("Delete")
        self.page.keyboard.insert_text(code)
        expect(content).to_contain_text(code.strip().splitlines()[-1].strip())

    def open_filters(self) -> None:
        self.page.get_by_text("Filters and bulk actions").click()
        expect(self.page.locator("#persd-f-search textarea")).to_be_visible()

    def fill(self, elem_id: str, text: str) -> None:
        box = self.page.locator(f"#{elem_id} textarea")
        box.fill(text)
        box.press("Enter")

    def choose(self, elem_id: str, option: str) -> None:
        self.page.locator(f"#{elem_id} input").click()
        self.page.get_by_role("option", name=option, exact=True).click()


def test_open_demo_and_approve_shows_next_record(app_server: Server, page: Page):
    review = Review(page).open(app_server.url, app_server.session())
    expect(page.get_by_test_id("simulated-banner")).to_contain_text("SIMULATED")
    footer = page.locator("footer")
    expect(footer).to_contain_text("Settings")  # internal handlers are no public API
    expect(footer).not_to_contain_text("Use via API")
    first, pending = review.task_id.inner_text(), review.pending()
    assert pending > 5
    review.click("persd-approve")
    expect(review.message).to_contain_text(f"Approved: {first}")
    expect(review.task_id).not_to_have_text(first)
    expect(review.count("approved")).to_have_text("1")
    expect(review.count("pending")).to_have_text(str(pending - 1))
    after = review.task_id.inner_text()
    page.reload()  # nothing lives only in the page: the store has it all
    expect(review.task_id).to_have_text(after)
    expect(review.count("approved")).to_have_text("1")


def test_failing_edit_is_shown_then_fixed_edit_approved_and_undone(app_server: Server,
                                                                   page: Page):
    name = app_server.session()
    review = Review(page).open(app_server.url, name)
    task, pending = review.task_id.inner_text(), review.pending()
    original = review.editor_text()
    broken = "raise RuntimeError('broken by the reviewer')"
    review.set_editor(original.rstrip() + "\n" + broken + "\n")
    review.click("persd-save")
    expect(review.message).to_contain_text("fails the hidden tests")
    expect(page.locator("#persd-run .persd-run")).to_have_attribute("data-passed", "false")
    expect(page.locator("#persd-run")).to_contain_text("broken by the reviewer")
    expect(review.count("pending")).to_have_text(str(pending))

    review.set_editor(original.rstrip() + "\n# checked by the reviewer\n")
    review.click("persd-approve")
    expect(review.message).to_contain_text(f"Saved edit (passes the hidden tests): {task}")
    expect(review.count("edited")).to_have_text("1")
    expect(review.task_id).not_to_have_text(task)
    with app_server.store(name) as store:
        row = store.queue.list(QueueFilters(status="edited"))[0]
        stored = store.reviews.get(row.refinement_id)
        assert "# checked by the reviewer" in stored.edited_program
        assert store.executions.get(stored.edit_execution_id).result.passed

    review.click("persd-undo")
    expect(review.message).to_contain_text(f"Undid your edit of {task}")
    expect(review.task_id).to_have_text(task)
    expect(review.count("edited")).to_have_text("0")
    expect(review.count("pending")).to_have_text(str(pending))


def test_filter_and_bulk_approve_with_confirmed_count(app_server: Server, page: Page):
    name = app_server.session()
    review = Review(page).open(app_server.url, name)
    review.open_filters()
    review.choose("persd-f-validated", "yes")
    review.fill("persd-f-maxdiff", "2")
    filters = QueueFilters(status="pending", validated=True, max_diff_lines=2)
    with app_server.store(name) as store:
        expected = store.queue.count(filters)
    assert 0 < expected < review.pending() + 1
    expect(page.get_by_test_id("in-view")).to_have_text(str(expected))

    review.click("persd-bulk-approve")
    question = page.locator("#persd-confirm-text .persd-confirm")
    expect(question).to_have_attribute("data-count", str(expected))
    expect(question).to_contain_text(re.compile(rf"Approve {expected} records?"))
    expect(page.locator("#persd-confirm")).to_have_text(f"Yes, approve {expected}")
    review.click("persd-confirm")
    expect(review.message).to_contain_text(f"Approved {expected} records")
    expect(review.count("approved")).to_have_text(str(expected))
    expect(page.get_by_test_id("in-view")).to_have_text("0")
    expect(page.locator(".persd-empty")).to_contain_text("no record matches the filters")
    expect(page.locator("#persd-record-area")).to_be_hidden()
    with app_server.store(name) as store:
        approved = store.queue.list(QueueFilters(status="approved"), limit=1000)
        assert len(approved) == expected and {r.reviewer for r in approved} == {"local"}


def test_a_filter_changed_while_the_last_one_loads_is_applied(app_server: Server, page: Page,
                                                             monkeypatch):
    # A slow store (a big session, a busy machine) keeps the first filter change loading
    # while the reviewer sets the second; the view must end on both filters, not the first.
    from persd.store.queue import ReviewQueue

    error_types = ReviewQueue.error_types

    def slow_error_types(self):
        time.sleep(1.5)
        return error_types(self)

    name = app_server.session()
    review = Review(page).open(app_server.url, name)
    monkeypatch.setattr(ReviewQueue, "error_types", slow_error_types)
    review.open_filters()
    review.choose("persd-f-validated", "yes")
    review.fill("persd-f-maxdiff", "2")
    with app_server.store(name) as store:
        expected = store.queue.count(
            QueueFilters(status="pending", validated=True, max_diff_lines=2))
        only_first = store.queue.count(QueueFilters(status="pending", validated=True))
    assert expected != only_first
    expect(page.get_by_test_id("in-view")).to_have_text(str(expected))


def test_second_reviewer_on_the_same_record_gets_a_conflict(auth_server: Server, browser):
    name = auth_server.session()
    pages = []
    for user in USERS:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(20_000)
        pages.append(Review(context.new_page()).open(auth_server.url, name, login=user))
    ana, ben = pages
    expect(ana.page.locator("#persd-who")).to_contain_text("Signed in as ana")
    task = ana.task_id.inner_text()
    expect(ben.task_id).to_have_text(task)

    ana.click("persd-approve")
    expect(ana.message).to_contain_text(f"Approved: {task}")
    ben.click("persd-reject")
    expect(ben.message).to_contain_text("Conflict")
    expect(ben.message).to_contain_text("changed by ana")
    expect(ben.task_id).to_have_text(task)
    expect(ben.page.locator("#persd-header")).to_contain_text("approved · v1")
    with auth_server.store(name) as store:
        rid = store.queue.list(QueueFilters(search=task), limit=1)[0].refinement_id
        assert (store.reviews.get(rid).status, store.reviews.get(rid).reviewer) == ("approved", "ana")
    for review in pages:
        review.page.context.close()


def test_keyboard_shortcuts_act_but_not_while_typing(app_server: Server, page: Page):
    review = Review(page).open(app_server.url, app_server.session())
    expect(page.locator("#persd-approve")).to_have_text("Approve (A)")
    first = review.task_id.inner_text()
    page.locator("#persd-reason textarea").fill("")
    page.locator("#persd-reason textarea").press("a")  # typing: no approve
    page.locator("#persd-edit").click()
    page.locator("#persd-editor .cm-content").click()
    page.keyboard.type("a")                            # typing code: no approve
    expect(page.locator("#persd-reason textarea")).to_have_value("a")
    page.keyboard.press("Escape")                      # leave the editor
    page.locator("#persd-header").click()               # leave the text fields
    page.keyboard.press("j")
    expect(review.task_id).not_to_have_text(first)
    expect(review.count("approved")).to_have_text("0")
    second = review.task_id.inner_text()
    page.keyboard.press("a")
    expect(review.message).to_contain_text(f"Approved: {second}")
    expect(review.count("approved")).to_have_text("1")
    page.keyboard.press("u")
    expect(review.message).to_contain_text(f"Undid your approval of {second}")


def test_empty_folder_offers_the_demo(tmp_path, demo_template, page: Page):
    server = Server(tmp_path, demo_template, demo_limit=4)
    try:
        page.goto(server.url)
        button = page.locator("#persd-build-demo")
        expect(button).to_be_visible()
        expect(page.locator(".persd-empty")).to_contain_text("No session picked")
        area = page.locator("#persd-record-area")
        expect(area).to_be_hidden()
        button.click()
        expect(page.locator("[data-testid=task-id]")).to_be_visible(timeout=60_000)
        expect(area).to_be_visible()
        expect(page.get_by_test_id("simulated-banner")).to_be_visible()
        expect(button).to_be_hidden()
    finally:
        server.running.close()


def test_review_screen_screenshot(app_server: Server, page: Page, tmp_path):
    review = Review(page).open(app_server.url, app_server.session("demo"))
    page.locator("#persd-header").click()
    for key in "aar":  # a few decisions, so the counts show some
        shown = review.task_id.inner_text()
        page.keyboard.press(key)
        expect(review.task_id).not_to_have_text(shown)
    for _ in range(10):
        if review.task_id.inner_text() == "HumanEval/9":
            break
        shown = review.task_id.inner_text()
        page.keyboard.press("j")
        expect(review.task_id).not_to_have_text(shown)
    expect(review.task_id).to_have_text("HumanEval/9")
    page.locator("#persd-show-reference input").check()
    expect(page.locator("#persd-reference-diff")).to_contain_text("Reference solution")
    page.locator("#persd-header").click()
    target = SCREENSHOT if os.environ.get("PERSD_UPDATE_SCREENSHOT") else tmp_path / "shot.png"
    page.screenshot(path=str(target))
    assert target.stat().st_size > 20_000


def test_analysis_screen_screenshot(app_server: Server, page: Page, tmp_path):
    from persd.demo import build_demo_session

    build_demo_session(app_server.sessions_dir, "demo-full")  # all 164 tasks, as `persd demo`
    page.goto(f"{app_server.url}/?session=demo-full")
    expect(page.locator("#persd-session input")).to_have_value("demo-full")
    page.get_by_role("tab", name="Analysis").click()
    expect(page.locator("[data-testid=analysis-summary]")).to_contain_text("164")
    expect(page.locator(".persd-an-plot .js-plotly-plot")).to_have_count(4)
    page.wait_for_function("document.querySelectorAll('.persd-an-plot .js-plotly-plot "
                           ".main-svg').length >= 4")
    page.locator("[data-testid=analysis-summary]").click()  # no hover label in the picture
    target = (ANALYSIS_SCREENSHOT if os.environ.get("PERSD_UPDATE_SCREENSHOT")
              else tmp_path / "analysis.png")
    page.screenshot(path=str(target), full_page=True)
    assert target.stat().st_size > 20_000
