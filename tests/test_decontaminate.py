"""Decontamination: planted HumanEval tasks are found, the example pool is clean."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from persd.cli import cli
from persd.tasks.decontaminate import contamination_warning, overlaps, signature
from persd.execution import Executor
from persd.tasks import load_tasks

POOL = Path(__file__).resolve().parents[1] / "assets" / "tasks" / "example_pool.jsonl"


@pytest.fixture(scope="module")
def humaneval():
    return load_tasks("humaneval")


@pytest.fixture(scope="module")
def pool():
    return load_tasks(str(POOL))


def _row(task_id: str, text: str, code: str, test: str) -> dict:
    return {"task_id": task_id, "text": text, "code": code, "test_list": [test]}


def _description(task) -> str:
    return task.prompt.split('"""')[1].split(">>>")[0].strip()


def planted_rows(humaneval) -> list[dict]:
    """HumanEval tasks hidden in a training pool: verbatim, lightly edited, same signature."""
    by_id = {t.task_id: t for t in humaneval}
    verbatim = by_id["HumanEval/0"]
    edited = by_id["HumanEval/12"]  # longest: renamed, reworded, reformatted
    code = edited.solution.replace("Out of list of strings, return the longest one.",
                                   "Given some strings, give back the one with most characters.")
    assert code != edited.solution
    code = re.sub(r"\blongest\b", "longest_string", code)
    code = code.replace("    ", "  ").replace("maxlen", "best_len")
    return [
        _row("planted/verbatim", _description(verbatim), verbatim.solution, verbatim.test),
        _row("planted/edited", "Given some strings, give back the one with most characters.", code,
             "assert longest_string(['a', 'bb']) == 'bb'"),
        _row("planted/signature", "Count the characters of a text by walking it.",
             "def strlen(string):\n    n = 0\n    for _ in string:\n        n += 1\n    return n\n",
             "assert strlen('abc') == 3"),
    ]


@pytest.fixture
def mixed_pool(tmp_path, humaneval) -> Path:
    lines = POOL.read_text().splitlines()
    planted = [json.dumps(r) for r in planted_rows(humaneval)]
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join(lines[:10] + planted[:2] + lines[10:] + planted[2:]) + "\n")
    return path


def test_example_pool_is_a_real_task_set(pool):
    assert len(pool) >= 36
    assert len({t.entry_point for t in pool}) == len(pool)
    assert all(t.test.count("assert") >= 3 for t in pool)
    with Executor(workers=2) as executor:
        results = executor.run_many([(t.solution, t.test) for t in pool])
        assert all(r.passed for r in results), [r.feedback for r in results if not r.passed]
        # the tests are not vacuous: a stub that returns None fails every task
        stubs = executor.run_many([(t.prompt + "    return None\n", t.test) for t in pool])
        assert not any(r.passed for r in stubs)


def test_example_pool_is_clean_against_humaneval(pool, humaneval):
    assert overlaps(pool, humaneval) == []
    assert overlaps(pool, humaneval, ngram=8) == []
    assert contamination_warning(pool, "humaneval") is None


def test_planted_humaneval_tasks_are_found(mixed_pool, humaneval):
    train = load_tasks(str(mixed_pool))
    found = {o.train_id: o for o in overlaps(train, humaneval)}
    assert set(found) == {"planted/verbatim", "planted/edited", "planted/signature"}
    assert (found["planted/verbatim"].eval_id, found["planted/verbatim"].reason) == \
        ("HumanEval/0", "ngram+signature")
    assert found["planted/verbatim"].score == 1.0
    assert (found["planted/edited"].eval_id, found["planted/edited"].reason) == \
        ("HumanEval/12", "ngram")
    assert 0.2 < found["planted/edited"].score < 1.0
    assert (found["planted/signature"].eval_id, found["planted/signature"].reason) == \
        ("HumanEval/23", "signature")
    assert found["planted/signature"].shared == 0

    warning = contamination_warning(train, "humaneval")
    assert warning.startswith(f"3 of {len(train)} training tasks overlap the evaluation set "
                              "humaneval")


def test_signature_ignores_types_defaults_and_layout(humaneval):
    assert signature(humaneval[0]) == ("has_close_elements", ("numbers", "threshold"))


def test_mbpp_eval_set_and_cli_drop(tmp_path, mixed_pool, pool):
    mbpp = tmp_path / "mbpp.jsonl"
    copied = json.loads(POOL.read_text().splitlines()[4])  # pretend it is an eval task
    mbpp.write_text(json.dumps({**copied, "task_id": 901}) + "\n")
    clean, report = tmp_path / "clean.jsonl", tmp_path / "pairs.json"
    result = CliRunner().invoke(cli, [
        "decontaminate", "--tasks", str(mixed_pool), "--against", f"humaneval,mbpp:{mbpp}",
        "--drop", str(clean), "--json", str(report)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"4 of {len(pool) + 3} training tasks overlap humaneval,mbpp:")
    assert f"{copied['task_id']} ~ MBPP/901  score 1.00" in result.output
    assert f"Wrote {len(pool) - 1} of {len(pool) + 3} tasks" in result.output
    kept = load_tasks(str(clean))
    assert [t.task_id for t in kept] == [t.task_id for t in pool if t.task_id != copied["task_id"]]
    pairs = json.loads(report.read_text())
    assert {p["train_id"] for p in pairs} == {"planted/verbatim", "planted/edited",
                                              "planted/signature", copied["task_id"]}

    result = CliRunner().invoke(cli, ["decontaminate", "--tasks", str(tmp_path / "none.jsonl")])
    assert result.exit_code == 1 and "none.jsonl: file does not exist" in result.output
