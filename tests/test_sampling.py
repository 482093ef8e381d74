"""One `Sampling` value: checked once, held by every config that samples, stored flat;
the CLI's options take their defaults from the configs; the app's Evaluate form treats a
blank field as the default, whichever field it is."""

from __future__ import annotations

import dataclasses

import pytest

from persd.cli.collect import collect as collect_command
from persd.cli.evaluate import eval_ as eval_command
from persd.cli.loop import LOOP_EVAL, loop as loop_command
from persd.cli.train import train as train_command
from persd.collect import CollectConfig
from persd.evaluate import EvalConfig
from persd.loop import LoopConfig, LoopError
from persd.settings import Sampling, default_of
from persd.student import StudentConfig
from persd.student.openai import OpenAIStudentConfig
from persd.student.vllm import VLLMStudentConfig
from persd.train import TrainConfig
from persd_app.tabs.evaluate_handlers import CUSTOM, EvaluateHandlers

SAMPLED = (CollectConfig, EvalConfig, StudentConfig, OpenAIStudentConfig, VLLMStudentConfig)
REQUIRED = {"session": "s", "teacher_model": "t", "student": "m", "model": "m"}


def _make(cls, **values):
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in REQUIRED.items() if k in names}, **values)


def test_sampling_is_checked_once_and_replaced_into_a_new_checked_value():
    with pytest.raises(ValueError, match="top_p"):
        Sampling(top_p=0)
    with pytest.raises(TypeError, match="temperature='hot'"):
        Sampling(temperature="hot")
    with pytest.raises(TypeError, match="unknown sampling option.*top_k"):
        Sampling().replace(top_k=5)
    changed = Sampling().replace(temperature=0.8)
    assert (changed.temperature, changed.top_p, changed.max_new_tokens) == (0.8, 0.95, 512)
    assert dict(**changed) == {"temperature": 0.8, "top_p": 0.95, "max_new_tokens": 512}


@pytest.mark.parametrize("cls", SAMPLED)
def test_every_sampling_config_holds_one_value_and_takes_its_keys_flat(cls):
    config = _make(cls, temperature=0.8, top_p=0.9)
    assert isinstance(config.sampling, Sampling)
    assert (config.temperature, config.top_p) == (config.sampling.temperature, config.sampling.top_p) == (0.8, 0.9)
    assert config.sampling.max_new_tokens == default_of(cls, "max_new_tokens")
    assert _make(cls, sampling=Sampling(top_p=0.5), temperature=0.1).sampling == Sampling(0.1, 0.5)
    with pytest.raises(ValueError, match="top_p must be in"):
        _make(cls, top_p=1.5)


def test_configs_are_stored_flat_and_read_back_from_that_form():
    config = EvalConfig(samples=2, temperature=0.7, top_p=0.8)
    stored = config.to_dict()
    assert (stored["temperature"], stored["top_p"], "sampling" in stored) == (0.7, 0.8, False)
    assert EvalConfig.from_dict(stored) == config
    assert StudentConfig.from_dict(StudentConfig(model="m", top_p=0.5).to_dict()).top_p == 0.5
    with pytest.raises(ValueError, match="invalid eval setting.*top_p"):
        EvalConfig.from_dict({"top_p": 2.0})
    assert CollectConfig(session="s", teacher_model="t", student="m", top_p=0.9).round_settings()["top_p"] == 0.9


def test_the_loop_is_composed_of_its_parts_configs_and_checks_the_train_settings():
    collect = CollectConfig(session="s", tasks="humaneval", eval_tasks="h.jsonl", student="m",
                            teacher_model="t", top_p=0.9)
    config = LoopConfig(collect=collect, output_dir="o")
    first = config.collect_round(1, None)
    assert (first.round, first.adapter, first.top_p) == (1, None, 0.9)
    assert config.collect_round(2, "o/round-1").adapter == "o/round-1"
    assert config.eval.refine_steps == 1 and config.eval.sampling == EvalConfig().sampling
    assert config.to_dict()["collect"]["top_p"] == 0.9
    with pytest.raises(LoopError, match="unknown training setting.*max_stepz"):
        LoopConfig(collect=collect, output_dir="o", train={"max_stepz": 3})


def _options(command) -> dict:
    return {param.name: param for param in command.params}


def _parsed(command) -> dict:
    """What the command receives when no option is given."""
    return command.make_context(command.name, [], resilient_parsing=True).params


def _fields(config) -> set[str]:
    return {f.name for f in dataclasses.fields(config)} | {"temperature", "top_p", "max_new_tokens"}


def test_every_collect_option_defaults_to_the_collect_config():
    parsed = _parsed(collect_command)
    checked = _fields(CollectConfig) & set(parsed)
    assert len(checked) == 26  # every field but sampling, and sampling by its keys (prompt_style, teacher_max_tokens)
    for name in checked:
        expected = None if _options(collect_command)[name].required else default_of(CollectConfig, name)
        assert parsed[name] == expected, name


def test_eval_train_and_loop_options_name_the_defaults_of_their_configs():
    parsed, options = _parsed(eval_command), _options(eval_command)
    for name in ("samples", "temperature", "top_p", "max_new_tokens", "refine_steps", "timeout_s"):
        assert parsed[name] is None and f"[default: {default_of(EvalConfig, name)}]" in options[name].help
    parsed, options = _parsed(train_command), _options(train_command)
    checked = _fields(TrainConfig) & set(parsed) - {"session", "variant"}  # provenance, set by train
    assert len(checked) == 28 and all(parsed[name] is None for name in checked)  # TrainConfig fills them
    for name in ("epochs", "max_steps", "batch_size", "lora_r", "lora_alpha", "seed", "save_steps",
                 "max_length", "beta", "num_generations", "max_completion_length", "objective"):
        assert f"[default: {default_of(TrainConfig, name)}]" in options[name].help, name
    assert options["epochs"].type.name == "float"
    parsed, options = _parsed(loop_command), _options(loop_command)
    for name in ("rounds", "patience", "gate", "wait_for", "train_from", "poll_s", "eval_limit"):
        assert parsed[name] == default_of(LoopConfig, name), name
    for name in ("tasks", "timeout_s", "limit", "workers", "sessions_dir"):
        expected = None if options[name].required else default_of(CollectConfig, name)
        assert parsed[name] == expected, name
    assert (parsed["refine_steps"], parsed["samples"]) == (LOOP_EVAL.refine_steps, LOOP_EVAL.samples) == (1, 1)
    assert parsed["temperature"] is None and parsed["top_p"] is None  # set both parts, or neither
    assert f"[default: {default_of(CollectConfig, 'temperature')} and {LOOP_EVAL.temperature}]" \
        in options["temperature"].help


def _form(temperature, top_p, samples=None, max_new_tokens=None, refine_steps=None):
    return ("s", "models/tiny", None, 0, CUSTOM, samples, temperature, top_p, refine_steps,
            max_new_tokens, "humaneval", None)


def test_a_blank_field_of_the_evaluate_form_is_its_default_whichever_field_it_is(tmp_path):
    handlers = EvaluateHandlers(None, tmp_path, tmp_path)
    blank = handlers.request(*_form(None, None)).config
    assert blank.sampling == EvalConfig().sampling and blank.samples == EvalConfig().samples
    assert handlers.request(*_form("", "")).config.sampling == EvalConfig().sampling
    zero = handlers.request(*_form(0, 0.5)).config
    assert (zero.temperature, zero.top_p) == (0.0, 0.5)  # 0 is a value, not a blank
