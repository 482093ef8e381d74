"""The prompt format (issue 24, item 2) and style (issue 26) picked in Train's and
Evaluate's forms reach their Equivalent command in real Chromium: the value the page sends
is the field's own."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server
from tests.browser.test_tabs import open_tab, pick_model

pytestmark = pytest.mark.browser


def _choose(page: Page, elem_id: str, value: str) -> None:
    field = page.locator(f"#{elem_id} input")
    field.click()
    page.get_by_role("option", name=value, exact=True).click()


def test_the_chosen_prompt_format_is_in_the_equivalent_command(app_server: Server, page: Page,
                                                               tiny_model_dir):
    open_tab(page, app_server, app_server.session(), "Train")
    pick_model(page, tiny_model_dir)
    command = page.locator("#persd-train-command")
    expect(command).to_contain_text(f"--student {tiny_model_dir}")
    expect(command).not_to_contain_text("--prompt-format")  # completion: the default
    _choose(page, "persd-train-prompt-format", "chat")
    expect(command).to_contain_text("--prompt-format chat")

    page.get_by_role("tab", name="Evaluate").click()
    expect(page.locator("#persd-ev-contamination")).to_contain_text("overlap", timeout=90_000)
    page.locator("#persd-ev-student textarea").fill(tiny_model_dir)
    _choose(page, "persd-ev-prompt-format", "auto")
    expect(page.locator("#persd-ev-command")).to_contain_text("--prompt-format auto")
    _choose(page, "persd-ev-prompt-style", "paper")  # the release's prompts (issue 26)
    expect(page.locator("#persd-ev-command")).to_contain_text("--prompt-style paper")
