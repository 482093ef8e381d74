"""What every `persd` command shares: the user-error type and the common options."""

from __future__ import annotations

import typing
from typing import Any

import click

from persd.collect.config import CollectConfig
from persd.settings import SAMPLING_FIELDS, Sampling, default_of
from persd.student.backends import BACKENDS
from persd.tasks import spec_help

TASK_SOURCES_HELP = spec_help()
PROMPT_FORMAT_HELP = ("completion: continue the prompt as text (base models); chat: the task as a "
                      "user message through the chat template, the function taken from the reply; "
                      "auto: chat for an instruct model with a chat template (hf backend).")
PROMPT_STYLE_HELP = ("Whose prompts: persd, or paper (the release's task and 'Rectify the below "
                     "code' prompts and its stop rule; PAPER.md). Recorded with the run.")
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
        "--student-backend", type=click.Choice(BACKENDS), default=default_of(CollectConfig, "student_backend"),
        show_default=True,
        help="hf: transformers; vllm: offline vLLM (pip install 'persd[vllm]', CUDA GPU); "
             "openai: a student served by vLLM or transformers serve.",
    )(function)


def app_options(function):
    for option in reversed([
        click.option("--host", default="127.0.0.1", show_default=True,
                     help="Address to bind (another than loopback needs --auth)."),
        click.option("--port", default=7860, show_default=True, type=int,
                     help="Port the app listens on (open http://HOST:PORT)."),
        click.option("--auth", envvar="PERSD_AUTH", metavar="USER:PASS|FILE",
                     help="Require a login: USER:PASS[:ROLE] lines (ROLE operator, the "
                          "default, or reviewer) or a file of them; better from PERSD_AUTH "
                          "or --auth-file, as the command line shows in ps. Reviews are "
                          "signed with the login name."),
        click.option("--auth-file", envvar="PERSD_AUTH_FILE", metavar="PATH",
                     type=click.Path(dir_okay=False),
                     help="A file of USER:PASS[:ROLE] lines ('#' comments; also "
                          "PERSD_AUTH_FILE)."),
        click.option("--trusted-proxy", "trusted_proxies", multiple=True, metavar="ADDR",
                     help="A reverse proxy (address or network) whose X-Forwarded-For, "
                          "Forwarded or X-Real-IP header names the client; repeatable. "
                          "Without it those headers are ignored."),
        click.option("--data-dir", "data_dirs", multiple=True, metavar="DIR",
                     type=click.Path(exists=True, file_okay=False),
                     help="A folder whose task files, models and adapters the app's forms may "
                          "name, besides the sessions, runs and models folders and the shipped "
                          "task files; repeatable. Any other path is refused."),
        click.option("--insecure-no-auth-on-network", "insecure", is_flag=True,
                     help="Serve a non-loopback --host without --auth: anyone who reaches "
                          "it can run code in the sandbox and spend the teacher's key."),
    ]):
        function = option(function)
    return function


def config_option(config: Any, field: str, *decls: str, keep_unset: bool = False, **options):
    """A click option whose default (and type) come from `config`'s field, so a setting's
    default is declared once, on its config. `config` is a settings dataclass, or an
    instance of one whose values are the defaults (the loop's evaluation protocol).
    `decls` default to `--field-name`. `keep_unset` leaves the option None unless given, so
    that the config (or a preset) fills it, and names the config's default in the help."""
    default = _default(config, field)
    hint = _hint(config, field)
    if "type" not in options and hint in (int, float, str):
        options["type"] = hint
    if keep_unset:
        if default is not None and not options.get("is_flag") and "[default:" not in options.get("help", ""):
            options["help"] = f"{options.get('help', '')}  [default: {default}]".strip()
    elif default is not None and not options.get("required"):
        options.setdefault("default", default)
        options.setdefault("show_default", default != "")
    return click.option(*(decls or ("--" + field.replace("_", "-"),)), options.pop("dest", field),
                        **options)


def _hint(config: Any, field: str) -> Any:
    """The field's type: `float` for `epochs: float = 3`, `int` for `limit: int | None`."""
    cls = config if isinstance(config, type) else type(config)
    hints = typing.get_type_hints(cls)
    if field not in hints and field in SAMPLING_FIELDS:
        hints = typing.get_type_hints(Sampling)
    hint = hints.get(field)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if len(args) == 1 else hint


def _default(config: Any, field: str) -> Any:
    if not isinstance(config, type):
        return getattr(config, field)
    try:
        return default_of(config, field)
    except ValueError:  # a required field
        return None
