"""My queue in real Chromium with logins on: the records assigned to the signed-in
reviewer, by a review assignment (Queue's "Assign") and by a review-kind study, are what
Review's "My queue" button shows, what the study's link opens, and what a reload keeps;
another reviewer's assignments are not in it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import USERS, Server
from tests.browser.test_review_app import Review

pytestmark = pytest.mark.browser


def _plan(store) -> dict[str, set[str]]:
    """Assignments on pending records: ana two directly and one through a review study,
    ben one of each. Returns reviewer -> the task ids of their records."""
    pending = [rid for rid, status, _ in store.queue.states() if status == "pending"]
    tasks = {rid: store.refinements.get(rid).task_id for rid in pending[:6]}
    assert len(set(tasks.values())) == 6
    store.review_assignments.assign(pending[:2], "ana", by="lea")
    store.review_assignments.assign([pending[2]], "ben", by="lea")
    study = store.studies.add("second look", "review", owner="ana")
    items = store.studies.add_items(study.id, [{"task_id": tasks[rid], "candidate_a": rid}
                                             for rid in pending[3:5]])
    store.studies.assign(study.id, {items[0].id: ["ana"], items[1].id: ["ben"]}, by="ana")
    return {"ana": {tasks[rid] for rid in (pending[0], pending[1], pending[3])},
            "ben": {tasks[rid] for rid in (pending[2], pending[4])}}


def _shown_tasks(review: Review, count: int) -> set[str]:
    seen = {review.task_id.inner_text()}
    review.page.locator("#persd-header").click()   # out of the text fields: keys act
    for _ in range(count - 1):
        before = review.task_id.inner_text()
        review.page.keyboard.press("j")
        expect(review.task_id).not_to_have_text(before)
        seen.add(review.task_id.inner_text())
    return seen


def _my_queue(review: Review, user: str, tasks: set[str], walk: bool = True) -> None:
    """The view is `user`'s queue: its count, its words, and (walking it with J from its
    first record) exactly `tasks`."""
    expect(review.page.get_by_test_id("in-view")).to_have_text(str(len(tasks)))
    expect(review.page.locator("#persd-counts")).to_contain_text(f"my queue: {user}")
    assert review.task_id.inner_text() in tasks
    if walk:
        assert _shown_tasks(review, len(tasks)) == tasks


def test_my_queue_button_and_the_review_study_link(auth_server: Server, browser):
    name = auth_server.session()
    with auth_server.store(name) as store:
        mine = _plan(store)
    contexts = [browser.new_context(viewport={"width": 1400, "height": 900}) for _ in USERS]
    try:
        ana, ben = (Review(c.new_page()).open(auth_server.url, name, login=user)
                    for c, user in zip(contexts, USERS))
        for review, (user, _) in ((ana, USERS[0]), (ben, USERS[1])):
            review.open_filters()
            review.click("persd-f-mine")
            expect(review.page.locator("#persd-f-search textarea")).to_have_value("mine")
            _my_queue(review, user, mine[user])
        assert "q=mine" in ana.page.url
        ana.page.reload()                  # the URL keeps My queue (and the record shown)
        _my_queue(ana, "ana", mine["ana"], walk=False)

        page: Page = ana.page
        page.goto(f"{auth_server.url}/?session={name}")       # no filter in the URL
        expect(page.get_by_test_id("in-view")).not_to_have_text("3")
        page.get_by_role("tab", name="Study").click()
        expect(page.get_by_test_id("study-review-queue")).to_contain_text(
            "1 record(s) of review study second look")
        page.get_by_test_id("study-my-queue").click()         # opens Review on My queue
        _my_queue(ana, "ana", mine["ana"])
        ana.open_filters()
        expect(page.locator("#persd-f-search textarea")).to_have_value("mine")
    finally:
        for context in contexts:
            context.close()
