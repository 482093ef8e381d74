"""The trl training arguments every objective shares, built from a run's `TrainConfig`.

trl's configs default to bf16 and gradient checkpointing, which break or slow CPU runs:
both are decided here, off on CPU.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from persd.train.config import TrainConfig


def hardware(config: TrainConfig) -> tuple[bool, bool]:
    """(cuda, bf16) for this run on this machine."""
    import torch

    cuda = torch.cuda.is_available()
    bf16 = (cuda and torch.cuda.is_bf16_supported()) if config.bf16 == "auto" else bool(config.bf16 and cuda)
    return cuda, bf16


def training_args(config: TrainConfig, config_class, cuda: bool, bf16: bool, **extra: Any):
    """A trl config (SFTConfig, DistillationConfig, GRPOConfig) from the run's settings;
    `extra` holds what only that objective takes."""
    import torch

    checkpointing = cuda if config.gradient_checkpointing == "auto" else bool(config.gradient_checkpointing)
    return config_class(
        output_dir=config.output_dir,
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.gradient_accumulation,
        learning_rate=config.learning_rate,
        lr_scheduler_type=config.lr_scheduler,
        warmup_steps=config.warmup_steps,
        seed=config.seed,
        bf16=bf16,
        use_cpu=not cuda and not torch.backends.mps.is_available(),
        **_checkpointing(config_class, checkpointing),
        logging_strategy="steps",
        logging_steps=config.logging_steps,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        report_to="none",
        disable_tqdm=True,
        **extra,
    )


def _checkpointing(config_class, on: bool) -> dict[str, bool]:
    """transformers 5.x renamed gradient_checkpointing to activation_checkpointing."""
    names = {f.name for f in dataclasses.fields(config_class)}
    return {"activation_checkpointing" if "activation_checkpointing" in names else "gradient_checkpointing": on}
