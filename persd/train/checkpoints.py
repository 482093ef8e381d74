"""Checkpoints that are whole or absent, and a full disk said in one line.

    stage_checkpoints(trainer)      # before trainer.train(): checkpoints staged, then renamed
    disk_full(error, "runs/r1")     # whether an exception means the disk is full

The Trainer writes `checkpoint-N/` file by file in place, so a run that dies mid-save (a
full disk, a kill) leaves a folder `--resume` would take, with a truncated tokenizer or
optimizer state. Here every checkpoint is written under `.checkpoint-staging/` and renamed
to `checkpoint-N` only once complete (a rename within one filesystem is atomic), so
persd.train.outdir.last_checkpoint only ever sees whole ones; a staging folder an earlier
run left is removed before the next save.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

STAGING = ".checkpoint-staging"
FULL_MARKERS = ("No space left on device", "StorageFull", "os error 28")
LOW_SPACE_BYTES = 1 << 20


def stage_checkpoints(trainer) -> None:
    """Make `trainer` save each checkpoint in a staging folder and rename it when whole.

    Wraps the instance's `_save_checkpoint` (the Trainer's one place that writes a
    checkpoint, also on a stop request): the output folder is pointed at the staging
    folder for the save, then the finished `checkpoint-N` is moved next to the others and
    the old ones rotated as the Trainer would."""
    from transformers.trainer_utils import rotate_checkpoints  # noqa: PLC0415  heavy: transformers, loaded only inside the training process

    save = trainer._save_checkpoint
    args = trainer.args

    def save_staged(model, trial) -> None:
        out = args.output_dir
        staging = Path(out) / STAGING
        if trainer.is_world_process_zero():
            shutil.rmtree(staging, ignore_errors=True)  # an earlier run's partial save
        trainer.accelerator.wait_for_everyone()
        args.output_dir = str(staging)
        try:
            save(model, trial)
        finally:
            args.output_dir = out
        trainer.accelerator.wait_for_everyone()  # every process has written its part
        if trainer.is_world_process_zero():
            for done in staging.glob("checkpoint-*"):
                target = Path(out) / done.name
                if target.exists():  # the same step saved again (a stop right after a save)
                    shutil.rmtree(target)
                os.replace(done, target)
            shutil.rmtree(staging)  # what else the save wrote there (trl's model card)
            rotate_checkpoints(output_dir=out, save_total_limit=args.save_total_limit,
                               best_model_checkpoint=trainer.state.best_model_checkpoint,
                               use_mtime=False)
        trainer.accelerator.wait_for_everyone()

    trainer._save_checkpoint = save_staged


def disk_full(error: BaseException, folder: str | Path) -> bool:
    """Whether `error` (or an error it was raised from) says the disk is full, or the
    folder's filesystem has (almost) no space left after it. torch and safetensors report
    a full disk as RuntimeError or their own error, not as OSError(ENOSPC)."""
    seen: BaseException | None = error
    for _ in range(20):  # a chain of causes, never a cycle of them
        if seen is None:
            break
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if any(marker in str(seen) for marker in FULL_MARKERS):
            return True
        seen = seen.__cause__ or seen.__context__
    try:
        return shutil.disk_usage(folder).free < LOW_SPACE_BYTES
    except OSError:
        return False


def disk_full_message(folder: str | Path) -> str:
    return (f"the disk is full (training output {folder}); free some space, then rerun "
            "with --resume to continue from the last complete checkpoint")
