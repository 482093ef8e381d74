"""The prompt format (`--prompt-format chat|completion|auto`) in the app's Collect, Evaluate
and Train forms (issue 24, item 2): the CLI's default, the chosen value in the run's
recorded config, and in the Equivalent command."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from persd.demo import build_demo_session
from persd.jobs.evaluate import EvalJobs
from persd.student.chat import PROMPT_FORMATS
from persd_app.endpoints import TeacherEndpoints
from persd_app.tabs import SharedExecutor, Stores
from persd_app.tabs.collect_handlers import CollectForm, CollectHandlers
from persd_app.tabs.evaluate_handlers import CUSTOM, EvaluateHandlers
from persd_app.tabs.train_handlers import TrainForm, TrainHandlers


@pytest.fixture
def stores(tmp_path):
    build_demo_session(tmp_path / "sessions", name="demo", limit=4)
    stores = Stores(tmp_path / "sessions")
    yield stores
    stores.close()


def _until(check, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.3)
    raise AssertionError("timed out")


def test_the_forms_default_to_the_cli_s_prompt_format():
    from persd.collect import CollectConfig
    from persd.student.hf import StudentConfig
    from persd.train import TrainConfig

    assert CollectForm.prompt_format == TrainForm.prompt_format == "completion"
    assert CollectConfig.prompt_format == StudentConfig.prompt_format == \
        TrainConfig.prompt_format == "completion" and "chat" in PROMPT_FORMATS


def test_collect_s_chosen_format_is_what_its_round_records(stores, tmp_path):
    endpoints = TeacherEndpoints(listed=("http://127.0.0.1:9/v1",), allow_custom=False)
    handlers = CollectHandlers(stores, SharedExecutor(), endpoints, stores.sessions_dir)
    job = handlers.job(CollectForm(session="real", student="models/x", teacher_model="t",
                                   prompt_format="chat"), "real")
    # round_settings() is what persd.collect records in the collect run's config.
    assert job.config.prompt_format == "chat"
    assert job.config.round_settings()["prompt_format"] == "chat"


def test_evaluate_s_chosen_format_reaches_the_run_the_job_and_the_command(stores, tmp_path):
    handlers = EvaluateHandlers(stores, stores.sessions_dir, tmp_path / "runs",
                                jobs=EvalJobs())
    form = ("models/none", "", 0, CUSTOM, 1, 0.0, 0.95, 0, 16, "humaneval", 1)
    assert "--prompt-format" not in handlers.preview("demo", *form, "completion")["command"]
    assert "--prompt-format chat" in handlers.preview("demo", *form, "chat")["command"]
    request = handlers.request("demo", *form, "chat")
    run = handlers.jobs.start(stores.get("demo"), request, sessions_dir=stores.sessions_dir,
                              output_dir=tmp_path / "eval-1").run
    assert run.config["prompt_format"] == "chat"  # recorded with the run
    job = (tmp_path / "eval-1" / "eval_job.json").read_text()
    assert '"prompt_format": "chat"' in job      # what the child builds its student with
    _until(lambda: not handlers.jobs.refresh(stores.get("demo"), run.id).active)


@pytest.mark.slow
def test_train_s_chosen_format_reaches_the_run_and_the_command(stores, tmp_path, tiny_model_dir):
    handlers = TrainHandlers(stores, runs_dir=tmp_path / "runs", models_dir=tmp_path / "models")
    form = TrainForm(session="demo", student=tiny_model_dir, output="r1", max_steps=1, batch=2,
                     lora_r=2, prompt_format="auto")
    assert "--prompt-format auto" in handlers.preview(form)["command"]
    default = TrainForm(session="demo", student=tiny_model_dir, output="r1")
    assert "--prompt-format" not in handlers.preview(default)["command"]
    started = handlers.start(form)
    assert "Started train run" in started["notice"], started["notice"]
    store = stores.get("demo")
    (run,) = store.runs.list(kind="train")
    assert run.config["prompt_format"] == "auto"
    done = _until(lambda: (j := handlers.jobs.refresh(store, run.id)) and not j.active and j, 300)
    assert done.status == "finished", done.log_tail
    assert Path(run.output, "adapter_config.json").is_file()


def test_the_prompt_style_picked_reaches_each_form_s_settings_and_command(stores, tmp_path):
    """`--prompt-style paper` (issue 26) from the app: Collect, Evaluate and Train forms, and
    the Train tab's export (the Loop form's is in tests/test_equivalent_command.py)."""
    import json

    endpoints = TeacherEndpoints(listed=("http://127.0.0.1:9/v1",), allow_custom=False)
    collect = CollectHandlers(stores, SharedExecutor(), endpoints, stores.sessions_dir)
    paper = CollectForm(session="real", student="models/x", teacher_model="t", prompt_style="paper")
    assert collect.job(paper, "real").config.round_settings()["prompt_style"] == "paper"
    assert "--prompt-style paper" in collect.command(paper)["command"]
    assert "--prompt-style" not in collect.command(CollectForm(
        session="real", student="models/x", teacher_model="t"))["command"]

    evaluate = EvaluateHandlers(stores, stores.sessions_dir, tmp_path / "runs", jobs=EvalJobs())
    form = ("models/none", "", 0, CUSTOM, 1, 0.0, 0.95, 0, 16, "humaneval", 1, "completion")
    assert evaluate.request("demo", *form, "paper").config.prompt_style == "paper"
    assert "--prompt-style paper" in evaluate.preview("demo", *form, "paper")["command"]
    assert "--prompt-style" not in evaluate.preview("demo", *form, "persd")["command"]

    train = TrainHandlers(stores, runs_dir=tmp_path / "runs", models_dir=tmp_path / "models")
    form = TrainForm(session="demo", student="models/x", output="r1", prompt_style="paper")
    assert train.config_of(form).prompt_style == "paper"
    assert "--prompt-style paper" in train.preview(form)["command"]
    exported = train.export("demo", "persd", "validated", "jsonl", "paper")
    assert "Exported" in exported["notice"], exported["notice"]
    rows = [json.loads(line) for line in
            Path(exported["export_file"]["value"]).read_text().splitlines()]
    assert rows and {row["prompt_style"] for row in rows} == {"paper"}
    assert all(row["prompt"].startswith('"""\nWrite a python function') for row in rows)
