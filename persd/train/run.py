"""The entry point of a training child process (and of multi-process launches).

    python -m persd.train.run --config runs/r1/train_config.json --data runs/r1/train_rows.jsonl \\
        --metrics runs/r1/metrics.jsonl
    accelerate launch --num_processes 2 -m persd.train.run --config ... --data ...

Exit status: 0 finished, 3 stopped (SIGTERM; a checkpoint was saved), 2 bad input, 1 crash.
The metrics file's last line says the same in words.
"""

from __future__ import annotations

import argparse
import json
import sys

from persd.train.config import TrainConfig, TrainError
from persd.train.runner import train

EXIT_STOPPED, EXIT_BAD_INPUT = 3, 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m persd.train.run", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="TrainConfig as JSON")
    parser.add_argument("--data", required=True, help="prompt/completion rows: JSONL or Parquet")
    parser.add_argument("--metrics", default=None, help="metrics JSON lines (default: none)")
    parser.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    args = parser.parse_args(argv)

    from persd.train.objectives import builder  # noqa: PLC0415  heavy: the objectives' trainers load trl and transformers

    try:
        with open(args.config, encoding="utf-8") as file:
            values = json.load(file)
        if args.resume:
            values["resume"] = True
        config = TrainConfig.from_dict(values)
        # The objective picks the trainer: SFT (runner.build_trainer), distill or grpo.
        result = train(config, args.data, metrics_path=args.metrics, build=builder(config.objective))
    except (TrainError, OSError, json.JSONDecodeError) as error:
        print(f"persd train: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(json.dumps(result.to_dict()))
    return EXIT_STOPPED if result.status == "stopped" else 0


if __name__ == "__main__":
    sys.exit(main())
