"""Training on a full disk (a real 20 MB tmpfs, mounted for the test): one clear line,
no traceback, no partial checkpoint for --resume to take, train.log kept whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from persd.train.outdir import last_checkpoint
from tests.test_train import _rows_file

FREE_BYTES = 3 << 20   # room for the request files and the log, not for a 6 MB checkpoint


@pytest.fixture()
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(mount: Path, leave: int) -> None:
    """Take all of the tmpfs but `leave` bytes."""
    free = os.statvfs(mount).f_bavail * os.statvfs(mount).f_frsize
    with open(mount / "filler", "wb") as file:
        file.write(b"\0" * max(0, free - leave))


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_leaves_no_partial_checkpoint(small_disk, tmp_path,
                                                                   tiny_model_dir):
    out = small_disk / "run"
    _fill(small_disk, FREE_BYTES)
    done = subprocess.run(
        [sys.executable, "-m", "persd.cli", "train", "--data", _rows_file(tmp_path),
         "--student", tiny_model_dir, "--output", str(out), "--max-steps", "3",
         "--save-steps", "1"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": os.getcwd(), "HF_HUB_OFFLINE": "1"})
    said = done.stdout + done.stderr
    assert done.returncode != 0, said
    errors = [line for line in said.splitlines() if "failed" in line or "Error" in line]
    assert errors == ["Error: training failed: the disk is full (training output "
                      f"{out}); free some space, then rerun with --resume to continue "
                      "from the last complete checkpoint"], said
    assert "Traceback" not in said
    assert last_checkpoint(out) is None  # the save that did not fit is no checkpoint
    assert not list(out.glob("checkpoint-*"))
    ends = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()
            if '"end"' in line] if (out / "metrics.jsonl").is_file() else []
    assert all(end["status"] == "failed" for end in ends)


@pytest.mark.slow
def test_a_resumed_run_takes_the_last_whole_checkpoint_after_a_full_disk(small_disk, tmp_path,
                                                                        tiny_model_dir):
    out, rows = small_disk / "run", _rows_file(tmp_path)
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "HF_HUB_OFFLINE": "1"}
    command = [sys.executable, "-m", "persd.cli", "train", "--data", rows, "--student",
               tiny_model_dir, "--output", str(out), "--max-steps", "3", "--save-steps", "1"]
    # One whole checkpoint (6 MB) fits beside the filler, the second does not.
    _fill(small_disk, 9 << 20)
    first = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
    assert first.returncode != 0 and "the disk is full" in first.stdout + first.stderr
    assert [p.name for p in out.glob("checkpoint-*")] == ["checkpoint-1"]
    whole = sorted(p.name for p in (out / "checkpoint-1").iterdir())
    assert {"optimizer.pt", "trainer_state.json", "adapter_model.safetensors"} <= set(whole)
    (small_disk / "filler").unlink()
    second = subprocess.run([*command, "--resume"], capture_output=True, text=True,
                            timeout=300, env=env)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "resuming at step 1" in second.stdout
    log = (out / "train.log").read_text()  # appended to, never truncated: both runs are there
    assert log.index("persd train: the disk is full") < log.index('"status": "finished"')
