"""`persd collect`, `persd make-tests`, `persd decontaminate`: tasks in, attempts and refinements out."""

from __future__ import annotations

import json
import sys

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
from persd.collect import CollectError
from persd.collect.config import CollectConfig
from persd.execution.option import executor_option
from persd.prompts import PROMPT_STYLES
from persd.execution.verdicts import PROTOCOLS
from persd.runs import collect_round
from persd.store import StoreError
from persd.store.records import METHODS
from persd.student.chat import PROMPT_FORMATS
from persd.tasks import TaskFileError, load_tasks
from persd.tasks.decontaminate import eval_tasks, overlaps, report, write_clean
from persd.tasks.sources import parse_columns
from persd.teacher import TeacherConfig, TeacherError
from persd.testgen import MakeTestsConfig, side_paths
from persd.testgen import make_tests as run_make_tests


@click.command()
@config_option(CollectConfig, "session", required=True, help="Session name (created on first use).")
@config_option(CollectConfig, "tasks", help=TASK_SOURCES_HELP)
@config_option(CollectConfig, "student", help="Hugging Face model id or local folder (not needed for --method stand).")
@config_option(CollectConfig, "teacher_model", required=True, help="Model name at OPENAI_BASE_URL (OpenAI, vLLM, Ollama, transformers serve).")
@config_option(CollectConfig, "method", type=click.Choice(METHODS), help="persd: the teacher "
               "refines each failed attempt of the student; inpd: it solves from scratch the "
               "tasks the student failed; stand: it solves every task (no student needed).")
@config_option(CollectConfig, "round", type=click.IntRange(min=1), help="Collection round.")
@config_option(CollectConfig, "adapter", type=click.Path(file_okay=False), help="peft adapter of a fine-tuned student (round 2+).")
@config_option(CollectConfig, "limit", type=click.IntRange(min=1), help="Only the first N tasks.")
@config_option(CollectConfig, "samples", type=click.IntRange(min=1), help="Student attempts per task.")
@config_option(CollectConfig, "temperature", help="Student sampling temperature.")
@config_option(CollectConfig, "top_p", help="Student nucleus sampling mass.")
@config_option(CollectConfig, "max_new_tokens", help="Student completion length cap.")
@config_option(CollectConfig, "batch_size", help="Student prompts per generate call.")
@config_option(CollectConfig, "concurrency", type=click.IntRange(min=1), help="Teacher calls in flight.")
@config_option(CollectConfig, "teacher_tries", type=click.IntRange(min=1), help="Teacher tries per task.")
@config_option(CollectConfig, "teacher_max_tokens", type=click.IntRange(min=1), help="Teacher reply budget in tokens.")
@config_option(CollectConfig, "timeout_s", "--timeout", help="CPU seconds per program.")
@config_option(CollectConfig, "protocol", type=click.Choice(PROTOCOLS), help=PROTOCOL_HELP)
@config_option(CollectConfig, "workers", type=int, help="Sandboxes  [default: CPU cores]")
@config_option(CollectConfig, "prompt_style", type=click.Choice(PROMPT_STYLES), help=PROMPT_STYLE_HELP)
@config_option(CollectConfig, "prompt_format", type=click.Choice(PROMPT_FORMATS), help=PROMPT_FORMAT_HELP)
@config_option(CollectConfig, "eval_tasks", help="The evaluation set (e.g. humaneval): warn when the tasks overlap it.")
@student_backend_options
@click.option("--wait", is_flag=True,
              help="If another collect is running on this session, wait for it to end "
                   "(default: refuse at once).")
@config_option(CollectConfig, "teacher_batch", is_flag=True,
               help="Send the teacher's first requests as one OpenAI Batch API job (half price, "
                    "up to 24 h; a rerun resumes the same batch). Poll interval: PERSD_BATCH_POLL_S.")
@sessions_dir_option
@executor_option
def collect(wait: bool, **settings) -> None:
    """Student attempts, sandbox verdicts and teacher refinements, stored in a session."""
    try:
        summary = collect_round(CollectConfig(**settings), wait=wait,
                              on_wait=lambda message: click.echo(message, err=True))
    except (CollectError, TaskFileError, StoreError, ValueError) as error:
        raise UserError(str(error)) from error
    click.echo(summary.table())
    if not summary.complete:
        sys.exit(2)




@click.command("make-tests")
@click.option("--input", "input_spec", required=True, help="Rows with a description and reference code: JSONL, CSV, Parquet or hf:<dataset>[:split].")
@click.option("--output", required=True, type=click.Path(dir_okay=False), help="MBPP-shaped JSONL to write (a rerun resumes it).")
@click.option("--teacher-model", required=True, help="Model name at OPENAI_BASE_URL (OpenAI, vLLM, Ollama, transformers serve).")
@click.option("--n-inputs", default=5, show_default=True, type=click.IntRange(min=1), help="Test inputs asked per task.")
@click.option("--min-tests", default=3, show_default=True, type=click.IntRange(min=1), help="Drop tasks with fewer working inputs.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(min=1), help="Teacher calls in flight.")
@click.option("--columns", default="", help="Column mapping, e.g. text=instruction,code=output.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N rows.")
@click.option("--call-timeout", default=1.0, show_default=True, type=float, help="CPU seconds per call of the reference.")
@click.option("--cache/--no-cache", default=True, show_default=True, help="Keep teacher replies beside the output.")
@click.option("--teacher-batch", is_flag=True, help="Send the requests as one OpenAI Batch API job (half price, up to 24 h; a rerun resumes it).")
@executor_option
def make_tests(input_spec, output, teacher_model, n_inputs, min_tests, concurrency, columns, limit,
               call_timeout, cache, teacher_batch) -> None:
    """Make unit tests for tasks with a reference solution: the teacher proposes inputs, the sandbox computes outputs."""
    try:
        config = MakeTestsConfig(input_spec, output, n_inputs, min_tests, call_timeout,
                                 parse_columns(columns), limit, cache, teacher_batch=teacher_batch)
        summary = run_make_tests(config, TeacherConfig(model=teacher_model, concurrency=concurrency))
    except (TaskFileError, TeacherError, ValueError) as error:
        raise UserError(str(error)) from error
    click.echo(summary.text())
    if summary.dropped:
        click.echo(f"Dropped tasks and reasons: {side_paths(output)[0]}")


@click.command()
@click.option("--tasks", "tasks_spec", required=True, help="The training task set (JSONL, CSV, Parquet, hf:...).")
@click.option("--against", default="humaneval", show_default=True, help="Evaluation sets, comma-separated: humaneval,mbpp:PATH.")
@click.option("--ngram", default=13, show_default=True, type=click.IntRange(min=1), help="Words per n-gram.")
@click.option("--min-score", default=0.05, show_default=True, type=click.FloatRange(0, 1), help="Share of a task's n-grams that flags it.")
@click.option("--drop", "drop_path", type=click.Path(dir_okay=False), help="Write the task set without the overlapping tasks here (JSONL).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write every overlapping pair here.")
def decontaminate(tasks_spec, against, ngram, min_score, drop_path, json_path) -> None:
    """Find training tasks that overlap an evaluation set (n-grams, same signature); optionally drop them."""

    try:
        train = load_tasks(tasks_spec)
        found = overlaps(train, eval_tasks(against), ngram, min_score)
        click.echo(report(found, len(train), against))
        if json_path:
            with open(json_path, "w", encoding="utf-8") as file:
                json.dump([o.to_dict() for o in found], file, indent=1)
        if drop_path:
            kept = write_clean(tasks_spec, train, {o.train_id for o in found}, drop_path)
            click.echo(f"Wrote {kept} of {len(train)} tasks to {drop_path}.")
    except (TaskFileError, ValueError, OSError) as error:
        raise UserError(str(error)) from error
