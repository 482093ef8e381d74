"""Issue 25, defects 6, 7 and 10: the words the tabs show (percent, natural task order, worded
headers, evaluation names), progress with time on collection, past training runs while one
runs, and study candidates that work on the demo session. Real SQLite sessions built by
persd.demo, real sandbox runs; no browser."""

from __future__ import annotations

import threading

import pandas as pd
import pytest

from persd.collect import CollectConfig
from persd.jobs import CollectJob, CollectProgress
from persd.store import SessionStore
from persd.studies import default_sources
from persd_app.tabs.analysis_handlers import task_table
from persd_app.tabs.collect_handlers import progress_html
from persd_app.tabs.eval_render import eval_name
from persd_app.tabs.evaluate_handlers import EvaluateHandlers
from persd_app.tabs.shown import for_people, percent
from persd_app.tabs.study_handlers import StudyHandlers, StudyInputs, new_state
from persd_app.tabs.train_handlers import TrainHandlers
from tests.test_store import Result
from tests.test_tab_handlers import TASKS, sessions, stores, template  # noqa: F401 (fixtures)


def plant_eval(store: SessionStore, task_ids: list[str]) -> int:
    """A finished eval run with one failing sample per task, after a train run (so the
    first evaluation is run 2)."""
    store.runs.add("train", {"student": "x"}, status="finished")
    run = store.runs.add("eval", {"model": "simulated-student", "round": 0, "simulated": True})
    for task_id in task_ids:
        store.eval_samples.add(run, task_id, program="def f():\n    return 1\n",
                              result=Result("failed", "assert f() == 2", 0.01, 0, 1,
                                             "AssertionError"))
    store.runs.update(run, status="finished",
                     result={"steps": [{"step": 0, "pass_at_k": {"pass@1": 0.0}}]})
    return run


# -- words ------------------------------------------------------------------------------

def test_percent_and_worded_headers_keep_the_column_order():
    frame = pd.DataFrame({"example_task": ["T/1"], "similarity": [0.9983], "count": [3],
                          "fix_rate": [0.5]})
    shown = for_people(frame)
    assert list(shown.columns) == ["example task", "similarity", "count", "fix rate"]
    assert shown.iloc[0].tolist() == ["T/1", "99.8%", 3, "50.0%"]
    assert percent(None) == "" and percent(float("nan")) == "" and percent(1) == "100.0%"
    assert percent(0.9996) == ">99.9%"  # not "100.0%" beside a diff of 2 lines


def test_analysis_task_table_shows_similarity_in_percent_in_natural_order():
    frame = pd.DataFrame({"task_id": ["HumanEval/10", "HumanEval/2", "HumanEval/1"],
                          "similarity": [0.9983, 0.5, None], "diff_lines": [2, 9, None]})
    table = task_table(frame)
    assert table["task"].tolist() == ["HumanEval/1", "HumanEval/2", "HumanEval/10"]
    assert table["similarity"].tolist() == ["", "50.0%", "99.8%"]
    assert "diff lines" in table.columns and "diff_lines" not in table.columns


def test_evaluate_names_the_first_evaluation_1_and_sorts_tasks_naturally(stores, tmp_path):
    store = stores.get("demo")
    run = plant_eval(store, ["HumanEval/10", "HumanEval/2", "HumanEval/1"])
    assert run == 2
    assert eval_name(store, run) == "Evaluation 1 (run 2)"
    handlers = EvaluateHandlers(stores, stores.sessions_dir, tmp_path / "runs")
    out = handlers.results("demo")
    assert out["samples_table"]["task"].tolist() == ["HumanEval/1", "HumanEval/2",
                                                     "HumanEval/10"]
    assert "run None" not in out["eval_sig_plot"].layout.title.text
    assert "(evaluation 1 (run 2))" in out["eval_sig_plot"].layout.title.text
    assert all("_" not in str(c) for c in out["eval_sig_table"].columns)


def test_no_eval_run_gives_no_run_none(stores, tmp_path):
    handlers = EvaluateHandlers(stores, stores.sessions_dir, tmp_path / "runs")
    title = handlers.results("demo")["eval_sig_plot"].layout.title.text
    assert "None" not in title and "Why the latest run's samples fail" in title


# -- progress with time -------------------------------------------------------------------

class HeldJob(CollectJob):
    """A collection whose worker waits for `release`: the running state, held still."""

    release = threading.Event()

    def _run(self) -> None:
        self.release.wait(30)


def test_collect_progress_says_elapsed_rate_and_time_left_then_how_long_it_took(sessions):
    config = CollectConfig(session="demo", teacher_model="t", student="s", limit=TASKS,
                           sessions_dir=str(sessions))
    job = HeldJob(config, simulated=True).start()
    try:
        job._started -= 20  # 20 s in: 2 of 8 done -> 0.10 tasks/s, about 1m 00s left
        html = progress_html(CollectProgress(done=2, total=8), job, "")
        assert "20s elapsed · 0.10 tasks/s · about 1m 00s left" in html
    finally:
        HeldJob.release.set()
        job.wait(10)
    html = progress_html(CollectProgress(done=8, total=8), job, "")
    assert 'data-testid="collect-timing">took 20s<' in html


def test_simulated_collect_with_stand_gives_the_study_defaults_items(sessions, stores):
    assert default_sources(stores.get("demo")) == ("persd", "stand")  # nothing pairs yet
    handlers = StudyHandlers(stores)
    inputs = StudyInputs(session="demo", reviewer="lea", state=new_state(), study=None,
                         name="blind", kind="pairwise", reviewers="ana", overlap=1)
    with pytest.raises(ValueError, match="method StanD, simulated too"):
        handlers.create(inputs)
    config = CollectConfig(session="demo", teacher_model="simulated-teacher",
                           student="simulated-student", limit=TASKS, method="stand",
                           sessions_dir=str(sessions))
    job = CollectJob(config, simulated=True).start()
    assert job.wait(120) and job.error is None
    defaults = handlers.defaults(inputs)
    assert (defaults["source_a"], defaults["source_b"]) == ("persd", "stand")
    made = handlers.create(inputs)
    assert "Created blind" in made["owner_message"]


# -- past training runs while one runs ----------------------------------------------------

def test_a_running_training_run_is_not_listed_as_steps_0(stores, tmp_path):
    store = stores.get("demo")
    run_id = store.runs.add("train", {"variant": "persd", "rows": 4}, status="running")
    handlers = TrainHandlers(stores, runs_dir=tmp_path / "runs", models_dir=tmp_path / "m")
    past = handlers._past("demo")
    row = past["history"].iloc[0]
    assert row["run"] == run_id and row["steps"] == "running (live above)"
    assert past["history_curves"]["visible"] is False  # no ended run: no "No loss logged yet"
    store.runs.update(run_id, status="finished")
    ended = handlers._past("demo")["history"].iloc[0]
    assert ended["steps"] == "none logged"  # not a count of 0 that reads as a real value
