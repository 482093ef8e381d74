"""The Evaluate tab in real Chromium: evaluate the base tiny model and a tiny LoRA adapter
from the app (real eval children, persd.runs.child on a job file), see before/after, open
a sample, and a click on a table row landing on the records behind it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server
from tests.browser.test_tabs import open_tab

pytestmark = pytest.mark.browser
EVAL_TIMEOUT_MS = 240_000


@pytest.fixture(scope="module")
def adapter(tmp_path_factory, tiny_model_dir) -> str:
    from persd.train import TrainConfig, train

    out = tmp_path_factory.mktemp("adapter") / "r1"
    rows = [{"prompt": "def f():\n", "completion": "    return 1\n"}] * 4
    train(TrainConfig(student=tiny_model_dir, output_dir=str(out), max_steps=1, lora_r=2,
                      batch_size=2), rows)
    return str(out)


def evaluate(page: Page, adapter_label: str | None) -> None:
    if adapter_label:
        page.locator("#persd-ev-adapter input").click()
        page.get_by_role("option", name=adapter_label).click()
        expect(page.locator("#persd-ev-round input")).to_have_value("1")
    page.get_by_text("custom", exact=True).click()
    page.locator("#persd-ev-samples input").fill("1")
    page.locator("#persd-ev-limit input").fill("2")
    page.locator("#persd-ev-max-new-tokens input").fill("8")
    page.locator("#persd-ev-max-new-tokens input").press("Tab")
    expect(page.locator("#persd-ev-command")).to_contain_text("--max-new-tokens 8")
    expect(page.locator("#persd-ev-command")).not_to_contain_text("--preset")  # custom, n=1
    status = page.get_by_test_id("eval-status")
    before = status.get_attribute("data-run") if status.count() else None
    page.locator("#persd-ev-start").click()
    # The previous run's "finished" stays on screen until the new run's status replaces it.
    finished = '[data-testid="eval-status"][data-status="finished"]'
    if before:
        finished += f':not([data-run="{before}"])'
    expect(page.locator(finished)).to_be_visible(timeout=EVAL_TIMEOUT_MS)


def test_evaluate_base_and_adapter_then_drill_down(app_server: Server, page: Page,
                                                   tiny_model_dir, adapter):
    session = app_server.session()
    with app_server.store(session) as store:
        run_id = store.runs.add("train", {"student": tiny_model_dir}, status="finished")
        store.runs.update(run_id, output=adapter)
    open_tab(page, app_server, session, "Evaluate")
    # The demo's tasks are HumanEval's: evaluating on them is contaminated, and says so.
    expect(page.get_by_test_id("contamination")).to_contain_text("overlap", timeout=90_000)
    page.locator("#persd-ev-student textarea").fill(tiny_model_dir)
    evaluate(page, None)
    evaluate(page, f"train run {run_id}: r1")

    # A real model's results on a simulated session: not labelled SIMULATED, but noted.
    expect(page.locator("#persd-ev-results-note")).to_contain_text("real model")
    changes = page.locator("#persd-ev-changes-table")
    expect(changes).to_contain_text("HumanEval/1")
    with app_server.store(session) as store:
        eval_runs = [r.id for r in store.runs.list(kind="eval")]
    assert len(eval_runs) == 2

    # A click on the row of HumanEval/1 opens its sample of the adapter's run.
    changes.get_by_text("HumanEval/1", exact=True).first.click()
    detail = page.get_by_test_id("eval-sample")
    expect(detail).to_have_attribute("data-task", "HumanEval/1")
    expect(detail).to_have_attribute("data-run", str(eval_runs[1]))
    expect(page.locator("#persd-ev-f-task textarea")).to_have_value("HumanEval/1")
    expect(page.locator("#persd-ev-browser-count")).to_contain_text("1 of 4 samples")
    # The sample shows its step 0 verdict and the repair step with a diff.
    expect(detail.locator('[data-step="0"]')).to_contain_text("hidden tests")
    expect(detail.locator('[data-step="1"]')).to_be_visible()

    # Opening another sample from the browser's table.
    page.locator("#persd-ev-f-task textarea").fill("")
    page.locator("#persd-ev-f-task textarea").press("Enter")
    page.locator("#persd-ev-samples-table").get_by_text("HumanEval/0", exact=True).filter(visible=True).first.click()
    expect(detail).to_have_attribute("data-task", "HumanEval/0")
