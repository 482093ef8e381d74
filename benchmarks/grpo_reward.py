"""How much of a GRPO step goes to computing rewards in the sandbox.

    python benchmarks/grpo_reward.py [--generations 8] [--steps 3] [--workers 2]

Trains the tiny model with GRPO for a few steps twice in this process: once with the
sandbox reward (persd.train.objectives.reward.SandboxReward: every completion run against
its task's visible tests, in parallel on the executor's workers), once with a constant
reward. Prints the mean step time of each, the reward's own time, and the ratio. Target:
at most 15% extra wall time at 8 completions per prompt on 2 cores. The machine's load
average is printed too: on a shared machine the ratio is only as good as the quiet.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class Constant:
    __name__ = "constant"

    def __call__(self, prompts, completions, **_):
        return [0.5] * len(completions)


def timed_run(model: str, rows: list[dict], reward, generations: int, steps: int, out: str) -> float:
    from persd.train import TrainConfig
    from persd.train.objectives import grpo
    from persd.train.runner import train

    config = TrainConfig(student=model, output_dir=out, objective="grpo", num_generations=generations,
                         batch_size=generations, max_steps=steps, max_completion_length=64,
                         save_steps=1000, learning_rate=1e-3)
    started = time.perf_counter()
    train(config, rows, build=lambda c, r, cb: grpo.build_trainer(c, r, cb, reward=reward))
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--generations", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from persd.demo.tiny_model import write_tiny_model
    from persd.tasks import load_tasks
    from persd.train.objectives import prompt_rows
    from persd.train.objectives.reward import SandboxReward

    with tempfile.TemporaryDirectory() as tmp:
        model = write_tiny_model(Path(tmp) / "tiny").path
        rows = prompt_rows(load_tasks("humaneval")[:args.steps], "grpo")
        sandbox = SandboxReward(workers=args.workers)
        sandbox.executor  # the sandboxes start before the clock, as in a long run
        load = os.getloadavg()
        constant_s = timed_run(model, rows, Constant(), args.generations, args.steps, f"{tmp}/c")
        sandbox_s = timed_run(model, rows, sandbox, args.generations, args.steps, f"{tmp}/s")
        reward_s = sandbox.seconds / max(sandbox.calls, 1)
    print(f"load average at start: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} cores")
    print(f"{args.generations} completions per prompt, {args.steps} steps, {args.workers} sandboxes")
    print(f"constant reward : {constant_s:.2f} s/step")
    print(f"sandbox reward  : {sandbox_s:.2f} s/step (of which the reward {reward_s:.3f} s, "
          f"{reward_s / sandbox_s:.1%} of the step)")
    print(f"extra wall time : {sandbox_s / constant_s - 1:+.1%} (target <= +15%)")


if __name__ == "__main__":
    main()
