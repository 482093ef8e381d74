"""What is made from a session is no more readable than the session (0600): exports and a
real training run's output folder, under a permissive umask."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from persd.data import export
from persd.store import SessionStore
from tests.test_train import humaneval_rows

ROWS = [{"prompt": "def f():\n", "completion": "    return 1\n"}]


@pytest.fixture(autouse=True)
def open_umask():
    before = os.umask(0o022)  # what most machines have: 0644 files unless told otherwise
    yield
    os.umask(before)


def modes(root: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


def test_a_session_is_0600(tmp_path):
    SessionStore.open(tmp_path, "s1", create=True).close()
    assert stat.S_IMODE((tmp_path / "s1.sqlite").stat().st_mode) == 0o600


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_an_export_file_is_0600(tmp_path, fmt):
    out = export(ROWS, tmp_path / f"x.{fmt}", fmt)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_an_hf_export_folder_is_0700_with_0600_files(tmp_path):
    out = export(ROWS, tmp_path / "ds", "hf")
    found = modes(out)
    assert found.pop(".") == 0o700 and found
    assert {name: mode for name, mode in found.items()
            if mode != (0o700 if (out / name).is_dir() else 0o600)} == {}


def test_a_training_run_writes_0700_folders_and_0600_files(tmp_path, tiny_model_dir):
    from persd.train import TrainConfig, start_training

    out = tmp_path / "runs" / "r1"
    config = TrainConfig(student=tiny_model_dir, output_dir=str(out), max_steps=1,
                         batch_size=2, save_steps=1, eval_fraction=0.0)
    process = start_training(config, humaneval_rows(2))
    try:
        assert process.wait(timeout=240) == 0, (out / "train.log").read_text()[-2000:]
    finally:
        if process.poll() is None:
            process.kill()
    found = modes(out)
    assert len(found) > 5 and any(name.endswith(".safetensors") for name in found)
    wrong = {name: oct(mode) for name, mode in found.items()
             if mode != (0o700 if (out / name).is_dir() else 0o600)}
    assert wrong == {}
    assert stat.S_IMODE((tmp_path / "runs").stat().st_mode) == 0o700  # created for it
