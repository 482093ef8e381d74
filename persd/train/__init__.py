"""Fine-tune the student on curated prompt-completion rows: LoRA by default, full on request.

    from persd.train import TrainConfig, train, start_training, split_at_rstrip
    rows = [{"prompt": task.prompt, "completion": body, "task_id": task.task_id}, ...]
    result = train(TrainConfig(student="models/tiny", output_dir="runs/r1"), rows)
    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained("models/tiny"), "runs/r1")

or `persd train --data rows.jsonl --student models/tiny --output runs/r1`. Beside SFT, the
on-policy objectives `distill` and `grpo` (persd.train.objectives; `--objective`). The loss covers
the completion and the EOS token only (trl `SFTTrainer`, `completion_only_loss=True`); each
row is split at `prompt.rstrip()` first (`split_at_rstrip`), so prompt them that way too.

Outputs in `output_dir`: the peft adapter (adapter_config.json, adapter_model.safetensors:
what `PeftModel.from_pretrained` and vLLM's `--enable-lora` load) or full weights, the
tokenizer, `merged/` with `merge`, README.md (model card), metrics.jsonl, train_config.json
and train_rows.jsonl (enough to reproduce or resume the run), `checkpoint-N/` folders.

Several GPUs / DeepSpeed. The child entry point runs unchanged under any launcher; every
process trains its share of each batch, a stop signal is agreed on by all processes before
they stop at the same step, and only the main process writes metrics, adapter and card:

    persd train ... --launcher "accelerate launch --multi_gpu --num_processes 4"
    accelerate launch --multi_gpu --num_processes 4 -m persd.train.run \
        --config runs/r1/train_config.json --data runs/r1/train_rows.jsonl --metrics runs/r1/metrics.jsonl
    torchrun --nproc_per_node 4 -m persd.train.run --config ... --data ...
    # ZeRO-3 (full fine-tuning of a large student, as the paper did):
    accelerate launch --config_file zero3.yaml -m persd.train.run --config ... --data ...

zero3.yaml is an accelerate config with `distributed_type: DEEPSPEED`, `num_processes: N`
and `deepspeed_config: {zero_stage: 3, zero3_init_flag: true, zero3_save_16bit_model: true}`
(trl ships ready ones in trl/accelerate_configs/zero3.yaml); use it with `full: true` in
the config (bf16 on by default on GPUs that support it). The effective batch is
batch_size x gradient_accumulation x processes. Without GPUs, `--multi_gpu` (or torchrun)
still starts N processes that train on CPU over gloo; `accelerate launch --cpu
--num_processes N` does not: on CPU accelerate starts one process unless MPI is set up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from persd.train.card import read_summary, write_model_card
from persd.train.config import TrainConfig, TrainError
from persd.train.metrics import read_metrics
from persd.train.rows import load_rows, normalise_rows, split_at_rstrip
from persd.train.runner import start_training as start_child
from persd.train.runner import train as train_here  # not "run": the submodule persd.train.run

if TYPE_CHECKING:
    from persd.train.runner import TrainResult

__all__ = [
    "TrainConfig", "TrainError", "TrainResult", "train", "start_training", "split_at_rstrip",
    "load_rows", "normalise_rows", "read_metrics", "read_summary", "write_model_card",
]


def train(config: TrainConfig, rows: Any, metrics_path: Any = None, callbacks: list | None = None):
    """Train in this process; see `persd.train.runner.train`."""
    from persd.train.objectives import builder  # noqa: PLC0415  heavy: the objectives' trainers load trl and transformers

    return train_here(config, rows, metrics_path=metrics_path, callbacks=callbacks,
                      build=builder(config.objective))


def start_training(config: TrainConfig, rows: Any, metrics_path: Any = None, launcher: str | None = None):
    """Start training as a child process; see `persd.train.runner.start_training`."""
    return start_child(config, rows, metrics_path=metrics_path, launcher=launcher)


def __getattr__(name: str):
    if name == "TrainResult":
        from persd.train.runner import TrainResult  # noqa: PLC0415  lazy: TrainResult for type hints without loading the runner

        return TrainResult
    raise AttributeError(f"module 'persd.train' has no attribute {name!r}")
