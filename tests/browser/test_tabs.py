"""The Collect, Train, Analysis and Live demo tabs in real Chromium against the real app
on simulated demo sessions: a tiny-model training run whose loss curve grows, survives a
page reload and is aborted; the live demo's two steps; the analysis charts, recomputed when
the tab is opened; a simulated collection that adds a session; a real collection (tiny
student, local HTTP teacher) cancelled from the page, then resumed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Server

pytestmark = pytest.mark.browser
# Points (markers, bars, histogram bins) plotly.js has drawn in a gr.Plot: its calcdata.
POINTS = """id => {
    const plot = document.querySelector(`#${id} .js-plotly-plot`);
    const traces = (plot && plot.calcdata) || [];
    return traces.reduce((n, t) => n + t.filter(p => p && p.y !== undefined
                                                    && !Number.isNaN(p.y)).length, 0);
}"""


def open_tab(page: Page, server: Server, session: str, tab: str) -> None:
    page.goto(f"{server.url}/?session={session}")
    expect(page.locator("#persd-session input")).to_have_value(session)
    page.get_by_role("tab", name=tab).click()


def points(page: Page, elem_id: str) -> int:
    return page.evaluate(POINTS, elem_id)


def wait_points(page: Page, elem_id: str, at_least: int, timeout_ms: int = 120_000) -> int:
    page.wait_for_function(f"({POINTS})('{elem_id}') >= {at_least}", timeout=timeout_ms,
                           polling=250)
    return points(page, elem_id)


def pick_model(page: Page, model: str) -> None:
    """Type a model into the Train tab's student field (a dropdown taking custom values)."""
    # The form's fill at page load (the output name comes with it) must have landed first:
    # arriving late, it would replace the typed model with its own suggestion.
    expect(page.locator("#persd-train-output input, #persd-train-output textarea")) \
        .not_to_have_value("")
    field = page.locator("#persd-train-student input")
    field.fill(model)
    field.press("Enter")
    # The dropdown commits a typed value to the app asynchronously: wait until the app has
    # it (the command preview names it) before anything else is clicked.
    expect(page.locator("#persd-train-command")).to_contain_text(f"--student {model}")


def test_train_tab_live_loss_curve_reload_one_at_a_time_and_abort(
        app_server: Server, page: Page, tiny_model_dir):
    session = app_server.session()
    open_tab(page, app_server, session, "Train")
    expect(page.locator("#persd-train-examples")).to_contain_text("training examples")
    expect(page.locator("#persd-train-output textarea")).to_have_value(
        re.compile(rf"^{session}-persd-\d{{8}}-\d{{6}}$"))  # a name the app chose
    pick_model(page, tiny_model_dir)
    page.locator("#persd-train-output textarea").fill("../victim")  # only names, in runs/
    page.locator("#persd-train-start").click()
    expect(page.locator("#persd-train-notice")).to_contain_text("plain folder name")
    page.locator("#persd-train-output textarea").fill(f"{session}-run1")
    page.locator("#persd-train-max-steps input").fill("300")
    page.locator("#persd-train-batch input").fill("2")
    page.locator("#persd-train-lr textarea").fill("1e-3")
    page.locator("#persd-train-lora-r input").fill("4")
    expect(page.locator("#persd-train-command")).to_contain_text(
        f"persd train --session {session} --variant persd --student {tiny_model_dir}")
    expect(page.locator("#persd-train-command")).to_contain_text("--max-steps 300")

    page.locator("#persd-train-start").click()
    status = page.locator("[data-testid=train-status]")
    expect(status).to_have_attribute("data-status", "running")
    first = wait_points(page, "persd-train-loss", 1)
    grown = wait_points(page, "persd-train-loss", first + 2)
    assert grown > first  # the curve updates while the job runs

    page.reload()  # the page re-attaches to the session's running job
    expect(page.locator("#persd-session input")).to_have_value(session)
    page.get_by_role("tab", name="Train").click()
    expect(status).to_have_attribute("data-status", "running")
    assert wait_points(page, "persd-train-loss", grown + 1) > grown
    expect(page.locator("#persd-train-log textarea")).not_to_have_value("")

    # One job at a time: a second start is refused while this one runs.
    pick_model(page, tiny_model_dir)
    page.locator("#persd-train-output textarea").fill(f"{session}-run2")
    page.locator("#persd-train-start").click()
    expect(page.locator("#persd-train-notice")).to_contain_text("already running")
    expect(status).to_have_attribute("data-status", "running")  # the refusal keeps the job
    assert (app_server.runs_dir / f"{session}-run1" / "train.log").is_file()
    assert not (app_server.runs_dir / f"{session}-run2").exists()

    page.locator("#persd-train-abort").click()
    expect(status).to_have_attribute("data-status", "stopped", timeout=60_000)
    history = page.locator("#persd-train-history")
    expect(history).to_contain_text("stopped")
    assert points(page, "persd-train-history-curves") >= grown + 1
    with app_server.store(session) as store:
        (run,) = store.runs.list(kind="train")
        assert run.status == "stopped" and run.result["checkpoint"]


def test_train_tab_warns_when_the_auto_selection_shrinks_after_a_review(
        app_server: Server, page: Page):
    session = app_server.session()
    open_tab(page, app_server, session, "Train")
    warning = page.locator("[data-testid=train-small-selection]")
    expect(warning).to_contain_text("validated results while nothing is reviewed")
    page.get_by_role("tab", name="Review").click()
    first = page.locator("[data-testid=task-id]").inner_text()
    page.locator("#persd-approve").click()
    expect(page.locator("#persd-message")).to_contain_text(f"Approved: {first}")
    page.get_by_role("tab", name="Train").click()   # the count follows the review
    expect(warning).to_contain_text("1 training example (persd, auto")
    expect(warning).to_contain_text("1 approved or edited")
    expect(warning).to_contain_text("validated but unreviewed are left out")


@pytest.fixture(scope="module")
def models_server(tmp_path_factory, demo_template):
    """An app whose models folder is a temp folder (the tiny model is written there)."""
    folder = tmp_path_factory.mktemp("app-models")
    server = Server(tmp_path_factory.mktemp("sessions-models"), demo_template,
                    runs_dir=tmp_path_factory.mktemp("runs-models"), models_dir=folder / "models")
    server.models_dir = folder / "models"
    yield server
    server.running.close()


def test_train_tab_refuses_a_missing_model_and_creates_the_tiny_one(models_server: Server,
                                                                     page: Page):
    session = models_server.session()
    open_tab(page, models_server, session, "Train")
    missing = str(models_server.models_dir / "tiny")
    pick_model(page, missing)
    page.locator("#persd-train-start").click()
    notice = page.locator("#persd-train-notice")
    expect(notice).to_contain_text(f"no model folder {missing}")
    expect(notice).to_contain_text("create the tiny model")
    page.locator("#persd-train-create-tiny").click()
    expect(notice).to_contain_text("Created the tiny model", timeout=120_000)
    expect(page.locator("#persd-train-student input")).to_have_value(missing)
    assert (models_server.models_dir / "tiny" / "config.json").is_file()
    expect(page.locator("#persd-train-command")).to_contain_text(f"--student {missing}")
    with models_server.store(session) as store:
        assert store.runs.list(kind="train") == []   # the refused start recorded nothing


def test_live_demo_runs_its_typed_example_with_the_simulated_student(app_server: Server,
                                                                      page: Page):
    session = app_server.session()
    open_tab(page, app_server, session, "Live demo")
    expect(page.locator("#persd-live-task input")).to_have_value("HumanEval/0")
    page.locator("#persd-live-start").click()   # a task of the session first
    expect(page.locator("#persd-live-program")).to_contain_text("has_close_elements")
    page.locator("#persd-live-source").get_by_text("Type a task").click()
    page.locator("#persd-live-start").click()
    expect(page.locator("#persd-live-program")).to_contain_text("second_largest")
    expect(page.locator("#persd-live-steps")).not_to_contain_text("has_close_elements")
    page.locator("#persd-live-all").click()
    expect(page.locator("#persd-live-message")).to_contain_text("the visible tests pass")


def test_live_demo_runs_two_steps(app_server: Server, page: Page):
    session = app_server.session()
    open_tab(page, app_server, session, "Live demo")
    expect(page.locator("#persd-live-task input")).to_have_value("HumanEval/0")
    page.locator("#persd-live-start").click()
    steps = page.locator("[data-testid=live-steps]")
    expect(steps).to_have_text("1")
    expect(page.locator("#persd-live-message")).to_contain_text("visible tests fail")
    expect(page.locator("#persd-live-steps [data-passed=false]").first).to_be_visible()
    expect(page.locator("#persd-live-program")).to_contain_text("has_close_elements")

    page.locator("#persd-live-next").click()
    expect(steps).to_have_text("2")
    expect(page.locator("#persd-live-message")).to_contain_text(
        "the visible tests pass after 1 repair step")
    latest = page.locator(".persd-live-step[data-step='1']")
    expect(latest.locator(".persd-run-ok")).to_have_count(2)   # visible and hidden pass
    expect(latest.locator(".persd-diff-table")).to_be_visible()
    expect(page.locator("#persd-live-steps")).to_contain_text("SIMULATED")


def test_analysis_tab_shows_its_charts_on_the_demo(app_server: Server, page: Page):
    session = app_server.session()
    open_tab(page, app_server, session, "Analysis")
    expect(page.locator("[data-testid=analysis-summary]")).to_contain_text("24")
    expect(page.locator("[data-testid=analysis-summary]")).to_contain_text("none (simulated)")
    expect(page.locator("[data-testid=analysis-note]")).to_contain_text("No evaluation runs")
    # No eval run: the two pass@1 charts stay hidden (the note says how to get them).
    expect(page.locator(".persd-an-plot .js-plotly-plot")).to_have_count(4)
    expect(page.locator("#persd-an-eval_runs")).to_be_hidden()
    for elem_id in ("persd-an-error_taxonomy", "persd-an-teacher_fixes",
                    "persd-an-personalisation", "persd-an-teacher_yield"):
        assert wait_points(page, elem_id, 1, timeout_ms=20_000) >= 1
    expect(page.locator("#persd-an-error_taxonomy")).to_contain_text("SIMULATED")
    expect(page.locator("#persd-an-tasks")).to_contain_text("HumanEval/0")
    expect(page.locator("#persd-an-tasks")).not_to_contain_text("eval pass@1")


def test_analysis_tab_recomputes_when_opened(app_server: Server, page: Page):
    session = app_server.session()
    open_tab(page, app_server, session, "Analysis")
    summary = page.locator("[data-testid=analysis-summary]")
    expect(summary).to_contain_text("24")
    tasks = page.locator("#persd-an-tasks")
    expect(tasks).to_contain_text("pending")
    expect(tasks).not_to_contain_text("approved")
    page.get_by_role("tab", name="Review").click()
    first = page.locator("[data-testid=task-id]").inner_text()
    page.locator("#persd-approve").click()
    expect(page.locator("#persd-message")).to_contain_text(f"Approved: {first}")
    page.get_by_role("tab", name="Analysis").click()   # no Refresh pressed
    expect(tasks).to_contain_text("approved")


def test_collect_tab_builds_a_simulated_session(app_server: Server, page: Page):
    session = app_server.session()
    open_tab(page, app_server, session, "Collect")
    page.locator("#persd-col-backend").get_by_text("Simulated: the offline demo").click()
    page.locator("#persd-col-session textarea").fill("collected-sim")
    page.locator("#persd-col-limit input").fill("5")
    page.locator("#persd-col-run").click()
    progress = page.locator("[data-testid=collect-progress]")
    expect(progress).to_have_attribute("data-state", "done", timeout=60_000)
    expect(progress).to_contain_text("5/5 tasks")
    expect(page.locator("#persd-col-summary")).to_contain_text("SIMULATED")
    with app_server.store("collected-sim") as store:
        assert store.simulated and len(store.attempts.list()) == 5
    page.locator("#persd-session input").click()
    expect(page.get_by_role("option", name="collected-sim", exact=True)).to_be_visible()


def test_collect_tab_cancel_stops_keeps_the_work_and_resumes(app_server: Server, page: Page,
                                                              tiny_model_dir):
    from persd.tasks import load_tasks
    from tests.openai_server import OpenAITestServer

    limit = 6
    # A slow teacher, one call at a time: the round would take about limit x 2 s.
    with OpenAITestServer(tasks=load_tasks("humaneval")[:limit], latency_s=2.0) as teacher:
        open_tab(page, app_server, app_server.session(), "Collect")
        expect(page.locator("#persd-col-backend input[value=sim]")).to_be_checked()  # demo
        page.locator("#persd-col-backend").get_by_text("Real models").click()
        # Real results never default into the simulated session: a new name is proposed.
        expect(page.locator("#persd-col-mode")).to_contain_text("Real models: the student")
        expect(page.locator("#persd-col-session textarea")).to_have_value(
            re.compile(r"^collect-\d{8}-\d{4}"))
        page.locator("#persd-col-session textarea").fill("cancel-me")
        page.locator("#persd-col-limit input").fill(str(limit))
        page.locator("#persd-col-student textarea").fill(tiny_model_dir)
        page.locator("#persd-col-base-url input").fill(teacher.base_url)  # a typed one
        page.locator("#persd-col-base-url input").press("Enter")
        page.locator("#persd-col-api-key input").fill("sk-test")
        page.locator("#persd-col-teacher-model textarea").fill("test-teacher")
        page.locator("#persd-col-concurrency input").fill("1")
        page.locator("#persd-col-max-new-tokens input").fill("16")
        page.locator("#persd-col-max-new-tokens input").press("Tab")
        command = page.locator("#persd-col-command")  # what Run does, as a command line
        expect(command).to_contain_text("persd collect --session cancel-me")
        expect(command).to_contain_text("--max-new-tokens 16")
        expect(command).not_to_contain_text("sk-test")
        cancel = page.locator("#persd-col-cancel")
        expect(cancel).to_be_disabled()
        page.locator("#persd-col-run").click()
        progress = page.locator("[data-testid=collect-progress]")
        expect(progress).to_contain_text(re.compile(r"[1-9]\d* attempts"), timeout=120_000)
        expect(progress).to_have_attribute("data-state", "running")
        expect(page.locator("#persd-col-run")).to_be_disabled()
        expect(cancel).to_be_enabled()
        cancel.click()
        expect(progress).to_have_attribute("data-state", "stopped", timeout=30_000)
        expect(progress).to_contain_text("run again with the same settings to resume")
        expect(page.locator("#persd-col-summary")).to_contain_text("stopped on request")
        with app_server.store("cancel-me") as store:
            (run,) = store.runs.list(kind="collect")
            assert run.status == "stopped" and not store.pending.work(1).done
            assert store.attempts.list(round=1)  # the work done before the cancel is kept

        page.locator("#persd-col-run").click()   # the same settings resume the round
        expect(progress).to_have_attribute("data-state", "done", timeout=180_000)
        expect(progress).to_contain_text(f"{limit}/{limit} tasks")
    with app_server.store("cancel-me") as store:
        assert [r.status for r in store.runs.list(kind="collect")] == ["stopped", "finished"]
        assert store.pending.work(1).done and len(store.attempts.list(round=1)) == limit
