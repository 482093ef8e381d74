"""`persd sandbox serve`: this machine's sandboxes and judge as an HTTP service."""

from __future__ import annotations

import click

from persd.cli.common import UserError
from persd.execution import Executor
from persd.execution.service import SandboxService


@click.group()
def sandbox() -> None:
    """persd's sandbox as a service (SandboxFusion's /run_code and persd's /persd/run)."""


@sandbox.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything but loopback needs --token.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port (0: any free one).")
@click.option("--token", envvar="PERSD_SANDBOX_TOKEN", help="Bearer token every request must carry (PERSD_SANDBOX_TOKEN).")
@click.option("--workers", type=click.IntRange(min=1), help="Sandboxes (default: one per core).")
@click.option("--timeout-s", default=3.0, show_default=True, type=float, help="CPU seconds per program.")
@click.option("--memory-mb", default=2048, show_default=True, type=int, help="Memory cap per program.")
@click.option("--protocol", default="strict", show_default=True, type=click.Choice(["strict", "paper"]),
              help="Which tests run and how values compare (see the README).")
@click.option("--max-request-kb", default=4096, show_default=True, type=click.IntRange(min=1),
              help="Larger requests are refused unread.")
def serve(host, port, token, workers, timeout_s, memory_mb, protocol, max_request_kb) -> None:
    """Serve persd's sandbox and judge over HTTP until interrupted."""
    with Executor(workers=workers, timeout_s=timeout_s, memory_mb=memory_mb, protocol=protocol) as executor:
        try:
            service = SandboxService(executor, host, port, token, max_request_kb * 1024)
        except (ValueError, OSError) as error:
            raise UserError(f"cannot serve on {host}:{port}: {error}") from error
        with service:
            click.echo(f"persd sandbox: {service.url} ({executor.workers} sandboxes, {executor.isolation}, "
                       f"protocol {protocol})", err=True)
            try:
                service.serve_forever()
            except KeyboardInterrupt:
                pass
