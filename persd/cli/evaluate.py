"""`persd eval` and `persd eval-compare`: pass@k, one-step and multi-step."""

from __future__ import annotations

import click

from persd.cli.common import (
    PROTOCOL_HELP, TASK_SOURCES_HELP, UserError, config_option, sessions_dir_option, student_backend_options,
)
from persd.evaluate.config import PRESETS, EvalConfig
from persd.execution.option import executor_option
from persd.execution.verdicts import PROTOCOLS


@click.command("eval")
@click.option("--student", "model", required=True, help="Hugging Face model id or local folder.")
@click.option("--adapter", type=click.Path(file_okay=False), help="peft adapter folder to apply.")
@click.option("--tasks", "tasks_spec", required=True, help=TASK_SOURCES_HELP)
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate the first N tasks only.")
@click.option("--preset", help="A named protocol: " + "; ".join(
    f"{name} ({', '.join(f'{k}={v}' for k, v in values.items())})" for name, values in PRESETS.items()))
@config_option(EvalConfig, "samples", preset_aware=True, help="Samples per task, n of pass@k.")
@config_option(EvalConfig, "temperature", preset_aware=True, help="Sampling temperature.")
@config_option(EvalConfig, "top_p", preset_aware=True, help="Nucleus sampling mass.")
@config_option(EvalConfig, "max_new_tokens", preset_aware=True, help="Completion length cap.")
@config_option(EvalConfig, "refine_steps", preset_aware=True, help="Multi-step repair rounds K.")
@click.option("--k", "ks", type=int, multiple=True, help="A k of pass@k (repeatable).")
@config_option(EvalConfig, "workers", type=int, help="Parallel sandboxes  [default: CPU cores]")
@config_option(EvalConfig, "timeout_s", "--timeout", preset_aware=True, help="CPU seconds per run.")
@config_option(EvalConfig, "protocol", preset_aware=True, type=click.Choice(PROTOCOLS), help=PROTOCOL_HELP)
@click.option("--batch-size", default=8, show_default=True, type=int,
              help="Prompts per generate call.")
@click.option("--seed", type=int, help="Seed for reproducible sampling.")
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
def eval_(model, adapter, tasks_spec, limit, preset, ks, batch_size, seed, json_path, session,
          round_, run_id, student_backend, student_base_url, sessions_dir, **settings) -> None:
    """Measure pass@k with one-step and multi-step (self-repair) inference."""
    import json
    from pathlib import Path

    from persd.evaluate import evaluate
    from persd.execution import make_executor
    from persd.store import SessionStore, StoreError
    from persd.student import StudentLoadError
    from persd.student.backends import build_student
    from persd.student.openai import StudentServerError
    from persd.tasks import TaskFileError, load_tasks

    chosen = {name: value for name, value in settings.items() if value is not None}
    if ks:
        chosen["ks"] = tuple(ks)
    try:
        config = EvalConfig.preset(preset, **chosen) if preset else EvalConfig.from_dict(chosen)
        tasks = load_tasks(tasks_spec)[:limit]
    except (ValueError, TaskFileError) as error:
        raise UserError(str(error)) from error
    if not tasks:
        raise UserError(f"no tasks to evaluate in {tasks_spec}")
    if round_ is None and not adapter:
        round_ = 0
    meta = {"model": model, "adapter": adapter, "task_spec": tasks_spec, "limit": limit,
            "round": round_, "batch_size": batch_size, "seed": seed}
    store = None
    try:
        store = SessionStore.open(sessions_dir, session, create=True) if session else None
        student = build_student(
            student_backend, model=model, adapter=adapter, temperature=config.temperature,
            top_p=config.top_p, n=config.samples, max_new_tokens=config.max_new_tokens,
            batch_size=batch_size, seed=seed, base_url=student_base_url)
        with make_executor(workers=config.workers, timeout_s=config.timeout_s,
                           protocol=config.protocol) as executor:
            report = evaluate(student, tasks, config, executor, store=store, meta=meta,
                              progress=lambda message: click.echo(message, err=True),
                              run_id=run_id if store is not None else None)
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


@click.command("eval-compare")
@click.option("--session", required=True, help="Session whose eval runs to compare.")
@click.option("--k", default=1, show_default=True, type=int, help="Which pass@k to show.")
@sessions_dir_option
def eval_compare(session: str, k: int, sessions_dir: str) -> None:
    """Compare a session's eval runs (rounds, adapters) side by side."""
    from persd.evaluate import eval_runs_table
    from persd.store import SessionStore, StoreError

    try:
        with SessionStore.open_to_read(sessions_dir, session) as store:
            click.echo(eval_runs_table(store, k=k))
    except StoreError as error:
        raise UserError(str(error)) from error
