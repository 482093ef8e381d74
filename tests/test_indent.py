"""A completion's indentation is made the prompt's at the join (persd.code.indent), for the
student's output at inference and for training rows alike: MBPP's tab-indented references,
cut the way a student's output is, pass after persd's prompt (whose docstring is indented
with spaces). Building training rows prints no SyntaxWarning about the code they hold."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

from persd.code.indent import match_indent
from persd.code.splice import split_program
from persd.data import build_examples
from persd.execution import Executor
from persd.paper_style import paper_cut, paper_task_prompt
from persd.store import SessionStore
from persd.student.base import finish
from persd.tasks import load_tasks

MBPP = Path(__file__).parent / "data" / "tasks" / "mbpp_real_sample.jsonl"
# tab-indented references (mixed with spaces) whose function needs nothing defined before it
TABBED = ("MBPP/51", "MBPP/159", "MBPP/264", "MBPP/327", "MBPP/521")

def tasks():
    return {task.task_id: task for task in load_tasks(str(MBPP))}

def reference_body(task) -> str:
    """What follows the function's header in the reference, byte for byte: the body a
    student trained on MBPP writes after the prompt."""
    function = next(n for n in ast.parse(task.solution).body
                    if isinstance(n, ast.FunctionDef) and n.name == task.entry_point)
    lines = task.solution.split("\n")
    return "\n".join(lines[function.body[0].lineno - 1:]) + "\n"

def test_a_tab_indented_reference_passes_after_the_students_cut_and_the_split_in_both_styles():
    by_id = tasks()
    programs = []
    for task_id in TABBED:
        task = by_id[task_id]
        body = reference_body(task)
        assert "\t" in body
        with pytest.raises(SyntaxError):  # as it was: a TabError after the spaced docstring
            ast.parse(task.prompt + body)
        programs.append((task.prompt + finish(task.prompt, body), task.test))
        # a backend that strips the prompt's trailing newline (transformers) joins the same
        programs.append((task.prompt.rstrip() + finish(task.prompt.rstrip(), "\n" + body), task.test))
        program, _ = split_program(task, task.solution)
        programs.append((program, task.test))
        paper = paper_task_prompt(task)  # the paper's style: the header alone above the body
        programs.append((paper + paper_cut(finish(paper, body)), task.test))
    with Executor(workers=2) as executor:
        results = executor.run_many(programs)
    assert [(r.status, r.feedback[:80]) for r in results] == [("passed", "")] * len(programs)

def test_the_prompts_own_indentation_is_kept_byte_for_byte():
    prompt = 'def f(x):\n    """Doc."""\n'
    body = "    if x:\n      return 1\n    return 2\n"
    assert match_indent(prompt, body) == body
    assert match_indent("def f(x):\n", "\treturn x\n") == "\treturn x\n"  # no body line: free

def test_only_logical_lines_move_strings_and_continuations_stay():
    prompt = 'def f(x):\n    """Doc."""\n'
    body = '\tif x:\n\t\ts = """a\n\tb"""\n\t\treturn (s,\n\t\t\t1)\n\treturn 0\n\n\ndef g():\n\treturn 1\n'
    assert match_indent(prompt, body) == ('    if x:\n        s = """a\n\tb"""\n        return (s,\n'
                                          '\t\t\t1)\n    return 0\n\n\ndef g():\n    return 1\n')

def test_training_rows_hold_the_prompts_indentation_and_print_no_syntax_warning(tmp_path):
    task = tasks()["MBPP/51"]
    body = reference_body(task).replace("return False", "return x is 0")  # compiles with a warning
    with SessionStore.open(tmp_path, "s", create=True) as store:
        store.tasks.add([task])
        store.refinements.add("stand", teacher_model="t", program=task.prompt + body, validated=True,
                             task_id=task.task_id, round=0)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            (row,) = build_examples(store, "stand")
            split_program(task, task.solution.replace("return False", "return x is 0"))
    assert [w for w in caught if issubclass(w.category, SyntaxWarning)] == []
    assert "\t" not in row["completion"] and "        return True" in row["completion"]
    ast.parse(row["prompt"] + row["completion"])


def test_parsing_code_with_an_invalid_escape_prints_nothing():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ast.parse('import re\n\ndef f(s):\n    return re.findall("\\d+", s)\n')
    assert caught == []
