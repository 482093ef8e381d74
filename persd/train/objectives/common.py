"""What the on-policy trainers share: their TrainingArguments and the facts of a run."""

from __future__ import annotations

from typing import Any

from persd.train.config import TrainConfig


def hardware(config: TrainConfig) -> tuple[bool, bool]:
    """(cuda, bf16). trl's configs default to bf16 and gradient checkpointing, which break
    or slow CPU runs: both are decided here, off on CPU."""
    import torch

    cuda = torch.cuda.is_available()
    bf16 = (cuda and torch.cuda.is_bf16_supported()) if config.bf16 == "auto" else bool(config.bf16 and cuda)
    return cuda, bf16


def training_args(config: TrainConfig, config_class, cuda: bool, bf16: bool, **extra: Any):
    """A trl config (DistillationConfig, GRPOConfig) from the run's settings."""
    import torch

    from persd.train.runner import _checkpointing

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
        max_completion_length=config.max_completion_length,
        use_vllm=config.use_vllm,
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


def run_facts(trainer, args, rows: list[dict[str, Any]], train_lm_head: bool, bf16: bool) -> dict[str, Any]:
    """The start line's and the card's facts, as the SFT runner gives them."""
    return {
        "train_rows": len(rows), "eval_rows": 0, "dropped_rows": 0, "truncated_rows": 0,
        "train_lm_head": train_lm_head, "bf16": bf16, "device": str(args.device),
        "world_size": args.world_size,
        "trainable_parameters": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
    }
