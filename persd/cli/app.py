"""`persd app`, `persd demo`, `persd tiny-model`: the review app and what it starts from."""

from __future__ import annotations

import errno
import socket

from pathlib import Path

import click
from click.core import ParameterSource

from persd.cli.common import UserError, app_options, sessions_dir_option
from persd.demo import build_demo_session
from persd.demo.tiny_model import TinyModelError, write_tiny_model
from persd.models import installed_models
from persd.store import SessionNameError, StoreError, list_sessions, session_path
from persd_app.app import launch, read_logins

AUTH_SEEN = ("persd: WARNING: --auth USER:PASS on the command line is visible to every user "
             "of this machine (ps, shell history); put the lines in a file (--auth-file "
             "PATH, mode 0600) or in PERSD_AUTH.")


def _check_address(host: str, port: int) -> None:
    """Refuse an address the app cannot serve on, before the slow Gradio import."""
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


def _logins(auth: str | None, auth_file: str | None):
    """The logins of --auth / PERSD_AUTH or --auth-file, warning of a password typed on the
    command line."""
    if auth and auth_file:
        raise UserError("give --auth or --auth-file, not both")
    if auth_file:
        return read_logins(auth_file, "--auth-file", file=True)
    source = click.get_current_context().get_parameter_source("auth")
    if auth and source is ParameterSource.COMMANDLINE and not Path(auth).is_file():
        click.echo(AUTH_SEEN, err=True)
    return read_logins(auth)


def _serve(sessions_dir: str, session: str | None, host: str, port: int, auth: str | None,
           insecure: bool, open_browser: bool = False, auth_file: str | None = None,
           **options) -> None:
    try:
        users = _logins(auth, auth_file)
    except ValueError as error:
        raise UserError(str(error)) from error
    _check_address(host, port)
    try:
        launch(sessions_dir=sessions_dir, session=session, host=host, port=port, auth=users,
               open_browser=open_browser, insecure_no_auth_on_network=insecure, **options)
    except (ValueError, OSError) as error:
        raise UserError(str(error)) from error


@click.command()
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
        auth_file: str | None, trusted_proxies: tuple[str, ...], data_dirs: tuple[str, ...],
        insecure: bool, runs_dir: str, teacher_endpoints: tuple[str, ...],
        allow_custom_endpoints: bool) -> None:
    """Open the review app (it offers the demo session when there is none)."""
    if session:
        try:
            session_path(sessions_dir, session)
        except SessionNameError as error:
            raise UserError(str(error)) from error
        if session not in list_sessions(sessions_dir):
            existing = ", ".join(list_sessions(sessions_dir)) or "none yet"
            raise UserError(f"no session {session!r} in {sessions_dir} (existing: {existing})")
    _serve(sessions_dir, session, host, port, auth, insecure, runs_dir=runs_dir,
           auth_file=auth_file, trusted_proxies=trusted_proxies, data_dirs=data_dirs,
           teacher_endpoints=teacher_endpoints, allow_custom_endpoints=allow_custom_endpoints)


@click.command()
@sessions_dir_option
@click.option("--name", default="demo", show_default=True, help="Name of the demo session.")
@click.option("--limit", type=click.IntRange(min=1), help="Use the first N HumanEval tasks only.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the simulated bugs.")
@click.option("--no-open", is_flag=True, help="Build the session only; do not start the app.")
@app_options
def demo(sessions_dir: str, name: str, limit: int | None, seed: int, no_open: bool, host: str,
         port: int, auth: str | None, auth_file: str | None, trusted_proxies: tuple[str, ...],
         data_dirs: tuple[str, ...], insecure: bool) -> None:
    """Build the offline demo session (simulated student and teacher) and open the app on it."""
    if not no_open:
        _check_address(host, port)
    try:
        path = build_demo_session(sessions_dir, name=name, seed=seed, limit=limit,
                                  progress=lambda message: click.echo(message, err=True))
    except StoreError as error:
        raise UserError(str(error)) from error
    click.echo(f"Demo session {name!r} (SIMULATED student and teacher) is ready: {path}")
    real = installed_models()
    click.echo(f"Live tab: choose Student 'Model' to run the real {real[0]}" if real else
               "For a real student in the Live tab: persd models get smollm2-135m")
    if not no_open:
        _serve(sessions_dir, name, host, port, auth, insecure, open_browser=True,
               trusted_proxies=trusted_proxies, auth_file=auth_file, data_dirs=data_dirs)


@click.command("tiny-model")
@click.argument("path", type=click.Path(file_okay=False))
@click.option("--seed", default=0, show_default=True, type=int, help="Seed of the random weights.")
@click.option("--force", is_flag=True, help="Overwrite a non-empty folder.")
def tiny_model(path: str, seed: int, force: bool) -> None:
    """Write a small random model and tokenizer for smoke tests and demos (no download)."""
    try:
        info = write_tiny_model(path, seed=seed, force=force)
    except TinyModelError as error:
        raise UserError(str(error)) from error
    click.echo(
        f"Wrote a tiny model to {info.path}: {info.parameters:,} parameters, "
        f"vocabulary {info.vocab_size}, seed {info.seed}."
    )
