"""The Queue tab, My queue and the reject-reason taxonomy in real Chromium, on copies of the
demo session with planted records: a refinement that hard-codes its task's visible test
comes first in "risk first" with why; a bulk reject names the record a reviewer edited and
leaves it unless told to overwrite; records assigned to the reviewer are "My queue" in the
Queue and in Review; a reason picked in Review is counted in Analysis. Screenshots at
1400x900 and 1920x1080 go to PERSD_QUEUE_SCREENSHOTS (a folder) when it is set."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from persd.review_reasons import parse
from persd.tasks import Task
from tests.browser.conftest import Server
from tests.browser.test_review_app import Review

pytestmark = pytest.mark.browser
PROMPT = 'def triple(n):\n    """Three times n.\n    >>> triple(7)\n    21\n    """\n'
PLANTED = Task(task_id="Planted/1", prompt=PROMPT, entry_point="triple",
               test="def check(candidate):\n    assert candidate(7) == 21\n\ncheck(triple)\n",
               visible_test="assert triple(7) == 21\n", solution="    return 3 * n\n",
               source="planted")


def plant_hard_coded(store) -> int:
    """A refinement that answers the visible test by rote: `if n == 7: return 21`."""
    store.tasks.add([PLANTED])
    attempt = store.attempts.add(PLANTED.task_id, 0, model="student", prompt=PROMPT,
                                completion="    return n + n\n", program=PROMPT + "    return n + n\n")
    program = PROMPT + "    if n == 7:\n        return 21\n    return n + n\n"
    return store.refinements.add("persd", teacher_model="teacher", program=program,
                                validated=False, attempt_id=attempt.id).id


def open_queue(page: Page, url: str, session: str) -> None:
    page.goto(f"{url}/?session={session}")
    expect(page.locator("#persd-session input")).to_have_value(session)
    page.get_by_role("tab", name="Queue").click()
    expect(page.get_by_test_id("queue-counts")).to_be_visible()


def cell(page: Page, row: int, column: int):
    return page.locator(f"#persd-q-table [data-testid=cell-{row}-{column}]")


def choose(page: Page, elem_id: str, option: str) -> None:
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def shoot(page: Page, name: str) -> None:
    folder = os.environ.get("PERSD_QUEUE_SCREENSHOTS")
    if not folder:
        return
    for width, height in ((1400, 900), (1920, 1080)):
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)
        page.screenshot(path=str(Path(folder) / f"{name}-{width}.png"))
    page.set_viewport_size({"width": 1400, "height": 900})


def test_risk_first_click_opens_and_bulk_reject_names_an_edited_record(app_server: Server,
                                                                         page: Page):
    name = app_server.session()
    with app_server.store(name) as store:
        planted = plant_hard_coded(store)
        others = [r for r in store.refinements.list() if r.id != planted and r.program]
        edited = others[0]
        assert edited.task_id == "HumanEval/0"
        store.reviews.set(edited.id, "edited", reviewer="ana", expected_version=0,
                         edited_program=edited.program + "\n# checked\n")
        total = len(store.refinements.list())
    open_queue(page, app_server.url, name)
    expect(page.get_by_test_id("queue-counts")).to_contain_text(f"{total} records")
    expect(cell(page, 0, 2)).to_have_text("Planted/1")           # riskiest first
    expect(cell(page, 0, 4)).to_contain_text("hard-codes the tests")
    cell(page, 0, 2).click()
    opened = page.get_by_test_id("queue-opened")
    expect(opened).to_contain_text("branches on the test input 7")
    link = page.get_by_test_id("queue-open-link")
    expect(link).to_have_attribute("href", f"?session={name}&record={planted}&status=any")
    shoot(page, "queue")

    # Tick the planted record and the edited one, then reject both with a reason.
    cell(page, 0, 0).locator("input[type=checkbox]").click()
    expect(page.get_by_test_id("queue-counts")).to_contain_text("1 selected")
    page.locator("#persd-q-text textarea").fill(edited.task_id)
    page.locator("#persd-q-text textarea").press("Enter")
    # The edited record is the demo's first (HumanEval/0): no other task id contains it.
    expect(page.get_by_test_id("queue-counts")).to_contain_text("1 record ·")
    expect(cell(page, 0, 2)).to_have_text(edited.task_id)
    index = 0
    page.locator(f"#persd-q-table [data-testid=cell-{index}-0] input[type=checkbox]").click()
    expect(page.get_by_test_id("queue-counts")).to_contain_text("2 selected")
    choose(page, "persd-q-reason-kind", "hard-codes the tests")
    page.locator("#persd-q-reject").click()
    question = page.get_by_test_id("queue-question")
    expect(question).to_contain_text("Set 2 records to rejected?")
    expect(question).to_contain_text(f"{edited.task_id} (#{edited.id}, edited by ana)")
    shoot(page, "queue-confirm")
    page.locator("#persd-q-only-new").click()
    expect(page.locator("#persd-q-counts")).to_contain_text("1 record set to rejected")
    with app_server.store(name) as store:
        assert store.reviews.get(edited.id).status == "edited"
        assert parse(store.reviews.get(planted).reason)[0] == "hard_codes"

    page.locator(f"#persd-q-table [data-testid=cell-{index}-0] input[type=checkbox]").click()
    expect(page.get_by_test_id("queue-counts")).to_contain_text("1 selected")
    page.locator("#persd-q-reject").click()
    expect(question).to_contain_text("This overwrites 1 already decided")
    page.locator("#persd-q-overwrite").click()
    expect(page.locator("#persd-q-counts")).to_contain_text("1 record set to rejected")
    with app_server.store(name) as store:
        assert store.reviews.get(edited.id).status == "rejected"

    page.locator("#persd-q-text textarea").fill("")
    page.locator("#persd-q-text textarea").press("Enter")
    expect(cell(page, 0, 2)).to_have_text("Planted/1")
    cell(page, 0, 2).click()
    link.click()                                                # opens it in Review
    expect(page.get_by_test_id("task-id")).to_have_text("Planted/1")


def test_my_queue_in_the_queue_view_and_in_review(app_server: Server, page: Page):
    name = app_server.session()
    with app_server.store(name) as store:
        mine = [r.id for r in store.refinements.list()][2:5]
        store.review_assignments.assign(mine, "local", by="lea")
        tasks = {store.refinements.get(rid).task_id for rid in mine}
    open_queue(page, app_server.url, name)
    page.locator("#persd-q-mine input").check()
    expect(page.get_by_test_id("queue-counts")).to_contain_text("3 records ·")
    shown = {cell(page, i, 2).inner_text() for i in range(3)}
    assert shown == tasks
    expect(cell(page, 0, 11)).to_have_text("local")             # the "assigned" column

    review = Review(page).open(app_server.url, name)
    review.open_filters()
    review.fill("persd-f-search", "mine")
    expect(page.get_by_test_id("in-view")).to_have_text("3")
    assert review.task_id.inner_text() in tasks
    expect(page.locator("#persd-counts")).to_contain_text("my queue: local")
    page.reload()                                               # the URL keeps "mine"
    expect(page.get_by_test_id("in-view")).to_have_text("3")


def test_a_reason_picked_in_review_is_counted_in_analysis(app_server: Server, page: Page):
    name = app_server.session()
    review = Review(page).open(app_server.url, name)
    first = review.task_id.inner_text()
    choose(page, "persd-reason-kind", "test is wrong")
    page.locator("#persd-reason textarea").fill("expects 12 for -4")
    review.click("persd-reject")
    expect(review.message).to_contain_text("[test is wrong] expects 12 for -4")
    expect(review.task_id).not_to_have_text(first)
    page.get_by_role("tab", name="Analysis").click()
    table = page.locator("#persd-an-reasons")
    expect(table).to_contain_text("test is wrong")
    row = table.locator("[role=row], tr", has_text="test is wrong").first
    expect(row).to_contain_text(re.compile(r"test is wrong\s*1"))
    expect(page.get_by_test_id("analysis-reasons-note")).to_contain_text(first)
    table.scroll_into_view_if_needed()
    shoot(page, "analysis-reasons")
    with app_server.store(name) as store:
        from persd.data import build_examples
        from persd.review_reasons import tasks_with_wrong_tests

        assert tasks_with_wrong_tests(store) == {first}
        assert first not in {row["task_id"] for row in build_examples(store, "persd")}
