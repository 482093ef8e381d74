"""The command line an app form shows: what `persd` parses back into the same settings."""

from __future__ import annotations

import shlex

import pytest

from persd.cli.collect import collect
from persd.cli.equivalent import command_for
from persd.collect import CollectConfig
from persd_app.endpoints import TeacherEndpoints
from persd_app.tabs import SharedExecutor, Stores
from persd_app.tabs.collect_handlers import CollectForm, CollectHandlers


def _parsed(line: str) -> CollectConfig:
    words = shlex.split(line)
    while "=" in words[0]:  # OPENAI_BASE_URL=... in front
        words.pop(0)
    assert words[:2] == ["persd", "collect"], line
    params = collect.make_context("collect", words[2:]).params
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
    for temperature in ("", "0.6"):
        form = LoopForm(session="online", student="models/tiny", limit=8,
                        eval_tasks="mbpp:held-out.jsonl", eval_limit=4, teacher_model="m",
                        api_key="sk-secret", rounds=2, gate="wait", temperature=temperature,
                        top_p=0.9, max_new_tokens=64, train_steps=5, prompt_format="chat")
        line = handlers.command(form)["command"]
        assert line.startswith("OPENAI_BASE_URL=http://127.0.0.1:9/v1 persd loop ")
        assert "sk-secret" not in line
        words = shlex.split(line)[1:]
        parsed = loop_config(**loop.make_context("loop", words[2:]).params)
        expected = handlers.config(form)
        # the command line also names the prompt style for training, which is its default
        assert parsed.train.pop("prompt_style") == "persd"
        assert parsed == expected, line
