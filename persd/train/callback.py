"""The trainer callback of a persd run: metrics lines and a clean stop between steps.

    callback = MetricsCallback(MetricsWriter(path), StopRequest().install(), {"train_rows": 8})
    trainer = SFTTrainer(..., callbacks=[callback, ManifestCallback("runs/r1")])

On a stop request (SIGTERM/SIGINT) the step in progress finishes, a resumable checkpoint
is saved and the loop ends; in a multi-process run the flag is reduced over all processes
first, so every process stops at the same step (a lone stop would hang the others).
"""

from __future__ import annotations

import time
from typing import Any

from transformers import TrainerCallback

from persd.train import manifest
from persd.train.metrics import MetricsWriter, StopRequest


class MetricsCallback(TrainerCallback):
    """Writes a metrics line per log event and stops cleanly when a stop is requested."""

    def __init__(self, writer: MetricsWriter, stop: StopRequest, start_info: dict[str, Any]) -> None:
        self.writer = writer
        self.stop = stop
        self.start_info = start_info
        self.last_loss: float | None = None
        self.last_eval_loss: float | None = None
        self.first_loss: float | None = None
        self._mark: tuple[float, int] = (time.perf_counter(), 0)
        self._begin_tokens = 0

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.writer.write({
                "event": "start", "total_steps": state.max_steps,
                "resumed_from_step": state.global_step, **self.start_info,
            })
        self._restart_clock(state)
        self._begin_tokens = state.num_input_tokens_seen

    def session_tokens(self, state) -> int:
        """Tokens processed by this process group since training (re)started."""
        return state.num_input_tokens_seen - self._begin_tokens

    def on_step_end(self, args, state, control, **kwargs):
        if _any_process(self.stop.requested, args):
            control.should_save = True
            control.should_training_stop = True
        return control

    def on_evaluate(self, args, state, control, **kwargs):
        self._restart_clock(state)  # tokens_per_s measures training, not evaluation or saving

    def on_save(self, args, state, control, **kwargs):
        self._restart_clock(state)

    def _restart_clock(self, state) -> None:
        self._mark = (time.perf_counter(), state.num_input_tokens_seen)

    def on_log(self, args, state, control, logs=None, **kwargs):
        logs = logs or {}
        record: dict[str, Any] = {"step": state.global_step, "epoch": state.epoch}
        if "loss" in logs:
            now, tokens = time.perf_counter(), state.num_input_tokens_seen
            elapsed, seen = now - self._mark[0], tokens - self._mark[1]
            self._mark = (now, tokens)
            speed = seen / elapsed if elapsed > 0 else 0.0
            self.last_loss = float(logs["loss"])
            if self.first_loss is None:
                self.first_loss = self.last_loss
            record.update(
                loss=self.last_loss, learning_rate=logs.get("learning_rate"),
                grad_norm=logs.get("grad_norm"), tokens=seen, tokens_per_s=round(speed, 1),
            )
        for key in ("reward", "reward_std"):  # grpo: the sandbox's mean reward per step
            if key in logs:
                record[key] = logs[key]
        if "eval_loss" in logs:
            self.last_eval_loss = float(logs["eval_loss"])
            record["eval_loss"] = self.last_eval_loss
        if len(record) > 2 and state.is_world_process_zero:
            self.writer.write(record)


class ManifestCallback(TrainerCallback):
    """Lists each checkpoint in the output folder's manifest before the Trainer writes it
    (add it after every callback that may ask for a save), and README.md: trl writes its
    model card there with every checkpoint."""

    def __init__(self, output_dir: str) -> None:
        self.output_dir = output_dir

    def on_step_end(self, args, state, control, **kwargs):
        if control.should_save and state.is_world_process_zero:
            manifest.record(self.output_dir, [f"checkpoint-{state.global_step}", "README.md"])
        return control


def _any_process(flag: bool, args) -> bool:
    """True on every process if any process got the signal, so all stop at the same step."""
    if args.world_size <= 1:
        return flag
    import torch  # noqa: PLC0415  heavy: torch
    import torch.distributed as dist  # noqa: PLC0415  heavy: torch

    value = torch.tensor([1 if flag else 0], device=args.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())
