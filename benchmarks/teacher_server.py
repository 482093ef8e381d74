"""The project's test teacher (tests/openai_server.py) started in its own process, as a
real endpoint would be (no GIL shared with the code being measured)."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # where `python -m tests.openai_server` runs


def serve_teacher(latency: float, *options: str) -> tuple[subprocess.Popen, str]:
    """(server process, base URL); `options` are more flags of `tests.openai_server`."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.openai_server", "--port", str(port), "--latency", str(latency),
         *options],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    server.stdout.readline()  # "serving ... tasks at URL": it is listening
    return server, f"http://127.0.0.1:{port}/v1"
