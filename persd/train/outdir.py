"""The output folder of a run: what it may already hold, and the request files in it.

    from persd.train.outdir import prepare_output_dir, last_checkpoint
    prepare_output_dir(config, rows, write=True)   # TrainError if it holds another run
    last_checkpoint("runs/r1")                     # "runs/r1/checkpoint-40" or None

Every run writes `train_config.json` (its `TrainConfig`) and `train_rows.jsonl` (the rows it
trains on) first, so a run can be reproduced, resumed or compared from its folder alone.
A folder is refused, before anything in it is touched, when it holds another run or
unrelated files, unless the config says `resume` (same model, method and data) or
`overwrite` (start over: what earlier persd runs wrote there, as their manifest lists it,
is deleted; persd.train.manifest). `overwrite` is refused too, naming them, when the folder
holds entries under names a run writes that no manifest lists (a user's own `merged/`).
A folder a trainer holds (persd.train.lock) is refused at once.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from persd import private
from persd.train import manifest
from persd.train.checkpoints import STAGING
from persd.train.config import TrainConfig, TrainError
from persd.train.lock import LOCK_FILE, check_free
from persd.train.metrics import drop_steps_after
from persd.train.rows import atomic_write, fingerprint, load_rows, write_rows

CONFIG_FILE = "train_config.json"
ROWS_FILE = "train_rows.jsonl"
METRICS_FILE = "metrics.jsonl"
LOG_FILE = "train.log"
JOB_FILE = "train_job.json"   # the child's job (persd.launch)
# Files that say nothing about whether training happened (a prepared, not yet started run).
_REQUEST_FILES = {CONFIG_FILE, ROWS_FILE, METRICS_FILE, LOG_FILE, JOB_FILE, STAGING, f".{CONFIG_FILE}.tmp",
                  f".{ROWS_FILE}.tmp", manifest.MANIFEST_FILE, LOCK_FILE}
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def prepare_output_dir(config: TrainConfig, rows: list[dict[str, Any]], write: bool,
                       check_lock: bool = True) -> None:
    """Check that `config.output_dir` may be used; with `write`, record the request in it
    (the caller holds the folder's lock then; without `write`, `check_lock` checks that no
    trainer holds it)."""
    out = Path(config.output_dir)
    if out.exists() and not out.is_dir():
        raise TrainError(f"output {out} exists and is not a folder")
    _check_existing(config, rows, out)
    if not write:
        if check_lock:
            check_free(out)
        return
    private.make_dir(out)
    if config.overwrite and not config.resume:
        manifest.remove_listed(out, keep=_REQUEST_FILES)  # the request is rewritten below
    manifest.record(out, _REQUEST_FILES)
    atomic_write(out / CONFIG_FILE, json.dumps(config.to_dict(), indent=2) + "\n")
    write_rows(rows, out / ROWS_FILE)


def read_request(output_dir: str | Path) -> tuple[TrainConfig, list[dict[str, Any]]]:
    """The config and rows recorded in a run folder."""
    out = Path(output_dir)
    if not (out / CONFIG_FILE).is_file():
        raise TrainError(f"{out} holds no {CONFIG_FILE}: not a persd training run")
    config = TrainConfig.from_dict(json.loads((out / CONFIG_FILE).read_text()))
    return config, load_rows(out / ROWS_FILE)


def checkpoints(output_dir: str | Path) -> list[Path]:
    """Trainer checkpoints in the folder, oldest step first."""
    out = Path(output_dir)
    if not out.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in out.iterdir() if (m := _CHECKPOINT.match(p.name))]
    return [p for _, p in sorted(found) if p.is_dir()]


def last_checkpoint(output_dir: str | Path) -> str | None:
    found = checkpoints(output_dir)
    return str(found[-1]) if found else None


def trim_resumed_metrics(metrics_path: str | Path, output_dir: str | Path) -> None:
    """Before a resumed run appends to `metrics_path`: drop the step lines after the
    checkpoint it resumes from (a run killed between two checkpoints logged steps that the
    resumed run trains, and logs, again). Idempotent."""
    checkpoint = last_checkpoint(output_dir)
    drop_steps_after(metrics_path, int(_CHECKPOINT.match(Path(checkpoint).name).group(1))
                     if checkpoint else 0)


def _check_existing(config: TrainConfig, rows: list[dict[str, Any]], out: Path) -> None:
    if not out.is_dir():
        return
    contents = {p.name for p in out.iterdir()} - {LOCK_FILE}
    if not contents:
        return
    if config.overwrite and not config.resume:
        foreign = manifest.colliding(out)
        if foreign:
            raise TrainError(
                f"--overwrite deletes only what earlier persd runs wrote in {out} (as listed in "
                f"{manifest.MANIFEST_FILE}), and it also holds {', '.join(foreign)}, which no persd "
                "run recorded writing: move them away or choose another --output"
            )
        return
    if CONFIG_FILE not in contents:
        raise TrainError(
            f"output folder {out} is not empty and holds no persd run; choose another --output "
            "or pass --overwrite to write into it"
        )
    if not contents - _REQUEST_FILES:
        return  # prepared but never trained (e.g. refused by a later check): nothing to lose
    previous, same_data = _previous_run(out, rows)
    changed = _differences(previous, config.identity()) if previous is not None else {"config": "unreadable"}
    if not same_data:
        changed["data"] = "different rows"
    if config.resume:
        if changed:
            raise TrainError(
                f"cannot resume the run in {out}: {_describe(changed)} differ from the run it holds; "
                "pass --overwrite to start over or choose another --output"
            )
        return
    if changed:
        raise TrainError(
            f"output folder {out} holds another run ({_describe(changed)} differ); "
            "choose another --output, or pass --overwrite to replace it"
        )
    raise TrainError(
        f"output folder {out} already holds this run; pass --resume to continue it "
        "or --overwrite to start over"
    )


def _previous_run(out: Path, rows: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, bool]:
    try:
        previous = TrainConfig.from_dict(json.loads((out / CONFIG_FILE).read_text())).identity()
    except (OSError, ValueError, TypeError, TrainError):
        previous = None
    try:
        same = fingerprint(load_rows(out / ROWS_FILE)) == fingerprint(rows)
    except (OSError, TrainError, KeyError):
        same = False
    return previous, same


def _differences(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    return {
        key: (previous.get(key), current.get(key))
        for key in sorted(set(previous) | set(current))
        if previous.get(key) != current.get(key)
    }


def _describe(changed: dict[str, Any]) -> str:
    parts = []
    for key, value in changed.items():
        if isinstance(value, tuple):
            parts.append(f"{key} {value[0]!r} -> {value[1]!r}")
        else:
            parts.append(f"{key} ({value})")
    return ", ".join(parts)
