"""The review screen as a reviewer uses it, in real Chromium against the real app: the
error in the first viewport, a reject reason that stays with its record, drafts that
survive moving on, the view surviving a reload, saving an edit by keyboard, the ends of
the queue, and a second reviewer's change showing up without a reload."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect

from persd.store import QueueFilters
from persd.store.queue import ReviewQueue
from tests.browser.conftest import TIMEOUT_MS, Server
from tests.browser.test_review_app import Review

import pytest

pytestmark = pytest.mark.browser


def _go_to(review: Review, url: str, session: str, task: str) -> None:
    review.page.goto(f"{url}/?session={session}&q={task}")  # a link to the task's record
    expect(review.task_id).to_have_text(task)


def _editor_open(page: Page) -> None:
    page.locator("#persd-header").click()
    page.keyboard.press("e")
    expect(page.locator("#persd-editor .cm-content")).to_be_focused()


def test_the_error_is_in_the_first_viewport(app_server: Server, page: Page):
    review = Review(page)
    _go_to(review, app_server.url, app_server.session(), "HumanEval/3")  # its attempt raised NameError
    failure = page.get_by_test_id("attempt-failure")
    expect(failure.get_by_test_id("exception")).to_contain_text("NameError")
    expect(failure.get_by_test_id("failing-test")).to_be_visible()
    for part in (failure, page.locator("#persd-diff .persd-d2"), page.locator("#persd-run"),
                 page.locator("#persd-approve")):
        box = part.bounding_box()
        assert box and box["y"] >= 0 and box["y"] + box["height"] <= 900, box
    assert page.evaluate("window.scrollY") == 0
    page.get_by_text("Task description").click()  # one click away
    expect(page.locator("#persd-task .cm-content")).to_contain_text("def ")


def test_a_reject_reason_never_reaches_another_record(app_server: Server, page: Page):
    name = app_server.session()
    review = Review(page).open(app_server.url, name)
    first = review.task_id.inner_text()
    reason = page.locator("#persd-reason textarea")
    reason.fill("meant for the first record")
    page.locator("#persd-header").click()
    page.keyboard.press("j")
    expect(review.task_id).not_to_have_text(first)
    expect(reason).to_have_value("")
    second = review.task_id.inner_text()
    page.keyboard.press("r")
    expect(review.message).to_contain_text(f"Rejected: {second}")
    with app_server.store(name) as store:
        row = store.queue.list(QueueFilters(status="rejected"))[0]
        assert store.reviews.get(row.refinement_id).reason is None


def test_quick_key_presses_are_not_dropped(app_server: Server, page: Page):
    name = app_server.session()
    review = Review(page).open(app_server.url, name)
    with app_server.store(name) as store:
        queue = [str(row.refinement_id) for row in store.queue.list(
            QueueFilters(status="pending"), limit=10)]
    record = page.locator("#persd-header .persd-header[data-refinement]")
    expect(record).to_have_attribute("data-refinement", queue[0])
    page.locator("#persd-header").click()
    for _ in range(3):  # faster than the app answers: each is sent once the last landed
        page.keyboard.press("j")
    expect(record).to_have_attribute("data-refinement", queue[3])
    page.keyboard.press("k")
    page.keyboard.press("k")
    expect(record).to_have_attribute("data-refinement", queue[1])
    expect(review.message).not_to_contain_text("first record")


def test_a_draft_survives_next_and_prev(app_server: Server, page: Page):
    review = Review(page).open(app_server.url, app_server.session())
    first = review.task_id.inner_text()
    _editor_open(page)
    page.keyboard.type("# my draft\n")
    expect(page.get_by_test_id("draft")).to_be_visible()      # after the typing pause
    expect(page.locator("#persd-diff")).to_contain_text("# my draft")  # the diff follows
    page.keyboard.press("Escape")
    page.keyboard.press("j")
    expect(review.task_id).not_to_have_text(first)
    expect(page.get_by_test_id("draft")).to_have_count(0)
    page.keyboard.press("k")
    expect(review.task_id).to_have_text(first)
    expect(page.get_by_test_id("draft")).to_be_visible()
    expect(page.locator("#persd-editor .cm-content")).to_contain_text("# my draft")
    page.keyboard.press("k")  # the first record: says so instead of wrapping
    expect(review.message).to_contain_text("first record in this view")
    expect(review.task_id).to_have_text(first)


def test_reviewer_filters_record_and_draft_survive_a_reload(app_server: Server, page: Page,
                                                           monkeypatch):
    session = app_server.session()
    with app_server.store(session) as store:
        validated = [row.refinement_id for row in store.queue.list(
            QueueFilters(status="pending", validated=True), limit=2)]
    review = Review(page).open(app_server.url, session)
    name = page.locator("#persd-reviewer textarea, #persd-reviewer input").first
    name.fill("carla")
    review.open_filters()
    # J at once, while the filtered view is still on its way (a busy server, injected: a
    # new view reads the error types last): it waits for the view and moves within it. It
    # used to land first and be drawn over by the view's first record.
    slow_view = ReviewQueue.error_types
    monkeypatch.setattr(ReviewQueue, "error_types",
                        lambda queue: (time.sleep(1.5), slow_view(queue))[1])
    review.choose("persd-f-validated", "yes")
    page.locator("#persd-header").click()
    page.keyboard.press("j")
    record = page.locator("#persd-header .persd-header")
    expect(record).to_have_attribute("data-refinement", str(validated[1]))
    shown = review.task_id.inner_text()
    monkeypatch.undo()
    page.wait_for_function(f"location.search.includes('validated=yes') && "
                           f"location.search.includes('record={validated[1]}')")
    link = page.url
    page.reload()
    expect(review.task_id).to_have_text(shown)
    expect(name).to_have_value("carla")
    review.open_filters()
    expect(page.locator("#persd-f-validated input")).to_have_value("yes")
    other = page.context.new_page()  # a link opens the record
    other.goto(link)
    expect(other.locator("[data-testid=task-id]")).to_have_text(shown)
    other.close()


def test_save_and_approve_an_edit_by_keyboard(app_server: Server, page: Page):
    name = app_server.session()
    review = Review(page).open(app_server.url, name)
    task = review.task_id.inner_text()
    original = page.locator("#persd-editor .cm-content").inner_text()
    _editor_open(page)
    page.keyboard.press("Control+End")
    page.keyboard.type("\nraise SystemExit('broken by keyboard')\n")
    page.keyboard.press("Control+s")
    expect(review.message).to_contain_text("fails the hidden tests")
    expect(page.locator("#persd-run")).to_contain_text("SystemExit")
    expect(page.locator("#persd-diff")).to_contain_text("broken by keyboard")
    page.keyboard.press("Control+a")  # put the original back, with a comment
    page.keyboard.insert_text(original.rstrip() + "\n# fixed by keyboard\n")
    page.keyboard.press("Control+Enter")
    expect(review.message).to_contain_text(f"Saved edit (passes the hidden tests): {task}")
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    expect(review.message).to_contain_text(f"Kept the saved edit: {task}")
    with app_server.store(name) as store:
        row = store.queue.list(QueueFilters(status="edited"))[0]
        assert "# fixed by keyboard" in store.reviews.get(row.refinement_id).edited_program


def test_another_reviewers_change_shows_up(app_server: Server, browser):
    name = app_server.session()
    views = []
    for _ in range(2):
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        views.append(Review(context.new_page()).open(app_server.url, name))
    one, two = views
    task = one.task_id.inner_text()
    expect(two.task_id).to_have_text(task)
    two.page.locator("#persd-header").click()
    two.page.keyboard.press("a")
    expect(two.message).to_contain_text(f"Approved: {task}")
    expect(one.message).to_contain_text(f"set approved: {task}")  # no reload
    expect(one.page.locator("#persd-header")).to_contain_text("approved · v1")
    expect(one.count("approved")).to_have_text("1")
    for view in views:
        view.page.context.close()
