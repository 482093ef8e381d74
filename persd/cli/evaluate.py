"""`persd eval` and `persd eval-compare`: pass@k, one-step and multi-step."""

from __future__ import annotations

import json
from pathlib import Path

import click

from persd.cli.common import (
    PROMPT_FORMAT_HELP,
    PROMPT_STYLE_HELP,
    PROTOCOL_HELP,
    TASK_SOURCES_HELP,
    UserError,
    config_option,
    sessions_dir_option,
    student_backend_options,
)
from persd.evaluate import eval_runs_table
from persd.evaluate.config import FEEDBACK_TESTS, PRESETS, EvalConfig
from persd.execution.option import executor_option
from persd.execution.verdicts import PROTOCOLS
from persd.prompts import PROMPT_STYLES
from persd.runs import eval_run
from persd.store import SessionStore, StoreError
from persd.student import StudentConfig
from persd.student.chat import PROMPT_FORMATS
from persd.student import StudentLoadError
from persd.student.openai import StudentServerError
from persd.tasks import TaskFileError, load_tasks

HIDDEN_FEEDBACK_WARNING = (
    "Warning: --feedback-tests hidden repairs each sample with the very tests that score it "
    "(the paper release's MBPP protocol): the hidden tests leak into inference, so multi-step "
    "pass@k is not a held-out measure.")
FEEDBACK_TESTS_HELP = ("What the repair steps learn from: visible tests, or hidden (the release's MBPP "
                       "protocol: it leaks the tests that score the sample).")


@click.command("eval")
@click.option("--student", "model", required=True, help="Hugging Face model id or local folder.")
@click.option("--adapter", type=click.Path(file_okay=False), help="peft adapter folder to apply.")
@click.option("--tasks", "tasks_spec", required=True, help=TASK_SOURCES_HELP)
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate the first N tasks only.")
@click.option("--preset", metavar="[" + "|".join(PRESETS) + "]", help="A named protocol: " + "; ".join(
    f"{name} ({', '.join(f'{k}={v}' for k, v in values.items())})" for name, values in PRESETS.items()))
@config_option(EvalConfig, "samples", keep_unset=True, help="Samples per task, n of pass@k.")
@config_option(EvalConfig, "temperature", keep_unset=True, help="Sampling temperature.")
@config_option(EvalConfig, "top_p", keep_unset=True, help="Nucleus sampling mass.")
@config_option(EvalConfig, "max_new_tokens", keep_unset=True, help="Completion length cap.")
@config_option(EvalConfig, "refine_steps", keep_unset=True, help="Multi-step repair rounds K.")
@click.option("--k", "ks", type=int, multiple=True, help="A k of pass@k (repeatable).")
@config_option(EvalConfig, "workers", type=int, help="Parallel sandboxes  [default: CPU cores]")
@config_option(EvalConfig, "timeout_s", "--timeout", keep_unset=True, help="CPU seconds per run.")
@config_option(EvalConfig, "protocol", keep_unset=True, type=click.Choice(PROTOCOLS), help=PROTOCOL_HELP)
@config_option(EvalConfig, "prompt_style", keep_unset=True, type=click.Choice(PROMPT_STYLES),
               help=PROMPT_STYLE_HELP)
@config_option(EvalConfig, "feedback_tests", keep_unset=True, type=click.Choice(FEEDBACK_TESTS),
               help=FEEDBACK_TESTS_HELP)
@config_option(StudentConfig, "batch_size", help="Prompts per generate call (the hf backend).")
@config_option(StudentConfig, "seed", help="Seed for reproducible sampling.")
@config_option(StudentConfig, "prompt_format", keep_unset=True, type=click.Choice(PROMPT_FORMATS),
               help=PROMPT_FORMAT_HELP)
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Write the full report here.")
@click.option("--session", help="Record the run and every sample in this session.")
@click.option("--round", "round_", type=int,
              help="Distillation round of the student  [default: 0 without --adapter]")
@click.option("--run-id", type=int, hidden=True,
              help="Fill in this queued eval run of --session (the app's eval jobs).")
@student_backend_options
@sessions_dir_option
@executor_option
def eval_(model, adapter, tasks_spec, limit, preset, ks, batch_size, seed, prompt_format, json_path,
          session, round_, run_id, student_backend, student_base_url, sessions_dir, **settings) -> None:
    """Measure pass@k with one-step and multi-step (self-repair) inference."""

    try:
        config = eval_config(preset, ks, **settings)
        tasks = load_tasks(tasks_spec)[:limit]
    except (ValueError, TaskFileError) as error:
        raise UserError(str(error)) from error
    if not tasks:
        raise UserError(f"no tasks to evaluate in {tasks_spec}")
    if config.feedback_tests == "hidden":
        click.echo(HIDDEN_FEEDBACK_WARNING, err=True)
    if round_ is None and not adapter:
        round_ = 0
    meta = {"model": model, "adapter": adapter, "task_spec": tasks_spec, "limit": limit,
            "round": round_, "batch_size": batch_size, "seed": seed}
    store = None
    try:
        store = SessionStore.open(sessions_dir, session, create=True) if session else None
        report = eval_run(config, tasks, model=model, adapter=adapter, backend=student_backend,
                          store=store, meta=meta, progress=lambda message: click.echo(message, err=True),
                          run_id=run_id if store is not None else None, batch_size=batch_size,
                          seed=seed, base_url=student_base_url, prompt_format=prompt_format)
    except (StoreError, StudentLoadError, StudentServerError, ValueError) as error:
        raise UserError(str(error)) from error
    finally:
        if store is not None:
            store.close()
    click.echo(report.summary_table())
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(report.to_dict(), indent=1) + "\n")
        click.echo(f"Wrote {json_path}")
    if session:
        click.echo(f"Recorded as eval run {report.run_id} in session {session}"
                   + ("" if round_ is not None else " (round unknown: pass --round)"))


def eval_config(preset: str | None, ks: tuple[int, ...] = (), **settings) -> EvalConfig:
    """The settings a `persd eval` line stands for, from its options as click parsed them
    (an option left out is None: the preset's value, else the config's default)."""
    chosen = {name: value for name, value in settings.items() if value is not None}
    if ks:
        chosen["ks"] = tuple(ks)
    return EvalConfig.preset(preset, **chosen) if preset else EvalConfig.from_dict(chosen)


@click.command("eval-compare")
@click.option("--session", required=True, help="Session whose eval runs to compare.")
@click.option("--k", default=1, show_default=True, type=int, help="Which pass@k to show.")
@sessions_dir_option
def eval_compare(session: str, k: int, sessions_dir: str) -> None:
    """Compare a session's eval runs (rounds, adapters) side by side."""
    try:
        with SessionStore.open_to_read(sessions_dir, session) as store:
            click.echo(eval_runs_table(store, k=k))
    except StoreError as error:
        raise UserError(str(error)) from error
