"""`--prompt-style paper` at inference (real sandbox, real SQLite, a scripted student): the
student is asked with the release's task prompt, its output cut at the first top-level
line, and repaired with the release's "Rectify the below code" prompt, the error worded
as AssertionError / INPUT / OUTPUT / EXPECTED. `--feedback-tests hidden` repairs from the
hidden tests only when asked, with a warning; eval-compare keeps styles apart."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from persd.cli import cli
from persd.evaluate import EvalConfig, eval_runs_table, evaluate
from persd.execution import Executor
from persd.paper_style import paper_task_prompt
from persd.store import SessionStore
from persd.tasks import load_tasks

MBPP = Path(__file__).parent / "data" / "tasks" / "mbpp_real_sample.jsonl"
RIGHT = "    return tuple(set(test_tup1) & set(test_tup2))\n"
# passes MBPP 2's first (visible) assert only: (4, 5) for the first tuples, () otherwise
FIRST_ONLY = "    return (4, 5) if 6 in test_tup1 else ()\n"


class Student:
    """Answers attempts and repairs from two lists; records every prompt it was given."""

    def __init__(self, attempt: str, repair: str) -> None:
        self.attempt, self.repair, self.prompts = attempt, repair, []

    def complete(self, prompts, n=None, **sampling):
        self.prompts += prompts
        return [[self.repair if p.startswith("Rectify") else self.attempt] * (n or 1) for p in prompts]


@pytest.fixture(scope="module")
def task():
    return {t.task_id: t for t in load_tasks(str(MBPP))}["MBPP/2"]


@pytest.fixture(scope="module")
def executor():
    with Executor(workers=2) as ex:
        yield ex


def test_the_paper_style_asks_cuts_and_repairs_as_the_release(task, executor, tmp_path):
    chatter = "    return test_tup1\nprint(similar_elements((1,), (1,)))\nassert True\n"
    student = Student(chatter, RIGHT + "\n\nsimilar_elements((1, 2), (2, 3))\n")
    with SessionStore.open(tmp_path, "s", create=True) as store:
        report = evaluate(student, [task], EvalConfig(refine_steps=1, prompt_style="paper"),
                          executor, store=store)
        (run,) = store.runs.list(kind="eval")
    attempt_prompt, repair_prompt = student.prompts
    assert attempt_prompt == paper_task_prompt(task)
    assert attempt_prompt.startswith('"""\nWrite a function to find the similar elements')
    assert ">>> Example: similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) = (4, 5)" in attempt_prompt
    first, repaired = report.samples
    assert first.program == attempt_prompt + "    return test_tup1\n"  # cut at the print
    assert repair_prompt.startswith("Rectify the below code for the given task based on the "
                                    "errors obtained in the unit tests. \n\nTASK: \n\"\"\"\nWrite")
    assert ("\n    return test_tup1\n\n\nERROR: \nAssertionError\n"
            "INPUT: ((3, 4, 5, 6),(5, 7, 4, 10))\nOUTPUT: (3, 4, 5, 6)\nEXPECTED: (4, 5)\n\n") in repair_prompt
    assert repair_prompt.endswith('"""\ndef similar_elements(test_tup1, test_tup2):\n')
    assert repaired.program == attempt_prompt + RIGHT and repaired.passed
    assert [report.pass_at(1, step=s) for s in (0, 1)] == [0.0, 1.0]
    assert run.config["eval"]["prompt_style"] == "paper"


def test_hidden_feedback_only_when_asked(task, executor):
    visible = evaluate(Student(FIRST_ONLY, RIGHT), [task], EvalConfig(refine_steps=1), executor)
    assert [visible.pass_at(1, step=s) for s in (0, 1)] == [0.0, 0.0]  # the visible test passed
    student = Student(FIRST_ONLY, RIGHT)
    hidden = evaluate(student, [task], EvalConfig(refine_steps=1, feedback_tests="hidden",
                                                  prompt_style="paper"), executor)
    assert [hidden.pass_at(1, step=s) for s in (0, 1)] == [0.0, 1.0]
    assert "INPUT: ((1, 2, 3, 4),(5, 4, 3, 7))" in student.prompts[1]  # a hidden assert's input
    with pytest.raises(ValueError, match="feedback tests"):
        EvalConfig(feedback_tests="some")


def test_the_cli_warns_that_hidden_feedback_leaks(tmp_path):
    result = CliRunner().invoke(cli, ["eval", "--student", str(tmp_path / "no-model"), "--tasks",
                                      str(MBPP), "--limit", "1", "--feedback-tests", "hidden"])
    assert "Warning: --feedback-tests hidden" in result.output and "leak" in result.output
    quiet = CliRunner().invoke(cli, ["eval", "--student", str(tmp_path / "no-model"), "--tasks",
                                     str(MBPP), "--limit", "1"])
    assert "Warning" not in quiet.output


def test_eval_compare_keeps_prompt_styles_apart(tmp_path):
    result = {"tasks": ["a"], "steps": [{"pass_at_k": {"pass@1": 0.5}}]}
    with SessionStore.open(tmp_path, "s", create=True) as store:
        for style in ("persd", "paper"):
            run = store.runs.add("eval", {"round": 0, "eval": EvalConfig(prompt_style=style).to_dict()})
            store.runs.update(run, status="finished", result=result)
        table = eval_runs_table(store)
    assert "prompted in different styles (paper, persd)" in table
    assert "protocol: strict · prompt style: paper" in table and "prompt style: persd" in table


def test_collect_records_its_prompt_style():
    from persd.collect.config import CollectConfig

    config = CollectConfig(session="s", teacher_model="t", student="m", prompt_style="paper")
    assert config.round_settings()["prompt_style"] == "paper"
    with pytest.raises(ValueError, match="prompt_style must be one of persd, paper"):
        CollectConfig(session="s", teacher_model="t", student="m", prompt_style="alpaca")


def test_the_papers_mbpp_evaluation_subset_is_a_named_task_source(tmp_path):
    from persd.tasks import TaskFileError
    from persd.tasks.paper_subset import PAPER_MBPP_IDS

    kept = [t.task_id for t in load_tasks(f"mbpp-paper:{MBPP}")]
    assert kept == ["MBPP/2", "MBPP/3", "MBPP/6", "MBPP/11", "MBPP/18", "MBPP/56", "MBPP/223",
                    "MBPP/264", "MBPP/580"]  # of the sample's 20: 1, 51, 148, 159, 327, ... are not scored
    assert len(PAPER_MBPP_IDS) == 307 and min(PAPER_MBPP_IDS) == 2 and max(PAPER_MBPP_IDS) == 600
    outside = tmp_path / "outside.jsonl"
    outside.write_text("".join(line + "\n" for line in MBPP.read_text().splitlines()
                               if '"task_id": 1,' in line or '"task_id": 927' in line))
    with pytest.raises(TaskFileError, match="evaluation subset"):
        load_tasks(f"mbpp-paper:{outside}")


def test_the_live_demo_asks_in_the_paper_style_when_told(task, executor):
    from persd.demo.live import LiveRepair, ModelBackend

    student = Student("    return test_tup1\n", RIGHT)
    live = LiveRepair(task, ModelBackend(student, prompt_style="paper"), executor, max_steps=1)
    first, repaired = live.next_step(), live.next_step()
    assert first.prompt == paper_task_prompt(task) == student.prompts[0]
    assert repaired.prompt == student.prompts[1] and repaired.prompt.startswith("Rectify the below code")
    assert "ERROR: \nAssertionError\nINPUT: ((3, 4, 5, 6),(5, 7, 4, 10))" in repaired.prompt
    assert repaired.visible.passed and live.outcome == "the visible tests pass after 1 repair step"
