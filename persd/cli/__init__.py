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


@click.group()
@click.version_option(package_name="persd")
def cli() -> None:
    """persd: personalised distillation of code models."""


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
