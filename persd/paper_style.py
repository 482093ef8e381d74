"""Training rows in the paper's prompt style (`--prompt-style paper`; PAPER.md).

    from persd.paper_style import paper_task_prompt, paper_refine_example
    prompt = paper_task_prompt(task)        # the description in a module docstring, the header
    prompt = paper_repair_prompt(task, failed_program, its_run)   # at inference
    body = paper_cut(generated)             # the stop rule: before the first top-level line
    prompt, completion = paper_refine_example(task, attempt, refinement, program, completion,
                                              store.imports.source(refinement.id))

The release (SalesforceAIResearch/PersDistill) asks for a task as its description in a
module docstring above the function header (MBPP: the task's text, a blank line, the first
test as `>>> Example: f(x)=y` as written, and the reference's code up to its `def` line;
HumanEval: "Write a python function for the following task.", the prompt's docstrings as
written, and the prompt's code above its first docstring), and for a repair with its
"Rectify the below code ..." template (persd.prompts.PAPER_REFINE_TEMPLATE): the task, the student's own
completion, the error as `paper_error` words it, the task again and the header. A record
imported from a release file (unedited) is rebuilt from that row's own pieces, so the row
comes out as the release wrote it, character for character. Everything else is built from
the session: the task's description and header, the attempt's completion, and its stored
run's first failing test.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from persd.execution.result import ExecutionResult
from persd.prompts import paper_error, paper_refine_prompt, paper_task_block
from persd.store.records import result_of
from persd.tasks.formats import Task

_MODULE_DOC = re.compile(r'^\s*("""|\'\'\')\n?([\s\S]*?)\n?\1')
_DOCSTRING = re.compile(r'"""(.*?)"""', re.S)
_ASK = "Write a python function for the following task.\n"  # the release's HumanEval ask


def paper_task_prompt(task: Task) -> str:
    """The release's task prompt: the description as a module docstring, then the header
    (for MBPP, the reference's code up to the end of its `def` line, as the release cuts it)."""
    if _mbpp_parts(task):
        return f"{paper_task_block(task_description(task))}\n\n{_code_prefix(task)}\n"
    docstrings = _docstring_parts(task)
    if docstrings:  # no blank line after the docstring here: the release writes none
        return f"{paper_task_block(docstrings[0])}\n{docstrings[1]}\n"
    return f"{paper_task_block(task_description(task))}\n\n{task_header(task)}\n"


def paper_refine_example(task: Task, attempt: Any, refinement: Any, program: str, completion: str,
                         source: Any = None) -> tuple[str, str]:
    """(prompt, completion) of a persd-refine row in the release's wording. `program` is
    what is trained on (an edit, or the refinement) and `completion` its body after
    `task.prompt`; `source` the record's ImportSource, when it was imported."""
    parts = getattr(source, "paper_parts", None)
    if parts and program == refinement.program:  # the release's own row, as it was written
        return (paper_refine_prompt(parts["task"], parts["code"], parts["error"], parts["header"]),
                parts["completion"])
    block = parts["task"] if parts else paper_task_block(task_description(task))
    code = parts["code"] if parts else attempt.completion
    error = parts["error"] if parts else run_error(result_of(attempt.execution))
    header = parts["header"] if parts else task_header(task)  # an edit keeps the row's prompt
    return paper_refine_prompt(block, code, error, header), completion


def paper_cut(completion: str) -> str:
    """The release's stop rule: the completion ends before its first line in column 0
    (the function body alone; what follows it is the model's own test code or chatter)."""
    lines = completion.split("\n")
    for index, line in enumerate(lines):
        if index and line.strip() and not line[:1].isspace():
            return "\n".join(lines[:index]).rstrip() + "\n"
    return completion


def paper_repair_prompt(task: Task, program: str, run: Any) -> str:
    """The release's refine prompt at inference, for `program` (the task prompt and a
    failed completion) and its `run` (the error the student is shown)."""
    head = paper_task_prompt(task)
    code = program[len(head):] if program.startswith(head) else program
    return paper_refine_prompt(paper_task_block(task_description(task)), code,
                               run if isinstance(run, str) else run_error(run), task_header(task))


def task_description(task: Task) -> str:
    """The task's text: the prompt's module docstring as written, else (MBPP) the task's
    text, a blank line and its first test as the release shows it, else (HumanEval's
    shape) the release's ask and the prompt's docstrings as written, else the docstring of
    its function (cleaned), else nothing."""
    found = _MODULE_DOC.match(task.prompt)
    if found:
        return found.group(2)
    mbpp = _mbpp_parts(task)
    if mbpp:
        return f"{mbpp[0]}\n\n>>> Example: {mbpp[1]}"
    docstrings = _docstring_parts(task)
    return docstrings[0] if docstrings else _function_docstring(task)


def _docstring_parts(task: Task) -> tuple[str, str] | None:
    """(description, code) of a prompt that holds its description in docstrings (HumanEval),
    read as the release's HumanEval `format_prompt` reads it: the ask, then the text of every
    docstring as written (indentation and all), one after another; the code is what stands
    above the first docstring (imports and the `def` line). None for a prompt that starts
    with a module docstring (already the release's shape) or has no docstring.

    Where the first docstring is not the function's (five HumanEval tasks: a helper or a
    constant comes first, and HumanEval/64's code would end in `FIX =`), the release's cut
    leaves the function out; the code then runs to the function's `def` line instead."""
    text = task.prompt.replace("'''", '"""')
    docstrings = _DOCSTRING.findall(text)
    if not docstrings or _MODULE_DOC.match(task.prompt):
        return None
    code = text.split('"""')[0].strip()
    header = task_header(task)
    if not header:
        return None
    if header not in code:
        code = task.prompt[: task.prompt.index(header) + len(header)].strip()
    return _ASK + "\n".join(docstrings), code


def _function_docstring(task: Task) -> str:
    try:
        tree = ast.parse(task.prompt.rstrip() + "\n    pass\n")
    except (SyntaxError, ValueError):
        return ""
    function = next((node for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                     and node.name == task.entry_point), None)
    return (ast.get_docstring(function) or "") if function else ""


def _mbpp_parts(task: Task) -> tuple[str, str] | None:
    """(text, example) of an MBPP task (persd's prompt: its text, then "Example:" and the
    first test in the function's docstring); None for any other task. The example is the
    first test as written (its visible test), worded as the release words it: what follows
    the last "assert ", every "==" made "=" (`f(x)==y` -> `f(x)=y`, spaces as written)."""
    text, marker, _ = _function_docstring(task).partition("\n\nExample:\n")
    first = task.visible_test.rstrip("\n").rpartition("\n")[2]
    if not marker or not first.lstrip().startswith("assert "):
        return None
    return text, first.split("assert ")[-1].replace("==", "=")


def _code_prefix(task: Task) -> str:
    """The reference up to the end of the function's `def` line (its imports, constants and
    helpers above it included), found as the release finds it; else the header alone."""
    found = re.search(rf"def [ ]*{re.escape(task.entry_point)}[ ]*\(.*\)[ ]*:", task.solution)
    return task.solution[: found.end()] if found else task_header(task)


def task_header(task: Task) -> str:
    """The lines of `task.prompt` that open its function: from `def` to the colon that ends
    the signature (not the first colon: `def f(x: int) -> int:` is one header)."""
    found = re.search(rf"^[ \t]*(?:async[ \t]+)?def[ \t]+{re.escape(task.entry_point)}\b", task.prompt, re.M)
    depth = 0
    for index in range(found.end() if found else len(task.prompt), len(task.prompt)):
        char = task.prompt[index]
        depth += (char in "([{") - (char in ")]}")
        if char == ":" and depth == 0:
            return task.prompt[found.start(): index + 1]
    return ""


def run_error(run: ExecutionResult | None) -> str:
    """A stored run's first failure as the release words it (see persd.prompts.paper_error)."""
    if run is None or run.passed:
        return ""
    test = run.failing_test
    if test is not None and test.status == "failed" and test.expected:
        call = re.search(r"\((.*)\)\s*==", test.source)
        return paper_error("AssertionError", input=f"({call.group(1)})" if call else test.source,
                           output=test.returned, expected=test.expected)
    if run.exception is not None:
        return paper_error(run.exception.type, message=run.exception.message)
    if test is not None and test.error:
        kind, _, message = test.error.partition(": ")
        return paper_error(kind, message=message)
    return paper_error(run.error_type or run.status, message=run.feedback.strip().split("\n")[-1])
