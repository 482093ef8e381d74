"""The `persd` command.

Each command parses its flags and calls the library; errors a user can cause become one
clear message and a non-zero exit here, at the edge. Set PERSD_DEBUG=1 to see tracebacks.
Commands live by theme, one module each: `app` (app, demo, tiny-model), `collect` (collect,
make-tests, decontaminate), `train` (train, export), `evaluate` (eval, eval-compare),
`importing` (import), `loop` (loop), `models` (models get), `studies` (study, ablate). Work that spans steps lives in
persd.runs, which the commands, the app's jobs and the loop share.
"""

from __future__ import annotations

import os
import sys

import click

from persd.cli import app, collect, evaluate, studies, train
from persd.cli.common import UserError
from persd.cli.importing import import_command
from persd.cli.loop import loop
from persd.cli.sandbox import sandbox
from persd.cli.models import models

__all__ = ["UserError", "cli", "main"]


class _Commands(click.Group):
    """Lists each command with its whole first sentence (click cuts it at ~45 characters
    with "...")."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            text = " ".join((command.short_help or command.help or "").split("\n\n")[0].split())
            rows.append((name, text.split(". ")[0].rstrip(".") + "."))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_Commands)
@click.version_option(package_name="persd")
def cli() -> None:
    """persd: personalised distillation of code models.

    \b
    Where to start:
      persd demo                  the app on a simulated session (offline, no model)
      persd collect ...           student attempts and teacher refinements, into a session
      persd app --session NAME    review them; then train, evaluate and compare in the app
    Each command's --help says more, e.g. persd collect --help.
    """


for command in (app.app, app.demo, app.tiny_model, collect.collect, collect.make_tests,
                collect.decontaminate, train.train, train.export, evaluate.eval_,
                evaluate.eval_compare, import_command):
    cli.add_command(command)
cli.add_command(studies.study)
cli.add_command(studies.ablate)
cli.add_command(loop)
cli.add_command(sandbox)
cli.add_command(models)


def main() -> None:
    if os.environ.get("PERSD_DEBUG"):
        cli(standalone_mode=False)
        return
    try:
        cli(standalone_mode=True)
    except KeyboardInterrupt:
        sys.exit(130)
