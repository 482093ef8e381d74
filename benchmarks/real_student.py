"""The real student, SmolLM2-135M-Instruct (issue 24): what it scores, how fast it writes,
and the smallest honest StanD-against-PERsD experiment the machine allows.

    .venv/bin/persd models get smollm2-135m            # once: models/smollm2-135m
    .venv/bin/python benchmarks/real_student.py [--model models/smollm2-135m] [--eval-tasks 50]
        [--train-tasks 16] [--steps 8] [--max-new-tokens 256] [--speed-prompts 8] [--threads T]

1. pass@1 (greedy, chat format) on the first `--eval-tasks` HumanEval tasks with its 95%
   Wilson interval, and tokens per second batched (`--batch-size` prompts per generate)
   against one prompt at a time on the first `--speed-prompts` of them (tokens: those of the
   kept completions, the same text on both sides when greedy batching matches).
2. Distillation at equal training steps and equal numbers of examples, on the HumanEval
   tasks after the evaluation set (disjoint from it):
   - StanD: the first `--train-tasks` training tasks, prompt -> reference solution;
   - PERsD (PERsD-refine rows): the student's own failing attempts on training tasks, the
     refine prompt (attempt + sandbox feedback) -> the corrected solution, as many rows as
     StanD. The corrected solution is the task's reference (an oracle teacher): offline there
     is no teacher stronger than the student itself, so this isolates what PERsD changes,
     conditioning on the student's own mistakes, from teacher quality.
   Both adapters train `--steps` LoRA steps from the base model with the same settings,
   then one-step and multi-step (one repair step from the visible tests) pass@1 on the
   evaluation set, before and after, with intervals.

Prints the figures and the wall time of each part. Run at full size on a GPU (the figures
in README's "A real pretrained student" section say what a CPU run gave):

    python benchmarks/real_student.py --eval-tasks 82 --train-tasks 82 --steps 100 \\
        --max-new-tokens 512 --batch-size 32 --device cuda
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from bench_options import student_options, use_threads  # this folder

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def wilson(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion (sound at 0 and n, unlike the normal one)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def show(name: str, passed: int, n: int) -> str:
    low, high = wilson(passed, n)
    return f"{name:<28} {passed:>3}/{n:<3} = {passed / n:6.1%}   95% CI [{low:5.1%}, {high:5.1%}]"


def timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def student(args, adapter: str | None = None):
    from persd.student import HFStudent, StudentConfig

    return HFStudent(StudentConfig(model=args.model, adapter=adapter, prompt_format="chat",
                                   temperature=0, max_new_tokens=args.max_new_tokens,
                                   batch_size=args.batch_size, device=args.device))


def speed(args, model, prompts: list[str]) -> dict:
    """Tokens per second of the kept completions, one prompt at a time against batched."""
    one_s, one = timed(lambda: [model.complete([p])[0] for p in prompts])
    batched_s, batched = timed(lambda: model.complete(prompts))
    tokens = sum(len(model.tokenizer(c[0], add_special_tokens=False).input_ids) for c in batched)
    return {"prompts": len(prompts), "tokens": tokens, "one_at_a_time_tok_s": tokens / one_s,
            "batched_tok_s": tokens / batched_s, "ratio": one_s / batched_s,
            "same_text": one == batched}


def evaluate_on(args, model, tasks, executor) -> tuple[int, int]:
    """(one-step, multi-step) tasks passed, greedy, one repair step from the visible tests."""
    from persd.evaluate import EvalConfig, evaluate
    from persd.settings import Sampling

    config = EvalConfig(samples=1, refine_steps=1, workers=args.workers,
                        sampling=Sampling(temperature=0, max_new_tokens=args.max_new_tokens))
    report = evaluate(model, tasks, config, executor)
    return round(report.pass_at(1, step=0) * len(tasks)), round(report.pass_at(1, step=-1) * len(tasks))


def training_rows(args, model, train_tasks, executor) -> tuple[list[dict], list[dict], int]:
    """StanD rows and PERsD-refine rows, as many of each; and how many attempts failed."""
    from persd.code.splice import split_program
    from persd.prompts import student_refine_prompt

    def reference(task) -> str:
        return split_program(task, task.solution)[1]

    stand = [{"prompt": t.prompt, "completion": reference(t), "task_id": t.task_id}
             for t in train_tasks[: args.train_tasks]]
    attempts = [t.prompt + c[0] for t, c in zip(train_tasks, model.complete([t.prompt for t in train_tasks]))]
    verdicts = executor.run_many([(program, t.test) for program, t in zip(attempts, train_tasks)])
    persd = [{"prompt": student_refine_prompt(t, program, verdict.feedback), "completion": reference(t),
              "task_id": t.task_id}
             for t, program, verdict in zip(train_tasks, attempts, verdicts) if not verdict.passed]
    size = min(len(stand), len(persd))
    return stand[:size], persd[:size], sum(not v.passed for v in verdicts)


def fine_tune(args, rows: list[dict], folder: str) -> float:
    from persd.train import TrainConfig, train

    config = TrainConfig(student=args.model, output_dir=folder, max_steps=args.steps,
                         batch_size=args.train_batch, learning_rate=args.lr, prompt_format="chat",
                         lora_r=16, max_length=1024, seed=0)
    wall, result = timed(lambda: train(config, rows, os.path.join(folder, "metrics.jsonl")))
    if result.status != "finished":
        raise SystemExit(f"training {folder} ended {result.status}: {result}")
    return wall


def main() -> None:
    parser = student_options(__doc__, model="models/smollm2-135m", max_new_tokens=256, batch_size=8,
                             threads_help="torch CPU threads (1 on a shared machine)")
    parser.add_argument("--eval-tasks", type=int, default=50)
    parser.add_argument("--train-tasks", type=int, default=16, help="StanD rows (PERsD: as many)")
    parser.add_argument("--train-pool", type=int, default=None,
                        help="training tasks the student attempts for PERsD rows (default: all after the eval set)")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--train-batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--speed-prompts", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--skip-distillation", action="store_true")
    args = parser.parse_args()
    use_threads(args.threads)
    from persd.execution import Executor
    from persd.tasks import load_tasks

    started = time.perf_counter()
    tasks = load_tasks("humaneval")
    eval_tasks = tasks[: args.eval_tasks]
    pool = tasks[args.eval_tasks:]
    train_tasks = pool[: args.train_pool] if args.train_pool else pool
    out: dict = {"model": args.model, "args": vars(args)}
    with Executor(workers=args.workers) as executor:
        base = student(args)
        out["speed"] = speed(args, base, [t.prompt for t in eval_tasks[: args.speed_prompts]])
        s = out["speed"]
        print(f"speed on {s['prompts']} prompts, {s['tokens']} tokens: one at a time "
              f"{s['one_at_a_time_tok_s']:.1f} tok/s, batched {s['batched_tok_s']:.1f} tok/s "
              f"({s['ratio']:.2f}x; same text: {s['same_text']})", flush=True)
        wall, out["base"] = timed(lambda: evaluate_on(args, base, eval_tasks, executor))
        print(show("base one-step pass@1", out["base"][0], len(eval_tasks)), flush=True)
        print(show("base multi-step pass@1", out["base"][1], len(eval_tasks)), f"({wall:.0f} s)", flush=True)
        if not args.skip_distillation:
            distil(args, base, train_tasks, eval_tasks, executor, out)
    out["wall_s"] = time.perf_counter() - started
    print(f"wall time {out['wall_s']:.0f} s")
    print(json.dumps(out, default=str))


def distil(args, base, train_tasks, eval_tasks, executor, out: dict) -> None:
    wall, (stand, persd, failed) = timed(lambda: training_rows(args, base, train_tasks, executor))
    print(f"training pool: {len(train_tasks)} tasks, the student failed {failed}; "
          f"rows: StanD {len(stand)}, PERsD {len(persd)} ({wall:.0f} s)", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        for name, rows in (("StanD", stand), ("PERsD", persd)):
            adapter = os.path.join(folder, name)
            train_s = fine_tune(args, rows, adapter)
            wall, passed = timed(lambda: evaluate_on(args, student(args, adapter), eval_tasks, executor))
            out[name] = {"rows": len(rows), "steps": args.steps, "train_s": train_s,
                         "one_step": passed[0], "multi_step": passed[1]}
            print(show(f"{name} one-step pass@1", passed[0], len(eval_tasks)), flush=True)
            print(show(f"{name} multi-step pass@1", passed[1], len(eval_tasks)),
                  f"(train {train_s:.0f} s, eval {wall:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
