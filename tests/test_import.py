"""`persd import`: every format into a real session, all or nothing, idempotent, re-run in the
real sandbox with --tasks; and `train --data` rows with a column mapping and file:line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from persd.cli import cli
from persd.data import build_examples, export
from persd.execution import Executor
from persd.importing import ImportFailed, import_file
from persd.store import SessionStore
from persd.tasks import load_tasks
from persd.train.config import TrainError
from persd.train.rows import load_data
from persd_app.tabs import review_render

RECTIFY = Path(__file__).parent / "data" / "persdistill" / "rectify_sample.jsonl"

ADD_PROMPT = 'def add(a, b):\n    """The sum of a and b."""\n'
TASKS = [
    {"task_id": "ALP/19", "entry_point": "elements_not_in_both", "canonical_solution":
     "    return set1 ^ set2\n", "prompt": 'def elements_not_in_both(set1, set2):\n    """In one '
     'set but not the other."""\n', "test": "def check(f):\n    assert f({1,2,3},{2,3,4}) == {1, 4}\n"},
    {"task_id": "ALP/3398", "entry_point": "f", "prompt": "def f(x):\n", "canonical_solution":
     "    return x * (x - 1) // 2\n", "test": "def check(f):\n    assert f(4) == 6\n"},
    {"task_id": "t/add", "entry_point": "add", "prompt": ADD_PROMPT, "canonical_solution":
     "    return a + b\n", "test": "def check(f):\n    assert f(2, 3) == 5\n    assert f(0, 0) == 0\n"},
]
GOOD = {"id": "t/add", "student": ADD_PROMPT + "    return a * b\n", "error": "AssertionError: 6 != 5",
        "fixed": ADD_PROMPT + "    return a + b\n"}
WRONG = {**GOOD, "fixed": ADD_PROMPT + "    return a - b\n"}


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def tasks_file(tmp_path) -> Path:
    return _jsonl(tmp_path / "tasks.jsonl", TASKS)


def _store(tmp_path, name="s") -> SessionStore:
    return SessionStore.open(tmp_path, name, create=True)


def _import(tmp_path, *args) -> object:
    return CliRunner().invoke(cli, ["import", "--session", "s", "--sessions-dir", str(tmp_path), *args])


def test_the_papers_rectify_rows_import_as_attempt_feedback_and_refinement(tmp_path):
    result = _import(tmp_path, str(RECTIFY))
    assert result.exit_code == 0, result.output
    assert "Imported 5 of 5 rows" in result.output and "(rectify)" in result.output
    with _store(tmp_path) as store:
        refinement = store.refinements.list(task_id="19")[0]
        attempt = store.attempts.get(refinement.attempt_id)
        assert "return set(set1).difference(set(set2))" in attempt.program
        assert attempt.execution.result.feedback.splitlines() == [
            "AssertionError", "INPUT: ({1,2,3},{2,3,4})", "OUTPUT: {1}", "EXPECTED: {1, 4}"]
        assert refinement.program.endswith("def elements_not_in_both(set1, set2):\n"
                                           "  diff = set1 ^ set2 \n  return diff\n")
        assert not refinement.validated and "without --tasks" in refinement.reason
        source = store.imports.source(refinement.id)
        assert (source.format, source.line, source.rerun) == ("rectify", 1, False)
        badge = review_render.import_badge(source)
        assert "imported · rectify_sample.jsonl:1" in badge and "not validated" in badge
        assert store.imports.source(store.refinements.list(task_id="3398")[0].id).line == 2
        assert [i.counts["imported"] for i in store.imports.list()] == [5]

    again = _import(tmp_path, str(RECTIFY))  # idempotent: same rows, nothing added
    assert "Imported 0 of 5 rows" in again.output and "5 already" in again.output
    with _store(tmp_path) as store:
        assert len(store.refinements.list()) == 5 and len(store.attempts.list()) == 5


def test_a_table_with_a_column_mapping_imports_from_csv_json_array_and_parquet(tmp_path):
    rows = [GOOD, {**GOOD, "id": "t/two", "fixed": ADD_PROMPT + "    return b + a\n"}]
    pd.DataFrame(rows).to_csv(tmp_path / "rows.csv", index=False)
    (tmp_path / "rows.json").write_text(json.dumps([{**r, "id": r["id"] + "j"} for r in rows], indent=1))
    pd.DataFrame([{**r, "id": r["id"] + "p"} for r in rows]).to_parquet(tmp_path / "rows.parquet")
    columns = "task_id=id,attempt=student,feedback=error,refinement=fixed"
    for name in ("rows.csv", "rows.json", "rows.parquet"):
        result = _import(tmp_path, "--columns", columns, str(tmp_path / name))
        assert result.exit_code == 0, result.output
        assert "Imported 2 of 2 rows" in result.output and "(table)" in result.output
    with _store(tmp_path) as store:
        assert sorted(r.task_id for r in store.refinements.list()) == [
            "t/add", "t/addj", "t/addp", "t/two", "t/twoj", "t/twop"]
        # the second JSON element starts on line 8 of the indented array
        assert sorted(store.imports.source(r.id).line for r in store.refinements.list()
                      if r.task_id.endswith("j")) == [2, 8]
        assert store.attempts.get(store.refinements.list()[0].attempt_id).execution.result.error_type == "AssertionError"


def test_prompt_completion_and_messages_rows_import_as_solutions(tmp_path):
    rows = [{"prompt": ADD_PROMPT, "completion": "    return a + b\n", "task_id": "pc/1"},
            {"messages": [{"role": "user", "content": "Write sub(a, b), a minus b."},
                          {"role": "assistant", "content": "```python\ndef sub(a, b):\n"
                                                           "    return a - b\n```"}]}]
    with _store(tmp_path) as store:
        report = import_file(store, _jsonl(tmp_path / "pc.jsonl", rows), progress=False)
        assert (report.format, report.imported) == ("prompt-completion", 2)
        by_task = {r.task_id: r for r in store.refinements.list()}
        assert by_task["pc/1"].program == ADD_PROMPT + "    return a + b\n"
        assert by_task["pc/1"].method == "stand" and by_task["pc/1"].attempt_id is None
        assert "Write sub(a, b)" in store.tasks.get("sub").prompt
        assert by_task["sub"].program.startswith("def sub(a, b):")


def test_a_bad_row_names_file_line_and_field_and_nothing_is_imported(tmp_path):
    rows = [GOOD, {**GOOD, "id": "t/b"}, {"id": "t/c", "student": "def add(a, b): pass\n", "error": ""}]
    path = _jsonl(tmp_path / "bad.jsonl", rows)
    columns = "task_id=id,attempt=student,feedback=error,refinement=fixed"
    with _store(tmp_path) as store:
        with pytest.raises(ImportFailed) as failed:
            import_file(store, path, columns={"task_id": "id", "attempt": "student",
                                              "feedback": "error"}, progress=False)
        assert f"{path}:1: field 'refinement': missing" in str(failed.value)
        assert [(b.line, b.field) for b in failed.value.bad] == [(1, "refinement"), (2, "refinement"),
                                                                 (3, "refinement")]
    result = _import(tmp_path, "--columns", columns, str(path))
    assert result.exit_code == 1
    assert f"{path}:3: field 'refinement'" in result.output and "nothing imported" in result.output
    with _store(tmp_path) as store:
        assert store.refinements.list() == [] and store.attempts.list() == [] and store.imports.list() == []

    skipped = _import(tmp_path, "--columns", columns, "--skip-bad", str(path))
    assert skipped.exit_code == 0, skipped.output
    assert "Imported 2 of 3 rows" in skipped.output and f"skipped {path}:3: field 'refinement'" in skipped.output
    with _store(tmp_path) as store:
        assert sorted(r.task_id for r in store.refinements.list()) == ["t/add", "t/b"]


def test_with_tasks_rows_are_matched_and_run_in_the_sandbox(tmp_path, tasks_file):
    rows = [GOOD, {**WRONG, "id": None}]  # the second has no id: paired by its function name
    path = _jsonl(tmp_path / "rows.jsonl", rows)
    columns = "task_id=id,attempt=student,feedback=error,refinement=fixed"
    result = _import(tmp_path, "--tasks", str(tasks_file), "--columns", columns,
                     "--match", "entry-point", str(path))
    assert result.exit_code == 0, result.output
    assert "1 validated, 1 not" in result.output
    with _store(tmp_path) as store:
        good, wrong = store.refinements.list(task_id="t/add")
        assert good.validated and good.execution.result.passed and good.execution.result.duration_s is not None
        assert not wrong.validated and wrong.execution.result.status == "failed"
        assert "fails the hidden tests" in wrong.reason
        attempt = store.attempts.get(good.attempt_id)
        assert attempt.execution.result.status == "failed" and attempt.execution.result.duration_s is not None
        assert store.imports.source(good.id).rerun
        assert store.tasks.get("t/add").test == load_tasks(str(tasks_file))[2].test

    real = _import(tmp_path, "--tasks", str(tasks_file), str(RECTIFY), "--skip-bad")
    assert "2 validated" in real.output, real.output  # rows 19 and 3398 match ALP/19, ALP/3398
    assert "3 rows skipped (3 no task with this id)" in real.output and "has id '5817'" in real.output


def test_persd_export_then_import_gives_the_same_rows(tmp_path, tasks_file):
    task = load_tasks(str(tasks_file))[2]
    with _store(tmp_path, "a") as a, Executor(workers=1) as executor:
        a.tasks.add([task])
        attempt = a.attempts.add(task.task_id, 0, model="student", prompt=task.prompt,
                                completion="    return a * b\n", program=GOOD["student"])
        a.executions.add("attempt", attempt.id, executor.run(attempt.program, task.test))
        fixed = executor.run(GOOD["fixed"], task.test)
        a.refinements.add("persd", teacher_model="gpt-x", program=GOOD["fixed"], validated=fixed.passed,
                         attempt_id=attempt.id, execution=fixed)
        a.refinements.add("stand", teacher_model="gpt-x", program=GOOD["fixed"], validated=True,
                         task_id=task.task_id, round=0)
        before = build_examples(a, "persd-combined") + build_examples(a, "stand")
    export(before[:2], tmp_path / "combined.jsonl", "jsonl")
    export(before[2:], tmp_path / "stand.parquet", "parquet")
    for name in ("combined.jsonl", "stand.parquet"):
        result = CliRunner().invoke(cli, ["import", "--session", "b", "--sessions-dir", str(tmp_path),
                                          "--tasks", str(tasks_file), str(tmp_path / name)])
        assert result.exit_code == 0, result.output
    with _store(tmp_path, "b") as b:
        after = build_examples(b, "persd-combined") + build_examples(b, "stand")
    keys = ("prompt", "completion", "task_id", "variant", "teacher_model", "round")
    assert [{k: r[k] for k in keys} for r in after] == [{k: r[k] for k in keys} for r in before]
    assert len(before) == 3


def test_a_lone_persd_row_says_to_export_the_refine_rows(tmp_path):
    row = {"prompt": ADD_PROMPT.rstrip(), "completion": "\n    return a + b\n", "variant": "persd",
           "task_id": "t/add", "refinement_id": 4}
    with _store(tmp_path) as store, pytest.raises(ImportFailed, match="persd-combined"):
        import_file(store, _jsonl(tmp_path / "p.jsonl", [row]), progress=False)


def test_train_data_reads_rows_with_a_column_mapping_and_names_a_bad_rows_line(tmp_path):
    pd.DataFrame([{"q": "def f():", "a": "\n    return 1\n"}, {"q": "def g():", "a": "\n    return 2\n"}]
                 ).to_csv(tmp_path / "rows.csv", index=False)
    rows = load_data(tmp_path / "rows.csv", {"prompt": "q", "completion": "a"})
    assert [(r["prompt"], r["completion"]) for r in rows] == [("def f():", "\n    return 1\n"),
                                                              ("def g():", "\n    return 2\n")]
    path = _jsonl(tmp_path / "rows.jsonl", [{"q": "def f():", "a": " 1"}, {"q": "def g():", "a": " 2"},
                                            {"q": "def h():", "a": None}])
    with pytest.raises(TrainError, match=rf"{path}:3: field 'completion'"):
        load_data(path, {"prompt": "q", "completion": "a"})
    with pytest.raises(TrainError, match=rf"{path}:1: field 'prompt'"):
        load_data(path)
