"""GRPO with the sandbox as the reward: trl `GRPOTrainer` on the session's task prompts.

    TrainConfig(student="models/tiny", objective="grpo", num_generations=8, ...)

Each step samples `num_generations` completions per prompt, runs every program against the
row's tests in the sandbox (persd.train.objectives.reward: the share of tests passed; 0 for
a program that does not parse or times out) and moves the policy towards the completions
that beat their group's mean. No reference model (trl's default `beta=0`).
"""

from __future__ import annotations

from typing import Any

from transformers import TrainerCallback

from persd.train.args import hardware, training_args
from persd.train.config import TrainConfig, TrainError
from persd.train.objectives.common import run_facts
from persd.train.objectives.reward import SandboxReward
from persd.train.runner import load_student


def build_trainer(config: TrainConfig, rows: list[dict[str, Any]], callbacks: list | None = None,
                  reward=None):
    """The `GRPOTrainer` of a run and its facts. `reward` defaults to `SandboxReward()`."""
    from datasets import Dataset  # noqa: PLC0415  heavy: datasets
    from transformers.trainer_callback import PrinterCallback  # noqa: PLC0415  heavy: transformers
    from trl import GRPOConfig, GRPOTrainer  # noqa: PLC0415  heavy: trl


    missing = [index for index, row in enumerate(rows) if not str(row.get("tests") or "").strip()]
    if missing:
        raise TrainError(f"grpo rows need 'tests' (the test source the reward runs); row "
                         f"{missing[0]} has none")
    cuda, bf16 = hardware(config)
    tokenizer, model, peft_config, train_lm_head = load_student(config, bf16)
    tokenizer.padding_side = "left"
    reward = reward or SandboxReward()
    args = training_args(config, GRPOConfig, cuda, bf16, num_generations=config.num_generations,
                         max_completion_length=config.max_completion_length,
                         use_vllm=config.use_vllm)
    dataset = Dataset.from_list([{"prompt": r["prompt"], "tests": r["tests"],
                                  "task_id": str(r.get("task_id", ""))} for r in rows])
    trainer = GRPOTrainer(
        model=model, reward_funcs=reward, args=args, train_dataset=dataset,
        processing_class=tokenizer, peft_config=peft_config,
        callbacks=[*(callbacks or []), _CloseReward(reward)],
    )
    trainer.remove_callback(PrinterCallback)
    return trainer, run_facts(trainer, args, rows, train_lm_head, bf16)


class _CloseReward(TrainerCallback):
    """Ends the reward's sandboxes with the training."""

    def __init__(self, reward) -> None:
        self.reward = reward

    def on_train_end(self, args, state, control, **kwargs):
        if hasattr(self.reward, "close"):
            self.reward.close()
