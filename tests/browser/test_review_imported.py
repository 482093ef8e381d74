"""An imported record on the review screen, in real Chromium: the error text its file gave
for the attempt is on screen under "Why the attempt failed", the code is named by its
origin (the paper's gold-rectification file: "Gold refinement"), and a refinement never
run says so instead of "fails the tests"."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from persd.importing import import_file
from persd.store import SessionStore
from tests.browser.conftest import Server
from tests.browser.test_review_app import Review

pytestmark = pytest.mark.browser

RELEASE = Path(__file__).parent.parent / "data" / "persdistill" / "rectify_sample.jsonl"


def test_an_imported_attempts_error_text_and_origin_are_on_screen(app_server: Server, page: Page,
                                                                    tmp_path):
    gold = shutil.copy(RELEASE, tmp_path / "finetuning_data_gold_rectification_nochatgpt.jsonl")
    with SessionStore.open(app_server.sessions_dir, "imported-gold", create=True) as store:
        import_file(store, gold, progress=False)  # no --tasks: nothing is run here
    review = Review(page)
    page.goto(f"{app_server.url}/?session=imported-gold&q=4")  # the row whose attempt raised TypeError
    expect(review.task_id).to_have_text("4")
    failure = page.get_by_test_id("attempt-failure")
    expect(failure.get_by_test_id("imported-error")).to_contain_text(
        "TypeError: 'str' object does not support item assignment")
    expect(failure).to_contain_text("error text of the imported file")
    header = page.locator("#persd-header")
    expect(header.get_by_test_id("not-run")).to_have_text("gold code not run")
    expect(header.get_by_test_id("import-source")).to_contain_text("gold_rectification_nochatgpt.jsonl:4")
    expect(page.locator("#persd-run")).to_contain_text("Gold refinement: not run against the hidden tests")
    expect(page.locator("#persd-diff")).to_contain_text("Gold refinement")
    expect(page.locator("body")).not_to_contain_text("Teacher refinement")
