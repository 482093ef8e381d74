"""`TrainConfig`: every setting of a training run, and `TrainError`, the one error users see.

    from persd.train import TrainConfig
    config = TrainConfig(student="models/tiny", output_dir="runs/persd-r1", epochs=3)
    config = TrainConfig.from_dict(json.load(open("runs/persd-r1/train_config.json")))

The config is written to the output folder, so a run can be reproduced from it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from persd.settings import settings_from_dict, wrong_types
from persd.prompts import PROMPT_STYLES
from persd.student.chat import PROMPT_FORMATS

LORA_LR = 2e-4   # the usual LoRA SFT rate
FULL_LR = 5e-6   # the paper's full fine-tuning rate (PersDistill release)
TINY_LM_HEAD_PARAMS = 50_000_000
OBJECTIVES = ("sft", "distill", "grpo")
REWARD_TESTS = ("visible", "hidden")


class TrainError(Exception):
    """A training run that cannot start or continue, for a reason the user can fix."""


@dataclass
class TrainConfig:
    r"""Settings of one `persd train` run.

    Parameters:
        > What to train and where

        student (`str`):
            Hugging Face model id or local folder of the base model.
        output_dir (`str`):
            Folder of the run: adapter (or full weights), tokenizer, checkpoints, metrics,
            model card. A folder that holds another run is refused unless `resume` or
            `overwrite`.
        variant (`str` or `None`, defaults to `None`):
            Training-data variant (`persd`, `persd-refine`, `persd-combined`, `stand`, `inpd`).
            Provenance only: written to the model card.
        session (`str` or `None`, defaults to `None`):
            Session the examples came from. Provenance only.
        prompt_format (`str`, defaults to `"completion"`):
            How the rows reach the model (sft): `"completion"` as they are; `"chat"` each
            prompt as a user message through the tokenizer's chat template and the
            completion as the reply a chat student's output is read from (the whole function
            in a ```python block; persd.student.chat), so training and inference match;
            `"auto"`: chat for an instruct model with a chat template.
        prompt_style (`str`, defaults to `"persd"`):
            Whose prompts the session's rows are written in: `"persd"` (persd.prompts) or
            `"paper"`, the release's task and "Rectify the below code" prompts
            (persd.paper_style; PAPER.md). Recorded with the run.

        > Objective

        objective (`str`, defaults to `"sft"`):
            `"sft"`: supervised fine-tuning on prompt-completion rows (the paper's method).
            `"distill"`: on-policy distillation (trl `DistillationTrainer`): the student writes
            completions for the rows' prompts and learns the `teacher`'s next-token
            distribution on them. `"grpo"`: trl `GRPOTrainer` with the sandbox as the reward
            (persd.train.objectives.reward). On-policy rows need a prompt only (and, for grpo,
            `tests`: the test source the reward runs).
        init_adapter (`str` or `None`, defaults to `None`):
            A peft adapter folder (an earlier run's output) to continue training instead of
            a fresh LoRA adapter; `persd loop` uses it to go on from the previous round.
        teacher (`str` or `None`, defaults to `None`):
            distill only: local folder or Hub id of an open teacher that shares the
            student's tokenizer (same vocabulary; checked before training starts).
        beta (`float`, defaults to `0.5`):
            distill only: the generalised JSD's interpolation; 0 is forward KL, 1 reverse KL.
        num_generations (`int`, defaults to `4`):
            grpo only: completions sampled per prompt (the group of GRPO's advantage).
            batch_size x gradient_accumulation must be a multiple of it.
        reward_tests (`str`, defaults to `"visible"`):
            grpo only, provenance: which tests the rows carry for the reward, `"visible"`
            (docstring examples) or `"hidden"` (what evaluation scores: only on purpose).
        max_completion_length (`int`, defaults to `256`):
            distill and grpo: tokens generated per completion.
        use_vllm (`bool`, defaults to `False`):
            distill and grpo: generate with vLLM (trl's colocate mode) instead of transformers.

        > Method

        full (`bool`, defaults to `False`):
            Full fine-tuning instead of LoRA. `lora` is the read-only opposite.
        lora_r (`int`, defaults to `16`), lora_alpha (`int`, defaults to `32`),
        lora_dropout (`float`, defaults to `0.05`):
            LoRA rank, scaling numerator and dropout (peft `LoraConfig`).
        target_modules (`str` or `list[str]`, defaults to `"all-linear"`):
            Modules that get LoRA weights; `"all-linear"` is every linear layer but the output head.
        train_lm_head (`bool` or `"auto"`, defaults to `"auto"`):
            Also train the output head in full (peft `modules_to_save=["lm_head"]`). `"auto"`
            turns it on only for small models (< 50M parameters) with untied embeddings, i.e.
            the random tiny model of `persd tiny-model`: its random head maps hidden states to
            noise, and low-rank updates of the inner layers alone cannot make it say anything
            specific. A pretrained model's head already speaks the language, so LoRA adapters
            stay small and loadable by vLLM. Ignored for full fine-tuning (everything trains).

        > Schedule

        epochs (`float`, defaults to `3`):
            Passes over the training rows; ignored when `max_steps` > 0.
        max_steps (`int`, defaults to `-1`):
            Optimizer steps to run; -1 means use `epochs`.
        learning_rate (`float` or `None`, defaults to `None`):
            Peak rate; `None` gives 2e-4 for LoRA and 5e-6 for full fine-tuning.
        lr_scheduler (`str`, defaults to `"linear"`):
            transformers scheduler name (`linear`, `cosine`, `constant`, ...).
        warmup_steps (`float`, defaults to `0`):
            Warm-up steps, or a fraction of all steps when below 1.
        batch_size (`int`, defaults to `8`):
            Rows per device per forward pass.
        gradient_accumulation (`int`, defaults to `1`):
            Forward passes per optimizer step; the effective batch is batch_size x this x devices.
        max_length (`int`, defaults to `2048`):
            Longer rows are cut at the end (the completion's tail is lost, so keep it generous).
        seed (`int`, defaults to `42`):
            Seeds the adapter's initial weights, the shuffling and the eval split.

        > Evaluation and logging

        eval_fraction (`float`, defaults to `0.0`):
            Share of rows held out (0 <= f < 1); their loss is logged as `eval_loss`.
        eval_steps (`int` or `None`, defaults to `None`):
            Evaluate every this many steps; `None` evaluates after each epoch.
        logging_steps (`int`, defaults to `1`):
            Steps between two metrics lines.
        save_steps (`int`, defaults to `200`):
            Steps between two resumable checkpoints (a stop by SIGTERM always saves one).
        save_total_limit (`int`, defaults to `2`):
            Checkpoints kept; older ones are deleted.

        > Hardware

        bf16 (`bool` or `"auto"`, defaults to `"auto"`):
            bf16 mixed precision; `"auto"` uses it on a CUDA GPU that supports it. Never on CPU.
        gradient_checkpointing (`bool` or `"auto"`, defaults to `"auto"`):
            Recompute activations to save memory; `"auto"` turns it on on a GPU, off on CPU.

        > Run control

        resume (`bool`, defaults to `False`):
            Continue from the last checkpoint in `output_dir`. The model, method and data must
            match the earlier run; the schedule (epochs, steps, logging) may change.
        overwrite (`bool`, defaults to `False`):
            Start over in an `output_dir` that holds another run (its checkpoints are deleted).
        merge (`bool`, defaults to `False`):
            Also write the base model with the adapter merged into `output_dir/merged`.
    """

    student: str
    output_dir: str
    variant: str | None = None
    session: str | None = None
    prompt_format: str = "completion"
    prompt_style: str = "persd"

    objective: str = "sft"
    init_adapter: str | None = None
    teacher: str | None = None
    beta: float = 0.5
    num_generations: int = 4
    reward_tests: str = "visible"
    max_completion_length: int = 256
    use_vllm: bool = False

    full: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: str | list[str] = "all-linear"
    train_lm_head: bool | str = "auto"

    epochs: float = 3
    max_steps: int = -1
    learning_rate: float | None = None
    lr_scheduler: str = "linear"
    warmup_steps: float = 0
    batch_size: int = 8
    gradient_accumulation: int = 1
    max_length: int = 2048
    seed: int = 42

    eval_fraction: float = 0.0
    eval_steps: int | None = None
    logging_steps: int = 1
    save_steps: int = 200
    save_total_limit: int = 2

    bf16: bool | str = "auto"
    gradient_checkpointing: bool | str = "auto"

    resume: bool = False
    overwrite: bool = False
    merge: bool = False

    # Fields that may differ between a run and its resumption; the rest must match.
    SCHEDULE_FIELDS = frozenset({
        "epochs", "max_steps", "logging_steps", "save_steps", "save_total_limit", "eval_steps",
        "resume", "overwrite", "merge", "variant", "session",
    })

    def __post_init__(self) -> None:
        _check_types(self)
        if self.learning_rate is None:
            self.learning_rate = FULL_LR if self.full else LORA_LR
        problems = [
            message for ok, message in (
                (bool(self.student), "student is empty"),
                (bool(self.output_dir), "output_dir is empty"),
                (self.prompt_format in PROMPT_FORMATS,
                 f"prompt_format must be one of {', '.join(PROMPT_FORMATS)}"),
                (self.prompt_style in PROMPT_STYLES,
                 f"prompt_style must be one of {', '.join(PROMPT_STYLES)}"),
                (self.lora_r > 0, "lora_r must be positive"),
                (0 <= self.lora_dropout < 1, "lora_dropout must be in [0, 1)"),
                (self.epochs > 0 or self.max_steps > 0, "epochs or max_steps must be positive"),
                (self.learning_rate > 0, "learning_rate must be positive"),
                (self.batch_size > 0, "batch_size must be positive"),
                (self.gradient_accumulation > 0, "gradient_accumulation must be positive"),
                (self.max_length > 0, "max_length must be positive"),
                (0 <= self.eval_fraction < 1, "eval_fraction must be in [0, 1)"),
                (self.logging_steps > 0, "logging_steps must be positive"),
                (self.save_steps > 0, "save_steps must be positive"),
                (self.bf16 in (True, False, "auto"), "bf16 must be true, false or 'auto'"),
                (self.gradient_checkpointing in (True, False, "auto"),
                 "gradient_checkpointing must be true, false or 'auto'"),
                (self.train_lm_head in (True, False, "auto"),
                 "train_lm_head must be true, false or 'auto'"),
                (self.objective in OBJECTIVES, f"objective must be one of {', '.join(OBJECTIVES)}"),
                (self.objective != "distill" or bool(self.teacher),
                 "objective 'distill' needs a teacher model (--teacher)"),
                (0 <= self.beta <= 1, "beta must be in [0, 1]"),
                (self.num_generations >= 2, "num_generations must be at least 2"),
                (self.objective != "grpo"
                 or self.batch_size * self.gradient_accumulation % self.num_generations == 0,
                 "batch_size x gradient_accumulation must be a multiple of num_generations"),
                (self.reward_tests in REWARD_TESTS, "reward_tests must be 'visible' or 'hidden'"),
                (self.max_completion_length > 0, "max_completion_length must be positive"),
                (not (self.init_adapter and self.full), "init_adapter continues a LoRA run, not full"),
            ) if not ok
        ]
        if problems:
            raise TrainError("invalid training settings: " + "; ".join(problems))

    @property
    def lora(self) -> bool:
        return not self.full

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a dict (e.g. read from JSON); unknown keys are an error."""
        return settings_from_dict(cls, values, "training", error=TrainError)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def identity(self) -> dict[str, Any]:
        """The settings a resumed run must share with the run it continues."""
        return {k: v for k, v in self.to_dict().items() if k not in self.SCHEDULE_FIELDS}


def _check_types(config: TrainConfig) -> None:
    bad = wrong_types(config, TrainConfig)
    if bad:
        raise TrainError("invalid training settings: " + "; ".join(bad))


