"""persd.studies on real sessions (the simulated demo, SQLite, the sandbox): blind pairs and
their sides, assignment with overlap, agreement against hand-computed values, the report,
the CLI, and (slow) the error-type ablation on the tiny model."""

from __future__ import annotations

import re
import shutil

import pytest
from click.testing import CliRunner

from persd.cli import cli
from persd.store import SessionStore, StoreError
from persd.studies import (
    Ratings, StudyError, agreement, create_study, judge, left_slot, pair_view, plan_assignments,
    progress, study_ratings,
)
from persd.studies.agreement import cohen_kappa, fleiss_kappa, krippendorff_alpha
from persd.studies.report import item_outcomes, judgments_frame, win_rates


def add_direct_solutions(store) -> int:
    """The teacher's direct solution ("stand") of every task that has a refinement: the
    task's reference program, as a StanD collection with a perfect teacher would store it."""
    tasks = {r.task_id for r in store.refinements.list(method="persd")}
    for task_id in sorted(tasks):
        task = store.tasks.get(task_id)
        store.refinements.add("stand", task_id=task_id, round=0, teacher_model="direct-teacher",
                             program=task.solution, validated=True)
    return len(tasks)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    from persd.demo import build_demo_session

    path = build_demo_session(tmp_path_factory.mktemp("tpl"), limit=16)
    with SessionStore(path) as store:
        add_direct_solutions(store)
    return path


@pytest.fixture
def store(template, tmp_path):
    shutil.copy(template, tmp_path / "s.sqlite")
    with SessionStore.open(tmp_path, "s") as opened:
        yield opened


# ---------------------------------------------------------------- agreement, by hand

def test_cohens_kappa_of_two_reviewers_matches_the_hand_computed_value(store):
    # Ten records, ana and ben (review_events through the store):
    #                 ben approves  ben rejects
    #   ana approves       4             2
    #   ana rejects        1             3
    # p_o = 7/10; p_e = 0.6 * 0.5 + 0.4 * 0.5 = 0.5; kappa = (0.7 - 0.5) / 0.5 = 0.4
    pairs = [("approved", "approved")] * 4 + [("approved", "rejected")] * 2 + \
        [("rejected", "approved")] + [("rejected", "rejected")] * 3
    ids = [r.id for r in store.refinements.list()][:10]
    study = create_study(store, "audit", owner="lea", reviewers=["ana", "ben"], overlap=2,
                         kind="review")
    for refinement_id, (first, second) in zip(ids, pairs):
        for reviewer, status in (("ana", first), ("ben", second)):
            store.reviews.set(refinement_id, status, reviewer=reviewer,
                             expected_version=store.reviews.get(refinement_id).version)
    ratings = study_ratings(store, study)
    assert cohen_kappa(ratings, "ana", "ben") == pytest.approx(0.4)
    summary = agreement(ratings)
    assert summary.cohen == {("ana", "ben"): pytest.approx(0.4)}
    assert summary.items == 10 and len(summary.disagreements) == 3
    # An undone decision no longer counts; a skip is no decision.
    extra = [r.id for r in store.refinements.list()][10:12]
    store.reviews.set(extra[0], "approved", reviewer="ana", expected_version=0)
    store.reviews.undo_last("ana")
    store.reviews.set(extra[1], "skipped", reviewer="ana", expected_version=0)
    ratings = study_ratings(store, study)
    assert len(ratings.by_item) == 10 and ratings.seconds["ana"]
    # Progress counts decisions in force from the audit trail.
    assert {p.reviewer: p.done for p in progress(store, study)} == {"ana": 10, "ben": 10}


def test_fleiss_kappa_and_krippendorff_alpha_match_the_hand_computed_values():
    # Three raters, four items (approve, reject counts): (3,0) (0,3) (2,1) (1,2).
    # Fleiss: P_i = 1, 1, 1/3, 1/3 -> mean 2/3; p_e = 0.5^2 + 0.5^2 = 0.5; kappa = 1/3.
    # Krippendorff (nominal): o_AA = o_RR = 4, o_AR = o_RA = 2, n = 12; D_o = 4/12,
    # D_e = 2 * 6 * 6 / (12 * 11) = 6/11; alpha = 1 - (1/3) / (6/11) = 7/18.
    a, r = "approved", "rejected"
    rows = [(a, a, a), (r, r, r), (a, a, r), (a, r, r)]
    ratings = Ratings(("approved", "rejected"), by_item={
        n: dict(zip(("x", "y", "z"), row)) for n, row in enumerate(rows)})
    assert fleiss_kappa(ratings) == (pytest.approx(1 / 3), 4)
    assert krippendorff_alpha(ratings) == pytest.approx(7 / 18)
    figures = {f.reviewer: f for f in agreement(ratings).reviewers}
    # The others (x, y) have a majority on items 0-2 (a/a, r/r, a/a), none on item 3 (a/r);
    # z sides with it on items 0 and 1, not on item 2.
    assert figures["z"].with_others == 3 and figures["z"].agree_with_majority == pytest.approx(2 / 3)
    # Undefined statistics are None, not NaN.
    same = Ratings(("a", "b", "tie"), by_item={1: {"x": "a", "y": "a"}, 2: {"x": "a", "y": "a"}})
    assert krippendorff_alpha(same) is None and cohen_kappa(same, "x", "y") is None


# ---------------------------------------------------------------- assignment

def test_overlap_gives_each_item_k_distinct_reviewers_with_balanced_loads(store):
    plan = plan_assignments(list(range(10)), ["ana", "ben", "cy"], 2)
    assert all(len(set(names)) == 2 for names in plan.values())
    loads = [sum(name in names for names in plan.values()) for name in ("ana", "ben", "cy")]
    assert max(loads) - min(loads) <= 1 and sum(loads) == 20
    with pytest.raises(StudyError, match="overlap 3 needs at least 3 reviewers"):
        plan_assignments([1], ["ana", "ben"], 3)

    study = create_study(store, "help", owner="lea", reviewers=["ana", "ben", "cy"], overlap=2)
    assigned = store.studies.assignments(study.id)
    assert assigned and all(len(set(names)) == 2 for names in assigned.values())
    first = store.studies.reviewer_queue(study.id, "cy")[0]
    judge(store, pair_view(store, study, first, "cy"), "tie")
    with pytest.raises(StoreError, match="only the owner"):
        store.studies.reassign(study.id, "cy", "ana", by="ana")
    moved, kept = store.studies.reassign(study.id, "cy", "dan", by="lea")
    # cy keeps the item already decided; the rest go to dan.
    assert first not in moved and len(moved) == len(
        [i for i, names in assigned.items() if "cy" in names]) - 1 and not kept
    assert store.studies.reviewer_queue(study.id, "cy") == [] and store.studies.reviewer_queue(study.id, "dan") == moved
    with pytest.raises(StoreError, match="assigned to"):
        store.studies.add_judgment(moved[0], "cy", "a", left_slot="a")


# ---------------------------------------------------------------- blind pairs

def test_a_pair_is_blind_and_its_sides_are_fixed_per_reviewer(store):
    study = create_study(store, "blind", owner="lea", reviewers=["ana", "ben"], overlap=2)
    items = store.studies.items(study.id)
    assert all(store.refinements.get(i.candidate_a).method == "persd" and
               store.refinements.get(i.candidate_b).method == "stand" for i in items)
    sides = {(i.id, who): left_slot(0, i.id, who) for i in items for who in ("ana", "ben")}
    assert set(sides.values()) == {"a", "b"}  # both sides occur
    assert any(sides[(i.id, "ana")] != sides[(i.id, "ben")] for i in items)
    for item in items:
        view = pair_view(store, study, item.id, "ana")
        assert view.left_slot == sides[(item.id, "ana")] == pair_view(
            store, study, item.id, "ana").left_slot
        slots = {"a": item.candidate_a, "b": item.candidate_b}
        right = "b" if view.left_slot == "a" else "a"
        assert view.left_program == store.refinements.get(slots[view.left_slot]).program
        assert view.right_program == store.refinements.get(slots[right]).program
        for html in (view.left_diff_html, view.right_diff_html):
            text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", html, flags=re.S)
            assert "direct-teacher" not in text and "stand" not in text and "persd" not in text
    # Ana picks the left side every time: stored as the hidden slot shown there, with time.
    for item in items:
        judgment = judge(store, pair_view(store, study, item.id, "ana"), "left", reason="clearer")
        assert judgment.choice == judgment.left_slot == sides[(item.id, "ana")]
        assert judgment.duration_s >= 0 and judgment.reason == "clearer"
    assert store.studies.reviewer_queue(study.id, "ana") == []
    assert pair_view(store, study, items[0].id, "ana").previous_choice == "left"


def test_study_setup_errors_are_clear(store):
    with pytest.raises(StudyError, match="no task has both"):
        create_study(store, "x", owner="lea", reviewers=["ana"], sources=("persd", "inpd"))
    with pytest.raises(StudyError, match="method must be one of"):
        create_study(store, "x", owner="lea", reviewers=["ana"], sources=("persd", "teacher"))
    create_study(store, "x", owner="lea", reviewers=["ana"])
    with pytest.raises(StoreError, match="already has a study named 'x'"):
        create_study(store, "x", owner="lea", reviewers=["ana"])


# ---------------------------------------------------------------- report and CLI

def test_report_win_rate_with_wilson_interval_adjudication_and_export(store, tmp_path):
    from statsmodels.stats.proportion import proportion_confint

    study = create_study(store, "r", owner="lea", reviewers=["ana", "ben"], overlap=2, limit=6)
    items = [i.id for i in store.studies.items(study.id)]
    # Items 0-3: both prefer the personalised refinement (a); item 4: both b; item 5: split.
    plan = {0: "aa", 1: "aa", 2: "aa", 3: "aa", 4: "bb", 5: "ab"}
    for n, item in enumerate(items):
        for reviewer, choice in zip(("ana", "ben"), plan[n]):
            store.studies.add_judgment(item, reviewer, choice, left_slot="a", duration_s=3.0)
    summary = agreement(study_ratings(store, study))
    assert summary.disagreements == [items[5]]
    frame = judgments_frame(store, study)
    table = win_rates(item_outcomes(frame, store.studies.adjudications(study.id)), study)
    assert table.iloc[0][["wins", "losses", "ties"]].tolist() == [4, 1, 1]
    store.studies.adjudicate(items[5], "a", adjudicator="lea")
    table = win_rates(item_outcomes(frame, store.studies.adjudications(study.id)), study)
    low, high = proportion_confint(5, 6, method="wilson")
    assert table.iloc[0]["win_rate"] == pytest.approx(5 / 6)
    assert (table.iloc[0]["ci_low"], table.iloc[0]["ci_high"]) == (pytest.approx(low), pytest.approx(high))
    assert agreement(study_ratings(store, study)).disagreements == []
    # The individual judgments are untouched by the adjudication.
    assert sorted(j.choice for j in store.studies.judgments(study.id) if j.item_id == items[5]) == ["a", "b"]
    by_error = win_rates(item_outcomes(frame, store.studies.adjudications(study.id)), study, "error_type")
    assert by_error["items"].sum() == 6

    runner = CliRunner()
    base = ["--session", "s", "--sessions-dir", str(store.path.parent)]
    out = runner.invoke(cli, ["study", "report", *base, "--study", "r", "--export",
                              str(tmp_path / "j.csv")])
    assert out.exit_code == 0, out.output
    import pandas as pd

    exported = pd.read_csv(tmp_path / "j.csv")
    assert len(exported) == 12 and {"reviewer", "left_slot", "picked_side", "duration_s",
                                    "chosen_source", "adjudicated"} <= set(exported.columns)
    status = runner.invoke(cli, ["study", "status", *base, "--study", "r"])
    assert status.exit_code == 0 and "Cohen's kappa ana / ben" in status.output
    refused = runner.invoke(cli, ["study", "adjudicate", *base, "--study", "r", "--item",
                                  str(items[0]), "--decision", "b", "--by", "ana"])
    assert refused.exit_code == 1 and "only the owner of study 'r' (lea)" in refused.output
    missing = runner.invoke(cli, ["study", "status", *base, "--study", "nope"])
    assert missing.exit_code == 1 and "no study 'nope'" in missing.output


def test_cli_creates_a_study_with_overlap(store):
    out = CliRunner().invoke(cli, [
        "study", "create", "--session", "s", "--sessions-dir", str(store.path.parent),
        "--name", "c", "--reviewers", "ana,ben,cy", "--overlap", "2", "--owner", "lea"])
    assert out.exit_code == 0, out.output
    study = store.studies.get("c")
    assert study.overlap == 2 and all(len(r) == 2 for r in store.studies.assignments(study.id).values())
    bad = CliRunner().invoke(cli, [
        "study", "create", "--session", "s", "--sessions-dir", str(store.path.parent),
        "--name", "d", "--reviewers", "ana", "--overlap", "2", "--owner", "lea"])
    assert bad.exit_code == 1 and "overlap 2 needs at least 2 reviewers" in bad.output


# ---------------------------------------------------------------- ablation (tiny model)

@pytest.mark.slow
def test_ablation_by_error_type_and_by_data_source_end_to_end(template, tmp_path, tiny_model_dir):
    import json

    sessions = tmp_path / "sessions"
    sessions.mkdir()
    for name in ("b", "a"):  # a: data personalised for another student (a copy here)
        shutil.copy(template, sessions / f"{name}.sqlite")
        with SessionStore.open(sessions, name) as opened:
            validated = [r.id for r in opened.refinements.list(method="persd", validated=True)]
            opened.reviews.bulk_set(validated, "approved", reviewer="lea")
    runner = CliRunner()
    common = ["--session", "b", "--student", tiny_model_dir, "--eval-tasks", "humaneval",
              "--eval-limit", "2", "--steps", "1", "--max-new-tokens", "8",
              "--sessions-dir", str(sessions)]
    out = runner.invoke(cli, ["ablate", "--by", "error-type", "--per-type", "2",
                              "--output", str(tmp_path / "by-type"), *common])
    assert out.exit_code == 0, out.output
    result = json.loads((tmp_path / "by-type" / "ablation.json").read_text())
    groups = {g["group"]: g for g in result["groups"]}
    # The demo's first 16 tasks: AssertionError and NameError have >= 2 approved examples,
    # TypeError has one and is left out, saying so.
    assert set(groups) == {"AssertionError", "NameError"} and result["skipped"] == {"TypeError": 1}
    assert all(g["examples"] == 2 and g["adapter"] and g["eval_run"] for g in groups.values())
    assert "left out (fewer than 2 examples): TypeError (1)" in out.output
    assert (tmp_path / "by-type" / "ablation.html").stat().st_size > 10_000
    with SessionStore.open(sessions, "b") as store:
        train_runs = store.runs.list(kind="train")
        assert [r.status for r in train_runs] == ["finished", "finished"]
        assert {r.config["max_steps"] for r in train_runs} == {1}

    out = runner.invoke(cli, ["ablate", "--by", "data-source", "--data-from-session", "a",
                              "--per-type", "3", "--output", str(tmp_path / "cross"), *common])
    assert out.exit_code == 0, out.output
    result = json.loads((tmp_path / "cross" / "ablation.json").read_text())
    assert [g["data_source"] for g in result["groups"]] == ["session:a", "session:b"]
    compare = runner.invoke(cli, ["eval-compare", "--session", "b", "--sessions-dir", str(sessions)])
    assert compare.exit_code == 0
    assert "| data" in compare.output and "session:a" in compare.output \
        and "session:b" in compare.output


def test_ablation_refuses_what_it_cannot_do(template, tmp_path):
    from persd.studies.ablate import AblateConfig, AblationError, ablation_groups

    shutil.copy(template, tmp_path / "b.sqlite")
    with pytest.raises(AblationError, match="give --data-from-session"):
        AblateConfig("b", "m", "humaneval", str(tmp_path), 1, 1, by="data-source")
    config = AblateConfig("b", "m", "humaneval", str(tmp_path), 1, 50)
    with pytest.raises(AblationError, match="no group has 50 approved examples"):
        ablation_groups(config, tmp_path)


def test_the_agreement_panel_names_disagreements_by_task():
    # Issue 25, defect 6: disagreements were listed by internal item ids only.
    from types import SimpleNamespace

    from persd_app.tabs.study_render import agreement as agreement_html

    summary = SimpleNamespace(items=3, alpha=0.5, fleiss=0.4, fleiss_items=3, cohen={},
                              reviewers=[], disagreements=[7, 9])
    html = agreement_html(summary, "pairwise", {7: "HumanEval/12", 9: "HumanEval/3"})
    assert "HumanEval/12 (item 7), HumanEval/3 (item 9)" in html
