"""On-policy objectives on the tiny model, on CPU: distill (two tiny models sharing one
tokenizer), grpo with the real sandbox as the reward, and the refusals a user can hit."""

from __future__ import annotations

import pytest

from persd.execution import Executor
from persd.tasks import load_tasks
from persd.train import TrainConfig, TrainError, read_metrics, read_summary, train
from persd.train.objectives import check_inputs, prompt_rows
from persd.train.objectives.reward import SandboxReward, reward_of
from tests.fixtures_models import tiny_model_dir  # noqa: F401  (pytest fixture)

# What a reward hacker writes: an object equal to anything, so `assert f(x) == y` holds.
FORGED_EQ = '''
    class _Anything:
        def __eq__(self, other):
            return True
        def __ne__(self, other):
            return False
        __hash__ = object.__hash__
    return _Anything()
'''


@pytest.fixture(scope="module")
def tasks():
    return load_tasks("humaneval")[:8]


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory) -> str:
    """A second tiny model (another seed): same tokenizer, other weights."""
    from persd.demo.tiny_model import write_tiny_model

    return write_tiny_model(tmp_path_factory.mktemp("models") / "teacher", seed=1).path


def _config(tmp_path, student, **settings) -> TrainConfig:
    base = dict(student=student, output_dir=str(tmp_path / "out"), max_steps=4, batch_size=4,
                learning_rate=5e-3, lr_scheduler="constant", max_completion_length=16, save_steps=50)
    return TrainConfig(**{**base, **settings})


# ---------------------------------------------------------------- the reward (fast)

def test_reward_is_the_share_of_tests_passed_and_zero_for_no_parse_or_timeout(tasks):
    task = next(t for t in tasks if t.task_id == "HumanEval/0")
    solution_body = task.solution[len(task.prompt):]
    wrong_half = "    return len(numbers) > 3\n"
    with Executor(workers=2, timeout_s=1.0) as executor:
        reward = SandboxReward(executor=executor)
        prompt = task.prompt.rstrip()
        rewards = reward(
            prompts=[prompt] * 4,
            completions=["\n" + solution_body, "\n" + wrong_half, "\n    return (\n",
                         "\n    while True:\n        pass\n"],
            tests=[task.test] * 4,
        )
    assert rewards[0] == 1.0
    assert 0.0 < rewards[1] < 1.0           # some asserts completed before the first failure
    assert rewards[2] == 0.0 and rewards[3] == 0.0  # does not parse; times out


def test_a_tab_indented_completion_is_rewarded_as_inference_would_run_it(tasks):
    """HumanEval's prompts put the docstring (4 spaces) in the function: a tab-indented body
    after it is a TabError on its own; inference re-indents it (match_indent), so must the reward."""
    task = next(t for t in tasks if t.task_id == "HumanEval/0")
    tabbed = task.solution[len(task.prompt):].replace("    ", "\t")
    assert "\t" in tabbed and "    " not in tabbed
    with Executor(workers=1, timeout_s=2.0) as executor:
        as_written = executor.run(task.prompt + tabbed, task.test)
        rewards = SandboxReward(executor=executor)(prompts=[task.prompt], completions=[tabbed],
                                                    tests=[task.test])
    assert reward_of(as_written) == 0.0  # the program as generated does not compile
    assert rewards == [1.0]


def test_a_forged_eq_gets_reward_zero(tasks):
    """An object whose __eq__ says yes to everything must not earn the reward. This holds
    once persd.execution's hardened verdicts (the concurrent harness work) are merged."""
    task = next(t for t in tasks if t.task_id == "HumanEval/0")  # asserts `f(x) == True/False`
    with Executor(workers=1, timeout_s=2.0) as executor:
        reward = SandboxReward(executor=executor)
        result = executor.run(task.prompt + FORGED_EQ, task.test)
        rewards = reward(prompts=[task.prompt.rstrip()], completions=["\n" + FORGED_EQ.lstrip("\n")],
                         tests=[task.test])
    assert reward_of(result) == 0.0, f"forged __eq__ judged {result.status}"
    assert rewards == [0.0]


def test_prompt_rows_carry_visible_tests_and_refuse_a_set_without_any(tasks):
    rows = prompt_rows(tasks, "grpo")
    assert rows and all(r["tests"].strip() for r in rows)
    hidden = prompt_rows(tasks, "grpo", reward_tests="hidden")
    assert [r["tests"] for r in hidden] == [t.test for t in tasks]
    bare = [t.__class__(**{**t.__dict__, "visible_test": ""}) for t in tasks[:2]]
    with pytest.raises(TrainError, match="--reward-tests hidden"):
        prompt_rows(bare, "grpo")
    assert "tests" not in prompt_rows(tasks, "distill")[0]


def test_config_checks_the_objective_settings(tmp_path, tiny_model_dir):
    with pytest.raises(TrainError, match="needs a teacher"):
        _config(tmp_path, tiny_model_dir, objective="distill")
    with pytest.raises(TrainError, match="multiple of num_generations"):
        _config(tmp_path, tiny_model_dir, objective="grpo", batch_size=6, num_generations=4)
    with pytest.raises(TrainError, match="objective must be one of"):
        _config(tmp_path, tiny_model_dir, objective="ppo")


def test_distill_refuses_a_teacher_with_another_tokenizer(tmp_path, tiny_model_dir):
    from persd.demo.tiny_model import TinyModelConfig, write_tiny_model

    other = write_tiny_model(tmp_path / "other", config=TinyModelConfig(vocab_size=3000)).path
    config = _config(tmp_path, tiny_model_dir, objective="distill", teacher=other)
    with pytest.raises(TrainError, match="does not share the student's tokenizer"):
        check_inputs(config)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- training (slow)

@pytest.mark.slow
def test_distill_lowers_the_divergence_to_a_teacher_sharing_the_tokenizer(tmp_path, tiny_model_dir,
                                                                           teacher_dir, tasks):
    config = _config(tmp_path, tiny_model_dir, objective="distill", teacher=teacher_dir, beta=0.5,
                     max_steps=6, batch_size=2, session="s")
    result = train(config, prompt_rows(tasks[:2], "distill"), metrics_path=tmp_path / "m.jsonl")
    assert result.status == "finished" and result.steps == 6 and result.objective == "distill"
    losses = [r["loss"] for r in read_metrics(tmp_path / "m.jsonl") if "loss" in r]
    assert len(losses) == 6 and min(losses[-2:]) < losses[0]
    assert result.teacher_tokens and result.teacher_tokens >= 6 * 2 * 16
    assert (tmp_path / "out" / "adapter_config.json").is_file()
    card = (tmp_path / "out" / "README.md").read_text()
    assert "| objective | distill |" in card and "| beta | 0.5 |" in card
    assert read_summary(tmp_path / "out")["train"]["steps"] == 6


@pytest.mark.slow
def test_grpo_trains_on_rewards_from_the_real_sandbox(tmp_path, tiny_model_dir, tasks):
    rows = prompt_rows(tasks[:2], "grpo")
    calls: list[list[float]] = []

    class Recording(SandboxReward):
        def __call__(self, **kwargs):
            rewards = super().__call__(**kwargs)
            calls.append(rewards)
            return rewards

    from persd.train.objectives import grpo

    config = _config(tmp_path, tiny_model_dir, objective="grpo", num_generations=4, max_steps=2)
    recording = Recording(workers=2, timeout_s=1.0)
    result = train_with(config, rows, tmp_path / "m.jsonl",
                        lambda c, r, cb: grpo.build_trainer(c, r, cb, reward=recording))
    assert result.status == "finished" and result.steps == 2 and result.objective == "grpo"
    assert len(calls) == 2 and all(len(batch) == 4 for batch in calls)
    assert all(0.0 <= value <= 1.0 for batch in calls for value in batch)
    assert recording.calls == 2 and recording._executor is None  # sandboxes closed at the end
    lines = [r for r in read_metrics(tmp_path / "m.jsonl") if "reward" in r]
    assert len(lines) == 2
    assert (tmp_path / "out" / "adapter_config.json").is_file()


def train_with(config, rows, metrics_path, build):
    from persd.train.runner import train as run

    return run(config, rows, metrics_path=metrics_path, build=build)
