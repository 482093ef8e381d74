"""The "rectify" rows released with the paper (SalesforceAIResearch/PersDistill, Apache-2.0).

    from persd.importing.rectify import is_rectify, parse_rectify
    if is_rectify(row["finetuning_prompt"]):
        parts = parse_rectify(row["finetuning_prompt"], row["finetuning_completion"])
        parts.attempt, parts.feedback, parts.refinement, parts.prompt, parts.entry_point

A row's prompt is an instruction, the task (a docstring block), the student's code, the
unit-test error, then the task again and the function header to complete:

    Rectify the below code for the given task based on the errors obtained in the unit tests.
    TASK:
    <task><code>

    ERROR:
    <error, e.g. AssertionError / INPUT: (4) / OUTPUT: 16 / EXPECTED: 6>

    <task><header>

and its completion is the refined function body. Variants label the error "FEEDBACK:" or
have none ("Rectify the below incorrect code ...", "Judge whether the below code ...").
In the released files the header after the repeated task is empty (or holds only imports),
so it is taken from the student's code: its imports and the signature of its last
top-level function (or of `entry_point`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from persd.prompts import PAPER_REFINE_TEMPLATE, paper_refine_prompt
from persd.tasks.formats import function_header

_INSTRUCTION = re.compile(r"\s*(Rectify the below|Judge whether the below code)")
_TASK = re.compile(r"TASK:[ \t]*\r?\n")
_DOCSTRING = re.compile(r"\s*(\"\"\"|''')[\s\S]*?\1[ \t]*\n")
_LABEL = re.compile(r"\n\n(?:ERROR|FEEDBACK):[ \t]*\n")
_JUDGED = re.compile(r"\n\nThe rectified code is:[ \t]*\n")
_DEF = re.compile(r"^(?:async[ \t]+)?def[ \t]+(\w+)[ \t]*\(", re.M)


@dataclass(frozen=True)
class RectifyParts:
    prompt: str        # the task as persd's student sees it: description + header
    entry_point: str
    attempt: str       # the student's complete program
    feedback: str      # the unit-test error as given ("" when the row has none)
    refinement: str    # the refined complete program: prompt + completion


def is_rectify(prompt: object) -> bool:
    return isinstance(prompt, str) and _INSTRUCTION.match(prompt) is not None


def parse_rectify(prompt: str, completion: str, entry_point: str | None = None) -> RectifyParts:
    """Split a rectify row; ValueError says what is missing."""
    prompt = prompt.replace("\r\n", "\n")
    start = _TASK.search(prompt)
    if start is None:
        raise ValueError("no 'TASK:' line in the rectify prompt")
    rest = prompt[start.end():]
    docstring = _DOCSTRING.match(rest)
    if docstring is None:
        raise ValueError("no task docstring after 'TASK:'")
    task = docstring.group(0)
    rest = rest[len(task):]
    repeat = rest.rfind(task.strip("\n"))
    if repeat < 0:
        raise ValueError("the task is not repeated before the header to complete")
    middle, header = rest[:repeat], rest[repeat + len(task.strip("\n")):].strip("\n")
    labels = list(_LABEL.finditer(middle)) or list(_JUDGED.finditer(middle))
    if labels:
        code, feedback = middle[:labels[-1].start()], middle[labels[-1].end():]
        feedback = feedback.strip("\n") if _LABEL.match(labels[-1].group(0)) else ""
    else:
        code, feedback = middle, ""
    if not code.strip():
        raise ValueError("no student code between the task and the error")
    attempt = (task + code).rstrip() + "\n"
    if not _DEF.search(header):  # empty, or only the imports ("HEADER:" in a few rows)
        header = _header(code, entry_point)
    name = entry_point or _last_def(header)
    if name is None:
        raise ValueError("no function header to complete (no 'def' in the header or the code)")
    task_prompt = task.strip("\n") + "\n\n\n" + header.rstrip() + "\n"
    body = completion.replace("\r\n", "\n").strip("\n")
    return RectifyParts(task_prompt, name, attempt, feedback, task_prompt + body.rstrip() + "\n")


def _header(code: str, entry_point: str | None) -> str:
    name = entry_point or _last_def(code)
    try:
        return function_header(code, name)
    except (SyntaxError, ValueError):  # student code often does not parse: take the text
        pass
    starts = [m for m in _DEF.finditer(code) if name in (None, m.group(1))]
    if not starts:
        return ""
    text = code[starts[-1].start():]
    end = re.search(r"\)[^\n]*:[ \t]*(?:#[^\n]*)?$", text, re.M)
    return text[:end.end()] if end else text.split("\n", 1)[0]


def _last_def(code: str) -> str | None:
    names = [m.group(1) for m in _DEF.finditer(code)]
    return names[-1] if names else None


def paper_parts(prompt: str, completion: str) -> dict[str, str] | None:
    """The row's pieces exactly as the release's template (persd.prompts.PAPER_REFINE_TEMPLATE)
    joined them: task, code, error, header, completion, unchanged (CRLF, trailing spaces);
    None when the template does not rebuild the prompt character for character (another
    variant of the instruction, or a prompt edited by hand)."""
    head = PAPER_REFINE_TEMPLATE.split("<<TASK>>", 1)[0]
    if not prompt.startswith(head + '"""'):
        return None
    rest = prompt[len(head):]
    close = rest.find('\n"""', 3)
    if close < 0:
        return None
    task, rest = rest[:close + 4], rest[close + 4:]
    label, repeat = "\n\nERROR: \n", f"\n\n{task}\n"
    error_at = rest.rfind(label)
    tail_at = rest.rfind(repeat)
    if not rest.startswith("\n") or error_at < 0 or tail_at < error_at or not rest.endswith("\n"):
        return None
    parts = {"task": task, "code": rest[1:error_at],
             "error": rest[error_at + len(label):tail_at],
             "header": rest[tail_at + len(repeat):-1]}
    if paper_refine_prompt(parts["task"], parts["code"], parts["error"], parts["header"]) != prompt:
        return None
    return {**parts, "completion": completion}
