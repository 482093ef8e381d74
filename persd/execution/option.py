"""`--executor`: the click option of every command that runs programs (where they run).

It lives beside the factory it feeds: the option sets PERSD_EXECUTOR, which
`make_executor` reads wherever a command builds its executor.
"""

from __future__ import annotations

import os

import click

from persd.execution.factory import KINDS, executor_spec


def _choose(ctx, param, value: str) -> str:
    try:
        spec = executor_spec(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from error
    # The library reads PERSD_EXECUTOR where it builds executors (make_executor), and so
    # do the command's child processes (GRPO training).
    os.environ["PERSD_EXECUTOR"] = spec
    return spec


def executor_option(function):
    return click.option(
        "--executor", envvar="PERSD_EXECUTOR", default="local", show_default=True, expose_value=False,
        callback=_choose,
        help=f"Where programs run: {KINDS} (also PERSD_EXECUTOR; README: \"Sandboxes on a cluster\").",
    )(function)
