"""`transformers serve` with the tiny model, as a real OpenAI-compatible server for tests.

    from tests.fixtures_serve import transformers_serve   # noqa: F401 (a pytest fixture)

    def test_something(transformers_serve):
        transformers_serve.base_url    # "http://127.0.0.1:<port>/v1"
        transformers_serve.model       # the tiny model's folder: the only model it serves

The server runs offline (HF_HUB_OFFLINE=1) in its own process group on a free loopback
port, pinned to the tiny model (its FORCE_MODEL argument), and is killed after the module.
Readiness is polled on /v1/models; a server that dies or stays silent fails the test with
the tail of its log. Without FastAPI/uvicorn (`transformers[serving]`) the tests skip.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ports import free_port

READY_TIMEOUT_S = 120.0


@dataclass
class ServedModel:
    base_url: str
    model: str
    log: Path
    process: subprocess.Popen


def _log_tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_ready(served: ServedModel, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise RuntimeError(f"transformers serve exited with {served.process.returncode}:\n"
                               f"{_log_tail(served.log)}")
        try:
            with urllib.request.urlopen(f"{served.base_url}/models", timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        try:  # the poll interval, cut short if the server dies
            served.process.wait(timeout=0.25)
        except subprocess.TimeoutExpired:
            pass
    raise RuntimeError(f"transformers serve was not ready after {timeout_s:.0f} s:\n"
                       f"{_log_tail(served.log)}")


def start_transformers_serve(model: str, log: Path, timeout_s: float = READY_TIMEOUT_S) -> ServedModel:
    """Starts `transformers serve MODEL` on a free port and waits until it answers."""
    port = free_port()
    command = [sys.executable, "-m", "transformers.cli.transformers", "serve", model,
               "--host", "127.0.0.1", "--port", str(port), "--device", "cpu",
               "--log-level", "warning", "--default-seed", "0"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    handle = open(log, "wb")
    process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env,
                               start_new_session=True)
    handle.close()
    served = ServedModel(f"http://127.0.0.1:{port}/v1", model, log, process)
    try:
        _wait_ready(served, timeout_s)
    except BaseException:
        stop_transformers_serve(served)
        raise
    return served


def stop_transformers_serve(served: ServedModel) -> None:
    if served.process.poll() is not None:
        return
    os.killpg(served.process.pid, signal.SIGTERM)  # its own group: uvicorn and any workers
    try:
        served.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(served.process.pid, signal.SIGKILL)
        served.process.wait()


@pytest.fixture(scope="module")
def transformers_serve(tiny_model_dir, tmp_path_factory):
    pytest.importorskip("fastapi", reason="transformers serve needs `pip install 'transformers[serving]'`")
    pytest.importorskip("uvicorn", reason="transformers serve needs `pip install 'transformers[serving]'`")
    log = tmp_path_factory.mktemp("serve") / "transformers-serve.log"
    served = start_transformers_serve(tiny_model_dir, log)
    yield served
    stop_transformers_serve(served)
