"""`persd import` pairs rows with tasks only when the task id and the function agree, counts
refused rows by reason, creates nothing when nothing is imported, and stores each record's
origin: the paper's gold-rectification file is gold, not a teacher's refinement."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from persd.cli import cli
from persd.importing import import_file
from persd.store import SessionStore

DATA = Path(__file__).parent / "data"
RELEASE = DATA / "persdistill" / "rectify_sample.jsonl"
MBPP = DATA / "tasks" / "mbpp_real_sample.jsonl"
GOLD_NAME = "finetuning_data_gold_rectification_nochatgpt.jsonl"  # the release's own name


def release_rows() -> list[dict]:
    return [json.loads(line) for line in RELEASE.read_text().splitlines()]


def rectify_row(task_id, task: str, attempt: str, error: str, completion: str) -> dict:
    """A row in the release's shape (its prompt built as the release's files hold it)."""
    doc = f'"""\n{task}\n"""\n'
    prompt = (f"Rectify the below code for the given task based on the errors obtained in the "
              f"unit tests. \n\nTASK: \n{doc}\n\n\n{attempt}\n\nERROR: \n{error}\n\n{doc}\n")
    return {"finetuning_prompt": prompt, "finetuning_completion": completion, "task_id": task_id}


# MBPP task 2 (similar_elements): a wrong attempt, then MBPP's own gold code as the completion
SIMILAR = rectify_row(2, "Write a function to find the similar elements from the given two tuple lists.",
                      "def similar_elements(test_tup1, test_tup2):\n    return test_tup1",
                      "AssertionError\nINPUT: ((3, 4, 5, 6),(5, 7, 4, 10))\nOUTPUT: (3, 4, 5, 6)\n"
                      "EXPECTED: (4, 5)", "  res = tuple(set(test_tup1) & set(test_tup2))\r\n  return (res) ")


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def run(tmp_path: Path, path: Path, *args: str):
    return CliRunner().invoke(cli, ["import", "--session", "s", "--sessions-dir",
                                    str(tmp_path / "sessions"), "--tasks", str(MBPP), *args, str(path)])


def test_a_row_whose_id_lands_on_an_unrelated_task_is_refused_with_its_reason(tmp_path):
    planted = {**release_rows()[0], "task_id": 3}  # elements_not_in_both, under MBPP/3's id
    rows = [*release_rows(), planted, SIMILAR]
    result = run(tmp_path, write(tmp_path / "rows.jsonl", rows), "--skip-bad")
    assert result.exit_code == 0, result.output
    assert "Imported 1 of 7 rows" in result.output
    # the five release rows carry Code Alpaca ids: none is an MBPP task of the sample
    assert "6 rows skipped (5 no task with this id, 1 same id, another function)" in result.output
    assert ("task id '3' is task 'MBPP/3' of --tasks, whose function is 'is_not_prime', but the "
            "row's is 'elements_not_in_both'") in result.output
    with SessionStore.open(tmp_path / "sessions", "s") as store:
        (refinement,) = store.refinements.list()
        assert refinement.task_id == "MBPP/2" and refinement.validated
        assert store.imports.list()[0].protocol == "strict"


def test_without_skip_bad_the_reasons_are_counted_and_no_session_file_is_left(tmp_path):
    result = run(tmp_path, RELEASE)
    assert result.exit_code == 1
    assert "5 bad rows, nothing imported (5 no task with this id)" in result.output
    assert session_files(tmp_path) == []
    everything_refused = run(tmp_path, RELEASE, "--skip-bad")
    assert everything_refused.exit_code == 0 and "Imported 0 of 5 rows" in everything_refused.output
    assert session_files(tmp_path) == []


def session_files(tmp_path: Path) -> list[str]:
    folder = tmp_path / "sessions"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_match_entry_point_pairs_by_the_function_alone(tmp_path):
    renumbered = {**SIMILAR, "task_id": 99999}
    path = write(tmp_path / "rows.jsonl", [renumbered])
    by_id = run(tmp_path, path)
    assert by_id.exit_code == 1 and "no task of --tasks has id '99999'" in by_id.output
    by_function = run(tmp_path, path, "--match", "entry-point", "--protocol", "paper")
    assert by_function.exit_code == 0, by_function.output
    with SessionStore.open(tmp_path / "sessions", "s") as store:
        assert [r.task_id for r in store.refinements.list()] == ["MBPP/2"]
        assert store.imports.list()[0].protocol == "paper"


def test_the_releases_gold_file_is_recognised_as_gold(tmp_path):
    gold = shutil.copy(RELEASE, tmp_path / GOLD_NAME)  # the release's rows under its own name
    other = write(tmp_path / "refinements.jsonl", [release_rows()[1], SIMILAR])
    with SessionStore.open(tmp_path, "s", create=True) as store:
        import_file(store, gold, progress=False)
        import_file(store, other, tasks=str(MBPP), skip_bad=True, progress=False)
        origins = {r.task_id: store.imports.source(r.id).origin for r in store.refinements.list()}
    assert [origins[t] for t in ("19", "3398", "12819", "4", "5817")] == ["gold refinement"] * 5
    # SIMILAR's completion is MBPP 2's reference: gold, found by comparing with --tasks' code
    assert origins["MBPP/2"] == "gold refinement"
    assert len(origins) == 6  # the second copy of row 3398 was already imported


def test_a_refinement_unlike_the_reference_is_not_called_gold(tmp_path):
    teacher = {**SIMILAR, "finetuning_completion": "    return tuple(sorted(set(test_tup1) & set(test_tup2)))"}
    with SessionStore.open(tmp_path, "s", create=True) as store:
        import_file(store, write(tmp_path / "r.jsonl", [teacher]), tasks=str(MBPP), progress=False)
        (refinement,) = store.refinements.list()
        source = store.imports.source(refinement.id)
    assert source.origin == "imported" and source.where == "imported: r.jsonl:1"
    assert source.feedback.startswith("AssertionError\nINPUT:")
    with SessionStore.open(tmp_path, "t", create=True) as store:  # the user says what it is
        import_file(store, write(tmp_path / "t.jsonl", [teacher]), origin="teacher", progress=False)
        assert store.imports.source(store.refinements.list()[0].id).origin == "teacher refinement"
