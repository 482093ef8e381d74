"""`persd train` and `persd export`: the curated set as training rows, and training on them."""

from __future__ import annotations

import sys

import click

from persd.cli.common import (
    PROMPT_FORMAT_HELP,
    PROMPT_STYLE_HELP,
    UserError,
    config_option,
    sessions_dir_option,
)
from persd.data import FORMATS, SELECTIONS, VARIANTS, DataError, build_examples
from persd.data import export as write
from persd.execution.option import executor_option
from persd.prompts import PROMPT_STYLES
from persd.runs import train_run
from persd.store import SessionStore, StoreError
from persd.student.chat import PROMPT_FORMATS
from persd.tasks.sources import parse_columns
from persd.train import TrainError
from persd.train.config import FULL_LR, LORA_LR, OBJECTIVES, REWARD_TESTS, TrainConfig


@click.command("train")
@click.option("--session", help="Take the rows from this session and record the run in it.")
@click.option("--variant", default="persd", show_default=True,
              type=click.Choice(VARIANTS))
@click.option("--data", help="prompt/completion rows: JSONL, JSON array, CSV, Parquet or hf:<dataset>.")
@click.option("--columns", default="", help="Column mapping, e.g. prompt=instruction,completion=output.")
@click.option("--selection", type=click.Choice(SELECTIONS), default="auto",
              show_default=True, help="Which teacher results of --session: auto = reviewers' approvals "
              "once any exist, validated results before.")
@config_option(TrainConfig, "student", required=True, help="Base model: Hugging Face id or local folder.")
@config_option(TrainConfig, "objective", keep_unset=True, type=click.Choice(OBJECTIVES), help="sft: the "
               "curated rows; distill: on-policy distillation from --teacher; grpo: the sandbox as reward.")
@config_option(TrainConfig, "teacher", help="distill: an open teacher sharing the student's tokenizer (folder or HF id).")
@config_option(TrainConfig, "beta", keep_unset=True, help="distill: generalised JSD, 0 forward KL .. 1 reverse KL.")
@config_option(TrainConfig, "num_generations", keep_unset=True, help="grpo: completions per prompt.")
@config_option(TrainConfig, "reward_tests", keep_unset=True, type=click.Choice(REWARD_TESTS), help="grpo: "
               "tests the reward runs; hidden ones are what evaluation scores, so only on purpose.")
@config_option(TrainConfig, "max_completion_length", keep_unset=True, help="distill/grpo: tokens per completion.")
@config_option(TrainConfig, "use_vllm", is_flag=True, default=None, help="distill/grpo: generate with vLLM (colocated).")
@config_option(TrainConfig, "prompt_format", keep_unset=True, type=click.Choice(PROMPT_FORMATS),
               help=PROMPT_FORMAT_HELP + " sft: the rows' prompt side.")
@config_option(TrainConfig, "prompt_style", keep_unset=True, type=click.Choice(PROMPT_STYLES),
               help=PROMPT_STYLE_HELP)
@config_option(TrainConfig, "init_adapter", type=click.Path(file_okay=False), help="Continue this LoRA adapter.")
@config_option(TrainConfig, "output_dir", "--output", required=True, type=click.Path(file_okay=False))
@config_option(TrainConfig, "full", is_flag=True, default=None, help="Full fine-tuning instead of LoRA.")
@config_option(TrainConfig, "epochs", keep_unset=True, help="Passes over the rows.")
@config_option(TrainConfig, "max_steps", keep_unset=True, help="Optimizer steps (overrides --epochs when > 0).")
@config_option(TrainConfig, "learning_rate", "--lr", keep_unset=True,
               help=f"Peak rate  [default: {LORA_LR:g} LoRA, {FULL_LR:g} full]")
@config_option(TrainConfig, "lr_scheduler", keep_unset=True, help="linear, cosine, constant, ...")
@config_option(TrainConfig, "batch_size", keep_unset=True, help="Rows per device per step.")
@config_option(TrainConfig, "gradient_accumulation", "--grad-accum", keep_unset=True, help="Accumulated passes.")
@config_option(TrainConfig, "max_length", keep_unset=True, help="Token cap per row.")
@config_option(TrainConfig, "lora_r", keep_unset=True, help="LoRA rank.")
@config_option(TrainConfig, "lora_alpha", keep_unset=True, help="LoRA alpha.")
@config_option(TrainConfig, "seed", keep_unset=True, help="Seed.")
@config_option(TrainConfig, "eval_fraction", keep_unset=True, help="Rows held out for eval loss.")
@config_option(TrainConfig, "save_steps", keep_unset=True, help="Steps between checkpoints.")
@config_option(TrainConfig, "merge", is_flag=True, default=None, help="Also write merged weights to OUTPUT/merged.")
@config_option(TrainConfig, "resume", is_flag=True, default=None, help="Continue from the last checkpoint in OUTPUT.")
@config_option(TrainConfig, "overwrite", is_flag=True, default=None, help="Start over in an OUTPUT holding another run.")
@click.option("--metrics", type=click.Path(dir_okay=False), help="Metrics JSON lines  [default: OUTPUT/metrics.jsonl]")
@click.option("--launcher", help='Run the child under a launcher, e.g. "torchrun --standalone --nproc_per_node 2".')
@sessions_dir_option
@executor_option
def train(session, variant, data, columns, selection, metrics, launcher, sessions_dir, **settings) -> None:
    """Fine-tune the student on a session's curated examples (or --data), in a child process."""
    try:
        config = train_config(session, variant, **settings)
        outcome = train_run(config, data=data, sessions_dir=sessions_dir, metrics=metrics,
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
    elif end.get("disk_full"):
        raise UserError(f"training failed: {end['error']}")
    else:
        raise UserError(f"training failed: {end.get('error') or 'the child process died'}"
                        f"\n{outcome.log_tail}\n(log: {config.output_dir}/train.log)")



def train_config(session: str | None, variant: str, **settings) -> TrainConfig:
    """The settings a `persd train` line stands for, from its options as click parsed them
    (an option left out is None: the config's default)."""
    chosen = {name: value for name, value in settings.items() if value is not None}
    return TrainConfig.from_dict({**chosen, "variant": variant, "session": session})


@click.command()
@click.option("--session", required=True)
@click.option("--variant", type=click.Choice(VARIANTS), required=True)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="jsonl", show_default=True)
@click.option("--output", required=True, type=click.Path(), help="File (jsonl, parquet) or folder (hf).")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@click.option("--round", "round_", type=int, help="Only this round  [default: every round]")
@click.option("--selection", type=click.Choice(SELECTIONS), default="auto", show_default=True,
              help="auto: reviewers' approvals once any exist, validated results before.")
@click.option("--prompt-style", type=click.Choice(PROMPT_STYLES), default="persd", show_default=True,
              help=PROMPT_STYLE_HELP)
@sessions_dir_option
def export(session, variant, fmt, output, round_, selection, prompt_style, force, sessions_dir) -> None:
    """Write a session's training examples of one variant (trl prompt-completion rows)."""
    try:
        with SessionStore.open_to_read(sessions_dir, session) as store:
            rows = build_examples(store, variant, round=round_, selection=selection,
                                  prompt_style=prompt_style)
        path = write(rows, output, fmt, force=force)
    except (DataError, StoreError) as error:
        raise UserError(str(error)) from error
    click.echo(f"wrote {len(rows)} {variant} examples to {path}")
