"""Prompt templates, code extraction and program splitting (persd.prompts)."""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys

import pytest

from persd.code.extract import extract_code
from persd.code.splice import end_completion, split_failure, split_program
from persd.prompts import (
    student_attempt_prompt,
    student_refine_prompt,
    teacher_refine_messages,
    teacher_retry_messages,
    teacher_solve_messages,
)
from persd.tasks import Task
from tests.openai_server import humaneval_tasks

ADD = Task(
    task_id="demo/0",
    prompt='def add(a: int, b: int) -> int:\n    """Return a + b.\n    >>> add(1, 2)\n    3\n    """\n',
    entry_point="add",
    test="def check(candidate):\n    assert candidate(1, 2) == 3\n    assert candidate(-1, 1) == 0\n\ncheck(add)\n",
    visible_test="assert add(1, 2) == 3\n",
    solution='def add(a: int, b: int) -> int:\n    """Return a + b.\n    >>> add(1, 2)\n    3\n    """\n    return a + b\n',
    source="test",
)


def test_attempt_prompt_is_the_task_prompt():
    assert student_attempt_prompt(ADD) == ADD.prompt


def test_refine_prompt_ends_with_task_prompt_and_holds_code_and_feedback():
    code = ADD.prompt + "    return a - b\n"
    feedback = "AssertionError: add(1, 2) returned -1, expected 3\n  \n"
    text = student_refine_prompt(ADD, code, feedback)
    assert text.endswith(ADD.prompt)
    assert "#     return a - b" in text
    assert "# AssertionError: add(1, 2) returned -1, expected 3" in text
    assert all(line == line.rstrip() for line in text.splitlines())
    assert text == student_refine_prompt(ADD, code, feedback)
    compile(text + "    return a + b\n", "<refine>", "exec")


def test_refine_prompt_clips_huge_feedback():
    text = student_refine_prompt(ADD, ADD.prompt + "    pass\n", "x" * 100_000)
    assert len(text) < 3000 and "(truncated)" in text


# --- teacher messages -------------------------------------------------------------------


def test_teacher_refine_messages_with_reference():
    messages = teacher_refine_messages(ADD, ADD.prompt + "    return a - b\n", "AssertionError: boom")
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert ADD.prompt.rstrip() in messages[1]["content"]
    assert "return a + b" in messages[2]["content"]
    last = messages[3]["content"]
    assert "return a - b" in last and "AssertionError: boom" in last and "```python" in last
    assert "close" in last and ADD.entry_point in last


def test_teacher_refine_messages_without_reference_hide_the_solution():
    messages = teacher_refine_messages(ADD, "def add(a, b):\n    return 0\n", "fail", include_reference=False)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "return a + b" not in str(messages)
    assert "return 0" in messages[1]["content"] and ADD.prompt.rstrip() in messages[1]["content"]


def test_teacher_retry_and_solve_messages():
    first = teacher_refine_messages(ADD, "def add(a, b): return 0\n", "fail one")
    again = teacher_retry_messages(first, "```python\ndef add(a, b): return 1\n```", "fail two")
    assert again[: len(first)] == first and len(first) == 4  # the original is not mutated
    assert again[-2] == {"role": "assistant", "content": "```python\ndef add(a, b): return 1\n```"}
    assert again[-1]["role"] == "user" and "fail two" in again[-1]["content"]
    solve = teacher_solve_messages(ADD)
    assert [m["role"] for m in solve] == ["system", "user"]
    assert ADD.prompt.rstrip() in solve[1]["content"] and "return a + b" not in str(solve)
    assert not any(ADD.test.strip() in m["content"] for m in first + solve)


# --- extract_code -----------------------------------------------------------------------

GOOD = "def add(a, b):\n    return a + b\n"


@pytest.mark.parametrize(
    "reply, expected",
    [
        (f"```python\n{GOOD}```", GOOD),
        (f"Sure! Here is the fix:\n\n```py\n{GOOD}```\n\nIt now adds.", GOOD),
        (f"```Python3\n{GOOD}```", GOOD),
        (f"```\n{GOOD}```", GOOD),
        (f"~~~python\n{GOOD}~~~", GOOD),
        (f"The fix:\n```python\n{GOOD}", GOOD),  # unterminated fence
        ("1. Step one:\n   ```python\n   def add(a, b):\n       return a + b\n   ```\n", GOOD),  # indented
        ("```python\r\ndef add(a, b):\r\n    return a + b\r\n```", GOOD),
        (f"<think>maybe ```python\ndef add(a, b): return 0\n``` no</think>\n```python\n{GOOD}```", GOOD),
        (GOOD, GOOD),  # bare code
        (f"Here is the corrected function:\n\n{GOOD}\nThis adds the numbers.", GOOD),
        ("import math\n\ndef add(a, b):\n    return math.fsum([a, b])\n",
         "import math\n\ndef add(a, b):\n    return math.fsum([a, b])\n"),
    ],
)
def test_extract_code_reply_shapes(reply, expected):
    assert extract_code(reply, "add") == expected


@pytest.mark.parametrize(
    "reply",
    ["I cannot help with that.", "", "Done", "```text\nno code here\n```", "The answer is 42."],
)
def test_extract_code_without_code_is_none(reply):
    assert extract_code(reply, "add") is None


def test_extract_code_prefers_block_defining_entry_point():
    reply = (
        "The student's code:\n```python\ndef add(a, b):\n    return a - b\n```\n"
        f"Fixed:\n```python\n{GOOD}```\nUsage:\n```python\nprint(add(1, 2))\n```\n"
        "Output:\n```\n3\n```"
    )
    assert extract_code(reply, "add") == GOOD
    helper = "```python\ndef helper():\n    return 1\n```\n```python\nx = helper()\n```"
    assert extract_code(helper, "add") == "def helper():\n    return 1\n"  # parses and defines
    assert extract_code(f"```bash\npip install x\n```\n```python\n{GOOD}```") == GOOD


# --- split_program ----------------------------------------------------------------------


def _run(program: str, test: str) -> None:
    namespace: dict = {"__name__": "program"}
    exec(compile(program + "\n" + test, "<program>", "exec"), namespace)


@pytest.mark.parametrize(
    "code",
    [
        GOOD,
        "def add(a, b): return a + b\n",
        "def add(a,b):\n  total = a + b\n  return total\n",
        "def add(a, b):\n\tif a:\n\t\treturn a + b\n\treturn b\n",
        "def add(a, b):\n  if a:\n\t   return a + b\n  else:\n     return b\n",  # MBPP/51's mix
        "def add(a, b):\n    if a:\n\t    return a + b\n    return b\n",  # a tab is 8 columns
        "def add(x, y):\n    return x + y\n",  # renamed parameters
        "def add(b, a):\n    return a + b\n",  # swapped names
        "def add(a, b, _memo={}):\n    _memo[(a, b)] = a + b\n    return _memo[(a, b)]\n",
        "import functools\n\n@functools.lru_cache(maxsize=None)\ndef add(a, b):\n    return a + b\n",
        "def add(a, b):\n    return helper(a) + b\n\ndef helper(v):\n    return v\n",
        "from operator import add as plus\nOFFSET = 0\n\ndef add(a, b):\n    return plus(a, b) + OFFSET\n",
        'def add(a, b):\n    """Add."""\n    text = """\n  keep\n    this"""\n    assert text == "\\n  keep\\n    this"\n    return a + b\n',
        "def add(a, b):\n    @staticmethod\n    def inner():\n        return a + b\n    return inner()\n",
        "def add(a, b):\n    return a - b\n\ndef add(a, b):\n    return a + b\n\nprint(add(1, 2))\nassert add(1, 2) == 3\nif __name__ == '__main__':\n    raise SystemExit(1)\n",
        "from __future__ import annotations\nimport sys; sys.setrecursionlimit(5000)\n\ndef add(a: int, b: int) -> int:\n    return (a +\n        b)\n",
    ],
)
def test_split_program_keeps_the_teachers_behaviour(code):
    program, completion = split_program(ADD, code)
    assert program == ADD.prompt + completion
    assert '"""Return a + b.' not in completion  # the docstring stays in the prompt only
    _run(program, ADD.test)


def test_split_program_emits_what_the_students_cut_keeps():
    code = ("import math\n\ndef helper(v):\n    return v\n\ndef add(a, b):\n    return helper(a) + b\n"
            "\nprint(add(1, 2))\nresult = add(2, 3)\nK = 1; print(K)\nassert add(1, 1) == 2\n"
            "class Box:\n    pass\n")
    program, completion = split_program(ADD, code)
    assert end_completion(ADD.prompt, completion) == completion
    for gone in ("print(", "result =", "assert"):
        assert gone not in completion
    for kept in ("def helper", "import math", "K = 1", "class Box"):
        assert kept in completion
    _run(program, ADD.test)


def test_split_program_body_matches_teacher_text():
    program, completion = split_program(ADD, ADD.solution)
    assert completion == "    return a + b\n"
    assert program == ADD.solution


def test_split_program_rejects_code_without_the_entry_point():
    assert split_program(ADD, "def plus(a, b):\n    return a + b\n") is None
    assert split_failure(ADD, "def plus(a, b):\n    return a + b\n") == "does not define add"
    assert split_program(ADD, "class S:\n    def add(self, a, b):\n        return a + b\n") is None
    assert split_program(ADD, "def add(a, b):\n    return a +\n") is None
    assert split_failure(ADD, "def add(a, b):\n    return a +\n").startswith("SyntaxError")
    assert split_failure(ADD, GOOD) == ""


def test_split_program_without_a_prompt_docstring():
    task = dataclasses.replace(ADD, prompt="def add(a, b):\n")
    program, completion = split_program(task, "def add(a, b):\n    return a + b\n")
    assert program == "def add(a, b):\n    return a + b\n" and completion == "    return a + b\n"


def _header(task: Task) -> str:
    tree = ast.parse(task.prompt)
    function = [n for n in tree.body if getattr(n, "name", None) == task.entry_point][-1]
    return "\n".join(task.prompt.split("\n")[function.lineno - 1 : function.body[0].lineno - 1])


def test_split_program_on_all_humaneval_canonical_solutions():
    jobs = []
    for task in humaneval_tasks():
        body = task.solution[len(task.prompt):] if task.solution.startswith(task.prompt) else None
        shapes = [task.solution] + ([f"{_header(task)}\n{body}"] if body is not None else [])
        for code in shapes:
            reply = f"Here is the corrected code.\n\n```python\n{code}\n```\nIt passes now."
            extracted = extract_code(reply, task.entry_point)
            assert extracted is not None, task.task_id
            split = split_program(task, extracted)
            assert split is not None, (task.task_id, split_failure(task, extracted))
            program, completion = split
            assert program == task.prompt + completion
            assert end_completion(task.prompt, completion) == completion  # inference keeps it
            compile(program, task.task_id, "exec")
            jobs.append((task.task_id, program, task.test))
    assert len(jobs) >= 164
    # Trusted reference code: one plain subprocess runs every program against its tests.
    runner = (
        "import json, sys\nfailed = []\n"
        "for task_id, program, test in json.load(sys.stdin):\n"
        "    try:\n        exec(program + '\\n' + test, {'__name__': 'program'})\n"
        "    except BaseException as error:\n        failed.append(f'{task_id}: {error!r}')\n"
        "print(json.dumps(failed))\n"
    )
    done = subprocess.run([sys.executable, "-c", runner], input=json.dumps(jobs),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_split_does_not_repeat_what_the_prompt_put_inside_the_function():
    # HumanEval/115's prompt has `import math` before the docstring, inside the function.
    from persd.tasks import load_tasks

    task = next(t for t in load_tasks("humaneval") if t.task_id == "HumanEval/115")
    program, completion = split_program(task, task.solution)
    assert "import math" not in completion and '"""' not in completion
    assert program == task.prompt + completion


def test_split_drops_imports_the_prompt_already_has():
    from persd.tasks import load_tasks

    task = next(t for t in load_tasks("humaneval") if t.task_id == "HumanEval/9")  # imports List, Tuple
    code = "from typing import List\nimport math\n\ndef rolling_max(numbers):\n    return [math.inf]\n"
    program, completion = split_program(task, code)
    assert "from typing import List" not in completion
    assert completion.rstrip().endswith("import math")  # a new import is kept
