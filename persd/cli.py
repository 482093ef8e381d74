"""The `persd` command.

Each command parses its flags and calls the library; errors a user can cause become one
clear message and a non-zero exit here, at the edge. Set PERSD_DEBUG=1 to see tracebacks.
"""

from __future__ import annotations

import os
import sys

import click


class UserError(click.ClickException):
    """A failure the user can fix: printed as one line, exit code 1."""


def sessions_dir_option(function):
    return click.option(
        "--sessions-dir",
        envvar="PERSD_SESSIONS_DIR",
        default="sessions",
        show_default=True,
        type=click.Path(file_okay=False),
        help="Where session databases live (also PERSD_SESSIONS_DIR).",
    )(function)


@click.group()
@click.version_option(package_name="persd")
def cli() -> None:
    """persd: personalised distillation of code models."""


@cli.command()
@sessions_dir_option
@click.option("--session", help="Session to open.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=7860, show_default=True, type=int)
def app(sessions_dir: str, session: str | None, host: str, port: int) -> None:
    """Open the review app."""
    from ui.app import launch

    launch(sessions_dir=sessions_dir, session=session, host=host, port=port)


@cli.command("eval")
@click.option("--student", "model", required=True, help="Hugging Face model id or local folder.")
@click.option("--adapter", type=click.Path(file_okay=False), help="peft adapter folder to apply.")
@click.option("--tasks", "tasks_spec", required=True, help="humaneval, a JSONL file or mbpp:PATH.")
@click.option("--limit", type=click.IntRange(min=1), help="Evaluate the first N tasks only.")
@click.option("--preset", help="A named protocol: paper (n=20, T=0.2, top_p=0.95).")
@click.option("--samples", type=int, help="Samples per task, n of pass@k  [default: 1]")
@click.option("--temperature", type=float, help="Sampling temperature  [default: 0.2]")
@click.option("--top-p", type=float, help="Nucleus sampling mass  [default: 0.95]")
@click.option("--max-new-tokens", type=int, help="Completion length cap  [default: 512]")
@click.option("--refine-steps", type=int, help="Multi-step repair rounds K  [default: 0]")
@click.option("--k", "ks", type=int, multiple=True, help="A k of pass@k (repeatable).")
@click.option("--workers", type=int, help="Parallel sandboxes  [default: CPU cores]")
@click.option("--timeout", "timeout_s", type=float, help="CPU seconds per run  [default: 3]")
@click.option("--batch-size", default=8, show_default=True, type=int,
              help="Prompts per generate call.")
@click.option("--seed", type=int, help="Seed for reproducible sampling.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Write the full report here.")
@click.option("--session", help="Record the run and every sample in this session.")
@click.option("--round", "round_", type=int,
              help="Distillation round of the student  [default: 0 without --adapter]")
@sessions_dir_option
def eval_(model, adapter, tasks_spec, limit, preset, ks, batch_size, seed, json_path, session,
          round_, sessions_dir, **settings) -> None:
    """Measure pass@k with one-step and multi-step (self-repair) inference."""
    import json
    from pathlib import Path

    from persd.evaluate import EvalConfig, evaluate
    from persd.execution import Executor
    from persd.store import SessionStore, StoreError
    from persd.student import HFStudent, StudentConfig, StudentLoadError
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
        student = HFStudent(StudentConfig(
            model=model, adapter=adapter, temperature=config.temperature, top_p=config.top_p,
            n=config.samples, max_new_tokens=config.max_new_tokens, batch_size=batch_size,
            seed=seed))
        with Executor(workers=config.workers, timeout_s=config.timeout_s) as executor:
            report = evaluate(student, tasks, config, executor, store=store, meta=meta,
                              progress=lambda message: click.echo(message, err=True))
    except (StoreError, StudentLoadError, ValueError) as error:
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


@cli.command("eval-compare")
@click.option("--session", required=True, help="Session whose eval runs to compare.")
@click.option("--k", default=1, show_default=True, type=int, help="Which pass@k to show.")
@sessions_dir_option
def eval_compare(session: str, k: int, sessions_dir: str) -> None:
    """Compare a session's eval runs (rounds, adapters) side by side."""
    from persd.evaluate import eval_runs_table
    from persd.store import SessionStore, StoreError

    try:
        with SessionStore.open(sessions_dir, session) as store:
            click.echo(eval_runs_table(store, k=k))
    except StoreError as error:
        raise UserError(str(error)) from error


def main() -> None:
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    if os.environ.get("PERSD_DEBUG"):
        cli(standalone_mode=False)
    else:
        main()
