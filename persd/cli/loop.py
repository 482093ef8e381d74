"""`persd loop`: rounds of collect -> review gate -> train -> evaluate (persd.loop)."""

from __future__ import annotations

import sys

import click

from persd.cli.common import TASK_SOURCES_HELP, UserError, config_option, sessions_dir_option
from persd.execution.option import executor_option
from persd.loop.config import GATES, TRAIN_FROM, LoopConfig


@click.command("loop")
@click.option("--session", required=True, help="Session to collect into and record the loop in.")
@click.option("--tasks", required=True, help="Training tasks. " + TASK_SOURCES_HELP)
@click.option("--eval-tasks", required=True, help="Held-out tasks pass@1 is measured on.")
@click.option("--student", required=True, help="Base student: Hugging Face id or local folder.")
@click.option("--teacher-model", required=True, envvar="PERSD_TEACHER_MODEL",
              help="Teacher at OPENAI_BASE_URL (also PERSD_TEACHER_MODEL).")
@click.option("--output", "output_dir", required=True, type=click.Path(file_okay=False),
              help="Folder of the rounds' adapters (round-N/).")
@config_option(LoopConfig, "rounds", help="Rounds at most (after round 0, the base student).")
@config_option(LoopConfig, "patience", help="Stop after this many rounds without a better "
               "one-step pass@1; 0 runs every round.")
@config_option(LoopConfig, "gate", type=click.Choice(GATES),
               help="auto: approve validated refinements as 'auto-gate'; wait: until reviewers "
                    "decided --wait-for records of the round in the app.")
@config_option(LoopConfig, "wait_for", help="M of the wait gate.")
@config_option(LoopConfig, "train_from", type=click.Choice(TRAIN_FROM),
               help="previous: continue last round's adapter on this round's data; base: a new "
                    "adapter on every round's data.")
@config_option(LoopConfig, "step_size", type=click.IntRange(min=1),
               help="Online form: train after every K new validated examples.")
@config_option(LoopConfig, "limit", type=click.IntRange(min=1), help="First N training tasks.")
@config_option(LoopConfig, "eval_limit", type=click.IntRange(min=1), help="First N eval tasks.")
@config_option(LoopConfig, "samples", help="Eval samples per task.")
@config_option(LoopConfig, "refine_steps", help="Eval repair steps (multi-step pass@1).")
@config_option(LoopConfig, "max_new_tokens", help="Student completion cap.")
@config_option(LoopConfig, "workers", type=int, help="Sandboxes  [default: CPU cores]")
@config_option(LoopConfig, "timeout_s", "--timeout", help="CPU seconds per program.")
@config_option(LoopConfig, "poll_s", "--poll", help="Seconds between the wait gate's looks.")
@click.option("--max-steps", type=int, help="Training steps per round.")
@click.option("--epochs", type=float, help="Training epochs per round  [default: 3]")
@click.option("--lr", "learning_rate", type=float, help="Learning rate  [default: 2e-4]")
@click.option("--batch-size", type=int, help="Training batch  [default: 8]")
@sessions_dir_option
@executor_option
def loop(max_steps, epochs, learning_rate, batch_size, **settings) -> None:
    """Online distillation: collect, review, train and evaluate, round after round."""
    from persd.loop import LoopError, run_loop

    train = {name: value for name, value in (("max_steps", max_steps), ("epochs", epochs),
             ("learning_rate", learning_rate), ("batch_size", batch_size)) if value is not None}
    try:
        config = LoopConfig(**settings, train=train)
        outcome = run_loop(config, echo=lambda message: click.echo(message, err=True))
    except LoopError as error:
        raise UserError(str(error)) from error
    click.echo(f"loop run {outcome.run_id} {outcome.status}: {outcome.reason}")
    click.echo("round  approved  one-step pass@1  multi-step pass@1")
    for record in outcome.rounds:
        one, multi = record.get("pass1_one_step"), record.get("pass1_multi_step")
        click.echo(f"{record['round']:>5}  {record.get('approved', '-'):>8}  "
                   f"{'-' if one is None else f'{one:.4f}':>15}  {'-' if multi is None else f'{multi:.4f}':>17}")
    if outcome.status == "stopped":
        click.echo("Stopped. Run the same command again to continue.")
        sys.exit(3)
