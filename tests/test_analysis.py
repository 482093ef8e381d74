"""persd.analysis on real sessions: the simulated demo (with reviews and eval runs added
through the store's own API), a small session collected with the tiny model and the local
HTTP teacher, and an empty one. Frames keep their columns; figures always build."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import pytest

from persd.analysis import FIGURES, analyse
from persd.analysis.frames import (
    ATTEMPT_COLUMNS, EVAL_COLUMNS, REFINEMENT_COLUMNS, TASK_COLUMNS, TAXONOMY_COLUMNS,
    TEACHER_COLUMNS, PASSED,
)
from persd.evaluate import EvalConfig, evaluate
from persd.execution import Executor
from persd.store import SessionStore
from tests.demo_copies import build_demo, opened_copy

DEMO_TASKS = 16


@pytest.fixture(scope="module")
def executor():
    with Executor(workers=2, timeout_s=3.0) as ex:
        yield ex


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory, executor):
    return build_demo(tmp_path_factory.mktemp("demo"), limit=DEMO_TASKS, executor=executor)


@pytest.fixture()
def demo(demo_path, tmp_path):
    """A fresh copy of the demo session per test (tests add reviews and runs to it)."""
    with opened_copy(demo_path, tmp_path) as store:
        yield store


def _columns(report) -> dict[str, list[str]]:
    return {name: list(getattr(report, name).columns) for name in
            ("attempts", "refinements", "taxonomy", "teachers", "evals", "tasks")}


EXPECTED = {"attempts": ATTEMPT_COLUMNS, "refinements": REFINEMENT_COLUMNS,
            "taxonomy": TAXONOMY_COLUMNS, "teachers": TEACHER_COLUMNS, "evals": EVAL_COLUMNS,
            "tasks": TASK_COLUMNS}


def test_demo_frames_have_their_columns_and_the_session_counts(demo):
    report = analyse(demo)
    assert _columns(report) == EXPECTED
    attempts, refinements = demo.attempts.list(), demo.refinements.list()
    failed = [a for a in attempts if not a.execution.result.passed]
    assert len(report.attempts) == len(attempts) == DEMO_TASKS
    assert len(report.tasks) == DEMO_TASKS and report.tasks["attempts"].sum() == DEMO_TASKS
    assert len(report.refinements) == len(refinements) > 0
    assert report.refinements["validated"].sum() == sum(r.validated for r in refinements)

    taxonomy = report.taxonomy.set_index("error_type")
    assert taxonomy["attempts"].sum() == len(failed)
    assert PASSED not in taxonomy.index
    for error_type, row in taxonomy.iterrows():
        of_type = [a for a in failed if a.execution.result.error_type == error_type]
        fixed = [r for r in refinements if r.attempt_id in {a.id for a in of_type}]
        assert row["attempts"] == len(of_type)
        assert row["refined"] == len(fixed) and row["validated"] == sum(r.validated for r in fixed)
        assert 0 <= row["validated_share"] <= 1

    teacher = report.teachers.set_index("teacher_model").loc["simulated-teacher"]
    assert teacher["refinements"] == len(refinements) and teacher["cost_usd"] == 0
    assert math.isnan(teacher["validated_per_usd"])  # free: no "per dollar"
    assert math.isnan(teacher["acceptance_rate"])    # nobody reviewed yet

    assert report.evals.empty and report.simulated
    assert any("No evaluation runs" in note for note in report.notes)
    pairs = report.refinements.dropna(subset=["similarity"])
    assert len(pairs) > 0 and pairs["similarity"].between(0, 1).all()
    assert (pairs["reference_similarity"].between(0, 1)).all()


def test_figures_build_on_the_demo_without_eval_runs(demo):
    report = analyse(demo)
    figures = report.figures()
    assert list(figures) == list(FIGURES)
    assert all(isinstance(f, go.Figure) for f in figures.values())
    evals = ("eval_runs", "before_after", "task_changes", "repair_effect")
    # SIMULATED marks simulated data only: the eval charts show no data of the simulation.
    assert all("(SIMULATED)" in f.layout.title.text for name, f in figures.items()
               if name not in evals)
    assert not any("SIMULATED" in figures[name].layout.title.text for name in evals)
    for name in ("eval_runs", "before_after"):  # nothing to plot: a captioned blank
        assert not figures[name].data
        assert "No evaluation runs" in figures[name].layout.annotations[0].text
    bars = figures["error_taxonomy"].data[0]
    assert list(bars.x) == list(report.taxonomy["error_type"])
    assert sum(bars.y) == report.taxonomy["attempts"].sum()
    stacked = figures["teacher_fixes"].data
    assert sum(sum(trace.y) for trace in stacked) == report.taxonomy["attempts"].sum()
    comparisons = {trace.name for trace in figures["personalisation"].data}
    assert comparisons == {"refinement vs attempt", "reference vs attempt"}


def test_similarity_bins_end_at_one_and_spread_the_data(demo):
    from persd.analysis.figures import _similarity_bins

    figure = analyse(demo).figures()["personalisation"]
    histograms = [t for t in figure.data if t.xbins is not None and t.xbins.size]
    assert histograms and all(t.xbins.end == 1 for t in histograms)
    # Identical programs land in the top bin, inside the axis, never in a bin past 100%.
    assert all(max(t.x) < 1 for t in histograms) and figure.layout.xaxis.range[1] == 1
    start, size = _similarity_bins(pd.Series([0.97, 0.99, 1.0]))
    assert start <= 0.97 and (1 - start) / size <= 21 and size <= 0.0025
    assert _similarity_bins(pd.Series([0.1, 1.0])) == (0.05, 0.05)
    # The legend sits at the foot of the figure, under the rotated tick labels.
    assert figure.layout.legend.yref == "container" and figure.layout.xaxis.automargin


def test_reviews_drive_acceptance_and_the_taxonomy(demo):
    ids = [r.id for r in demo.refinements.list()]
    for refinement_id in ids[:3]:
        demo.reviews.set(refinement_id, "approved", reviewer="ana", expected_version=0)
    demo.reviews.set(ids[3], "rejected", reviewer="ben", expected_version=0, reason="too big")
    demo.reviews.set(ids[4], "skipped", reviewer="ben", expected_version=0)
    report = analyse(demo)
    teacher = report.teachers.iloc[0]
    assert (teacher["reviewed"], teacher["accepted"]) == (4, 3)   # skipped is no verdict
    assert teacher["acceptance_rate"] == pytest.approx(0.75)
    assert report.taxonomy["accepted"].sum() == 3 and report.taxonomy["rejected"].sum() == 1
    statuses = report.refinements.set_index("refinement_id")["review_status"]
    assert statuses[ids[3]] == "rejected" and statuses[ids[5]] == "pending"


class TableStudent:
    """Answers the attempt prompt with `attempts[task_id]` and any refine prompt with the
    reference body: the multi-step repair always works."""

    name = "table"

    def __init__(self, tasks, attempts):
        self.tasks, self.attempts = tasks, attempts

    def complete(self, prompts, n=None, **sampling):
        out = []
        for prompt in prompts:
            task = next(t for t in self.tasks if prompt.endswith(t.prompt))
            body = self.attempts[task.task_id] if prompt == task.prompt else \
                task.solution[len(task.prompt):]
            out.append([body] * (n or 1))
        return out


def test_eval_runs_give_pass_at_1_per_step_and_per_round(demo, executor):
    tasks = [t for t in demo.tasks.list() if t.visible_test.strip()][:4]
    wrong = {t.task_id: "    return None\n" for t in tasks}
    right = {t.task_id: t.solution[len(t.prompt):] for t in tasks}
    right[tasks[0].task_id] = wrong[tasks[0].task_id]
    config = EvalConfig(refine_steps=1)
    base = evaluate(TableStudent(tasks, wrong), tasks, config, executor, store=demo,
                    meta={"round": 0, "model": "table"})
    tuned = evaluate(TableStudent(tasks, right), tasks, config, executor, store=demo,
                     meta={"round": 1, "model": "table", "adapter": "runs/r1"})
    report = analyse(demo)

    evals = report.evals
    assert len(evals) == 4 and set(evals["run_id"]) == {base.run_id, tuned.run_id}
    by_run = evals.set_index(["run_id", "step"])["pass_at_1"]
    assert by_run[(base.run_id, 0)] == pytest.approx(base.pass_at(1, step=0)) == 0.0
    assert by_run[(base.run_id, 1)] == pytest.approx(base.pass_at(1, step=1))
    assert by_run[(tuned.run_id, 0)] == pytest.approx(0.75)
    assert not any("No evaluation runs" in note for note in report.notes)

    figures = report.figures()
    one_step, multi_step = figures["eval_runs"].data
    assert list(one_step.y) == [0.0, 0.75] and list(multi_step.y) == list(
        evals[evals["step"] == 1].sort_values("run_id")["pass_at_1"])
    rounds = figures["before_after"].data[0]
    assert list(rounds.x) == ["round 0", "round 1"]

    per_task = report.tasks.set_index("task_id")
    assert per_task.loc[tasks[1].task_id, "eval_one_step"] == 1.0   # the latest run
    assert per_task.loc[tasks[0].task_id, "eval_one_step"] == 0.0
    assert per_task["eval_one_step"].notna().sum() == len(tasks)


def test_a_session_without_attempts_says_so(tmp_path):
    with SessionStore.open(tmp_path, "empty", create=True) as store:
        report = analyse(store)
        assert _columns(report) == EXPECTED
        assert all(getattr(report, name).empty for name in EXPECTED)
        assert any("No student attempts" in note for note in report.notes)
        figures = report.figures()
        assert all(not f.data and f.layout.annotations for f in figures.values())
        assert report.summary()["attempts"] == 0


@pytest.mark.slow
def test_a_session_collected_with_the_tiny_model_and_a_priced_teacher(tmp_path, tiny_model_dir,
                                                                      monkeypatch, executor):
    from persd.collect import CollectConfig, collect
    from persd.tasks import load_tasks
    from tests.openai_server import OpenAITestServer

    tasks = load_tasks("humaneval")[:4]
    with OpenAITestServer(tasks=tasks) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        collect(CollectConfig(session="real", student=tiny_model_dir, teacher_model="gpt-4o-mini",
                              limit=4, max_new_tokens=16, sessions_dir=str(tmp_path)),
                executor=executor, progress=False)
    with SessionStore.open(tmp_path, "real") as store:
        report = analyse(store)
        refinements = store.refinements.list()
    assert not report.simulated and len(report.attempts) == 4
    assert len(report.refinements) == len(refinements) == (~report.attempts["passed"]).sum()
    teacher = report.teachers.set_index("teacher_model").loc["gpt-4o-mini"]
    assert teacher["cost_usd"] > 0 and teacher["validated"] == len(refinements)
    assert teacher["validated_per_usd"] == pytest.approx(len(refinements) / teacher["cost_usd"])
    assert report.refinements["cost_usd"].sum() == pytest.approx(teacher["cost_usd"])
    # The test teacher answers with the reference, so both diffs are the same here.
    assert (report.refinements["similarity"].tolist()
            == pytest.approx(report.refinements["reference_similarity"].tolist()))
    assert (report.refinements["similarity"] < 1).all()
    figures = report.figures()
    assert not any("SIMULATED" in f.layout.title.text for f in figures.values())
    assert figures["teacher_yield"].data[0].y[0] == pytest.approx(teacher["validated_per_usd"])


def test_before_after_per_task_error_mix_and_repair_effect(demo, executor):
    from persd.analysis import evals as frames

    tasks = [t for t in demo.tasks.list() if t.visible_test.strip()][:3]
    wrong = {t.task_id: "    return None\n" for t in tasks}
    wrong[tasks[2].task_id] = "    return [][0]\n"
    right = {t.task_id: t.solution[len(t.prompt):] for t in tasks}
    right[tasks[0].task_id] = wrong[tasks[0].task_id]
    base = evaluate(TableStudent(tasks, wrong), tasks, EvalConfig(refine_steps=1), executor,
                    store=demo, meta={"round": 0, "model": "table"})
    tuned = evaluate(TableStudent(tasks, right), tasks, EvalConfig(), executor, store=demo,
                     meta={"round": 1, "model": "table", "adapter": "runs/r1"})
    report = analyse(demo)
    samples = report.eval_samples
    assert len(samples) == 3 * 2 + 3 and set(samples["run_id"]) == {base.run_id, tuned.run_id}

    changes = frames.task_changes(samples).set_index("task_id")
    assert changes.loc[tasks[0].task_id, "change"] == "still fails"
    assert changes.loc[tasks[1].task_id, "change"] == "fail → pass"
    assert changes.loc[tasks[2].task_id, "error_before"] == "IndexError"
    assert changes.loc[tasks[2].task_id, "error_after"] == PASSED

    mix = frames.error_mix(samples).set_index(["run_id", "error_type"])["share"]
    assert mix[(tuned.run_id, PASSED)] == pytest.approx(2 / 3)
    assert mix[(base.run_id, "IndexError")] == pytest.approx(1 / 3)

    repair = frames.repair_effect(samples).set_index("error_type")
    assert list(repair["run_id"].unique()) == [base.run_id]   # only runs with repair steps
    assert repair.loc["IndexError", "fixed"] == 1 and repair.loc["IndexError", "fixed_at"] \
        == "step 1: 1"
    assert repair["still_failing"].sum() == 0

    # A real model evaluated on a simulated session's tasks: real charts, and a note.
    figures = report.figures()
    assert "SIMULATED" not in figures["task_changes"].layout.title.text
    assert any("real model" in note for note in report.notes)
    stacked = {trace.name: sum(trace.y) for trace in figures["task_changes"].data}
    assert stacked["fail → pass"] == 2 and stacked["still fails"] == 1
