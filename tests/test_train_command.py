"""Train's "Equivalent command" (issue 25, defect 5): copied from the app and pasted in a
shell in another folder, it trains on the same session, from the same model folder, into
the same output folder."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys

from persd.demo import build_demo_session
from persd.demo.tiny_model import write_tiny_model
from persd.store import SessionStore
from persd_app.tabs import Stores
from persd_app.tabs.train_handlers import TrainForm, TrainHandlers


def test_the_equivalent_command_runs_from_another_folder(tmp_path, monkeypatch):
    app_dir, elsewhere = tmp_path / "app", tmp_path / "elsewhere"
    elsewhere.mkdir()
    build_demo_session(app_dir / "sessions", name="demo", limit=6)
    write_tiny_model(app_dir / "models" / "tiny", seed=0)
    monkeypatch.chdir(app_dir)  # the app runs here: "models/tiny" is relative to it
    handlers = TrainHandlers(Stores("sessions"), runs_dir=app_dir / "runs",
                             models_dir=app_dir / "models")
    command = handlers.preview(TrainForm(session="demo", student="models/tiny", output="r1",
                                         max_steps=1, batch=2, lora_r=2))["command"]
    argv = shlex.split(command)
    assert argv[:2] == ["persd", "train"]
    assert argv[argv.index("--sessions-dir") + 1] == str(app_dir / "sessions")
    assert argv[argv.index("--student") + 1] == str(app_dir / "models" / "tiny")

    monkeypatch.chdir(elsewhere)  # pasted in another shell, in another folder
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PERSD_SESSIONS_DIR": str(elsewhere)}
    done = subprocess.run([sys.executable, "-m", "persd.cli", *argv[1:]], cwd=elsewhere,
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    with SessionStore.open(app_dir / "sessions", "demo") as store:
        (run,) = store.runs.list(kind="train")
    assert run.status == "finished" and run.output == str(app_dir / "runs" / "r1")
    assert (app_dir / "runs" / "r1" / "adapter_config.json").is_file()
    assert not list(elsewhere.iterdir())  # nothing landed in the folder it ran from
