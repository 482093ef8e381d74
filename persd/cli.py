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
