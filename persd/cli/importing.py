"""`persd import`: another tool's attempts and refinements into a session (persd.runs.import_file)."""

from __future__ import annotations

import click

from persd.cli.common import PROTOCOL_HELP, UserError, sessions_dir_option
from persd.execution.option import executor_option
from persd.execution.verdicts import PROTOCOLS
from persd.importing import ImportFailed
from persd.importing.origin import ORIGINS
from persd.importing.pairing import MATCHES
from persd.runs import import_file
from persd.store import StoreError
from persd.tasks import TaskFileError
from persd.tasks.sources import parse_columns


@click.command("import")
@click.option("--session", required=True, help="Session to import into (created if missing).")
@click.option("--tasks", "tasks_spec", help="Tasks to match rows to and run them against "
              "(humaneval, JSONL, CSV, Parquet, hf:...); without, rows are not validated.")
@click.option("--match", default="id", show_default=True, type=click.Choice(MATCHES),
              help="How rows pair with --tasks: id (task id and function name must both "
              "agree) or entry-point (the function name alone, when one task has it).")
@click.option("--protocol", default="strict", show_default=True, type=click.Choice(PROTOCOLS),
              help="How rows run against --tasks are judged. " + PROTOCOL_HELP)
@click.option("--origin", default="auto", show_default=True, type=click.Choice(ORIGINS),
              help="What the completions are: gold (the dataset's own code), teacher "
              "(refinements), or auto (a file named gold, or code equal to the task's reference, "
              "is gold).")
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "table", "prompt-completion", "rectify", "persd"]))
@click.option("--columns", default="", help="Column mapping FIELD=COLUMN, e.g. "
              "task_id=id,attempt=student,feedback=error,refinement=fixed.")
@click.option("--skip-bad", is_flag=True, help="Import the good rows and list the bad ones "
              "(default: a bad row stops the import and nothing is imported).")
@click.option("--round", "round_", default=0, show_default=True, type=click.IntRange(min=0),
              help="Collection round the records join.")
@click.option("--teacher-model", default="imported", show_default=True,
              help="Recorded as the teacher of rows that do not name one.")
@sessions_dir_option
@click.argument("file")
@executor_option
def import_command(session, tasks_spec, match, protocol, origin, fmt, columns, skip_bad, round_,
                   teacher_model, sessions_dir, file) -> None:
    """Import refinement data (attempt, feedback, refinement) into a session for review and training."""
    try:
        report = import_file(sessions_dir, session, file, fmt=fmt, columns=parse_columns(columns),
                             tasks=tasks_spec, skip_bad=skip_bad, round=round_,
                             teacher_model=teacher_model, match=match, protocol=protocol,
                             origin=origin)
    except (ImportFailed, TaskFileError, StoreError, ValueError) as error:
        raise UserError(str(error)) from error
    click.echo(report.text())
    for bad in report.bad:
        click.echo(f"  skipped {bad}", err=True)
