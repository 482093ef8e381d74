"""The training process: what a training child runs (and each process of a multi-process
launch).

    python -m persd.train.run --config runs/r1/train_config.json --data runs/r1/train_rows.jsonl \\
        --metrics runs/r1/metrics.jsonl
    accelerate launch --num_processes 2 -m persd.train.run --config ... --data ...

persd itself starts `python -m persd.runs.child` on a job file (persd.launch), which calls
`run_training` with the job's settings; this command line is the same for a hand-made
launch. Exit status: 0 finished, 3 stopped (SIGTERM; a checkpoint was saved), 2 bad input,
4 the disk is full, 1 crash. The metrics file's last line says the same in words.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from persd.train.checkpoints import disk_full, disk_full_message
from persd.train.config import TrainConfig, TrainError
from persd.train.runner import train

EXIT_STOPPED, EXIT_BAD_INPUT, EXIT_DISK_FULL = 3, 2, 4


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m persd.train.run", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="TrainConfig as JSON")
    parser.add_argument("--data", required=True, help="prompt/completion rows: JSONL or Parquet")
    parser.add_argument("--metrics", default=None, help="metrics JSON lines (default: none)")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    args = parser.parse_args(argv)
    try:
        with open(args.config, encoding="utf-8") as file:
            values = json.load(file)
    except (OSError, json.JSONDecodeError) as error:
        print(f"persd train: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.resume:
        values["resume"] = True
    return run_training(values, args.data, args.metrics)


def run_training(values: dict[str, Any], data: str, metrics: str | None) -> int:
    """Train on `data` with the TrainConfig `values`; the exit status (see the top)."""
    from persd.train.objectives import builder  # noqa: PLC0415  heavy: the objectives' trainers load trl and transformers

    try:
        config = TrainConfig.from_dict(values)
        # The objective picks the trainer: SFT (runner.build_trainer), distill or grpo.
        result = train(config, data, metrics_path=metrics, build=builder(config.objective))
    except TrainError as error:
        return _say(str(error), EXIT_BAD_INPUT)
    except Exception as error:
        if disk_full(error, values.get("output_dir") or "."):
            return _say(disk_full_message(values.get("output_dir")), EXIT_DISK_FULL)
        if isinstance(error, (OSError, json.JSONDecodeError)):
            return _say(str(error), EXIT_BAD_INPUT)
        raise  # a crash: its traceback goes to train.log
    print(json.dumps(result.to_dict()))
    return EXIT_STOPPED if result.status == "stopped" else 0


def _say(message: str, code: int) -> int:
    try:
        print(f"persd train: {message}", file=sys.stderr, flush=True)
    except OSError:
        pass  # stderr is the log, on the full disk
    return code


if __name__ == "__main__":
    sys.exit(main())
