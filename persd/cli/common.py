"""What every `persd` command shares: the user-error type and the common options."""

from __future__ import annotations

import dataclasses

import click

from persd.student.backends import BACKENDS
from persd.tasks import spec_help

TASK_SOURCES_HELP = spec_help()
PROTOCOL_HELP = "strict: every test, exact comparison; paper: MBPP test_list only, approximate floats."


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
        "--student-backend", type=click.Choice(BACKENDS), default="hf",
        show_default=True,
        help="hf: transformers; vllm: offline vLLM (pip install 'persd[vllm]', CUDA GPU); "
             "openai: a student served by vLLM or transformers serve.",
    )(function)


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


def config_option(config: type, field: str, *decls: str, preset_aware: bool = False, **options):
    """A click option whose default (and type) come from `config`'s dataclass field, so a
    setting's default is declared once, on its config. `decls` default to `--field-name`.
    `preset_aware` keeps the option unset (None) unless given, so a preset can fill it, and
    names the config's default in the help instead."""
    spec = next(f for f in dataclasses.fields(config) if f.name == field)
    default = None if spec.default is dataclasses.MISSING else spec.default
    if default is not None and "type" not in options and type(default) in (int, float, str):
        options["type"] = type(default)
    if preset_aware:
        if default is not None:
            options["help"] = f"{options.get('help', '')}  [default: {default}]".strip()
    elif default not in (None, ""):
        options.setdefault("default", default)
        options.setdefault("show_default", True)
    return click.option(*(decls or ("--" + field.replace("_", "-"),)), field, **options)
