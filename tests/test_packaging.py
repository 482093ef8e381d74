"""The app is installed under a name persd owns: `persd_app` (from the folder ui/), never a
global `ui`; `persd app` serves it. Run from outside the checkout, so that the checkout's own
folders are not on the import path."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.ports import free_port

ROOT = Path(__file__).resolve().parents[1]


def _python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_app_imports_as_persd_app_and_not_as_ui(tmp_path):
    missing = _python("import ui", tmp_path)
    assert missing.returncode == 1 and "No module named 'ui'" in missing.stderr
    found = _python("import persd_app.tabs.review_handlers as m, persd_app as p; print(p.__file__)",
                    tmp_path)
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()) == ROOT / "ui" / "__init__.py"


def test_persd_app_serves_the_app(tmp_path):
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
           "GRADIO_ANALYTICS_ENABLED": "False"}
    (tmp_path / "sessions").mkdir()
    server = subprocess.Popen(
        [sys.executable, "-m", "persd.cli", "app", "--port", str(port), "--sessions-dir",
         str(tmp_path / "sessions"), "--runs-dir", str(tmp_path / "runs")],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, page = time.monotonic() + 180, None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as reply:
                    page = reply.read().decode()
                break
            except OSError:
                time.sleep(0.5)
        assert page is not None, server.stdout.read() if server.poll() is not None else "no answer"
        assert "persd" in page.lower()
    finally:
        server.terminate()
        server.wait(timeout=30)
