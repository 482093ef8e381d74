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


def student_backend_options(function):
    function = click.option(
        "--student-base-url", envvar="PERSD_STUDENT_BASE_URL",
        help="Endpoint of a served student for --student-backend openai (also PERSD_STUDENT_BASE_URL).",
    )(function)
    return click.option(
        "--student-backend", type=click.Choice(["hf", "vllm", "openai"]), default="hf",
        show_default=True,
        help="hf: transformers; vllm: offline vLLM (pip install 'persd[vllm]', CUDA GPU); "
             "openai: a student served by vLLM or transformers serve.",
    )(function)


@click.group()
@click.version_option(package_name="persd")
def cli() -> None:
    """persd: personalised distillation of code models."""


def app_options(function):
    for option in reversed([
        click.option("--host", default="127.0.0.1", show_default=True,
                     help="Address to bind (another than loopback needs --auth)."),
        click.option("--port", default=7860, show_default=True, type=int),
        click.option("--auth", envvar="PERSD_AUTH", metavar="USER:PASS|FILE",
                     help="Require a login: USER:PASS or a file of USER:PASS lines (also "
                          "PERSD_AUTH). Reviews are signed with the login name."),
        click.option("--insecure-no-auth-on-network", "insecure", is_flag=True,
                     help="Serve a non-loopback --host without --auth: anyone who reaches "
                          "it can run code in the sandbox and spend the teacher's key."),
    ]):
        function = option(function)
    return function


def _check_address(host: str, port: int) -> None:
    """Refuse an address the app cannot serve on, before the slow Gradio import."""
    import errno
    import socket

    if ":" in host:
        instead = ("--host 127.0.0.1 (IPv4 loopback)" if host in ("::1", "[::1]") else
                   "--host 127.0.0.1 for this machine only, or --host 0.0.0.0 with --auth for "
                   "every IPv4 address")
        raise UserError(f"--host {host}: the app's web server (Gradio) cannot serve on IPv6 "
                        f"addresses; use {instead}")
    if not 0 < port < 65536:
        raise UserError(f"--port {port}: a port is a number from 1 to 65535")
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will
            probe.bind((host, port))
    except socket.gaierror as error:
        raise UserError(f"--host {host}: not a known host name or IPv4 address ({error.strerror})") from error
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise UserError(f"port {port} on {host} is in use by another program (another "
                            f"persd app?); stop it or pass another --port, e.g. --port {port + 1}") from error
        if error.errno == errno.EADDRNOTAVAIL:
            raise UserError(f"--host {host}: not an address of this machine; use 127.0.0.1 "
                            "or 0.0.0.0 (every address, with --auth)") from error
        if error.errno == errno.EACCES:
            raise UserError(f"port {port} needs administrator rights; pass a port above 1023") from error
        raise UserError(f"cannot serve on {host}:{port}: {error.strerror}") from error


def _serve(sessions_dir: str, session: str | None, host: str, port: int, auth: str | None,
           insecure: bool, open_browser: bool = False, **options) -> None:
    _check_address(host, port)
    from ui.app import launch, parse_auth

    try:
        users = parse_auth(auth)
        launch(sessions_dir=sessions_dir, session=session, host=host, port=port, auth=users,
               open_browser=open_browser, insecure_no_auth_on_network=insecure, **options)
    except (ValueError, OSError) as error:
        raise UserError(str(error)) from error


@cli.command()
@sessions_dir_option
@click.option("--session", help="Session to open first  [default: the latest one]")
@app_options
@click.option("--runs-dir", envvar="PERSD_RUNS_DIR", default="runs", show_default=True,
              type=click.Path(file_okay=False),
              help="The only folder the app writes training output to (also PERSD_RUNS_DIR).")
@click.option("--teacher-endpoint", "teacher_endpoints", multiple=True, metavar="URL",
              help="A teacher endpoint reviewers may pick; repeatable, added to "
                   "PERSD_TEACHER_ENDPOINTS and the server's OPENAI_BASE_URL. Only these "
                   "get the server's OPENAI_API_KEY.")
@click.option("--allow-custom-endpoints", is_flag=True,
              help="Let reviewers type other teacher endpoints (with their own API key).")
def app(sessions_dir: str, session: str | None, host: str, port: int, auth: str | None,
        insecure: bool, runs_dir: str, teacher_endpoints: tuple[str, ...],
        allow_custom_endpoints: bool) -> None:
    """Open the review app (it offers the demo session when there is none)."""
    if session:
        from persd.store import SessionNameError, list_sessions, session_path

        try:
            session_path(sessions_dir, session)
        except SessionNameError as error:
            raise UserError(str(error)) from error
        if session not in list_sessions(sessions_dir):
            existing = ", ".join(list_sessions(sessions_dir)) or "none yet"
            raise UserError(f"no session {session!r} in {sessions_dir} (existing: {existing})")
    _serve(sessions_dir, session, host, port, auth, insecure, runs_dir=runs_dir,
           teacher_endpoints=teacher_endpoints, allow_custom_endpoints=allow_custom_endpoints)


@cli.command()
@sessions_dir_option
@click.option("--name", default="demo", show_default=True, help="Name of the demo session.")
@click.option("--limit", type=click.IntRange(min=1), help="Use the first N HumanEval tasks only.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the simulated bugs.")
@click.option("--no-open", is_flag=True, help="Build the session only; do not start the app.")
@app_options
def demo(sessions_dir: str, name: str, limit: int | None, seed: int, no_open: bool, host: str,
         port: int, auth: str | None, insecure: bool) -> None:
    """Build the offline demo session (simulated student and teacher) and open the app on it."""
    from persd.demo import build_demo_session
    from persd.store import StoreError

    if not no_open:
        _check_address(host, port)
    try:
        path = build_demo_session(sessions_dir, name=name, seed=seed, limit=limit,
                                  progress=lambda message: click.echo(message, err=True))
    except StoreError as error:
        raise UserError(str(error)) from error
    click.echo(f"Demo session {name!r} (SIMULATED student and teacher) is ready: {path}")
    if not no_open:
        _serve(sessions_dir, name, host, port, auth, insecure, open_browser=True)


@cli.command("tiny-model")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the random weights.")
@click.option("--force", is_flag=True, help="Overwrite a non-empty folder.")
def tiny_model(path: str, seed: int, force: bool) -> None:
    """Write a small random model and tokenizer for smoke tests and demos (no download)."""
    from persd.demo.tiny_model import TinyModelError, write_tiny_model

    try:
        info = write_tiny_model(path, seed=seed, force=force)
    except TinyModelError as error:
        raise UserError(str(error)) from error
    click.echo(
        f"Wrote a tiny model to {info.path}: {info.parameters:,} parameters, "
        f"vocabulary {info.vocab_size}, seed {info.seed}."
    )


@cli.command("train")
@click.option("--session", help="Take the rows from this session and record the run in it.")
@click.option("--variant", default="persd", show_default=True,
              type=click.Choice(["persd", "persd-refine", "persd-combined", "stand", "inpd"]))
@click.option("--data", type=click.Path(dir_okay=False), help="JSONL/Parquet of prompt/completion rows.")
@click.option("--selection", type=click.Choice(["auto", "validated", "approved", "all"]), default="auto",
              show_default=True, help="Which teacher results of --session: auto = reviewers' approvals "
              "once any exist, validated results before.")
@click.option("--student", required=True, help="Base model: Hugging Face id or local folder.")
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
def train(session, variant, data, selection, metrics, launcher, sessions_dir, **settings) -> None:
    """Fine-tune the student on a session's curated examples (or --data), in a child process."""
    from persd.train import TrainConfig, TrainError
    from persd.train.command import run_train_command

    chosen = {name: value for name, value in settings.items() if value is not None}
    try:
        config = TrainConfig.from_dict({**chosen, "variant": variant, "session": session})
        outcome = run_train_command(config, data=data, sessions_dir=sessions_dir, metrics=metrics,
                                    launcher=launcher, echo=click.echo, selection=selection)
    except TrainError as error:
        raise UserError(str(error)) from error
    end = outcome.end
    if outcome.status == "finished":
        click.echo(f"Finished {end.get('steps')} steps, loss {end.get('final_loss'):.4f}; "
                   f"output in {config.output_dir}" + (f" (run {outcome.run_id})" if outcome.run_id else ""))
    elif outcome.status == "stopped":
        click.echo(f"Stopped at step {end.get('steps')}; checkpoint {end.get('checkpoint')}. "
                   "Continue with the same command and --resume.")
        sys.exit(3)
    else:
        raise UserError(f"training failed: {end.get('error') or 'the child process died'}"
                        f"\n{outcome.log_tail}\n(log: {config.output_dir}/train.log)")


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
@click.option("--run-id", type=int, hidden=True,
              help="Fill in this queued eval run of --session (the app's eval jobs).")
@student_backend_options
@sessions_dir_option
def eval_(model, adapter, tasks_spec, limit, preset, ks, batch_size, seed, json_path, session,
          round_, run_id, student_backend, student_base_url, sessions_dir, **settings) -> None:
    """Measure pass@k with one-step and multi-step (self-repair) inference."""
    import json
    from pathlib import Path

    from persd.evaluate import EvalConfig, evaluate
    from persd.execution import Executor
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
        with Executor(workers=config.workers, timeout_s=config.timeout_s) as executor:
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


@cli.command("eval-compare")
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


@cli.command()
@click.option("--session", required=True, help="Session name (created on first use).")
@click.option("--tasks", "tasks_spec", default="humaneval", show_default=True, help="humaneval, a JSONL file or mbpp:PATH.")
@click.option("--student", default="", help="Hugging Face model id or local folder (not needed for --method stand).")
@click.option("--teacher-model", required=True, help="Model name at OPENAI_BASE_URL (OpenAI, vLLM, Ollama, transformers serve).")
@click.option("--method", type=click.Choice(["persd", "stand", "inpd"]), default="persd", show_default=True)
@click.option("--round", "round_", default=1, show_default=True, type=click.IntRange(min=1), help="Collection round.")
@click.option("--adapter", type=click.Path(file_okay=False), help="peft adapter of a fine-tuned student (round 2+).")
@click.option("--limit", type=click.IntRange(min=1), help="Only the first N tasks.")
@click.option("--samples", default=1, show_default=True, type=click.IntRange(min=1), help="Student attempts per task.")
@click.option("--temperature", default=0.3, show_default=True, type=float, help="Student sampling temperature.")
@click.option("--top-p", default=0.95, show_default=True, type=float)
@click.option("--max-new-tokens", default=512, show_default=True, type=int)
@click.option("--batch-size", default=8, show_default=True, type=int, help="Student prompts per generate call.")
@click.option("--concurrency", default=8, show_default=True, type=click.IntRange(min=1), help="Teacher calls in flight.")
@click.option("--teacher-tries", default=2, show_default=True, type=click.IntRange(min=1))
@click.option("--timeout", "timeout_s", default=3.0, show_default=True, type=float, help="CPU seconds per program.")
@click.option("--workers", type=int, help="Sandboxes  [default: CPU cores]")
@click.option("--eval-tasks", help="The evaluation set (e.g. humaneval): warn when the tasks overlap it.")
@student_backend_options
@click.option("--wait", is_flag=True,
              help="If another collect is running on this session, wait for it to end "
                   "(default: refuse at once).")
@click.option("--teacher-batch", is_flag=True,
              help="Send the teacher's first requests as one OpenAI Batch API job (half price, "
                   "up to 24 h; a rerun resumes the same batch). Poll interval: PERSD_BATCH_POLL_S.")
@sessions_dir_option
def collect(session, tasks_spec, student, teacher_model, method, round_, adapter, limit, samples,
            temperature, top_p, max_new_tokens, batch_size, concurrency, teacher_tries, timeout_s,
            workers, eval_tasks, student_backend, student_base_url, wait, teacher_batch,
            sessions_dir) -> None:
    """Student attempts, sandbox verdicts and teacher refinements, stored in a session."""
    from persd.collect import CollectConfig, CollectError, collect as run_collect
    from persd.store import StoreError
    from persd.tasks import TaskFileError

    try:
        config = CollectConfig(
            session=session, tasks=tasks_spec, student=student, teacher_model=teacher_model,
            method=method, round=round_, adapter=adapter, limit=limit, samples=samples,
            temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens,
            batch_size=batch_size, concurrency=concurrency, teacher_tries=teacher_tries,
            timeout_s=timeout_s, workers=workers, sessions_dir=sessions_dir, eval_tasks=eval_tasks,
            student_backend=student_backend, student_base_url=student_base_url,
            teacher_batch=teacher_batch,
        )
        summary = run_collect(config, wait=wait,
                              on_wait=lambda message: click.echo(message, err=True))
    except (CollectError, TaskFileError, StoreError, ValueError) as error:
        raise UserError(str(error)) from error
    click.echo(summary.table())
    if not summary.complete:
        sys.exit(2)


@cli.command()
@click.option("--session", required=True)
@click.option("--variant", type=click.Choice(["persd", "persd-refine", "persd-combined", "stand", "inpd"]), required=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "parquet", "hf"]), default="jsonl", show_default=True)
@click.option("--output", required=True, type=click.Path(), help="File (jsonl, parquet) or folder (hf).")
@click.option("--force", is_flag=True, help="Overwrite an existing output.")
@click.option("--round", "round_", type=int, help="Only this round  [default: every round]")
@click.option("--selection", type=click.Choice(["auto", "validated", "approved", "all"]), default="auto", show_default=True,
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


@cli.command("make-tests")
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
def make_tests(input_spec, output, teacher_model, n_inputs, min_tests, concurrency, columns, limit,
               call_timeout, cache, teacher_batch) -> None:
    """Make unit tests for tasks with a reference solution: the teacher proposes inputs, the sandbox computes outputs."""
    from persd.tasks.sources import parse_columns
    from persd.tasks import TaskFileError
    from persd.teacher import TeacherConfig, TeacherError
    from persd.testgen import MakeTestsConfig, make_tests as run_make_tests, side_paths

    try:
        config = MakeTestsConfig(input_spec, output, n_inputs, min_tests, call_timeout,
                                 parse_columns(columns), limit, cache, teacher_batch=teacher_batch)
        summary = run_make_tests(config, TeacherConfig(model=teacher_model, concurrency=concurrency))
    except (TaskFileError, TeacherError, ValueError) as error:
        raise UserError(str(error)) from error
    click.echo(summary.text())
    if summary.dropped:
        click.echo(f"Dropped tasks and reasons: {side_paths(output)[0]}")


@cli.command()
@click.option("--tasks", "tasks_spec", required=True, help="The training task set (JSONL, CSV, Parquet, hf:...).")
@click.option("--against", default="humaneval", show_default=True, help="Evaluation sets, comma-separated: humaneval,mbpp:PATH.")
@click.option("--ngram", default=13, show_default=True, type=click.IntRange(min=1), help="Words per n-gram.")
@click.option("--min-score", default=0.05, show_default=True, type=click.FloatRange(0, 1), help="Share of a task's n-grams that flags it.")
@click.option("--drop", "drop_path", type=click.Path(dir_okay=False), help="Write the task set without the overlapping tasks here (JSONL).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write every overlapping pair here.")
def decontaminate(tasks_spec, against, ngram, min_score, drop_path, json_path) -> None:
    """Find training tasks that overlap an evaluation set (n-grams, same signature); optionally drop them."""
    import json

    from persd.tasks.decontaminate import eval_tasks, overlaps, report, write_clean
    from persd.tasks import TaskFileError, load_tasks

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
