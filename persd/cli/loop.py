"""`persd loop`: rounds of collect -> review gate -> train -> evaluate (persd.loop)."""

from __future__ import annotations

import sys

import click

from persd.cli.common import (
    PROMPT_FORMAT_HELP,
    PROMPT_STYLE_HELP,
    TASK_SOURCES_HELP,
    UserError,
    config_option,
    sessions_dir_option,
)
from persd.collect.config import CollectConfig
from persd.cli.evaluate import FEEDBACK_TESTS_HELP, HIDDEN_FEEDBACK_WARNING
from persd.evaluate.config import FEEDBACK_TESTS, EvalConfig
from persd.execution.option import executor_option
from persd.prompts import PROMPT_STYLES
from persd.loop import LoopError, run_loop
from persd.loop.config import GATES, TRAIN_FROM, LoopConfig, loop_eval
from persd.settings import SAMPLING_FIELDS, default_of
from persd.student.chat import PROMPT_FORMATS
from persd.train.config import FULL_LR, LORA_LR, TrainConfig

LOOP_EVAL = loop_eval()


def _both(field: str) -> str:
    """The defaults of a sampling option that sets both parts."""
    return (f"collecting and evaluating  [default: {default_of(CollectConfig, field)} and "
            f"{getattr(LOOP_EVAL, field)}]")


@click.command("loop")
@config_option(CollectConfig, "session", required=True, help="Session to collect into and record the loop in.")
@config_option(CollectConfig, "tasks", required=True, help="Training tasks. " + TASK_SOURCES_HELP)
@config_option(CollectConfig, "eval_tasks", required=True, help="Held-out tasks pass@1 is measured on.")
@config_option(CollectConfig, "student", required=True, help="Base student: Hugging Face id or local folder.")
@config_option(CollectConfig, "teacher_model", required=True, envvar="PERSD_TEACHER_MODEL",
               help="Teacher at OPENAI_BASE_URL (also PERSD_TEACHER_MODEL).")
@config_option(LoopConfig, "output_dir", "--output", required=True, type=click.Path(file_okay=False),
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
@config_option(CollectConfig, "limit", type=click.IntRange(min=1), help="First N training tasks.")
@config_option(LoopConfig, "eval_limit", type=click.IntRange(min=1), help="First N eval tasks.")
@config_option(LOOP_EVAL, "samples", help="Eval samples per task.")
@config_option(LOOP_EVAL, "refine_steps", help="Eval repair steps (multi-step pass@1).")
@config_option(CollectConfig, "temperature", keep_unset=True,
               help="Student sampling temperature, " + _both("temperature"))
@config_option(CollectConfig, "top_p", keep_unset=True,
               help="Student nucleus sampling mass, " + _both("top_p"))
@config_option(CollectConfig, "max_new_tokens", keep_unset=True,
               help="Student completion cap, " + _both("max_new_tokens"))
@config_option(LOOP_EVAL, "feedback_tests", type=click.Choice(FEEDBACK_TESTS),
               help=FEEDBACK_TESTS_HELP)
@config_option(LOOP_EVAL, "temperature", "--eval-temperature", keep_unset=True, dest="eval_temperature",
               help="The evaluation's temperature alone (over --temperature).")
@config_option(CollectConfig, "workers", type=int, help="Sandboxes  [default: CPU cores]")
@config_option(CollectConfig, "concurrency", type=click.IntRange(min=1), help="Teacher calls in flight.")
@config_option(CollectConfig, "teacher_max_tokens", type=click.IntRange(min=1), help="Teacher reply budget in tokens.")
@config_option(CollectConfig, "prompt_format", type=click.Choice(PROMPT_FORMATS), help=PROMPT_FORMAT_HELP)
@config_option(CollectConfig, "prompt_style", type=click.Choice(PROMPT_STYLES), help=PROMPT_STYLE_HELP)
@config_option(CollectConfig, "timeout_s", "--timeout", help="CPU seconds per program.")
@config_option(LoopConfig, "poll_s", "--poll", help="Seconds between the wait gate's looks.")
@config_option(TrainConfig, "max_steps", keep_unset=True, help="Training steps per round (-1: --epochs).")
@config_option(TrainConfig, "epochs", keep_unset=True, help="Training epochs per round.")
@config_option(TrainConfig, "learning_rate", "--lr", keep_unset=True,
               help=f"Learning rate  [default: {LORA_LR:g} LoRA, {FULL_LR:g} full]")
@config_option(TrainConfig, "batch_size", keep_unset=True, help="Training batch.")
@sessions_dir_option
@executor_option
def loop(**params) -> None:
    """Online distillation: collect, review, train and evaluate, round after round."""
    try:
        config = loop_config(**params)
        if params["feedback_tests"] == "hidden":
            click.echo(HIDDEN_FEEDBACK_WARNING, err=True)
        outcome = run_loop(config, echo=lambda message: click.echo(message, err=True))
    except (LoopError, ValueError) as error:
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


def loop_config(output_dir, rounds, patience, gate, wait_for, train_from, step_size, eval_limit,
                poll_s, samples, refine_steps, feedback_tests, eval_temperature, max_steps,
                epochs, learning_rate, batch_size, **collect) -> LoopConfig:
    """The settings `persd loop`'s options give (ValueError or LoopError when they clash)."""
    train = {name: value for name, value in (("max_steps", max_steps), ("epochs", epochs),
             ("learning_rate", learning_rate), ("batch_size", batch_size)) if value is not None}
    train["prompt_style"] = collect["prompt_style"]  # one style for every part of the loop
    # --temperature, --top-p and --max-new-tokens are the student's sampling in both parts.
    sampling = {name: collect.pop(name) for name in SAMPLING_FIELDS}
    sampling = {name: value for name, value in sampling.items() if value is not None}
    eval_sampling = LOOP_EVAL.sampling.replace(**sampling)
    if eval_temperature is not None:
        eval_sampling = eval_sampling.replace(temperature=eval_temperature)
    return LoopConfig(
        collect=CollectConfig(**collect, **sampling),
        eval=EvalConfig(samples=samples, refine_steps=refine_steps, sampling=eval_sampling,
                        workers=collect["workers"], timeout_s=collect["timeout_s"],
                        prompt_style=collect["prompt_style"], feedback_tests=feedback_tests),
        train=train, output_dir=output_dir, rounds=rounds, patience=patience, gate=gate,
        wait_for=wait_for, train_from=train_from, step_size=step_size, eval_limit=eval_limit,
        poll_s=poll_s)
