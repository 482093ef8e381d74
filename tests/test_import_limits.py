"""Imports of planted bad rows through `persd import`: a lone surrogate, odd task ids and an
oversized row are each one row's error (file:line and field), skippable with --skip-bad,
and an import that brings nothing leaves no session file behind."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from persd.cli import cli
from persd.importing.formats import MAX_ROW_CHARS
from persd.importing.read import read_data
from persd.store import SessionStore

PROMPT = 'def add(a, b):\n    """The sum of a and b."""\n'
GOOD = {"task_id": "t/add", "attempt": PROMPT + "    return a * b\n",
        "feedback": "AssertionError", "refinement": PROMPT + "    return a + b\n"}


def planted(path: Path, rows: list) -> Path:
    """One JSON line per row; a str row is written as it is (an escape JSON decodes)."""
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n"
                            for row in rows))
    return path


def run(tmp_path: Path, path: Path, *args: str):
    return CliRunner().invoke(cli, ["import", "--session", "s", "--sessions-dir",
                                    str(tmp_path / "sessions"), *args, str(path)])


def session_files(tmp_path: Path) -> list[str]:
    folder = tmp_path / "sessions"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_lone_surrogate_is_one_rows_error_and_skippable(tmp_path):
    surrogate = json.dumps({**GOOD, "task_id": "t/b"}).replace(
        '"AssertionError"', '"Assertion\\ud800Error"')
    path = planted(tmp_path / "rows.jsonl", [GOOD, surrogate, {**GOOD, "task_id": "t/c"}])
    failed = run(tmp_path, path)
    assert failed.exit_code == 1
    assert f"{path}:2: field 'feedback': a lone surrogate (U+D800)" in failed.output
    assert "nothing imported" in failed.output and session_files(tmp_path) == []
    skipped = run(tmp_path, path, "--skip-bad")
    assert skipped.exit_code == 0, skipped.output
    assert "Imported 2 of 3 rows" in skipped.output
    assert f"skipped {path}:2: field 'feedback'" in skipped.output
    with SessionStore.open(tmp_path / "sessions", "s") as store:
        assert sorted(r.task_id for r in store.refinements.list()) == ["t/add", "t/c"]


def test_task_ids_must_be_printable_and_short(tmp_path):
    rows = [{**GOOD, "task_id": "a\x00b"}, {**GOOD, "task_id": "\x1b[31mred"},
            {**GOOD, "task_id": "x" * 10_000}]
    failed = run(tmp_path, planted(tmp_path / "ids.jsonl", rows))
    assert failed.exit_code == 1
    assert ":1: field 'task_id': holds '\\x00' at character 1" in failed.output
    assert ":2: field 'task_id': holds '\\x1b'" in failed.output
    assert ":3: field 'task_id': 10,000 characters; a task id has at most 200" in failed.output
    assert "x" * 300 not in failed.output and "\x1b" not in failed.output
    assert session_files(tmp_path) == []


def test_an_oversized_row_is_named_and_all_bad_skipped_creates_nothing(tmp_path):
    big = {**GOOD, "refinement": GOOD["refinement"] + "#" * MAX_ROW_CHARS}
    path = planted(tmp_path / "big.jsonl", [big])
    failed = run(tmp_path, path)
    assert failed.exit_code == 1 and f"{path}:1: field 'refinement': the row holds over" \
        in failed.output and session_files(tmp_path) == []
    skipped = run(tmp_path, path, "--skip-bad")
    assert skipped.exit_code == 0 and "Imported 0 of 1 rows" in skipped.output
    assert session_files(tmp_path) == []


def test_a_failed_import_into_an_existing_session_keeps_it(tmp_path):
    SessionStore.open(tmp_path / "sessions", "s", create=True).close()
    failed = run(tmp_path, planted(tmp_path / "ids.jsonl", [{**GOOD, "task_id": "a\x00"}]))
    assert failed.exit_code == 1 and session_files(tmp_path) == ["s.sqlite"]


def _peak_bytes(load) -> tuple[int, BaseException | None]:
    import tracemalloc

    tracemalloc.start()
    try:
        load()
        caught = None
    except BaseException as error:  # noqa: BLE001  the error is what the caller checks
        caught = error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak, caught


def test_a_huge_line_is_refused_as_it_is_read(tmp_path):
    from persd.tasks import TaskFileError
    from persd.tasks.sources import read_rows

    huge = tmp_path / "huge.jsonl"
    with huge.open("wb") as file:
        file.write(json.dumps(GOOD).encode() + b"\n")
        file.truncate(256 * 2**20)  # a sparse 256 MiB second line: no disk, no newline
    peak, caught = _peak_bytes(lambda: read_rows(str(huge)))
    assert isinstance(caught, TaskFileError) and f"{huge}:2: a line over 32 MiB" in str(caught)
    print(f"peak {peak / 2**20:.0f} MiB")
    assert peak < 100 * 2**20, f"{peak / 2**20:.0f} MiB"


def test_a_bad_first_line_is_reported_without_reading_the_rest(tmp_path):
    from persd.tasks import TaskFileError
    from persd.tasks.sources import read_rows

    bad = tmp_path / "bad.jsonl"
    with bad.open("wb") as file:
        file.write(b'{"task_id": \n' + b"{}\n" * 1000)
        file.truncate(256 * 2**20)
    peak, caught = _peak_bytes(lambda: read_rows(str(bad)))
    assert isinstance(caught, TaskFileError) and f"{bad}:1: bad JSON" in str(caught)
    print(f"peak {peak / 2**20:.0f} MiB")
    assert peak < 100 * 2**20, f"{peak / 2**20:.0f} MiB"


def test_deep_nesting_is_one_lines_error(tmp_path):
    path = planted(tmp_path / "deep.jsonl", [GOOD, '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"])
    failed = run(tmp_path, path)
    assert failed.exit_code == 1 and f"{path}:2: bad JSON: nested too deeply" in failed.output
    assert "Traceback" not in failed.output and session_files(tmp_path) == []


def test_a_parquet_cell_bomb_is_refused_before_it_is_read(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from persd.tasks.sources import MAX_LINE_BYTES

    bomb = tmp_path / "bomb.parquet"
    rows = [GOOD, {**GOOD, "task_id": "t/b", "refinement": "#" * (MAX_LINE_BYTES * 3)}]
    pq.write_table(pa.Table.from_pylist(rows), bomb, row_group_size=1, compression="zstd")
    assert bomb.stat().st_size < 2**20  # a small file
    peak, caught = _peak_bytes(lambda: read_data(str(bomb)))
    print(f"peak {peak / 2**20:.0f} MiB")
    assert f"{bomb}:2: field 'refinement': 100,663,3" in str(caught)
    assert "bytes decompressed, over 32 MiB a row; not read" in str(caught)
    assert peak < 20 * 2**20
    fine = tmp_path / "fine.parquet"  # many ordinary rows in one group pass
    pq.write_table(pa.Table.from_pylist([GOOD] * 2000), fine)
    assert len(read_data(str(fine))) == 2000


def test_a_json_array_over_the_cap_is_refused_unread_and_its_rows_keep_their_lines(
        tmp_path, monkeypatch):
    """A JSON array is read whole: over MAX_WHOLE_BYTES it is refused with the way out (the
    same rows as JSONL import); under it, each row is named by the line it starts on."""
    from persd.tasks import sources

    rows = [{**GOOD, "task_id": f"t/{n}"} for n in range(3)]
    pretty = tmp_path / "rows.json"
    pretty.write_text(json.dumps(rows, indent=1))
    assert [line for line, _ in read_data(pretty)] == [2, 8, 14]
    monkeypatch.setattr(sources, "MAX_WHOLE_BYTES", 2**20)
    many = [{**GOOD, "task_id": f"t/{n}"} for n in range(8000)]
    big = tmp_path / "big.json"
    big.write_text(json.dumps(many))
    assert big.stat().st_size > 2**20
    result = run(tmp_path, big)
    assert result.exit_code != 0
    assert "big.json: a JSON array over 1 MiB, and this format is read whole: write JSONL" \
        in " ".join(result.output.split()), result.output
    assert session_files(tmp_path) == []
    lines = planted(tmp_path / "big.jsonl", many)
    assert len(read_data(lines)) == len(many)
