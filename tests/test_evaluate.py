"""Evaluation: the pass@k estimator, the multi-step loop on real HumanEval tasks with a
scripted student (real executor, real SQLite), and `persd eval` on the tiny model."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from persd.cli import cli
from persd.evaluate import EvalConfig, evaluate, mean_pass_at_k, pass_at_k
from persd.execution import Executor
from persd.store import SessionStore
from persd.tasks import Task, load_tasks
from tests.fixtures_models import tiny_model_dir  # noqa: F401  (session fixture)


# ------------------------------------------------------------------------------ pass@k

@pytest.mark.parametrize("n, c, k, expected", [
    (5, 2, 1, 0.4), (5, 2, 2, 0.7), (10, 0, 1, 0.0), (10, 0, 10, 0.0), (10, 10, 1, 1.0),
    (10, 10, 10, 1.0), (3, 1, 2, 2 / 3), (3, 2, 2, 1.0), (1, 1, 1, 1.0), (1, 0, 1, 0.0),
])
def test_pass_at_k_hand_computed(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_pass_at_k_is_stable_for_large_n_and_rejects_bad_arguments():
    assert pass_at_k(200, 1, 100) == pytest.approx(0.5)  # C(199,100)/C(200,100) = 1/2
    for n, c, k in [(3, 1, 4), (3, 1, 0), (3, 4, 1), (3, -1, 1)]:
        with pytest.raises(ValueError):
            pass_at_k(n, c, k)
    assert mean_pass_at_k([(5, 2), (5, 0)], 1) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="empty"):
        mean_pass_at_k([], 1)


# ------------------------------------------------------------------------------ config

def test_config_presets_defaults_and_errors():
    paper = EvalConfig.paper()
    assert (paper.samples, paper.temperature, paper.top_p, paper.ks) == (20, 0.2, 0.95, (1, 10))
    assert EvalConfig().ks == (1,)
    assert EvalConfig.paper(refine_steps=2).refine_steps == 2
    assert EvalConfig.from_dict({"samples": 3, "ks": [2, 1]}).ks == (1, 2)
    with pytest.raises(ValueError, match=r"k=\[5\] with samples=2"):
        EvalConfig(samples=2, ks=(1, 5))
    with pytest.raises(ValueError, match="unknown preset 'nope'; known: paper"):
        EvalConfig.preset("nope")
    with pytest.raises(ValueError, match="unknown eval setting.*colour"):
        EvalConfig.from_dict({"colour": "red"})
    with pytest.raises(ValueError, match=r"samples=.20. \(expected int\)"):
        EvalConfig.from_dict({"samples": "20"})
    with pytest.raises(ValueError, match="refine_steps"):
        EvalConfig(refine_steps=-1)


# ------------------------------------------------------------------------------ the loop

class ScriptedStudent:
    """Answers from a table: (task_id, "attempt") -> bodies by sample index;
    (task_id, "refine") -> bodies by refinement step (the last one repeats).
    Records every call so tests can check batching and what reached a prompt."""

    name = "scripted"

    def __init__(self, tasks: list[Task], table: dict[tuple[str, str], list[str]]):
        self.tasks, self.table = tasks, table
        self.calls: list[tuple[list[str], int | None, dict]] = []

    def complete(self, prompts, n=None, **sampling):
        step = len(self.calls)  # call 0 is the attempt, call s the s-th refinement round
        self.calls.append((list(prompts), n, sampling))
        out = []
        for prompt in prompts:
            task = next(t for t in self.tasks if prompt.endswith(t.prompt))
            if prompt == task.prompt:
                bodies = self.table[(task.task_id, "attempt")]
                out.append([bodies[i % len(bodies)] for i in range(n or 1)])
            else:
                bodies = self.table[(task.task_id, "refine")]
                out.append([bodies[min(step - 1, len(bodies) - 1)]] * (n or 1))
        return out

    @property
    def prompts(self) -> list[str]:
        return [prompt for prompts, _, _ in self.calls for prompt in prompts]


@pytest.fixture(scope="module")
def humaneval() -> dict[str, Task]:
    return {t.task_id: t for t in load_tasks("humaneval")}


@pytest.fixture(scope="module")
def executor():
    with Executor(workers=2, timeout_s=3.0) as ex:
        yield ex


def body(task: Task) -> str:
    """The reference completion (HumanEval: solution = prompt + body)."""
    assert task.solution.startswith(task.prompt)
    return task.solution[len(task.prompt):]


WRONG = "    return True\n"
# Passes both docstring examples of HumanEval/0, fails its hidden tests.
GAMES_VISIBLE = "    return len(numbers) == 6\n"


def test_a_wrong_attempt_repaired_from_visible_feedback(humaneval, executor):
    task = humaneval["HumanEval/0"]
    student = ScriptedStudent([task], {(task.task_id, "attempt"): [WRONG],
                                       (task.task_id, "refine"): [body(task)]})
    report = evaluate(student, [task], EvalConfig(refine_steps=1), executor)

    assert [report.pass_at(1, step=s) for s in (0, 1)] == [0.0, 1.0]
    assert [(s.refined, s.fixed, s.broken) for s in report.steps] == [(0, 0, 0), (1, 1, 0)]
    first, repaired = report.samples
    assert first.visible.status == "failed" and not first.passed and repaired.refined
    assert repaired.program == task.prompt + body(task)
    refine_prompt = student.calls[1][0][0]
    assert "Test failed: assert has_close_elements([1.0, 2.0, 3.0], 0.5) == False" in refine_prompt
    assert "returned True" in refine_prompt and WRONG.strip() in refine_prompt


def test_passing_visible_tests_carries_forward_even_when_hidden_fail(humaneval, executor):
    task = humaneval["HumanEval/0"]
    student = ScriptedStudent([task], {(task.task_id, "attempt"): [GAMES_VISIBLE],
                                       (task.task_id, "refine"): [body(task)]})
    report = evaluate(student, [task], EvalConfig(refine_steps=2), executor)

    assert len(student.calls) == 1  # no refinement call at all
    assert [s.step for s in report.samples] == [0, 1, 2]
    assert {s.program for s in report.samples} == {task.prompt + GAMES_VISIBLE}
    assert all(s.visible.passed and not s.passed and not s.refined for s in report.samples)
    assert [s.pass_at_k[1] for s in report.steps] == [0.0, 0.0, 0.0]


def test_tasks_without_visible_tests_carry_forward(humaneval, executor):
    task = humaneval["HumanEval/38"]
    assert not task.visible_test.strip()
    student = ScriptedStudent([task], {(task.task_id, "attempt"): ["    return s\n"],
                                       (task.task_id, "refine"): [body(task)]})
    report = evaluate(student, [task], EvalConfig(samples=2, refine_steps=1), executor)

    assert len(student.calls) == 1
    assert report.without_visible_tests == ["HumanEval/38"]
    assert all(s.visible is None and not s.passed for s in report.samples)
    assert "1 task(s) without visible tests carried forward" in report.summary_table()


def test_multi_step_batches_scores_every_step_and_never_leaks_hidden_tests(humaneval, executor):
    tasks = [humaneval[i] for i in ("HumanEval/0", "HumanEval/2", "HumanEval/38")]
    h0, h2, h38 = tasks
    student = ScriptedStudent(tasks, {
        (h0.task_id, "attempt"): [body(h0), WRONG, WRONG], (h0.task_id, "refine"): [body(h0)],
        (h2.task_id, "attempt"): ["    return 0.0\n"],
        (h2.task_id, "refine"): ["    return -1.0\n", body(h2)],
        (h38.task_id, "attempt"): ["    return s\n"], (h38.task_id, "refine"): [body(h38)],
    })
    config = EvalConfig(samples=3, ks=(1, 2), refine_steps=2, temperature=0.7)
    report = evaluate(student, tasks, config, executor)

    # One batched call per step: 3 tasks x 3 samples, then 5 failing samples, then 3.
    assert [(len(prompts), n) for prompts, n, _ in student.calls] == [(3, 3), (5, 1), (3, 1)]
    assert all(sampling["temperature"] == 0.7 for _, _, sampling in student.calls)
    assert [s.pass_at_k[1] for s in report.steps] == pytest.approx([1 / 9, 1 / 3, 2 / 3])
    assert report.pass_at(2, step=0) == pytest.approx(pass_at_k(3, 1, 2) / 3)
    assert [(s.passed, s.refined, s.fixed, s.broken) for s in report.steps] == [
        (1, 0, 0, 0), (3, 5, 2, 0), (6, 3, 3, 0)]
    assert [t.passed_per_step for t in report.tasks] == [[1, 3, 3], [0, 0, 3], [0, 0, 0]]
    assert len(report.samples) == 3 * 3 * 3

    for task in tasks:
        visible = _assert_lines(task.visible_test, task.entry_point)
        hidden = _assert_lines(task.test, task.entry_point) - visible
        assert hidden, task.task_id
        leaked = [line for line in hidden for prompt in student.prompts if line in prompt]
        assert not leaked, f"hidden tests of {task.task_id} reached a prompt: {leaked[:3]}"
    # The control: the visible failure of HumanEval/2 did reach its refine prompts.
    shown = _assert_lines(h2.visible_test, h2.entry_point)
    assert any(line in prompt for line in shown for prompt in student.prompts)


def _assert_lines(test: str, entry_point: str) -> set[str]:
    """Each assert of a test source, as written and with `candidate` resolved to the
    function's name (the form the executor's feedback uses)."""
    lines = {line.strip() for line in test.splitlines() if line.strip().startswith("assert ")}
    return lines | {re.sub(r"\bcandidate\b", entry_point, line) for line in lines}


def test_a_refinement_can_break_a_sample(executor):
    # A task whose visible example is wrong: the correct attempt fails it and gets "fixed".
    task = Task(task_id="t/inc", prompt="def inc(x):\n", entry_point="inc",
                test="assert inc(1) == 2\nassert inc(5) == 6\n",
                visible_test="assert inc(1) == 3\n",
                solution="def inc(x):\n    return x + 1\n", source="test")
    student = ScriptedStudent([task], {(task.task_id, "attempt"): ["    return x + 1\n"],
                                       (task.task_id, "refine"): ["    return x + 2\n"]})
    report = evaluate(student, [task], EvalConfig(refine_steps=1), executor)
    assert [(s.pass_at_k[1], s.fixed, s.broken) for s in report.steps] == [(1.0, 0, 0), (0.0, 0, 1)]


def test_report_json_and_summary_table(humaneval, executor):
    task = humaneval["HumanEval/0"]
    student = ScriptedStudent([task], {(task.task_id, "attempt"): [WRONG, body(task)],
                                       (task.task_id, "refine"): [body(task)]})
    report = evaluate(student, [task], EvalConfig(samples=2, refine_steps=1), executor,
                      meta={"model": "scripted", "round": 0})
    data = json.loads(json.dumps(report.to_dict()))
    assert data["model"] == "scripted" and data["config"]["ks"] == [1]
    assert [s["pass_at_k"]["pass@1"] for s in data["steps"]] == [0.5, 1.0]
    assert data["tasks"][0]["pass_at_k"]["pass@1"] == [0.5, 1.0]
    first = data["samples"][0]
    assert {first["hidden_status"], first["visible_status"]} == {"failed"}
    assert "has_close_elements" in first["hidden_feedback"] and first["step"] == 0
    assert data["samples"][2]["refined"] and data["samples"][2]["passed"]

    table = report.summary_table().splitlines()
    assert re.fullmatch(r"step \| +pass@1 \| refined \| fixed \| broken", table[0])
    assert table[2].split() == ["0", "|", "0.5000", "|", "0", "|", "0", "|", "0"]
    assert table[3].split() == ["1", "|", "1.0000", "|", "1", "|", "1", "|", "0"]


def test_empty_task_set_is_an_error(executor):
    with pytest.raises(ValueError, match="no tasks to evaluate"):
        evaluate(ScriptedStudent([], {}), [], EvalConfig(), executor)


def test_session_records_the_run_and_every_sample_of_every_step(humaneval, executor, tmp_path):
    tasks = [humaneval["HumanEval/0"], humaneval["HumanEval/38"]]
    student = ScriptedStudent(tasks, {
        ("HumanEval/0", "attempt"): [WRONG], ("HumanEval/0", "refine"): [body(tasks[0])],
        ("HumanEval/38", "attempt"): ["    return s\n"], ("HumanEval/38", "refine"): ["x"],
    })
    with SessionStore.open(tmp_path, "s", create=True) as store:
        report = evaluate(student, tasks, EvalConfig(samples=2, refine_steps=1), executor,
                          store=store, meta={"adapter": "out/a", "round": 1})
        run = store.runs.get(report.run_id)
        samples = store.eval_samples.list(run.id)
        visible = [store.executions.latest_of("eval_sample", s.id, "visible") for s in samples]

    assert (run.kind, run.status, run.config["round"], run.config["eval"]["samples"]) == (
        "eval", "finished", 1, 2)
    assert [s["pass_at_k"]["pass@1"] for s in run.result["steps"]] == [0.0, 0.5]
    assert "samples" not in run.result  # they live in eval_samples
    assert len(samples) == 2 * 2 * 2
    got = {(s.task_id, s.sample_index, s.step): (s.passed, v and v.result.status)
           for s, v in zip(samples, visible)}
    assert got[("HumanEval/0", 1, 0)] == (False, "failed")
    assert got[("HumanEval/0", 1, 1)] == (True, "passed")
    assert got[("HumanEval/38", 0, 1)] == (False, None)


def test_a_failing_student_marks_the_run_failed(humaneval, executor, tmp_path):
    class Broken:
        def complete(self, prompts, n=None, **sampling):
            raise RuntimeError("out of memory")

    with SessionStore.open(tmp_path, "s", create=True) as store:
        with pytest.raises(RuntimeError):
            evaluate(Broken(), [humaneval["HumanEval/0"]], EvalConfig(), executor, store=store)
        (run,) = store.runs.list(kind="eval")
    assert run.status == "failed" and "out of memory" in run.result["error"]


# ------------------------------------------------------------------------------ CLI

def test_cli_rejects_bad_settings_before_loading_anything(tmp_path):
    runner = CliRunner()
    base = ["eval", "--student", str(tmp_path / "no-model"), "--tasks", "humaneval"]
    result = runner.invoke(cli, [*base, "--samples", "2", "--k", "5"])
    assert result.exit_code == 1 and "k=[5] with samples=2" in result.output
    result = runner.invoke(cli, [*base, "--preset", "nope"])
    assert result.exit_code == 1 and "unknown preset 'nope'" in result.output
    (tmp_path / "empty.jsonl").write_text("")
    empty = ["eval", "--student", "x", "--tasks", str(tmp_path / "empty.jsonl")]
    result = runner.invoke(cli, empty)
    assert result.exit_code == 1 and "empty" in result.output
    result = runner.invoke(cli, [*base, "--limit", "1"])
    assert result.exit_code == 1 and "no model at" in result.output


@pytest.mark.slow
def test_cli_end_to_end_on_the_tiny_model(tiny_model_dir, tmp_path):  # noqa: F811
    runner = CliRunner()
    out = tmp_path / "report.json"
    sessions = str(tmp_path / "sessions")
    result = runner.invoke(cli, [
        "eval", "--student", tiny_model_dir, "--tasks", "humaneval", "--limit", "2",
        "--samples", "2", "--refine-steps", "1", "--max-new-tokens", "12", "--seed", "0",
        "--workers", "2", "--json", str(out), "--session", "ev", "--sessions-dir", sessions,
    ])
    assert result.exit_code == 0, result.output
    assert re.search(r"^step \| pass@1 \| refined \| fixed \| broken$", result.output, re.M)
    data = json.loads(out.read_text())
    assert [s["step"] for s in data["steps"]] == [0, 1]
    assert len(data["samples"]) == 2 * 2 * 2 and data["round"] == 0
    assert data["task_spec"] == "humaneval" and len(data["tasks"]) == 2
    assert all(s["generate_s"] > 0 and s["execute_s"] > 0 for s in data["steps"])
    # Random weights fail every visible test, so every sample is refined once.
    assert data["steps"][1]["refined"] == 4
    with SessionStore.open(sessions, "ev") as store:
        (run,) = store.runs.list(kind="eval")
        assert len(store.eval_samples.list(run.id)) == 8 and run.config["model"] == tiny_model_dir

    compare = runner.invoke(cli, ["eval-compare", "--session", "ev", "--sessions-dir", sessions])
    assert compare.exit_code == 0, compare.output
    assert "pass@1 step 0" in compare.output and "pass@1 step 1" in compare.output
