"""persd make-tests against the real local OpenAI-compatible server (tests/openai_server.py)."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from persd.cli import cli
from persd.execution import Executor
from persd.tasks import load_tasks
from persd.teacher import TeacherConfig, TeacherUnavailable
from persd.testgen.inputs import assert_for, parse_calls
from persd.testgen import MakeTestsConfig, make_tests, side_paths
from tests.openai_server import OpenAITestServer

MODEL = "test-teacher"  # listed by the server's /v1/models, so check() sends no chat request

ROWS = [
    {"task_id": "count", "instruction": "Count the vowels in a word.",
     "code": "def count_vowels(word):\n    return sum(ch in 'aeiou' for ch in word.lower())\n"},
    {"task_id": "halve", "instruction": "Halve a number.",
     "code": "def halve(x):\n    return x / 2\n"},
    {"task_id": "pairs", "instruction": "Pair up neighbours in a list.",
     "code": "def neighbours(items):\n    while items == 'spin':\n        pass\n"
             "    if items == 'lazy':\n        return (x for x in items)\n"
             "    return list(zip(items, items[1:]))\n"},
    {"task_id": "broken", "instruction": "A reference that fails on import.",
     "code": "import not_a_module_anywhere\n\ndef broken(x):\n    return x\n"},
    {"task_id": "silent", "instruction": "The teacher gives no calls for this one.",
     "code": "def silent(x):\n    return x\n"},
    {"task_id": "fragile", "instruction": "Works on positive numbers only.",
     "code": "def fragile(n):\n    if n <= 0:\n        raise ValueError(n)\n    return n * 2\n"},
    {"task_id": "dice", "instruction": "Roll a die (not deterministic).",
     "code": "import random\n\ndef roll(n):\n    return random.random() + n\n"},
    {"task_id": "nodef", "instruction": "Not a function at all.", "code": "print('hello')\n"},
    {"task_id": "count", "instruction": "A duplicate id.", "code": "def dup(x):\n    return x\n"},
]

REPLIES = {
    # good calls mixed with a crash, an infinite loop, unrepresentable results and junk
    "count_vowels": """Here are the inputs:
```python
count_vowels("banana")
count_vowels("")
count_vowels(None)
count_vowels("AEIOU xyz")
count_vowels(word="rhythm")
import os; os.system("echo pwned")
x = count_vowels("abc")
count_vowels(open("/etc/passwd").read())
count_vowels("banana")
```""",
    "halve": "```python\nhalve(3)\nhalve(-5)\nhalve(0.1)\nhalve(10**1000)\nhalve(1e300)\n```",
    "neighbours": """```python
neighbours([1, 2, 3])
neighbours([])
neighbours(range(10**12))
neighbours(iter([1, 2]))
neighbours("abc")
neighbours("spin")
neighbours("lazy")
neighbours([[1], {"a": (2, 3)}])
```""",
    "broken": "```python\nbroken(1)\nbroken(2)\nbroken(3)\n```",
    "silent": "I cannot think of any inputs.",
    "fragile": "```python\nfragile(1)\nfragile(0)\nfragile(-3)\n```",
    "roll": "```python\nroll(1)\nroll(2)\nroll(3)\n```",
}

EXPECTED_TESTS = {
    "count": ["assert count_vowels('banana') == 3", "assert count_vowels('') == 0",
              "assert count_vowels('AEIOU xyz') == 5", "assert count_vowels(word='rhythm') == 0"],
    "halve": ["assert abs(halve(3) - 1.5) < 1.5e-06", "assert abs(halve(-5) - (-2.5)) < 2.5e-06",
              "assert abs(halve(0.1) - 0.05) < 1e-06",
              "assert abs(halve(1e+300) - 5e+299) < 5e+293"],
    "pairs": ["assert neighbours([1, 2, 3]) == [(1, 2), (2, 3)]", "assert neighbours([]) == []",
              "assert neighbours('abc') == [('a', 'b'), ('b', 'c')]",
              "assert neighbours([[1], {'a': (2, 3)}]) == [([1], {'a': (2, 3)})]"],
}
EXPECTED_DROPS = {"broken": "reference_error", "silent": "no_inputs", "fragile": "too_few_tests",
                  "dice": "tests_fail_on_reference", "nodef": "bad_row",
                  "count": "duplicate_task_id"}


def solver(messages: list[dict]) -> str:
    text = messages[-1]["content"]
    name = re.search(r"calls of `(\w+)`", text).group(1)
    return REPLIES[name]


@pytest.fixture
def server():
    with OpenAITestServer(solver=solver) as running:
        yield running


@pytest.fixture
def rows_file(tmp_path):
    path = tmp_path / "alpaca.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def teacher(server, **settings) -> TeacherConfig:
    return TeacherConfig(model=MODEL, base_url=server.base_url, api_key="test", **settings)


def run(rows_file, server, **settings):
    config = MakeTestsConfig(str(rows_file), str(rows_file.parent / "out.jsonl"),
                             n_inputs=6, min_tests=2, call_timeout_s=0.5, **settings)
    return make_tests(config, teacher(server), progress=False)


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_parse_calls_keeps_only_literal_calls_of_the_entry_point():
    reply = ("Sure!\n```python\nf(1, 'a')\nf([1, -2], key={'x': (1, 2.5)})\nprint(f(None))\n"
             "assert f(2) == 3\nf(g(1))\nf(*[1])\nf(**{'a': 1})\ng(1)\nf(x)\nf(1 + 1)\n"
             "f(-1)\nf(1, 'a')\n```\nand f(7)")
    assert parse_calls(reply, "f", 10) == [
        "f(1, 'a')", "f([1, -2], key={'x': (1, 2.5)})", "f(None)", "f(2)", "f(-1)"]
    assert parse_calls(reply, "f", 2) == ["f(1, 'a')", "f([1, -2], key={'x': (1, 2.5)})"]
    assert parse_calls("f(3)\nthis line is not Python\nf(4)", "f", 5) == ["f(3)", "f(4)"]
    assert parse_calls("```python\nf(\n```", "f", 5) == []
    assert parse_calls("```python\nf(...)\nf([1, ...])\n```", "f", 5) == []


def test_assert_forms():
    assert assert_for("f(1)", "None") == "assert f(1) is None"
    assert assert_for("f(1)", "True") == "assert f(1) is True"
    assert assert_for("f(1)", "[1.5, 'a']") == "assert f(1) == [1.5, 'a']"
    assert assert_for("f(1)", "-0.25") == "assert abs(f(1) - (-0.25)) < 1e-06"
    assert assert_for("f(1)", "2000000.0") == "assert abs(f(1) - 2000000.0) < 2"


@pytest.mark.parametrize("expected, returned, holds", [
    ("[0.1, 0.2, 3]", [0.1 + 1e-9, 0.2, 3], True),       # last bits differ: still equal
    ("(0.5, -2.25)", [0.5, -2.25], True),
    ("[0.1, 0.2]", [0.1, 0.25], False),
    ("[0.1, 0.2]", [0.1], False),                         # a missing item is a failure
    ("[1500000.0]", [1500000.5], True),                   # relative above magnitude 1
    ("[1, 2]", [1, 2.0000001], False),                    # integers only: exact
    ("[[0.1]]", [[0.1 + 1e-9]], False),                   # nested: exact
])
def test_float_lists_compare_within_tolerance(expected, returned, holds):
    statement = assert_for("f(1)", expected)
    try:
        exec(statement, {"f": lambda _: returned})  # our own generated assert, not model code
        held = True
    except (AssertionError, ValueError):
        held = False
    assert held is holds, statement


def test_make_tests_keeps_what_runs_and_drops_the_rest(rows_file, server):
    summary = run(rows_file, server)
    out = rows_file.parent / "out.jsonl"
    written = {row["task_id"]: row for row in read_jsonl(out)}
    assert {k: v["test_list"] for k, v in written.items()} == EXPECTED_TESTS
    assert written["count"]["text"] == "Count the vowels in a word."
    rejected = {row["task_id"]: row for row in read_jsonl(side_paths(out)[0])}
    assert {k: v["reason"] for k, v in rejected.items()} == EXPECTED_DROPS
    assert "ModuleNotFoundError" in rejected["broken"]["detail"]
    assert "1 of 3 inputs usable" in rejected["fragile"]["detail"]
    assert rejected["nodef"]["row"]["code"] == "print('hello')\n"
    assert "assert abs(roll(1) - " in rejected["dice"]["detail"]

    assert (summary.kept, summary.tests, summary.rows) == (3, 12, len(ROWS))
    assert dict(summary.dropped) == {r: 1 for r in EXPECTED_DROPS.values()}
    assert summary.calls == 7 and summary.cached == 0 and summary.prompt_tokens > 0
    assert "3 tasks kept (12 tests), 6 dropped" in summary.text()

    tasks = load_tasks(str(out))
    assert [t.entry_point for t in tasks] == ["count_vowels", "halve", "neighbours"] or \
        sorted(t.entry_point for t in tasks) == ["count_vowels", "halve", "neighbours"]
    with Executor(workers=2) as executor:
        results = executor.run_many([(t.solution, t.test) for t in tasks])
        assert all(r.passed for r in results), [r.feedback for r in results]
        wrong = executor.run(tasks[0].prompt + "    return 0\n", tasks[0].test)
        assert wrong.status in ("failed", "error")


def test_hang_and_unrepresentable_results_are_dropped_per_call(rows_file, server, tmp_path):
    from persd.execution.probe import probe_calls

    code = ("def f(x):\n    if x == 'loop':\n        while True:\n            pass\n"
            "    if x == 'gen':\n        return (i for i in range(3))\n"
            "    if x == 'obj':\n        return object()\n    if x == 'exit':\n"
            "        import os\n        os._exit(1)\n    return x\n")
    calls = ["f(1)", "f('loop')", "f('gen')", "f('obj')", "f('exit')", "f({1: 2})",
             "f('x' * 1)", "f([" + ", ".join(["'abcdefghij'"] * 40) + "])"] + \
        [f"f('{'y' * 150}{i}')" for i in range(8)]
    with Executor(workers=1, timeout_s=4) as executor:
        outcome = probe_calls(executor, code, calls, call_timeout_s=0.3)
    assert outcome.reference_error is None
    assert outcome.failures == {1: "timeout", 2: "unrepresentable", 3: "unrepresentable",
                                4: "died (killed)", 7: "long"}
    assert outcome.values[0] == "1" and outcome.values[5] == "{1: 2}"
    assert outcome.values[6] == "'x'"  # the call ran in the sandbox: only its result came back
    assert [outcome.values[i] for i in range(8, 16)] == [f"'{'y' * 150}{i}'" for i in range(8)]
    assert outcome.runs >= 3  # the killed run, then runs split to fit the output tail


def test_rerun_resumes_without_teacher_calls_or_duplicates(rows_file, server):
    run(rows_file, server)
    out = rows_file.parent / "out.jsonl"
    rejected = side_paths(out)[0]
    first_out, first_rejected = out.read_text(), sorted(rejected.read_text().splitlines())
    requests = len(server.requests)

    summary = run(rows_file, server)
    assert len(server.requests) == requests  # not even the /models check
    assert out.read_text() == first_out
    assert sorted(rejected.read_text().splitlines()) == first_rejected
    assert (summary.kept, summary.calls, summary.skipped) == (0, 0, 7)
    assert dict(summary.dropped) == {"bad_row": 1, "duplicate_task_id": 1}  # judged again

    # a torn last line (a crash mid-write) is dropped and that task made again, from the cache
    lines = first_out.splitlines(keepends=True)
    out.write_text("".join(lines[:-1]) + lines[-1][:20])
    chats = len(server.chat_requests())
    summary = run(rows_file, server)
    assert len(server.chat_requests()) == chats
    assert (summary.kept, summary.calls, summary.cached) == (1, 1, 1)
    assert sorted(read_jsonl(out), key=str) == sorted(map(json.loads, lines), key=str)


def test_teacher_errors_are_retried_on_the_next_run(rows_file, server):
    config = MakeTestsConfig(str(rows_file), str(rows_file.parent / "out.jsonl"), n_inputs=6,
                             min_tests=2, call_timeout_s=0.5, cache=False)
    server.inject("429", count=7, retry_after=0.01)
    summary = make_tests(config, teacher(server, max_retries=0), progress=False)
    assert summary.dropped["teacher_error"] == 7 and summary.kept == 0
    summary = make_tests(config, teacher(server, max_retries=0), progress=False)
    assert summary.kept == 3 and summary.dropped["teacher_error"] == 0
    reasons = [r["reason"] for r in read_jsonl(side_paths(config.output)[0])]
    assert sorted(reasons) == sorted(EXPECTED_DROPS.values())  # no stale teacher_error rows


def test_fatal_teacher_error_stops_the_run_and_keeps_the_work(rows_file, server):
    server.inject("500", count=50)
    with pytest.raises(TeacherUnavailable):
        make_tests(MakeTestsConfig(str(rows_file), str(rows_file.parent / "out.jsonl")),
                   teacher(server, max_retries=0), progress=False)
    # the bad rows were judged before any teacher call and are not judged twice
    assert len(read_jsonl(side_paths(rows_file.parent / "out.jsonl")[0])) == 2


def test_cli_make_tests(rows_file, server, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    csv = rows_file.parent / "rows.csv"
    import pandas as pd

    pd.DataFrame(ROWS[:3]).rename(columns={"code": "output"}).to_csv(csv, index=False)
    out = rows_file.parent / "from_csv.jsonl"
    args = ["make-tests", "--input", str(csv), "--output", str(out), "--teacher-model", MODEL,
            "--n-inputs", "6", "--min-tests", "2", "--columns", "code=output",
            "--call-timeout", "0.5"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "3 tasks kept (12 tests), 0 dropped" in result.output
    assert "Teacher: 3 calls (0 cached)" in result.output
    assert len(load_tasks(str(out))) == 3

    result = CliRunner().invoke(cli, [*args[:2], str(rows_file.parent / "nope.jsonl"), *args[3:]])
    assert result.exit_code == 1 and "nope.jsonl: file does not exist" in result.output
    result = CliRunner().invoke(cli, [*args[:-6], "--n-inputs", "2", "--min-tests", "3"])
    assert result.exit_code == 1 and "min_tests (3) cannot exceed n_inputs (2)" in result.output
    result = CliRunner().invoke(cli, args[:-4])  # no --columns: the code column is not found
    assert result.exit_code == 1 and "no code column" in result.output \
        and "--columns code=COLUMN" in result.output
