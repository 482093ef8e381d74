"""Run training: in this process (`train`) or as a child process (`start_training`).

    from persd.train import TrainConfig, train, start_training
    result = train(TrainConfig(student="models/tiny", output_dir="runs/r1"), rows)
    process = start_training(config, "persd.jsonl", metrics_path="runs/r1/metrics.jsonl")
    process.send_signal(signal.SIGTERM)      # clean stop: a checkpoint, then "stopped"

`train` checks everything a user can get wrong before it touches the output folder, builds
a trl `SFTTrainer` on prompt-completion rows (loss on the completion and EOS only), adds a
peft LoRA adapter unless `full`, trains, and writes the adapter (or weights), tokenizer,
optional merged weights and the model card. Multi-process runs (accelerate, torchrun) run
the same code on every process; only the main one writes files besides checkpoints.

A run holds its output folder's lock for its life (persd.train.lock; a child inherits it
from `start_training`) and lists what it writes there in the folder's manifest
(persd.train.manifest). A child of `start_training` gets SIGTERM when the thread that
started it ends (persd.launch), so a killed `persd train`, loop or app leaves no trainer
behind; it stops as on any SIGTERM, with a checkpoint when it is already training.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from persd.launch import start_job
from persd.student.chat import chat_row, resolve_format
from persd.train import manifest
from persd.train.args import hardware, training_args
from persd.train.card import write_model_card
from persd.train.checkpoints import disk_full, disk_full_message, stage_checkpoints
from persd.train.config import TINY_LM_HEAD_PARAMS, TrainConfig, TrainError
from persd.train.lock import INHERITED_ENV, OutputLock
from persd.train.metrics import MetricsWriter, StopRequest
from persd.train.outdir import (
    JOB_FILE,
    LOG_FILE,
    METRICS_FILE,
    ROWS_FILE,
    last_checkpoint,
    prepare_output_dir,
    trim_resumed_metrics,
)
from persd.train.rows import load_rows, normalise_rows, provenance

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass
class TrainResult:
    """What a run did. `status` is "finished" or "stopped" (failures raise)."""

    status: str
    output_dir: str
    steps: int
    total_steps: int
    train_rows: int
    eval_rows: int
    first_loss: float | None
    final_loss: float | None
    eval_loss: float | None
    tokens: int
    tokens_per_s: float
    runtime_s: float
    train_lm_head: bool
    trainable_parameters: int
    checkpoint: str | None = None      # the resumable checkpoint a stop left
    merged_dir: str | None = None
    metrics_path: str | None = None
    objective: str = "sft"
    teacher_tokens: int | None = None  # distill: tokens the teacher scored

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def train(config: TrainConfig, rows: Any, metrics_path: str | Path | None = None,
          callbacks: list | None = None, build=None) -> TrainResult:
    """Train in this process. `rows`: a list of dicts, a JSONL/Parquet path or a Dataset.
    `build(config, rows, callbacks) -> (trainer, facts)` makes the trainer of an objective
    other than SFT (persd.train.objectives.builder)."""
    rows = normalise_rows(load_rows(rows), prompt_only=config.objective != "sft")
    check_model_path(config.student)
    main = _is_main_process()
    lock = None
    if not main:
        prepare_output_dir(config, rows, write=False, check_lock=False)
    else:
        if os.environ.get(INHERITED_ENV) != str(Path(config.output_dir).resolve()):
            prepare_output_dir(config, rows, write=False)
            lock = OutputLock.acquire(config.output_dir)
        try:
            prepare_output_dir(config, rows, write=True)
            if metrics_path and Path(metrics_path).resolve().parent == Path(config.output_dir).resolve():
                manifest.record(config.output_dir, [Path(metrics_path).name])
            if config.resume and metrics_path:
                trim_resumed_metrics(metrics_path, config.output_dir)
        except BaseException:
            if lock is not None:
                lock.release()
            raise
    writer = MetricsWriter(metrics_path if main else None, append=config.resume)
    stop = StopRequest().install()
    try:
        result = _run(config, rows, writer, stop, callbacks or [], main, build or build_trainer)
        writer.write({"event": "end", "status": result.status, **_end_fields(result)})
    except BaseException as error:
        _write_end(writer, config, error)
        raise
    finally:
        stop.uninstall()
        writer.close()
        if lock is not None:
            lock.release()
    result.metrics_path = str(metrics_path) if metrics_path else None
    return result


def start_training(config: TrainConfig, rows: Any, metrics_path: str | Path | None = None,
                   launcher: str | None = None) -> subprocess.Popen:
    """Check the inputs, record them in the output folder, and start the run as a child.

    The child is persd's job runner on `output_dir/train_job.json` (persd.launch; with
    `launcher`, e.g. "torchrun --standalone --nproc_per_node 2", every process of the
    launch); its stdout and stderr are appended to `output_dir/train.log`, metrics go to
    `metrics_path` (default `output_dir/metrics.jsonl`). It runs in its own session: signal
    it (SIGTERM) to stop it cleanly.
    """
    rows = normalise_rows(load_rows(rows), prompt_only=config.objective != "sft")
    check_model_path(config.student)
    prepare_output_dir(config, rows, write=False)
    with OutputLock.acquire(config.output_dir) as lock:
        prepare_output_dir(config, rows, write=True)
        out = Path(config.output_dir)
        metrics_path = Path(metrics_path or out / METRICS_FILE)
        if not config.resume:
            metrics_path.unlink(missing_ok=True)  # a UI tailing it must not see an older run
        job = {"kind": "train", "train": config.to_dict(), "data": str(out / ROWS_FILE),
               "metrics": str(metrics_path)}
        child = start_job(job, out / JOB_FILE, out / LOG_FILE, launcher=launcher,
                          env={INHERITED_ENV: str(out.resolve())}, pass_fds=(lock.fd,))
        lock.hand_over(child.pid)
    return child


def check_model_path(student: str) -> None:
    """A local model folder must exist and hold config.json; anything else must look like a
    Hub id (whether the Hub has it is found out when loading)."""
    path = Path(student).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise TrainError(f"model folder {student} holds no config.json: not a Hugging Face model")
        return
    if not _HUB_ID.match(student) or student.startswith(("./", "../", "~")):
        raise TrainError(f"model path {student} does not exist")


def build_trainer(config: TrainConfig, rows: list[dict[str, Any]], callbacks: list | None = None):
    """The trl `SFTTrainer` of a run, and facts about it for the start line and the card."""
    from datasets import Dataset
    from transformers.trainer_callback import PrinterCallback
    from trl import SFTConfig, SFTTrainer

    cuda, bf16 = hardware(config)
    tokenizer, model, peft_config, train_lm_head = load_student(config, bf16)
    prompt_format = resolve_format(config.prompt_format, tokenizer, config.student, model.config)
    pairs = [(r["prompt"], r["completion"]) for r in rows]
    if prompt_format == "chat":
        pairs = [chat_row(tokenizer, prompt, completion) for prompt, completion in pairs]
    dataset = Dataset.from_list([{"prompt": p, "completion": c} for p, c in pairs])
    train_set, eval_set = _split(dataset, config)
    args = training_args(
        config, SFTConfig, cuda, bf16,
        per_device_eval_batch_size=config.batch_size,
        max_length=config.max_length,
        completion_only_loss=True,
        eval_strategy=("steps" if config.eval_steps else "epoch") if eval_set is not None else "no",
        eval_steps=config.eval_steps,
        include_num_input_tokens_seen="non_padding",
    )
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=train_set, eval_dataset=eval_set,
        processing_class=tokenizer, peft_config=peft_config, callbacks=callbacks,
    )
    trainer.remove_callback(PrinterCallback)  # metrics.jsonl is the record; keep stdout quiet
    # trl drops rows whose prompt alone fills max_length and cuts longer ones (losing EOS).
    kept = trainer.train_dataset
    if len(kept) == 0:
        raise TrainError(
            f"every training row's prompt fills max_length ({config.max_length} tokens): "
            "nothing is left to learn from; raise max_length"
        )
    facts = {
        "train_rows": len(kept), "eval_rows": len(eval_set) if eval_set is not None else 0,
        "dropped_rows": len(train_set) - len(kept),
        "truncated_rows": sum(len(ids) >= config.max_length for ids in kept["input_ids"]),
        "train_lm_head": train_lm_head, "bf16": bf16, "prompt_format": prompt_format, "device": str(args.device),
        "world_size": args.world_size,
        "trainable_parameters": sum(p.numel() for p in trainer.model.parameters() if p.requires_grad),
    }
    return trainer, facts


def _run(config: TrainConfig, rows: list[dict[str, Any]], writer: MetricsWriter,
         stop: StopRequest, callbacks: list, main: bool, build) -> TrainResult:
    from persd.train.callback import ManifestCallback, MetricsCallback  # noqa: PLC0415  heavy: the callbacks subclass transformers' TrainerCallback

    started = time.perf_counter()
    trainer, facts = build(config, rows, callbacks)
    stage_checkpoints(trainer)  # --resume never takes a half-written checkpoint
    teacher_tokens = facts.pop("teacher_tokens", None)  # a counter, read at the end
    callback = MetricsCallback(writer, stop, facts)
    trainer.add_callback(callback)
    trainer.add_callback(ManifestCallback(config.output_dir))  # after the stop's save request
    checkpoint = last_checkpoint(config.output_dir) if config.resume else None
    output = trainer.train(resume_from_checkpoint=checkpoint)
    state = trainer.state
    result = TrainResult(
        status="stopped" if stop.requested and state.global_step < state.max_steps else "finished",
        output_dir=config.output_dir, steps=state.global_step, total_steps=state.max_steps,
        train_rows=facts["train_rows"], eval_rows=facts["eval_rows"],
        first_loss=callback.first_loss, final_loss=callback.last_loss,
        eval_loss=callback.last_eval_loss, tokens=callback.session_tokens(state),
        tokens_per_s=round(callback.session_tokens(state) / max(output.metrics["train_runtime"], 1e-9), 1),
        runtime_s=round(time.perf_counter() - started, 2), train_lm_head=facts["train_lm_head"],
        trainable_parameters=facts["trainable_parameters"], objective=config.objective,
        teacher_tokens=teacher_tokens() if teacher_tokens else None,
    )
    if result.status == "stopped":
        result.checkpoint = last_checkpoint(config.output_dir)
        return result
    out = Path(config.output_dir)
    before = {p.name for p in out.iterdir()}
    if main:
        manifest.record(out, set(manifest.FINAL_OUTPUTS) - before)
    trainer.save_model(config.output_dir)
    if main:
        trainer.processing_class.save_pretrained(config.output_dir)
        if config.merge and config.lora:
            result.merged_dir = _merge(trainer, config)
        write_model_card(config.output_dir, config, {
            "data": provenance(rows), "train": _card_fields(result),
        })
        manifest.settle(out, before)
    return result


def _write_end(writer: MetricsWriter, config: TrainConfig, error: BaseException) -> None:
    """The metrics file's end line for a run that raised; on a full disk it may not fit."""
    full = isinstance(error, Exception) and disk_full(error, config.output_dir)
    status = "stopped" if isinstance(error, KeyboardInterrupt) else "failed"
    text = disk_full_message(config.output_dir) if full else _one_line(error)
    try:
        writer.write({"event": "end", "status": status, "error": text,
                      **({"disk_full": True} if full else {})})
    except OSError:
        if not full:
            raise


def load_student(config: TrainConfig, bf16: bool):
    """(tokenizer, model, peft config or None, train_lm_head): a fresh LoRA adapter, or the
    `init_adapter` to continue (loaded trainable; then there is no peft config to apply)."""
    tokenizer, model = _load(config, bf16)
    train_lm_head = _train_lm_head(config, model)
    if not config.init_adapter:
        return tokenizer, model, _lora_config(config, train_lm_head), train_lm_head
    from peft import PeftModel

    if not (Path(config.init_adapter) / "adapter_config.json").is_file():
        raise TrainError(f"init_adapter {config.init_adapter} holds no adapter_config.json")
    model = PeftModel.from_pretrained(model, config.init_adapter, is_trainable=True)
    return tokenizer, model, None, train_lm_head


def _load(config: TrainConfig, bf16: bool):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # LoRA keeps the frozen base in bf16 (half the memory); full fine-tuning keeps fp32
    # master weights and lets autocast run the matmuls in bf16.
    dtype = torch.bfloat16 if bf16 and config.lora else torch.float32
    try:
        tokenizer = AutoTokenizer.from_pretrained(config.student)
        model = AutoModelForCausalLM.from_pretrained(config.student, dtype=dtype)
    except (OSError, ValueError) as error:
        raise TrainError(f"cannot load model {config.student}: {_one_line(error)}") from error
    return tokenizer, model


def _train_lm_head(config: TrainConfig, model) -> bool:
    if config.full:
        return False
    if config.train_lm_head != "auto":
        return bool(config.train_lm_head)
    head, embed = model.get_output_embeddings(), model.get_input_embeddings()
    tied = head is not None and head.weight.data_ptr() == embed.weight.data_ptr()
    return head is not None and not tied and model.num_parameters() < TINY_LM_HEAD_PARAMS


def _lora_config(config: TrainConfig, train_lm_head: bool):
    if config.full:
        return None
    from peft import LoraConfig

    return LoraConfig(
        task_type="CAUSAL_LM", r=config.lora_r, lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout, target_modules=config.target_modules,
        modules_to_save=["lm_head"] if train_lm_head else None,
    )


def _split(dataset, config: TrainConfig):
    if not config.eval_fraction:
        return dataset, None
    held_out = max(1, round(len(dataset) * config.eval_fraction))
    if held_out >= len(dataset):
        raise TrainError(
            f"eval_fraction {config.eval_fraction} leaves no training rows out of {len(dataset)}"
        )
    parts = dataset.train_test_split(test_size=held_out, seed=config.seed)
    return parts["train"], parts["test"]


def _merge(trainer, config: TrainConfig) -> str:
    merged_dir = Path(config.output_dir) / "merged"
    merged = trainer.model.merge_and_unload()
    merged.save_pretrained(merged_dir)
    trainer.processing_class.save_pretrained(merged_dir)
    return str(merged_dir)


def _card_fields(result: TrainResult) -> dict[str, Any]:
    keys = ("steps", "train_rows", "eval_rows", "first_loss", "final_loss", "eval_loss",
            "tokens_per_s", "runtime_s", "train_lm_head", "trainable_parameters")
    return {k: getattr(result, k) for k in keys if getattr(result, k) is not None}


def _end_fields(result: TrainResult) -> dict[str, Any]:
    keys = ("steps", "total_steps", "final_loss", "eval_loss", "tokens_per_s", "runtime_s",
            "checkpoint", "merged_dir", "objective", "teacher_tokens")
    return {k: getattr(result, k) for k in keys}


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")
