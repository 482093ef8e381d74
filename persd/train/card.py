"""The model card (README.md) of a run folder, and the summary it is rendered from.

    from persd.train import write_model_card
    write_model_card("runs/r1", config, {"results": {"humaneval pass@1": 0.42}})

The summary is kept in `train_summary.json` beside the card; each call merges the given
keys into it (evaluation adds `results` without losing the training figures) and
re-renders README.md with Hugging Face card metadata (base_model, library_name, tags).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from persd import private
from persd.train.config import TrainConfig
from persd.train.rows import atomic_write

SUMMARY_FILE = "train_summary.json"
_SETTINGS = (
    "full", "lora_r", "lora_alpha", "lora_dropout", "target_modules", "train_lm_head",
    "epochs", "max_steps", "learning_rate", "lr_scheduler", "warmup_steps", "batch_size",
    "gradient_accumulation", "max_length", "seed", "eval_fraction",
)


def write_model_card(output_dir: str | Path, config: TrainConfig, summary: dict[str, Any]) -> Path:
    """Merge `summary` into the folder's saved summary and write README.md; returns its path."""
    out = Path(output_dir)
    private.make_dir(out)
    saved = read_summary(out)
    for key, value in summary.items():
        if isinstance(value, dict) and isinstance(saved.get(key), dict):
            saved[key] = {**saved[key], **value}
        else:
            saved[key] = value
    atomic_write(out / SUMMARY_FILE, json.dumps(saved, indent=2, sort_keys=True) + "\n")
    card = out / "README.md"
    atomic_write(card, render_card(config, saved))
    return card


def read_summary(output_dir: str | Path) -> dict[str, Any]:
    path = Path(output_dir) / SUMMARY_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def render_card(config: TrainConfig, summary: dict[str, Any]) -> str:
    method = "full fine-tuning" if config.full else "LoRA (peft)"
    tags = ["persd", "code", "distillation", config.objective, "trl"] + ([] if config.full else ["lora"])
    lines = [
        "---",
        f"base_model: {config.student}",
        f"library_name: {'transformers' if config.full else 'peft'}",
        "tags:", *[f"- {tag}" for tag in tags],
        "---", "",
        f"# {Path(config.output_dir).name}: {config.student} distilled with persd", "",
        f"Fine-tuned with {method} on personalised-distillation data "
        f"(variant `{config.variant or 'unspecified'}`"
        + (f", session `{config.session}`" if config.session else "") + "). "
        + ("Loss on the completion and EOS only (prompt tokens masked)." if config.objective == "sft"
           else f"On-policy objective `{config.objective}`: the student wrote its own completions."),
        "",
    ]
    lines += _section("Data", summary.get("data", {}))
    lines += _section("Settings", {k: getattr(config, k) for k in _objective_settings(config) + _SETTINGS})
    lines += _section("Training", summary.get("train", {}))
    lines += _section("Results", summary.get("results", {}))
    if not config.full:
        lines += [
            "## Use", "", "```python",
            "from peft import PeftModel",
            "from transformers import AutoModelForCausalLM, AutoTokenizer",
            f'base = AutoModelForCausalLM.from_pretrained("{config.student}")',
            'model = PeftModel.from_pretrained(base, "<this folder>")',
            'tokenizer = AutoTokenizer.from_pretrained("<this folder>")',
            "```", "",
            "Prompt with the task prompt's `rstrip()`: training split each example there.", "",
        ]
    return "\n".join(lines)


def _objective_settings(config: TrainConfig) -> tuple[str, ...]:
    extra = {"distill": ("teacher", "beta", "max_completion_length"),
             "grpo": ("num_generations", "reward_tests", "max_completion_length")}
    return ("objective", *extra.get(config.objective, ()),
            *(("init_adapter",) if config.init_adapter else ()))


def _section(title: str, values: dict[str, Any]) -> list[str]:
    if not values:
        return []
    rows = [f"| {key} | {_cell(value)} |" for key, value in values.items()]
    return [f"## {title}", "", "| | |", "|---|---|", *rows, ""]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dict):
        return ", ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    return str(value).replace("|", "\\|")
