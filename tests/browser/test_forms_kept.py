"""Issue 25 in real Chromium: the Train and Evaluate forms keep their values per session
across tab switches and reloads and save/load named presets (defect 3, "saved settings");
the live demo's "Run to the end" on another task after a finished run (defect 4)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server
from tests.browser.test_tabs import open_tab

pytestmark = pytest.mark.browser


def _number(page: Page, elem_id: str):
    return page.locator(f"#{elem_id} input")


def test_evaluate_and_train_forms_keep_their_values_and_presets(app_server: Server,
                                                                page: Page):
    session = app_server.session()
    open_tab(page, app_server, session, "Evaluate")
    contamination = page.locator("#persd-ev-contamination")
    expect(contamination).to_contain_text("overlap", timeout=90_000)  # the form has landed
    student = page.locator("#persd-ev-student textarea")
    student.fill("models/my-student")
    page.get_by_text("custom", exact=True).click()
    _number(page, "persd-ev-samples").fill("3")
    _number(page, "persd-ev-limit").fill("7")
    _number(page, "persd-ev-limit").press("Tab")
    expect(page.locator("#persd-ev-command")).to_contain_text("--samples 3")

    page.get_by_role("tab", name="Train").click()
    _number(page, "persd-train-epochs").fill("1")
    _number(page, "persd-train-batch").fill("2")
    _number(page, "persd-train-batch").press("Tab")
    page.get_by_role("tab", name="Evaluate").click()
    expect(student).to_have_value("models/my-student")

    # A reload (and so another browser) finds both forms as they were left.
    page.reload()
    expect(page.locator("#persd-session input")).to_have_value(session)
    page.get_by_role("tab", name="Evaluate").click()
    expect(contamination).to_contain_text("overlap", timeout=90_000)
    expect(student).to_have_value("models/my-student")
    expect(_number(page, "persd-ev-samples")).to_have_value("3")
    expect(_number(page, "persd-ev-limit")).to_have_value("7")
    expect(page.locator("#persd-ev-command")).to_contain_text("--limit 7")
    page.get_by_role("tab", name="Train").click()
    expect(_number(page, "persd-train-epochs")).to_have_value("1")
    expect(_number(page, "persd-train-batch")).to_have_value("2")

    # A named preset: saved, the form changed, loaded back.
    page.get_by_role("tab", name="Evaluate").click()
    page.locator("#persd-evaluate-preset-name textarea").fill("three samples")
    page.locator("#persd-evaluate-preset-save").click()
    expect(page.locator("#persd-evaluate-preset-note")).to_contain_text("Saved the preset")
    _number(page, "persd-ev-samples").fill("9")
    _number(page, "persd-ev-samples").press("Tab")
    expect(page.locator("#persd-ev-command")).to_contain_text("--samples 9")
    page.locator("#persd-evaluate-preset-pick input").click()
    page.get_by_role("option", name="three samples").click()
    page.locator("#persd-evaluate-preset-load").click()
    expect(_number(page, "persd-ev-samples")).to_have_value("3")
    expect(page.locator("#persd-ev-command")).to_contain_text("--samples 3")

    # Another session has its own memory.
    other = app_server.session()
    page.goto(f"{app_server.url}/?session={other}")
    page.get_by_role("tab", name="Evaluate").click()
    expect(contamination).to_contain_text("overlap", timeout=90_000)
    expect(student).to_have_value("")
    expect(_number(page, "persd-ev-samples")).not_to_have_value("3")
    assert not (app_server.sessions_dir / f"{other}.forms.json").exists()


def test_live_demo_run_to_the_end_on_another_task_after_a_finished_run(app_server: Server,
                                                                       page: Page):
    session = app_server.session()
    open_tab(page, app_server, session, "Live demo")
    expect(page.locator("#persd-live-task input")).to_have_value("HumanEval/0")
    page.locator("#persd-live-all").click()  # no Start first: it starts the form's task
    message = page.locator("#persd-live-message")
    expect(message).to_contain_text("Done")
    head = page.locator("#persd-live-steps .persd-counts")
    expect(head).to_contain_text("task HumanEval/0")

    page.locator("#persd-live-task input").click()
    page.get_by_role("option", name="HumanEval/2", exact=True).click()
    page.locator("#persd-live-all").click()
    expect(head).to_contain_text("task HumanEval/2")
    expect(message).to_contain_text("Done")
    expect(page.locator("#persd-live-program")).not_to_contain_text("has_close_elements")

    page.locator("#persd-live-source").get_by_text("Type a task").click()
    page.locator("#persd-live-all").click()
    expect(head).to_contain_text("task custom")
    expect(page.locator("#persd-live-program")).to_contain_text("second_largest")
    expect(message).to_contain_text("Done")
