"""load_tasks beyond JSONL: CSV, Parquet, local Hugging Face datasets, column mapping."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from persd.execution import Executor
from persd.tasks.sources import parse_columns, read_rows, split_columns
from persd.tasks import TaskFileError, load_tasks

MB = {"task_id": 7, "text": "Add one to x.", "code": "def f(x):\n    return x + 1\n",
      "test_list": ["assert f(1) == 2", "assert f(-1) == 0"]}
MB2 = {**MB, "task_id": 8, "code": "import math\n\ndef g(x):\n    return math.floor(x)\n",
       "test_list": ["assert g(1.5) == 1", "assert g(-0.5) == -1"]}
HE = {"task_id": "T/0", "prompt": 'def f(x):\n    """Add one.\n    >>> f(1)\n    2\n    """\n',
      "canonical_solution": "    return x + 1\n",
      "test": "def check(candidate):\n    assert candidate(1) == 2\n", "entry_point": "f"}
# What an instruction dataset (Code-Alpaca-like) calls its columns.
ALPACA = {"id": "a1", "instruction": "Add one to x.", "output": MB["code"],
          "tests": MB["test_list"]}
ALPACA_MAP = {"task_id": "id", "text": "instruction", "code": "output", "test_list": "tests"}


@pytest.fixture(scope="module")
def executor():
    with Executor(workers=2) as ex:
        yield ex


@pytest.fixture(autouse=True)
def hf_cache(tmp_path, monkeypatch):
    """Keep whatever datasets caches in the test's folder."""
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")
    datasets.disable_progress_bars()


def _csv(tmp_path, rows, name="tasks.csv") -> str:
    frame = pd.DataFrame([{k: json.dumps(v) if isinstance(v, list) else v for k, v in r.items()}
                          for r in rows])
    frame.to_csv(tmp_path / name, index=False)
    return str(tmp_path / name)


def _parquet(tmp_path, rows, name="tasks.parquet") -> str:
    pd.DataFrame(rows).to_parquet(tmp_path / name)
    return str(tmp_path / name)


def _fails(call, *patterns: str) -> TaskFileError:
    with pytest.raises(TaskFileError) as info:
        call()
    for pattern in patterns:
        assert re.search(pattern, str(info.value)), str(info.value)
    return info.value


def _all_pass(tasks, executor) -> None:
    results = executor.run_many([(t.solution, t.test) for t in tasks])
    assert all(r.passed for r in results), [r.feedback for r in results]


def _same_tasks(a, b) -> None:
    strip = lambda tasks: [{**vars(t), "source": ""} for t in tasks]  # noqa: E731
    assert strip(a) == strip(b)


def test_csv_and_parquet_give_the_same_tasks_as_jsonl(tmp_path, executor):
    jsonl = tmp_path / "tasks.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in (MB, MB2)))
    reference = load_tasks(str(jsonl))
    assert [t.task_id for t in reference] == ["MBPP/7", "MBPP/8"]
    for spec in (_csv(tmp_path, [MB, MB2]), _parquet(tmp_path, [MB, MB2])):
        tasks = load_tasks(spec)
        _same_tasks(tasks, reference)
        assert tasks[0].source == spec
    _all_pass(reference, executor)
    assert load_tasks(_csv(tmp_path, [MB2]))[0].prompt.startswith("import math\n\ndef g(x):")


def test_humaneval_shaped_csv_and_parquet(tmp_path, executor):
    for spec in (_csv(tmp_path, [HE]), _parquet(tmp_path, [HE])):
        (task,) = load_tasks(spec)
        assert (task.task_id, task.entry_point) == ("T/0", "f")
        assert task.test.endswith("check(f)\n")
        assert task.visible_test.strip().endswith("check(f)")
        _all_pass([task], executor)


def test_csv_test_cells_as_plain_statements(tmp_path):
    spec = _csv(tmp_path, [{**MB, "test_list": "assert f(1) == 2\nfor x in range(3):\n"
                                                 "    assert f(x) == x + 1\n"}])
    (task,) = load_tasks(spec)
    assert task.visible_test == "assert f(1) == 2\n"
    assert task.test == "assert f(1) == 2\nfor x in range(3):\n    assert f(x) == x + 1\n"


def test_local_hugging_face_datasets(tmp_path, executor):
    import datasets

    one = datasets.Dataset.from_list([MB, MB2])
    one.save_to_disk(str(tmp_path / "saved"))
    datasets.DatasetDict({"train": one, "test": one.select([1])}).save_to_disk(
        str(tmp_path / "dict"))
    one.to_json(str(tmp_path / "rows.jsonl"))
    one.to_parquet(str(tmp_path / "rows.parquet"))

    reference = load_tasks(_csv(tmp_path, [MB, MB2]))
    for spec in (f"hf:{tmp_path}/saved", f"hf:{tmp_path}/dict", f"hf:{tmp_path}/dict:train",
                 f"hf:{tmp_path}/rows.jsonl", f"hf:{tmp_path}/rows.parquet"):
        _same_tasks(load_tasks(spec), reference)
    assert [t.task_id for t in load_tasks(f"hf:{tmp_path}/dict:test")] == ["MBPP/8"]
    assert load_tasks(f"mbpp:hf:{tmp_path}/saved")[0].source == f"hf:{tmp_path}/saved"
    _all_pass(load_tasks(f"hf:{tmp_path}/saved"), executor)


def test_column_mapping_as_argument_and_in_the_spec(tmp_path):
    import datasets

    datasets.Dataset.from_list([ALPACA]).save_to_disk(str(tmp_path / "alpaca"))
    spec = f"hf:{tmp_path}/alpaca"
    by_argument = load_tasks(spec, columns=ALPACA_MAP)
    in_spec = load_tasks(spec + "?task_id=id&text=instruction&code=output&test_list=tests")
    assert [t.task_id for t in by_argument] == ["a1"]
    _same_tasks(by_argument, in_spec)
    assert "Add one to x." in by_argument[0].prompt

    jsonl = tmp_path / "alpaca.jsonl"
    jsonl.write_text(json.dumps(ALPACA) + "\n")
    _same_tasks(load_tasks(str(jsonl), columns=ALPACA_MAP), by_argument)
    csv = _csv(tmp_path, [ALPACA])
    _same_tasks(load_tasks(csv + "?task_id=id&text=instruction&code=output",
                           columns={"test_list": "tests"}), by_argument)
    assert read_rows(csv, {"text": "instruction"})[0][1]["text"] == "Add one to x."


def test_parse_columns():
    assert parse_columns("") is None
    assert parse_columns("text=instruction, code=output") == {"text": "instruction",
                                                              "code": "output"}
    assert parse_columns("text=q&code=a") == {"text": "q", "code": "a"}
    for bad in ("text", "=x", "text=", "1x=y"):
        with pytest.raises(ValueError, match="expected FIELD=COLUMN"):
            parse_columns(bad)


def test_split_columns():
    assert split_columns("a.csv") == ("a.csv", None)
    assert split_columns("hf:x:train?text=q&code=a") == ("hf:x:train", {"text": "q", "code": "a"})
    assert split_columns("a.csv?text=q", {"text": "r"}) == ("a.csv", {"text": "r"})
    assert split_columns("odd?name.csv") == ("odd?name.csv", None)


def test_malformed_csv(tmp_path):
    _fails(lambda: load_tasks(_csv(tmp_path, [MB, {**MB, "task_id": 9, "code": "def f(x)\n"}])),
           r"tasks\.csv:3: field 'code': does not parse as Python")
    no_tests = {k: v for k, v in MB.items() if k != "test_list"}
    _fails(lambda: load_tasks(_csv(tmp_path, [no_tests])), r"tasks\.csv:2: unknown task shape")
    _fails(lambda: load_tasks("mbpp:" + _csv(tmp_path, [no_tests])),
           r"tasks\.csv:2: field 'test_list': missing")
    _fails(lambda: load_tasks(_csv(tmp_path, [{**MB, "test_list": ""}])),
           r":2: field 'test_list': is an empty list")
    _fails(lambda: load_tasks(_csv(tmp_path, [MB, {**MB, "test_list": "assert f(1 =="}])),
           r":3: field 'test_list\[0\]': does not parse")
    _fails(lambda: load_tasks(_csv(tmp_path, [{**MB, "text": ""}])), r":2: field 'text': is empty")
    _fails(lambda: load_tasks(_csv(tmp_path, [MB, MB])), r":3: field 'task_id': duplicate")
    bad = tmp_path / "bad.csv"
    bad.write_text("task_id,,code\n1,x,y\n")
    _fails(lambda: load_tasks(str(bad)), r"bad\.csv:1: the header row has 1 empty column")
    bad.write_bytes(b"task_id,text\n1,\xff\xfe\n")
    _fails(lambda: load_tasks(str(bad)), r"bad\.csv: not UTF-8")
    _fails(lambda: load_tasks(str(tmp_path / "none.csv")), r"none\.csv: file does not exist")
    (tmp_path / "empty.csv").write_text("")
    _fails(lambda: load_tasks(str(tmp_path / "empty.csv")), r"empty\.csv: file is empty")


def test_malformed_parquet(tmp_path):
    _fails(lambda: load_tasks(_parquet(tmp_path, [{**MB, "task_id": 1.5}])),
           r"tasks\.parquet:1: field 'task_id': expected int/str, got float")
    _fails(lambda: load_tasks(_parquet(tmp_path, [{**MB, "test_list": [1, 2]}])),
           r"tasks\.parquet:1: field 'test_list\[0\]': expected str, got int")
    _fails(lambda: load_tasks(_parquet(tmp_path, [MB, {**MB, "task_id": 9, "test_list": None}])),
           r"tasks\.parquet:2: field 'test_list': expected list, got NoneType")
    _fails(lambda: load_tasks(_parquet(tmp_path, [{**HE, "canonical_solution": "    return x +\n"}])),
           r":1: field 'canonical_solution': does not parse")
    _fails(lambda: load_tasks(_parquet(tmp_path, [{**HE, "entry_point": 3}])),
           r":1: field 'entry_point': expected str, got int")
    (tmp_path / "junk.parquet").write_text("not parquet")
    _fails(lambda: load_tasks(str(tmp_path / "junk.parquet")), r"junk\.parquet: cannot read as Parquet")


def test_malformed_hugging_face_sources(tmp_path):
    import datasets

    datasets.DatasetDict({"train": datasets.Dataset.from_list([ALPACA])}).save_to_disk(
        str(tmp_path / "alpaca"))
    spec = f"hf:{tmp_path}/alpaca"
    _fails(lambda: load_tasks(spec), r"alpaca:1: unknown task shape")
    _fails(lambda: load_tasks(spec, columns={**ALPACA_MAP, "code": "solution"}),
           r"alpaca:1: field 'code': no column 'solution' to map to this field")
    _fails(lambda: load_tasks(spec + ":valid"), r"no split 'valid'; splits: train")
    _fails(lambda: load_tasks(spec, columns={**ALPACA_MAP, "code": "instruction"}),
           r"alpaca:1: field 'code': does not parse as Python")
    datasets.Dataset.from_list([{**MB, "task_id": True}]).save_to_disk(str(tmp_path / "typed"))
    _fails(lambda: load_tasks(f"hf:{tmp_path}/typed"), r"field 'task_id': expected int/str, got bool")
    _fails(lambda: load_tasks(f"hf:{tmp_path}/missing-dataset-dir"), r"cannot load the dataset")
    (tmp_path / "x.txt").write_text("hi")
    _fails(lambda: load_tasks(f"hf:{tmp_path}/x.txt"), r"cannot tell the format of x\.txt")
    _fails(lambda: load_tasks("hf:a:b:c:d"), r"expected hf:<dataset>\[:<split>\]")


# --- JSON arrays, and errors that say what would load -------------------------------------

FORMS = re.escape("tasks load from: JSONL or a JSON array (")


def _jsonl(tmp_path, rows, name="tasks.jsonl") -> str:
    (tmp_path / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(tmp_path / name)


@pytest.mark.parametrize("rows", [[MB, MB2], [HE, {**HE, "task_id": "T/1"}]], ids=["mbpp", "humaneval"])
def test_json_arrays_load_like_jsonl(tmp_path, rows, executor):
    expected = load_tasks(_jsonl(tmp_path, rows))
    (tmp_path / "pretty.json").write_text(json.dumps(rows, indent=2))
    (tmp_path / "flat.json").write_text(json.dumps(rows))
    (tmp_path / "array.jsonl").write_text("\n" + json.dumps(rows, indent=4) + "\n")
    for name in ("pretty.json", "flat.json", "array.jsonl"):
        _same_tasks(load_tasks(str(tmp_path / name)), expected)
    _same_tasks(load_tasks(f"{'mbpp' if 'code' in rows[0] else 'humaneval'}:{tmp_path / 'pretty.json'}"),
                expected)
    _all_pass(load_tasks(str(tmp_path / "pretty.json")), executor)
    (tmp_path / "lines.json").write_text("".join(json.dumps(r) + "\n" for r in rows))  # JSONL named .json
    _same_tasks(load_tasks(str(tmp_path / "lines.json")), expected)


def test_json_array_errors_name_the_line_of_the_element(tmp_path):
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps([MB, {**MB2, "code": "def g(x)\n"}], indent=2))
    line = path.read_text().split("\n").index("  {", 2) + 1  # where the second object starts
    _fails(lambda: load_tasks(str(path)), rf"tasks\.json:{line}: field 'code': does not parse")
    path.write_text('[\n  {"task_id": 1},\n  3\n]\n')
    _fails(lambda: load_tasks(str(path)), r"tasks\.json:3: expected a JSON object", FORMS)
    path.write_text('[\n  {"task_id": 1}\n  {"task_id": 2}\n]\n')
    _fails(lambda: load_tasks(str(path)), r"tasks\.json:\d: bad JSON: expected ',' or ']'", FORMS)
    path.write_text('[\n  {"task_id": \n]\n')
    _fails(lambda: load_tasks(str(path)), r"tasks\.json:3: bad JSON: Expecting value", FORMS)
    path.write_text(json.dumps([MB]) + "\n" + json.dumps([MB2]) + "\n")
    _fails(lambda: load_tasks(str(path)), r"tasks\.json:1: bad JSON: text after the array", FORMS)
    path.write_text(json.dumps(MB, indent=2))  # one object, pretty-printed
    _fails(lambda: load_tasks(str(path)), r"tasks\.json: one JSON object over several lines", FORMS)
    path.write_text("[]")
    _fails(lambda: load_tasks(str(path)), r"file is empty")


def test_every_reader_error_says_which_forms_load(tmp_path):
    (tmp_path / "bad.jsonl").write_text(json.dumps(MB) + "\n{oops\n")
    _fails(lambda: load_tasks(str(tmp_path / "bad.jsonl")), r"bad\.jsonl:2: bad JSON", FORMS)
    (tmp_path / "junk.parquet").write_text("not parquet")
    _fails(lambda: load_tasks(str(tmp_path / "junk.parquet")), r"cannot read as Parquet", FORMS)
    (tmp_path / "bad.csv").write_text("task_id,,code\n1,x,y\n")
    _fails(lambda: load_tasks(str(tmp_path / "bad.csv")), r"empty column", FORMS)
    _fails(lambda: load_tasks(str(tmp_path / "none.json")), r"file does not exist", FORMS)
    _fails(lambda: load_tasks("hf:a:b:c:d"), r"expected hf:<dataset>", FORMS)
    error = _fails(lambda: load_tasks(str(tmp_path / "bad.jsonl")), r"\.jsonl\.gz, \.json, \.json\.gz")
    for mentioned in (".csv", ".parquet", "hf:<dataset>"):
        assert mentioned in str(error)


@pytest.mark.parametrize("command", ["collect", "eval"])
def test_tasks_help_lists_every_source(command):
    from click.testing import CliRunner

    from persd.cli import cli
    from persd.tasks import SHAPES
    from persd.tasks.sources import READERS, SOURCES

    result = CliRunner().invoke(cli, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for name in [*READERS, *(f"{prefix}:" for prefix in SOURCES), *SHAPES, "JSON array"]:
        assert name in text, name


def test_a_csv_file_or_json_array_over_the_cap_is_refused_unread(tmp_path, monkeypatch):
    """Both formats are read whole; over MAX_WHOLE_BYTES (decompressed, for .json.gz) they
    are refused with a way out, while the same tasks as JSONL load (a line at a time)."""
    import gzip

    from persd.tasks import sources

    monkeypatch.setattr(sources, "MAX_WHOLE_BYTES", 2**20)
    rows = [{**MB, "task_id": n, "text": "Add one to x. " * 40} for n in range(2000)]
    array = tmp_path / "big.json"
    array.write_text(json.dumps(rows))
    assert array.stat().st_size > 2**20
    _fails(lambda: load_tasks(str(array)), r"big\.json: a JSON array over 1 MiB, and this "
                                           r"format is read whole: write JSONL")
    packed = tmp_path / "big.json.gz"
    packed.write_bytes(gzip.compress(array.read_bytes()))
    assert packed.stat().st_size < 2**20
    _fails(lambda: load_tasks(str(packed)), r"big\.json\.gz: a JSON array over 1 MiB")
    _fails(lambda: load_tasks(_csv(tmp_path, rows)), r"tasks\.csv: over 1 MiB, and this format "
                                                     r"is read whole: split it, or write JSONL")
    lines = tmp_path / "big.jsonl"
    lines.write_text("\n".join(json.dumps(row) for row in rows))
    assert len(load_tasks(str(lines))) == len(rows)
    assert len(load_tasks(_csv(tmp_path, rows[:10], "small.csv"))) == 10
