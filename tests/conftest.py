"""Test-wide settings: no analytics, no hub downloads, sessions in temp folders."""

import os
import subprocess
from pathlib import Path

import pytest

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from tests.fixtures_models import smollm2_dir, smollm2_get, tiny_model_dir  # noqa: E402,F401  (session-scoped fixtures)


@pytest.fixture
def read_only_folder(tmp_path: Path):
    """(folder, make_read_only): root ignores file modes, so for root the folder is a
    tmpfs mount that is remounted read-only; for anyone else chmod is enough."""
    folder = tmp_path / "ro"
    folder.mkdir()
    if os.geteuid() != 0:
        yield folder, lambda: folder.chmod(0o555)
        folder.chmod(0o755)
        return
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(folder)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield folder, lambda: subprocess.run(
            ["mount", "-o", "remount,ro", str(folder)], check=True)
    finally:
        subprocess.run(["umount", str(folder)], check=True)
