"""persd.jobs: training children on the tiny model, owned by the session store (one at a
time, re-attach from a fresh runner, abort with a clean checkpoint), and collection in a
worker thread (tiny student + local HTTP teacher, the simulated demo, a bad endpoint), and
evaluation children started from a job file, the way training runs."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from persd.evaluate import EvalConfig
from persd.jobs import CollectJob, JobError, TrainJobs, train_command
from persd.jobs.evaluate import EvalJobs, EvalRequest
from persd.store import RunBusy, SessionStore
from persd.tasks import load_tasks
from persd.train import TrainConfig

WAIT_S = 240  # a training child on two busy cores: seconds to load, about one per step


@pytest.fixture(scope="module")
def rows():
    tasks = load_tasks("humaneval")[:4]
    return [{"prompt": t.prompt, "completion": t.solution[len(t.prompt):], "task_id": t.task_id}
            for t in tasks]


@pytest.fixture()
def store(tmp_path):
    with SessionStore.open(tmp_path / "sessions", "s1", create=True) as s:
        yield s


def _config(tiny_model_dir, out: Path, **overrides) -> TrainConfig:
    return TrainConfig(**{"student": tiny_model_dir, "output_dir": str(out), "batch_size": 2,
                          "learning_rate": 1e-3, "save_steps": 1000, **overrides})


def _until(check, what: str, timeout: float = WAIT_S, every: float = 0.5):
    """Poll `check()` until it returns something truthy (the job is another process)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.mark.slow
def test_one_job_at_a_time_reattach_and_abort(store, tiny_model_dir, rows, tmp_path):
    jobs = TrainJobs()
    job = jobs.start(store, _config(tiny_model_dir, tmp_path / "r1", max_steps=400), rows,
                     request={"selection": "validated"})
    assert job.active and job.run.pid and store.runs.active("train").id == job.run.id
    assert job.run.config["rows"] == len(rows) and job.run.config["selection"] == "validated"

    with pytest.raises(RunBusy, match="one at a time"):
        jobs.start(store, _config(tiny_model_dir, tmp_path / "r2", max_steps=2), rows)
    assert not (tmp_path / "r2").exists()  # refused before anything was written

    # A reloaded page (here: a fresh runner, as after an app restart) finds the job.
    again = TrainJobs()
    seen = _until(lambda: (j := again.refresh(store)) and len(j.losses) >= 2 and j,
                  "two logged losses")
    assert seen.run.id == job.run.id and seen.active and seen.total_steps == 400
    assert "step" in seen.describe() and "loss" in seen.describe()

    stopping = again.abort(store, job.run.id)
    assert stopping.stopping and "stopping" in stopping.describe()
    ended = _until(lambda: (j := again.refresh(store, job.run.id)) and not j.active and j,
                   "the stopped run")
    assert ended.status == "stopped" and store.runs.active("train") is None
    assert ended.run.result["exit_code"] == 3
    checkpoint = ended.run.result["checkpoint"]
    assert checkpoint and Path(checkpoint, "trainer_state.json").is_file()
    assert ended.run.result["steps"] < 400


@pytest.mark.slow
def test_a_short_run_finishes_and_is_listed_with_its_curve(store, tiny_model_dir, rows, tmp_path):
    jobs = TrainJobs()
    started = jobs.start(store, _config(tiny_model_dir, tmp_path / "r1", max_steps=3), rows)
    done = _until(lambda: (j := jobs.refresh(store, started.run.id)) and not j.active and j,
                  "the run to finish")
    assert done.status == "finished", done.log_tail
    assert [step for step, _ in done.losses] == [1, 2, 3]
    assert done.run.result["final_loss"] == pytest.approx(done.losses[-1][1])
    assert Path(tmp_path / "r1" / "adapter_config.json").is_file()
    assert done.log_tail and "\r" not in done.log_tail  # progress bars as last drawn
    history = jobs.history(store)
    assert [j.run.id for j in history] == [started.run.id] and history[0].losses == done.losses
    # The next run may start now.
    assert store.runs.active("train") is None


def test_bad_input_is_refused_before_a_run_is_recorded(store, tiny_model_dir, rows, tmp_path):
    jobs = TrainJobs()
    with pytest.raises(JobError, match="does not exist"):
        jobs.start(store, _config(str(tmp_path / "no-model"), tmp_path / "r1"), rows)
    with pytest.raises(JobError, match="no training examples"):
        jobs.start(store, _config(tiny_model_dir, tmp_path / "r1"), [])
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(JobError, match="not empty"):
        jobs.start(store, _config(tiny_model_dir, busy), rows)
    assert store.runs.list(kind="train") == [] and (busy / "notes.txt").read_text() == "mine"
    assert jobs.refresh(store) is None


def test_a_lost_queued_run_is_failed_and_frees_the_slot(store, monkeypatch):
    import persd.jobs.train

    run_id = store.runs.add("train", {"variant": "persd"}, status="queued", exclusive=True)
    assert TrainJobs().refresh(store).status == "queued"
    monkeypatch.setattr(persd.jobs.train, "STALE_QUEUED_S", -1.0)
    job = TrainJobs().refresh(store)
    assert (job.run.id, job.status) == (run_id, "failed")
    assert "never started" in job.describe() and store.runs.active("train") is None


def test_train_command_matches_the_cli_flags():
    config = TrainConfig(student="models/tiny", output_dir="runs/a b", max_steps=8,
                         learning_rate=1e-3, lora_r=8, overwrite=True)
    assert train_command(config, "demo", "persd") == (
        "persd train --session demo --variant persd --student models/tiny "
        "--output 'runs/a b' --max-steps 8 --lr 0.001 --lora-r 8 --overwrite")
    approved = train_command(config, "demo", "persd-refine", "approved")
    assert approved.startswith("persd train --session demo --variant persd-refine --selection approved ")
    full = train_command(TrainConfig(student="m", output_dir="o", full=True), None, "stand")
    assert full == "persd train --variant stand --student m --output o --full"


# ---------------------------------------------------------------- collection in a thread

def _collect_config(tmp_path, **overrides):
    from persd.collect import CollectConfig

    return CollectConfig(**{"session": "c1", "teacher_model": "gpt-4o-mini", "limit": 3,
                            "max_new_tokens": 16, "sessions_dir": str(tmp_path), **overrides})


def test_snapshot_before_the_round_has_stored_its_tasks_reads_zero(tmp_path):
    # The loop creates the session, then stores the tasks: a poll between the two steps
    # (the app polls every second) must read "nothing done yet", not raise.
    config = _collect_config(tmp_path, student="any/model", limit=3)
    SessionStore.open(tmp_path, "c1", create=True).close()
    job = CollectJob(config)
    job.task_ids = [t.task_id for t in load_tasks("humaneval")[:3]]
    progress = job.snapshot()
    assert (progress.done, progress.total, progress.attempts) == (0, 3, 0)


@pytest.mark.slow
def test_collect_job_runs_in_a_thread_and_reports_progress(tmp_path, tiny_model_dir):
    from persd.teacher import OpenAITeacher, TeacherConfig
    from tests.openai_server import OpenAITestServer

    tasks = load_tasks("humaneval")[:3]
    with OpenAITestServer(tasks=tasks, latency_s=0.2) as server:
        teacher = OpenAITeacher(TeacherConfig(model="gpt-4o-mini", base_url=server.base_url,
                                              api_key="sk-test-secret"))
        job = CollectJob(_collect_config(tmp_path, student=tiny_model_dir),
                         teacher=teacher).start()
        assert job.snapshot().done == 0
        assert job.wait(120) and job.error is None
    assert job.summary.complete and job.summary.tasks == 3
    snap = job.snapshot()
    assert (snap.done, snap.total, snap.attempts) == (3, 3, 3) and snap.fraction == 1.0
    assert snap.refined == snap.attempts - snap.passed and snap.cost_usd > 0
    with SessionStore.open(tmp_path, "c1") as store:
        assert "sk-test-secret" not in store.path.read_bytes().decode("latin-1")


def test_collect_job_reports_a_bad_endpoint_in_one_message(tmp_path, tiny_model_dir):
    from persd.teacher import OpenAITeacher, TeacherConfig

    teacher = OpenAITeacher(TeacherConfig(model="gpt-4o-mini", base_url="http://127.0.0.1:9/v1",
                                          api_key="k", max_retries=0))
    job = CollectJob(_collect_config(tmp_path, student=tiny_model_dir), teacher=teacher).start()
    assert job.wait(60)
    assert job.summary is None and "cannot connect" in job.error
    assert "\n" not in job.error and not (tmp_path / "c1.sqlite").exists()


def test_simulated_collect_job_builds_and_extends_the_demo(tmp_path):
    config = _collect_config(tmp_path, session="sim", student="simulated-student", limit=4)
    first = CollectJob(config, simulated=True).start()
    assert first.wait(120) and first.error is None
    assert first.snapshot().attempts == 4 and first.snapshot().done == 4
    more = CollectJob(_collect_config(tmp_path, session="sim", student="x", limit=7),
                      simulated=True).start()
    assert more.wait(120) and more.error is None
    with SessionStore.open(tmp_path, "sim") as store:
        assert store.simulated and len(store.attempts.list()) == 7


@pytest.mark.slow
def test_cancelled_collect_job_stops_early_keeps_its_work_and_resumes(tmp_path, tiny_model_dir):
    from persd.collect import STOPPED_ON_REQUEST
    from persd.teacher import OpenAITeacher, TeacherConfig
    from tests.openai_server import OpenAITestServer

    tasks = load_tasks("humaneval")[:8]
    config = _collect_config(tmp_path, student=tiny_model_dir, limit=8, batch_size=2,
                             concurrency=1)
    # A slow teacher, one call at a time: 8 failed attempts would take 8 x 2 s to refine.
    with OpenAITestServer(tasks=tasks, latency_s=2.0) as server:
        def teacher():
            return OpenAITeacher(TeacherConfig(model="gpt-4o-mini", base_url=server.base_url,
                                               api_key="k", concurrency=1))

        job = CollectJob(config, teacher=teacher()).start()
        _until(lambda: job.snapshot().attempts >= 1, "the first attempt", every=0.05)
        job.cancel()
        cancelled_at = time.monotonic()
        assert job.wait(60) and job.error is None and job.cancelled
        assert time.monotonic() - cancelled_at < 8  # not the ~16 s the teacher still had
        assert job.summary.stopped_by == STOPPED_ON_REQUEST and not job.summary.complete
        assert "STOPPED: stopped on request" in job.summary.table()
        with SessionStore.open(tmp_path, "c1") as store:
            (run,) = store.runs.list(kind="collect")
            assert run.status == "stopped"
            kept = store.attempts.list(round=1)
            assert kept and all(a.execution is not None for a in kept)
            assert not store.pending.work(1, task_ids=[t.task_id for t in tasks]).done

        again = CollectJob(config, teacher=teacher()).start()
        assert again.wait(120) and again.error is None and again.summary.complete
    with SessionStore.open(tmp_path, "c1") as store:
        attempts = store.attempts.list(round=1)
        assert len({(a.task_id, a.sample_index) for a in attempts}) == len(attempts) == 8
        failed = {a.id for a in attempts if not a.execution.result.passed}
        assert {r.attempt_id for r in store.refinements.list(round=1)} == failed
        assert [r.status for r in store.runs.list(kind="collect")] == ["stopped", "finished"]


# ---------------------------------------------------------------- overwrite, lost runs, no browser

def test_overwrite_from_the_app_refuses_entries_persd_did_not_write(store, tiny_model_dir, rows, tmp_path):
    proj = tmp_path / "proj"
    (proj / "merged").mkdir(parents=True)
    (proj / "merged" / "model.safetensors").write_bytes(b"the user's own merge")
    (proj / "checkpoint-5").mkdir()
    with pytest.raises(JobError, match="it also holds checkpoint-5, merged, which no persd run"):
        TrainJobs().start(store, _config(tiny_model_dir, proj, overwrite=True), rows)
    assert sorted(p.name for p in proj.iterdir()) == ["checkpoint-5", "merged"]
    assert (proj / "merged" / "model.safetensors").read_bytes() == b"the user's own merge"
    assert store.runs.list(kind="train") == []


def test_a_run_whose_process_is_gone_is_failed_saying_why(store, tmp_path):
    import subprocess
    import sys

    gone = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    run_id = store.runs.add("train", {"variant": "persd"}, status="queued", exclusive=True)
    store.runs.update(run_id, status="running", pid=gone.pid, output=str(tmp_path / "r1"))
    assert TrainJobs().refresh(store).status == "running"
    gone.kill()
    gone.wait()
    job = TrainJobs().refresh(store)
    assert (job.run.id, job.status) == (run_id, "failed")
    assert job.describe().endswith(f"failed: no steps logged: process {gone.pid} is gone")
    assert store.runs.active("train") is None


@pytest.mark.slow
def test_a_run_started_by_a_passing_thread_is_recorded_when_it_ends_unwatched(
        store, tiny_model_dir, rows, tmp_path):
    """Gradio runs handlers on worker threads that come and go: the child must outlive the
    thread that asked for it, and its end must be recorded with no browser polling."""
    import threading

    jobs, started = TrainJobs(), []
    thread = threading.Thread(target=lambda: started.append(
        jobs.start(store, _config(tiny_model_dir, tmp_path / "r1", max_steps=2), rows)))
    thread.start()
    thread.join()
    (job,) = started
    with SessionStore(store.path) as other:  # no refresh: only what the job layer wrote
        done = _until(lambda: (r := other.runs.get(job.run.id)).status not in ("queued", "running") and r,
                      "the run's end to be recorded", timeout=180)
    assert done.status == "finished", (tmp_path / "r1" / "train.log").read_text()[-2000:]
    assert done.result["steps"] == 2 and done.result["exit_code"] == 0


@pytest.mark.slow
def test_an_eval_job_runs_its_settings_from_the_job_file_and_fills_in_its_run(
        store, tiny_model_dir, tmp_path):
    config = EvalConfig.from_dict({"samples": 2, "temperature": 0.8, "top_p": 0.9,
                                   "max_new_tokens": 16, "workers": 2})
    request = EvalRequest(student=tiny_model_dir, adapter=None, tasks="humaneval", limit=2,
                          round=0, config=config, seed=3, batch_size=4)
    jobs, out, started = EvalJobs(), tmp_path / "eval-1", []
    # From a thread that ends at once, as a web request's does: the child must outlive it.
    passing = threading.Thread(target=lambda: started.append(jobs.start(
        store, request, sessions_dir=tmp_path / "sessions", output_dir=out, task_count=2)))
    passing.start()
    passing.join()
    (job,) = started
    with pytest.raises(RunBusy):
        jobs.start(store, request, sessions_dir=tmp_path / "sessions", output_dir=tmp_path / "e2")
    written = json.loads((out / "eval_job.json").read_text())
    assert written["kind"] == "eval" and written["run_id"] == job.run.id
    assert EvalConfig.from_dict(written["eval"]) == config  # settings as given, not re-parsed
    done = _until(lambda: (j := jobs.refresh(store, job.run.id)) and not j.active and j,
                  "the eval child to end", timeout=300)
    assert done.status == "finished", done.log_tail
    run = store.runs.get(job.run.id)
    assert (run.config["eval"]["temperature"], run.config["eval"]["top_p"]) == (0.8, 0.9)
    assert run.config["seed"] == 3 and run.config["limit"] == 2
    assert store.eval_samples.count(run.id) == 2 * 2 * (config.refine_steps + 1)
    assert json.loads((out / "report.json").read_text())["run_id"] == run.id
    assert "pass@1" in done.describe()


def test_a_job_that_cannot_load_its_tasks_is_failed_with_its_error_line(store, tmp_path):
    request = EvalRequest(student="models/none", adapter=None, tasks=str(tmp_path / "none.jsonl"),
                          limit=None, round=0)
    jobs = EvalJobs()
    job = jobs.start(store, request, sessions_dir=tmp_path / "sessions", output_dir=tmp_path / "e")
    done = _until(lambda: (j := jobs.refresh(store, job.run.id)) and not j.active and j,
                  "the eval child to fail", timeout=120)
    assert done.status == "failed"
    error = (done.run.result or {}).get("error", "")
    assert error.startswith("Error:") and "none.jsonl" in error
