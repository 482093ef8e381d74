"""`--prompt-style paper`: training rows in the release's own prompts. The five shipped rows
of the release, imported and exported again, come out byte for byte as the release wrote
them; a record collected here is worded the same way (the error as AssertionError with
INPUT / OUTPUT / EXPECTED lines); an edit replaces the release's completion."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from persd.cli import cli
from persd.data import DataError, build_examples
from persd.execution import Executor
from persd.importing.rectify import paper_parts
from persd.prompts import paper_refine_prompt
from persd.store import SessionStore
from persd.paper_style import paper_cut, paper_task_prompt, task_header
from persd.student.base import finish
from persd.tasks import Task, load_tasks
from persd.train.config import TrainConfig, TrainError

RELEASE = Path(__file__).parent / "data" / "persdistill" / "rectify_sample.jsonl"
ADD = Task("t/add", 'def add(a, b):\n    """The sum of a and b."""\n', "add",
           "def check(f):\n    assert f(2, 3) == 5\n\ncheck(add)\n", "", "def add(a, b):\n    return a + b\n",
           "test")


def release_rows() -> list[dict]:
    return [json.loads(line) for line in RELEASE.read_text().splitlines()]


def test_the_shipped_rows_come_out_byte_for_byte(tmp_path):
    runner = CliRunner()
    imported = runner.invoke(cli, ["import", "--session", "r", "--sessions-dir", str(tmp_path), str(RELEASE)])
    assert imported.exit_code == 0, imported.output
    exported = runner.invoke(cli, ["export", "--session", "r", "--sessions-dir", str(tmp_path),
                                   "--variant", "persd-refine", "--selection", "all",
                                   "--prompt-style", "paper", "--output", str(tmp_path / "paper.jsonl")])
    assert exported.exit_code == 0, exported.output
    rows = [json.loads(line) for line in (tmp_path / "paper.jsonl").read_text().splitlines()]
    assert [(r["prompt"], r["completion"]) for r in rows] == [
        (r["finetuning_prompt"], r["finetuning_completion"]) for r in release_rows()]
    assert {r["prompt_style"] for r in rows} == {"paper"}
    persd_rows = build_examples(SessionStore.open(tmp_path, "r"), "persd-refine", selection="all")
    assert not any(r["prompt"].startswith("Rectify") for r in persd_rows)  # the default is persd's


def test_the_template_is_the_releases_character_for_character():
    for row in release_rows():
        parts = paper_parts(row["finetuning_prompt"], row["finetuning_completion"])
        assert parts is not None
        assert paper_refine_prompt(parts["task"], parts["code"], parts["error"], parts["header"]) \
            == row["finetuning_prompt"]
    changed = release_rows()[0]["finetuning_prompt"].replace("Rectify the below code", "Fix the code")
    assert paper_parts(changed, "") is None


def test_a_collected_record_is_worded_as_the_release_words_it(tmp_path):
    with SessionStore.open(tmp_path, "s", create=True) as store, Executor(workers=1) as executor:
        store.tasks.add([ADD])
        attempt = store.attempts.add(ADD.task_id, 0, model="student", prompt=ADD.prompt,
                                    completion="    return a * b\n", program=ADD.prompt + "    return a * b\n")
        store.executions.add("attempt", attempt.id, executor.run(attempt.program, ADD.test))
        fixed = ADD.prompt + "    return a + b\n"
        store.refinements.add("persd", teacher_model="t", program=fixed, validated=True,
                             attempt_id=attempt.id, execution=executor.run(fixed, ADD.test))
        (refine,) = build_examples(store, "persd-refine", prompt_style="paper")
        (task_row,) = build_examples(store, "persd", prompt_style="paper")
    assert refine["prompt"] == (
        "Rectify the below code for the given task based on the errors obtained in the unit tests. "
        '\n\nTASK: \n"""\nWrite a python function for the following task.\nThe sum of a and b.\n"""\n'
        '    return a * b\n\n\nERROR: \nAssertionError\nINPUT: (2, 3)\nOUTPUT: 6\nEXPECTED: 5\n\n'
        '"""\nWrite a python function for the following task.\nThe sum of a and b.\n"""\ndef add(a, b):\n')
    assert refine["completion"] == "    return a + b\n"
    # a task shaped like HumanEval's (its description in the function's docstring) is asked
    # as the release asks HumanEval's
    assert task_row["prompt"] + task_row["completion"] == \
        '"""\nWrite a python function for the following task.\nThe sum of a and b.\n"""\n' \
        'def add(a, b):\n    return a + b\n'


def test_an_edit_replaces_the_releases_completion_and_a_bad_style_is_refused(tmp_path):
    runner = CliRunner()
    runner.invoke(cli, ["import", "--session", "r", "--sessions-dir", str(tmp_path), str(RELEASE)])
    with SessionStore.open(tmp_path, "r") as store:
        refinement = store.refinements.list(task_id="3398")[0]
        edited = refinement.program.replace("return (x * (x-1)) // 2", "return x * (x - 1) // 2")
        store.reviews.set(refinement.id, "edited", reviewer="ann", expected_version=0,
                         edited_program=edited)
        rows = {r["task_id"]: r for r in build_examples(store, "persd-refine", selection="approved",
                                                           prompt_style="paper")}
        assert rows["3398"]["completion"].strip() == "return x * (x - 1) // 2"
        assert rows["3398"]["prompt"] == release_rows()[1]["finetuning_prompt"]
        with pytest.raises(DataError, match="prompt style"):
            build_examples(store, "persd", prompt_style="alpaca")
    with pytest.raises(TrainError, match="prompt_style must be one of persd, paper"):
        TrainConfig.from_dict({"student": "m", "output_dir": "o", "prompt_style": "alpaca"})


# The release's MBPP task prompt (code/create_mbpp_finetuning_data_from_chatgpt_refinements.py
# and code/generate_code_for_mbpp.py, `format_prompt`, with its default of one example):
# '"""\n' + text + '\n\n>>> Example: ' + the first test after "assert ", every "==" made "=",
# + '\n"""\n\n' + the reference's code up to the end of its `def` line + '\n'. Written out by
# hand for three of MBPP's own rows (tests/data/tasks/mbpp_real_sample.jsonl, unchanged).
MBPP_SAMPLE = Path(__file__).parent / "data" / "tasks" / "mbpp_real_sample.jsonl"
RELEASE_MBPP_PROMPTS = {
    "MBPP/2": '"""\nWrite a function to find the similar elements from the given two tuple lists.\n\n'
              '>>> Example: similar_elements((3, 4, 5, 6),(5, 7, 4, 10)) = (4, 5)\n"""\n\n'
              'def similar_elements(test_tup1, test_tup2):\n',
    # "==" with no spaces stays "=" with none; the test's trailing space is kept
    "MBPP/51": '"""\nWrite a function to print check if the triangle is equilateral or not.\n\n'
               '>>> Example: check_equilateral(6,8,12)=False \n"""\n\ndef check_equilateral(x,y,z):\n',
    # the code above the def (here an import) is part of the prompt; MBPP writes it with
    # CRLF line ends, which persd reads as LF (the one difference; PAPER.md)
    "MBPP/3": '"""\nWrite a python function to identify non-prime numbers.\n\n'
              '>>> Example: is_not_prime(2) = False\n"""\n\nimport math\r\ndef is_not_prime(n):\n',
}


def test_mbpp_task_prompts_are_the_releases_byte_for_byte():
    tasks = {task.task_id: task for task in load_tasks(str(MBPP_SAMPLE))}
    for task_id, release in RELEASE_MBPP_PROMPTS.items():
        assert paper_task_prompt(tasks[task_id]) == release.replace("\r\n", "\n"), task_id
    assert "\r\n" not in RELEASE_MBPP_PROMPTS["MBPP/2"] + RELEASE_MBPP_PROMPTS["MBPP/51"]  # byte for byte there


def test_a_humaneval_header_runs_to_the_colon_that_ends_its_signature():
    task = load_tasks("humaneval")[0]
    assert paper_task_prompt(task).endswith(
        '"""\nfrom typing import List\n\n\n'
        'def has_close_elements(numbers: List[float], threshold: float) -> bool:\n')


# The release's HumanEval prompt (its generate_code_for_humaneval.py `format_prompt`): '"""\n'
# + "Write a python function for the following task.\n" + the text of every docstring as
# written, joined by "\n" + '\n"""\n' + the code above the first docstring, stripped, + "\n".
# Written out by hand for two of HumanEval's tasks.
RELEASE_HUMANEVAL_PROMPTS = {
    "HumanEval/23": '"""\nWrite a python function for the following task.\n Return length of given '
                    "string\n    >>> strlen('')\n    0\n    >>> strlen('abc')\n    3\n    \n\"\"\"\n"
                    "def strlen(string: str) -> int:\n",
    "HumanEval/2": '"""\nWrite a python function for the following task.\n Given a positive '
                   "floating point number, it can be decomposed into\n    and integer part (largest "
                   "integer smaller than given number) and decimals\n    (leftover part always "
                   "smaller than 1).\n\n    Return the decimal part of the number.\n    >>> "
                   'truncate_number(3.5)\n    0.5\n    \n"""\ndef truncate_number(number: float) -> float:\n',
}


def test_humaneval_task_prompts_are_the_releases_byte_for_byte():
    tasks = {task.task_id: task for task in load_tasks("humaneval")}
    for task_id, release in RELEASE_HUMANEVAL_PROMPTS.items():
        assert paper_task_prompt(tasks[task_id]) == release, task_id


def test_every_humaneval_reference_passes_after_the_paper_prompt():
    """The release cuts the code at the first docstring (HumanEval/115 keeps its `import
    math` under the `def` line); where that leaves the function out (a helper or a constant
    first), persd keeps the code up to the function's `def` line, so that every task still
    asks for its own function (PAPER.md)."""
    programs, first_docstring_elsewhere = [], []
    for task in load_tasks("humaneval"):
        prompt = paper_task_prompt(task)
        if prompt.count('"""') > 2:
            first_docstring_elsewhere.append(task.task_id)
        assert task_header(task) in prompt.rpartition('"""')[2], task.task_id
        body = task.solution[len(task.prompt):]
        programs.append((prompt + paper_cut(finish(prompt, body)), task.test))
    assert first_docstring_elsewhere == ["HumanEval/10", "HumanEval/32", "HumanEval/38",
                                         "HumanEval/50", "HumanEval/64"]
    with Executor(workers=2) as executor:
        results = executor.run_many(programs)
    assert [r.status for r in results] == ["passed"] * len(programs)
