"""`persd train` and `persd export`: the curated set as training rows, and training on them."""

from __future__ import annotations

import sys

import click

from persd.cli.common import UserError, sessions_dir_option
from persd.data import FORMATS, SELECTIONS, VARIANTS
from persd.execution.option import executor_option
from persd.train.config import OBJECTIVES, REWARD_TESTS


@click.command("train")
@click.option("--session", help="Take the rows from this session and record the run in it.")
@click.option("--variant", default="persd", show_default=True,
              type=click.Choice(VARIANTS))
@click.option("--data", help="prompt/completion rows: JSONL, JSON array, CSV, Parquet or hf:<dataset>.")
@click.option("--columns", default="", help="Column mapping, e.g. prompt=instruction,completion=output.")
@click.option("--selection", type=click.Choice(SELECTIONS), default="auto",
              show_default=True, help="Which teacher results of --session: auto = reviewers' approvals "
              "once any exist, validated results before.")
@click.option("--student", required=True, help="Base model: Hugging Face id or local folder.")
@click.option("--objective", type=click.Choice(OBJECTIVES), help="sft: the curated rows; distill: "
              "on-policy distillation from --teacher; grpo: the sandbox as reward  [default: sft]")
@click.option("--teacher", help="distill: an open teacher sharing the student's tokenizer (folder or HF id).")
@click.option("--beta", type=float, help="distill: generalised JSD, 0 forward KL .. 1 reverse KL  [default: 0.5]")
@click.option("--num-generations", type=int, help="grpo: completions per prompt  [default: 4]")
@click.option("--reward-tests", type=click.Choice(REWARD_TESTS), help="grpo: tests the reward runs; "
              "hidden ones are what evaluation scores, so only on purpose  [default: visible]")
@click.option("--max-completion-length", type=int, help="distill/grpo: tokens per completion  [default: 256]")
@click.option("--use-vllm", is_flag=True, default=None, help="distill/grpo: generate with vLLM (colocated).")
@click.option("--init-adapter", type=click.Path(file_okay=False), help="Continue this LoRA adapter.")
@click.option("--output", "output_dir", required=True, type=click.Path(file_okay=False))
@click.option("--full", is_flag=True, default=None, help="Full fine-tuning instead of LoRA.")
@click.option("--epochs", type=float, help="Passes over the rows  [default: 3]")
@click.option("--max-steps", type=int, help="Optimizer steps (overrides --epochs).")
@click.option("--lr", "learning_rate", type=float, help="Peak rate  [default: 2e-4 LoRA, 5e-6 full]")
@click.option("--lr-scheduler", help="linear, cosine, constant, ...  [default: linear]")
@click.option("--batch-size", type=int, help="Rows per device per step  [default: 8]")
@click.option("--grad-accum", "gradient_accumulation", type=int, help="Accumulated passes  [default: 1]")
@click.option("--max-length", type=int, help="Token cap per row  [default: 2048]")
@click.option("--lora-r", type=int, help="LoRA rank  [default: 16]")
@click.option("--lora-alpha", type=int, help="LoRA alpha  [default: 32]")
@click.option("--seed", type=int, help="Seed  [default: 42]")
@click.option("--eval-fraction", type=float, help="Rows held out for eval loss  [default: 0]")
@click.option("--save-steps", type=int, help="Steps between checkpoints  [default: 200]")
@click.option("--merge", is_flag=True, default=None, help="Also write merged weights to OUTPUT/merged.")
@click.option("--resume", is_flag=True, default=None, help="Continue from the last checkpoint in OUTPUT.")
@click.option("--overwrite", is_flag=True, default=None, help="Start over in an OUTPUT holding another run.")
@click.option("--metrics", type=click.Path(dir_okay=False), help="Metrics JSON lines  [default: OUTPUT/metrics.jsonl]")
@click.option("--launcher", help='Run the child under a launcher, e.g. "torchrun --standalone --nproc_per_node 2".')
@sessions_dir_option
@executor_option
def train(session, variant, data, columns, selection, metrics, launcher, sessions_dir, **settings) -> None:
    """Fine-tune the student on a session's curated examples (or --data), in a child process."""
    from persd.tasks.sources import parse_columns
    from persd.train import TrainConfig, TrainError
    from persd.train.command import run_train_command

    chosen = {name: value for name, value in settings.items() if value is not None}
    try:
        config = TrainConfig.from_dict({**chosen, "variant": variant, "session": session})
        outcome = run_train_command(config, data=data, sessions_dir=sessions_dir, metrics=metrics,
                                    launcher=launcher, echo=click.echo, selection=selection,
                                    columns=parse_columns(columns))
    except (TrainError, ValueError) as error:
        raise UserError(str(error)) from error
    end = outcome.end
    if outcome.status == "finished":
        loss = end.get("final_loss")
        click.echo(f"Finished {end.get('steps')} steps"
                   + (f" ({end['objective']})" if end.get("objective", "sft") != "sft" else "")
                   + (f", loss {loss:.4f}" if loss is not None else "") + "; "
                   f"output in {config.output_dir}" + (f" (run {outcome.run_id})" if outcome.run_id else ""))
    elif outcome.status == "stopped":
        click.echo(f"Stopped at step {end.get('steps')}; checkpoint {end.get('checkpoint')}. "
                   "Continue with the same command and --resume.")
        sys.exit(3)
    else:
        raise UserError(f"training failed: {end.get('error') or 'the child process died'}"
                        f"\n{outcome.log_tail}\n(log: {config.output_dir}/train.log)")




@click.command()
@click.option("--session", required=True)
@click.option("--variant", type=click.Choice(VARIANTS), required=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@click.option("--output", required=True, type=click.Path(), help="File (jsonl, parquet) or folder (hf).")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@click.option("--round", "round_", type=int, help="Only this round  [default: every round]")
@click.option("--selection", type=click.Choice(SELECTIONS), default="auto", show_default=True,
              help="auto: reviewers' approvals once any exist, validated results before.")
@sessions_dir_option
def export(session, variant, fmt, output, round_, selection, force, sessions_dir) -> None:
    """Write a session's training examples of one variant (trl prompt-completion rows)."""
    from persd.data import DataError, build_examples, export as write
    from persd.store import SessionStore, StoreError

    try:
        with SessionStore.open_to_read(sessions_dir, session) as store:
            rows = build_examples(store, variant, round=round_, selection=selection)
        path = write(rows, output, fmt, force=force)
    except (DataError, StoreError) as error:
        raise UserError(str(error)) from error
    click.echo(f"wrote {len(rows)} {variant} examples to {path}")
