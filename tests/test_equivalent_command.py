"""The command line an app form shows: what `persd` parses back into the same settings."""

from __future__ import annotations

import dataclasses
import inspect
import shlex

import pytest

from persd.cli.collect import collect
from persd.cli.equivalent import command_for
from persd.collect import CollectConfig
from persd_app.endpoints import TeacherEndpoints
from persd_app.tabs import SharedExecutor, Stores
from persd_app.tabs.collect_handlers import CollectForm, CollectHandlers


def _words(line: str, command: str) -> list[str]:
    """The options of a `persd <command>` line (an OPENAI_BASE_URL=... in front skipped)."""
    words = shlex.split(line)
    while "=" in words[0]:
        words.pop(0)
    assert words[:2] == ["persd", command], line
    return words[2:]


def _parsed(line: str) -> CollectConfig:
    params = collect.make_context("collect", _words(line, "collect")).params
    params.pop("wait")
    return CollectConfig(**params)


@pytest.mark.parametrize("settings", [
    dict(session="s", teacher_model="gpt-4o-mini", student="Qwen/Qwen2.5-Coder-0.5B"),
    dict(session="round 2", teacher_model="m", student="models/tiny", adapter="runs/r1",
         round=2, limit=5, samples=3, temperature=0.7, top_p=0.9, max_new_tokens=128,
         concurrency=2, teacher_tries=1, prompt_format="chat", protocol="paper",
         method="inpd", teacher_batch=True, workers=4, timeout_s=1.5),
    dict(session="s", teacher_model="m", method="stand", tasks="mbpp:data/mbpp.jsonl"),
])
def test_the_line_parses_back_into_the_same_settings(settings):
    config = CollectConfig(**settings)
    line = command_for(collect, config)
    assert _parsed(line) == config
    assert "--top-p" not in command_for(collect, CollectConfig(**{**settings, "top_p": 0.95}))


def test_only_what_differs_from_the_defaults_is_written():
    line = command_for(collect, CollectConfig(session="s", teacher_model="m", student="x"))
    assert line == "persd collect --session s --student x --teacher-model m"


def test_the_collect_tab_shows_the_line_without_the_api_key(tmp_path):
    handlers = CollectHandlers(Stores(tmp_path), SharedExecutor(),
                               TeacherEndpoints(("http://127.0.0.1:9/v1",)), tmp_path)
    form = CollectForm(backend="real", session="mine", student="Qwen/Qwen2.5-Coder-0.5B",
                       teacher_model="gpt-4o-mini", base_url="http://127.0.0.1:9/v1",
                       api_key="sk-secret", limit=4)
    line = handlers.command(form)["command"]
    assert line.startswith("OPENAI_BASE_URL=http://127.0.0.1:9/v1 persd collect ")
    assert "sk-secret" not in line
    config = _parsed(line)
    assert (config.session, config.limit, config.sessions_dir) == ("mine", 4, str(tmp_path))
    missing = handlers.command(CollectForm(backend="real", session="mine"))["command"]
    assert missing == "# give the student model (a Hugging Face id or a local folder)"


def test_the_loop_tab_shows_the_line_that_starts_the_same_loop(tmp_path):
    from persd.cli.loop import loop, loop_config
    from persd_app.tabs.loop_handlers import LoopForm, LoopHandlers

    handlers = LoopHandlers(Stores(tmp_path), TeacherEndpoints(("http://127.0.0.1:9/v1",)),
                            tmp_path / "runs")
    for temperature, style in (("", "persd"), ("0.6", "paper")):
        form = LoopForm(session="online", student="models/tiny", limit=8,
                        eval_tasks="mbpp:held-out.jsonl", eval_limit=4, teacher_model="m",
                        api_key="sk-secret", rounds=2, gate="wait", temperature=temperature,
                        top_p=0.9, max_new_tokens=64, train_steps=5, prompt_format="chat",
                        prompt_style=style)
        line = handlers.command(form)["command"]
        assert line.startswith("OPENAI_BASE_URL=http://127.0.0.1:9/v1 persd loop ")
        assert "sk-secret" not in line
        parsed = loop_config(**loop.make_context("loop", _words(line, "loop")).params)
        expected = handlers.config(form)
        assert (expected.collect.prompt_style, expected.eval.prompt_style,
                expected.train["prompt_style"]) == (style,) * 3
        assert parsed == expected, line


@pytest.mark.parametrize("settings", [
    dict(student="models/tiny", output_dir="runs/a b"),
    dict(student="Qwen/Qwen2.5-Coder-0.5B", output_dir="runs/r2", max_steps=8, learning_rate=1e-3,
         lora_r=8, batch_size=2, epochs=2.5, seed=7, prompt_format="chat", prompt_style="paper",
         overwrite=True),
    dict(student="m", output_dir="o", full=True, learning_rate=2e-5, merge=True),
])
@pytest.mark.parametrize(("session", "variant", "selection"),
                         [("demo", "persd-refine", "approved"), (None, "stand", "auto")])
def test_the_train_line_parses_back_into_the_same_settings(tmp_path, monkeypatch, settings,
                                                           session, variant, selection):
    from persd.cli.train import train, train_config
    from persd.jobs import train_command
    from persd.train.config import TrainConfig

    monkeypatch.chdir(tmp_path)  # output folders are made absolute against here
    config = TrainConfig(**settings, variant=variant, session=session)
    line = train_command(config, session, variant, selection, sessions_dir=tmp_path)
    params = train.make_context("train", _words(line, "train")).params
    assert params.pop("selection") == selection
    assert params.pop("sessions_dir") == (str(tmp_path.resolve()) if session else "sessions")
    for unused in ("data", "columns", "metrics", "launcher"):
        assert params.pop(unused) in (None, "")
    expected = dataclasses.replace(config, output_dir=str(tmp_path / config.output_dir))
    assert train_config(**params) == expected, line


@pytest.mark.parametrize("request_settings", [
    dict(student="models/tiny", adapter=None, tasks="humaneval", limit=None, round=None),
    dict(student="Qwen/Qwen2.5-Coder-0.5B", adapter="runs/r1", tasks="mbpp:held out.jsonl",
         limit=20, round=1, seed=3, batch_size=4, prompt_format="auto",
         config=dict(samples=5, temperature=0.8, top_p=0.9, max_new_tokens=64, refine_steps=2,
                     timeout_s=2.5, workers=3, prompt_style="paper", protocol="paper",
                     feedback_tests="hidden")),
    dict(student="m", adapter=None, tasks="humaneval", limit=3, round=None, preset="paper",
         config=dict(max_new_tokens=128)),
])
def test_the_eval_line_parses_back_into_the_same_request(request_settings):
    from persd.cli.evaluate import eval_, eval_config
    from persd.evaluate.config import EvalConfig
    from persd.jobs.evaluate import EvalRequest, command_line, eval_command

    values = dict(request_settings)
    preset = values.get("preset")
    changes = values.pop("config", {})
    values["config"] = EvalConfig.preset(preset, **changes) if preset else EvalConfig(**changes)
    request = EvalRequest(**values)
    line = command_line(eval_command(request, "s", "/srv/sessions"))
    params = eval_.make_context("eval", _words(line, "eval")).params
    assert (params["session"], params["sessions_dir"]) == ("s", "/srv/sessions")
    # what the command's body takes by name; the rest are the EvalConfig's settings
    named = inspect.signature(eval_.callback).parameters
    settings = {name: value for name, value in params.items() if name not in named}
    parsed = EvalRequest(student=params["model"], adapter=params["adapter"],
                         tasks=params["tasks_spec"], limit=params["limit"], round=params["round_"],
                         config=eval_config(params["preset"], params["ks"], **settings),
                         preset=params["preset"], seed=params["seed"],
                         batch_size=params["batch_size"],
                         prompt_format=params["prompt_format"] or "completion")
    assert parsed == request, line
