"""What the on-policy trainers share besides their arguments (persd.train.args): the facts
of a run."""

from __future__ import annotations

from typing import Any



def run_facts(trainer, args, rows: list[dict[str, Any]], train_lm_head: bool, bf16: bool) -> dict[str, Any]:
    """The start line's and the card's facts, as the SFT runner gives them."""
    return {
        "train_rows": len(rows), "eval_rows": 0, "dropped_rows": 0, "truncated_rows": 0,
        "train_lm_head": train_lm_head, "bf16": bf16, "device": str(args.device),
        "world_size": args.world_size,
        "trainable_parameters": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
    }
