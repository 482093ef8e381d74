"""The collection loop end to end: tiny student, real sandbox, real local HTTP teacher."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import datasets
import pytest

from persd.collect import CollectConfig, CollectError, collect
from persd.data import build_examples, export
from persd.store import SessionStore
from persd.tasks import load_tasks
from tests.openai_server import OpenAITestServer

TASKS = 12


@pytest.fixture(scope="module")
def humaneval():
    return load_tasks("humaneval")[:TASKS]


@pytest.fixture()
def teacher(humaneval, monkeypatch):
    with OpenAITestServer(tasks=humaneval) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        yield server


def _config(tmp_path, tiny_model_dir, **overrides) -> CollectConfig:
    settings = dict(session="s1", tasks="humaneval", student=tiny_model_dir, teacher_model="test-teacher",
                    limit=TASKS, max_new_tokens=32, sessions_dir=str(tmp_path), workers=2)
    return CollectConfig(**{**settings, **overrides})


def _cli(args: list[str], env: dict, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "persd.cli", *args], env={**os.environ, **env},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _check_complete(store: SessionStore, round: int = 1) -> None:
    attempts = store.attempts.list(round=round)
    keys = [(a.task_id, a.sample_index) for a in attempts]
    assert len(keys) == len(set(keys)) == TASKS
    assert all(a.execution is not None for a in attempts)
    failed = {a.id for a in attempts if not a.execution.result.passed}
    refinements = store.refinements.list(round=round, method="persd")
    assert sorted(r.attempt_id for r in refinements) == sorted(failed)
    assert store.pending.work(round).done
    assert store.integrity_check() == "ok"


def test_collect_refines_every_failed_attempt(tmp_path, tiny_model_dir, teacher):
    summary = collect(_config(tmp_path, tiny_model_dir), progress=False)
    assert summary.complete and summary.tasks == TASKS and summary.attempts == TASKS
    assert summary.failed > 0 and summary.refined == summary.failed
    assert summary.validated == summary.refined  # the test teacher answers with the reference
    with SessionStore.open(tmp_path, "s1") as store:
        _check_complete(store)
        calls = store.teacher_calls.list()
        assert len(calls) == summary.failed and all(c.raw_reply for c in calls)
        assert all(r.execution is not None and r.execution.result.passed for r in store.refinements.list())


def test_rerun_costs_nothing_and_duplicates_nothing(tmp_path, tiny_model_dir, teacher):
    collect(_config(tmp_path, tiny_model_dir), progress=False)
    sent = len(teacher.chat_requests())
    again = collect(_config(tmp_path, tiny_model_dir), progress=False)
    assert again.complete
    assert len(teacher.chat_requests()) == sent
    with SessionStore.open(tmp_path, "s1") as store:
        _check_complete(store)


def test_kill_9_mid_run_then_rerun_finishes_without_duplicates(tmp_path, tiny_model_dir, humaneval):
    args = ["collect", "--session", "crash", "--student", tiny_model_dir, "--teacher-model", "t",
            "--limit", str(TASKS), "--max-new-tokens", "32", "--concurrency", "2", "--workers", "2"]
    with OpenAITestServer(tasks=humaneval, latency_s=0.4) as server:
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "k", "PERSD_SESSIONS_DIR": str(tmp_path)}
        process = _cli(args, env)
        deadline = time.monotonic() + 120
        while len(server.chat_requests()) < 3 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert process.poll() is None, process.communicate()
        process.send_signal(signal.SIGKILL)
        process.wait()
        with SessionStore.open(tmp_path, "crash") as store:
            assert not store.pending.work(1).done  # it really was cut off mid-run
        server.latency_s = 0.0
        rerun = _cli(args, env)
        out, err = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, err
        assert "validated" in out
    with SessionStore.open(tmp_path, "crash") as store:
        _check_complete(store)


def test_a_teacher_that_stays_down_ends_the_run_with_a_summary(tmp_path, tiny_model_dir, humaneval):
    args = ["collect", "--session", "down", "--student", tiny_model_dir, "--teacher-model", "t",
            "--limit", "4", "--max-new-tokens", "16", "--teacher-tries", "1"]
    with OpenAITestServer(tasks=humaneval, models=["t"]) as server:  # /models answers: the check passes
        env = {"OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "k", "PERSD_SESSIONS_DIR": str(tmp_path)}
        server.inject("500", count=10_000)
        down = _cli(args, env)
        out, err = down.communicate(timeout=300)
        assert down.returncode != 0
        assert "teacher" in (out + err).lower()
        with SessionStore.open(tmp_path, "down") as store:
            assert len(store.attempts.list(round=1)) == 4  # the student part is all recorded
        server._faults.clear()
        rerun = _cli(args, env)
        out, err = rerun.communicate(timeout=300)
        assert rerun.returncode == 0, out + err
    with SessionStore.open(tmp_path, "down") as store:
        assert store.pending.work(1).done


def test_stand_and_inpd_ask_for_solutions(tmp_path, tiny_model_dir, teacher):
    stand = collect(_config(tmp_path, tiny_model_dir, session="stand", method="stand", student=""), progress=False)
    assert stand.attempts == 0 and stand.validated == TASKS
    inpd = collect(_config(tmp_path, tiny_model_dir, session="inpd", method="inpd"), progress=False)
    assert inpd.validated == inpd.failed > 0


@pytest.mark.parametrize("variant", ["persd", "persd-refine", "persd-combined"])
def test_export_each_variant_loads_with_datasets(tmp_path, tiny_model_dir, teacher, variant):
    collect(_config(tmp_path, tiny_model_dir), progress=False)
    with SessionStore.open(tmp_path, "s1") as store:
        rows = build_examples(store, variant)
        tasks = {t.task_id: t for t in store.tasks.list()}
        for fmt, name in (("jsonl", "x.jsonl"), ("parquet", "x.parquet"), ("hf", "x_hf")):
            export(rows, tmp_path / name, fmt)
    loaded = datasets.load_dataset("json", data_files=str(tmp_path / "x.jsonl"), split="train")
    assert len(loaded) == len(rows) > 0
    assert len(datasets.load_from_disk(str(tmp_path / "x_hf"))) == len(rows)
    assert len(datasets.load_dataset("parquet", data_files=str(tmp_path / "x.parquet"), split="train")) == len(rows)
    for row in loaded:
        assert row["prompt"] == row["prompt"].rstrip()  # split at prompt.rstrip()
        task = tasks[row["task_id"]]
        assert row["prompt"].endswith(task.prompt.rstrip())  # refine prompts end with the task too
        if row["variant"] == "persd":
            assert row["prompt"] == task.prompt.rstrip()
        else:
            assert len(row["prompt"]) > len(task.prompt)  # attempt and feedback come first
    if variant == "persd-combined":
        assert {row["variant"] for row in loaded} == {"persd", "persd-refine"}


def test_persd_rows_are_complete_programs_that_pass(tmp_path, tiny_model_dir, teacher):
    from persd.execution import Executor

    collect(_config(tmp_path, tiny_model_dir), progress=False)
    with SessionStore.open(tmp_path, "s1") as store:
        rows = build_examples(store, "persd")
        tasks = {t.task_id: t for t in store.tasks.list()}
    with Executor(workers=2) as executor:
        results = executor.run_many([(r["prompt"] + r["completion"], tasks[r["task_id"]].test) for r in rows])
    assert rows and all(r.passed for r in results)


def test_unknown_student_path_is_refused_and_no_session_made(tmp_path, teacher):
    with pytest.raises(CollectError, match="no-such-model"):
        collect(_config(tmp_path, str(tmp_path / "no-such-model")), progress=False)
    assert not (tmp_path / "s1.sqlite").exists()


def test_unreachable_teacher_is_refused(tmp_path, tiny_model_dir, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    with pytest.raises(CollectError, match="127.0.0.1:9"):
        collect(_config(tmp_path, tiny_model_dir), progress=False)
    assert not (tmp_path / "s1.sqlite").exists()


def test_wrong_api_key_is_refused(tmp_path, tiny_model_dir, humaneval, monkeypatch):
    with OpenAITestServer(tasks=humaneval, api_key="right") as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "wrong")
        with pytest.raises(CollectError, match="(?i)key"):
            collect(_config(tmp_path, tiny_model_dir), progress=False)
    assert not (tmp_path / "s1.sqlite").exists()


def test_empty_task_set_is_refused(tmp_path, tiny_model_dir, teacher):
    with pytest.raises(CollectError, match="empty"):
        collect(_config(tmp_path, tiny_model_dir), tasks=[], progress=False)


def test_other_settings_on_an_existing_session_are_refused_untouched(tmp_path, tiny_model_dir, teacher):
    collect(_config(tmp_path, tiny_model_dir, limit=4), progress=False)
    with SessionStore.open(tmp_path, "s1") as store:
        before = (len(store.attempts.list()), len(store.refinements.list()), store.config())
    with pytest.raises(CollectError, match="teacher_model"):
        collect(_config(tmp_path, tiny_model_dir, limit=4, teacher_model="another"), progress=False)
    with SessionStore.open(tmp_path, "s1") as store:
        assert (len(store.attempts.list()), len(store.refinements.list()), store.config()) == before


def test_cli_reports_bad_input_in_one_line(tmp_path, teacher):
    env = {"PERSD_SESSIONS_DIR": str(tmp_path)}
    process = _cli(["collect", "--session", "x", "--student", str(tmp_path / "missing"),
                    "--teacher-model", "t", "--limit", "2"], env)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1
    assert err.startswith("Error:") and "missing" in err and "Traceback" not in err


def test_collecting_on_the_evaluation_set_warns(tmp_path, tiny_model_dir, monkeypatch, caplog):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # fails right after the warning
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    with pytest.raises(CollectError):
        collect(_config(tmp_path, tiny_model_dir, limit=3, eval_tasks="humaneval"), progress=False)
    assert "CONTAMINATION" in caplog.text and "3 of 3" in caplog.text


def test_a_student_endpoint_failing_mid_run_is_one_clear_error(tmp_path, tiny_model_dir, teacher):
    from persd.student.openai import StudentServerError

    class FailingServedStudent:  # injects the fault of a served student going down
        def complete(self, prompts, n=None, **sampling):
            raise StudentServerError("student endpoint http://127.0.0.1:1/v1 failed: 503")

    with pytest.raises(CollectError, match="run the same command again"):
        collect(_config(tmp_path, tiny_model_dir), student=FailingServedStudent(), progress=False)


def test_train_takes_the_selection_asked_for(tmp_path, tiny_model_dir, teacher):
    from persd.train import TrainConfig, TrainError
    from persd.runs import train_run as run_train_command

    collect(_config(tmp_path, tiny_model_dir, limit=3), progress=False)
    config = TrainConfig(student=tiny_model_dir, output_dir=str(tmp_path / "out"), session="s1", max_steps=1)
    with pytest.raises(TrainError, match="no persd examples"):  # nothing reviewed, nothing approved
        run_train_command(config, data=None, sessions_dir=str(tmp_path), selection="approved", echo=lambda _: None)
    outcome = run_train_command(config, data=None, sessions_dir=str(tmp_path), selection="validated",
                                echo=lambda _: None)
    assert outcome.status == "finished"


_HOLD_LOCK = """
import sys
from persd.collect.lock import collect_lock
with collect_lock(sys.argv[1], "s1"):
    print("held", flush=True)
    sys.stdin.read()  # until the test closes our stdin
"""


def test_a_second_collect_of_a_session_is_refused_or_waits(tmp_path, tiny_model_dir, teacher):
    import threading

    holder = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(tmp_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        process = _cli(["collect", "--session", "s1", "--student", tiny_model_dir,
                        "--teacher-model", "test-teacher", "--limit", "4"],
                       {"PERSD_SESSIONS_DIR": str(tmp_path)})
        out, err = process.communicate(timeout=120)
        assert process.returncode == 1 and "Traceback" not in err
        assert f"pid {holder.pid}" in err and "started" in err and "--wait" in err, err
        assert teacher.chat_requests() == [] and not (tmp_path / "s1.sqlite").exists()

        told, outcome = [], {}
        waiter = threading.Thread(target=lambda: outcome.update(summary=collect(
            _config(tmp_path, tiny_model_dir, limit=4), progress=False, wait=True,
            on_wait=told.append)))
        waiter.start()
        deadline = time.monotonic() + 30
        while not told and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(told) == 1 and f"pid {holder.pid}" in told[0]
        time.sleep(0.5)
        assert waiter.is_alive() and teacher.chat_requests() == []  # still waiting
        holder.stdin.close()
        waiter.join(timeout=120)
        assert outcome["summary"].complete
    finally:
        holder.kill()
        holder.wait()
