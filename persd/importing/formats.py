"""What one imported row says: task, the student's attempt, its feedback, the refinement.

    from persd.importing.formats import detect_format, parse_row, RowError
    fmt = detect_format(first_record)                # when the user said --format auto
    parsed = parse_row(fmt, line, record)            # Parsed, or RowError(field, message)

Formats:
  table              columns attempt, refinement (complete programs), and optionally task_id,
                     feedback, prompt (description + header), entry_point, teacher_model;
                     other names map onto these with --columns
  prompt-completion  trl rows: `prompt` + `completion`, or conversational `messages`; a
                     prompt in the paper's rectify form or persd's refine form is split into
                     attempt, feedback and refinement, any other row is a task's solution
  rectify            the paper's released rows (`finetuning_prompt`, `finetuning_completion`)
  persd              `persd export` rows; a "persd" row is the partner of the "persd-refine"
                     row with the same refinement_id, which holds its attempt and feedback

Every row is checked first: at most MAX_ROW_CHARS characters of text, no lone surrogate
(a JSON "\\ud800" decodes to one; SQLite cannot store it), and a task id of printable
text (no NUL or terminal escapes) of at most MAX_TASK_ID characters. Each is a RowError
naming the field, so --skip-bad can skip that row alone.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from persd.code.extract import extract_code
from persd.importing.rectify import is_rectify, paper_parts, parse_rectify
from persd.prompts import student_refine_prompt
from persd.tasks.formats import Task, function_header

FORMATS = ("auto", "table", "prompt-completion", "rectify", "persd")
MAX_ROW_CHARS = 2_000_000  # a task's attempt, feedback and refinement, with room to spare
MAX_TASK_ID = 200
_SURROGATE = re.compile("[\ud800-\udfff]")
_DEF = re.compile(r"^(?:async[ \t]+)?def[ \t]+(\w+)[ \t]*\(", re.M)


class RowError(ValueError):
    def __init__(self, field: str | None, message: str):
        super().__init__(message)
        self.field, self.message = field, message


@dataclass(frozen=True)
class Parsed:
    line: int
    task_id: str | None
    prompt: str | None          # the task's prompt (description + header), when the row has it
    entry_point: str | None
    attempt: str | None         # None: a solution of the task, not a refinement
    feedback: str
    refinement: str
    method: str                 # "persd" with an attempt, else "stand" or "inpd"
    teacher_model: str | None
    paper_parts: dict | None = None  # a release row's raw pieces (rectify.paper_parts)

    @property
    def digest(self) -> str:
        """The row's content, whatever file or format it came in."""
        content = [self.task_id, self.attempt, self.feedback, self.refinement, self.method]
        return hashlib.sha256(json.dumps(content).encode()).hexdigest()


def detect_format(record: dict) -> str:
    if "finetuning_prompt" in record or is_rectify(record.get("prompt")):
        return "rectify"
    if "variant" in record and "prompt" in record and "completion" in record:
        return "persd"
    if ("prompt" in record and "completion" in record) or "messages" in record:
        return "prompt-completion"
    return "table"


def parse_row(fmt: str, line: int, record: dict, paired: set | frozenset = frozenset()
              ) -> Parsed | None:
    """The row as a Parsed record; None for a "persd" row whose refinement_id is in `paired`
    (its persd-refine partner is imported instead)."""
    check_record(record)
    task_id = _task_id(record)
    model = _optional(record, "teacher_model")
    if fmt == "table":
        attempt, refinement = _text(record, "attempt"), _text(record, "refinement")
        entry = _optional(record, "entry_point") or _last_def(refinement) or _last_def(attempt)
        return Parsed(line, task_id, _optional(record, "prompt"), entry, attempt,
                      _optional(record, "feedback") or "", refinement, "persd", model)
    if fmt == "rectify":
        prompt_key = "finetuning_prompt" if "finetuning_prompt" in record else "prompt"
        completion_key = "finetuning_completion" if prompt_key == "finetuning_prompt" else "completion"
        prompt, completion = _text(record, prompt_key), _text(record, completion_key, empty=True)
        return _rectify(line, task_id, model, prompt, completion, prompt_key)
    if fmt == "persd":
        variant = _text(record, "variant")
        if variant == "persd":
            if record.get("refinement_id") in paired:
                return None
            raise RowError("variant", "a 'persd' row holds no student attempt: export "
                                      "persd-combined or persd-refine to import refinements "
                                      "(train --data reads this file as it is)")
        if variant not in ("persd-refine", "stand", "inpd"):
            raise RowError("variant", f"unknown variant {variant!r}")
        prompt, completion = _text(record, "prompt"), _text(record, "completion", empty=True)
        if variant == "persd-refine":
            return _persd_refine(line, task_id, model, prompt, completion, record)
        return _solution(line, task_id, model, prompt, completion, variant)
    if fmt != "prompt-completion":
        raise RowError(None, f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    prompt, completion = _prompt_completion(record)
    if is_rectify(prompt):
        return _rectify(line, task_id, model, prompt, completion, "prompt")
    if prompt.startswith(_REFINE_HEAD):
        return _persd_refine(line, task_id, model, prompt, completion, record)
    return _solution(line, task_id, model, prompt, completion, "stand")


def _rectify(line, task_id, model, prompt, completion, field) -> Parsed:
    try:
        parts = parse_rectify(prompt, completion)
    except ValueError as error:
        raise RowError(field, str(error)) from None
    return Parsed(line, task_id, parts.prompt, parts.entry_point, parts.attempt, parts.feedback,
                  parts.refinement, "persd", model, paper_parts(prompt, completion))


# persd's refine prompt, cut where the task, the code and the feedback go: built from the
# one template in persd.prompts, so that this parser cannot drift from it.
_PLACEHOLDER = Task("", "\0TASK", "f", "", "", "", "")
_TEMPLATE = student_refine_prompt(_PLACEHOLDER, "\0CODE", "\0FEEDBACK")
_REFINE_HEAD, _rest = _TEMPLATE.split("# \0CODE")
_REFINE_MID, _rest = _rest.split("# \0FEEDBACK")
_REFINE_TAIL = _rest.removesuffix("\0TASK")


def _persd_refine(line, task_id, model, prompt, completion, record) -> Parsed:
    text = prompt + completion
    mid = text.find(_REFINE_MID, len(_REFINE_HEAD))
    tail = text.find(_REFINE_TAIL, mid + 1)
    if not text.startswith(_REFINE_HEAD) or mid < 0 or tail < 0:
        raise RowError("prompt", "not persd's refine prompt (its markers are missing)")
    attempt = _uncomment(text[len(_REFINE_HEAD):mid])
    feedback = _uncomment(text[mid + len(_REFINE_MID):tail])
    program = text[tail + len(_REFINE_TAIL):]
    task_prompt = prompt[tail + len(_REFINE_TAIL):] if len(prompt) > tail else ""
    return Parsed(line, task_id, task_prompt + "\n" if task_prompt else None,
                  _optional(record, "entry_point") or _last_def(task_prompt), attempt + "\n",
                  "" if feedback == "(no error text)" else feedback, program, "persd", model)


def _uncomment(text: str) -> str:
    lines = []
    for line in text.split("\n"):
        if line != "#" and not line.startswith("# "):
            raise RowError("prompt", f"line {line[:40]!r} of the refine prompt is not a comment")
        lines.append(line[2:])
    return "\n".join(lines)


def _solution(line, task_id, model, prompt, completion, method) -> Parsed:
    """A prompt and its solution: a header to complete, or a request answered by code."""
    entry = _last_def(prompt)
    if entry is not None:
        return Parsed(line, task_id, prompt, entry, None, "", prompt + completion, method, model)
    code = extract_code(completion)
    entry = _last_def(code or "")
    if code is None or entry is None:
        raise RowError("completion", "no function: the prompt has no header to complete and "
                                     "the completion defines none")
    try:
        header = function_header(code, entry)
    except (SyntaxError, ValueError) as error:
        raise RowError("completion", f"does not parse as Python: {error}") from None
    description = prompt.strip().replace('"""', "'''")
    return Parsed(line, task_id, f'"""\n{description}\n"""\n\n{header}\n', entry, None, "",
                  code, method, model)


def _prompt_completion(record: dict) -> tuple[str, str]:
    if "messages" not in record:
        return _text(record, "prompt"), _text(record, "completion", empty=True)
    messages = record["messages"]
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        raise RowError("messages", "expected a list of {role, content} messages")
    said = {m.get("role"): m.get("content") for m in messages}  # the last of each role
    prompt, reply = said.get("user"), said.get("assistant")
    if not isinstance(prompt, str) or not isinstance(reply, str):
        raise RowError("messages", "needs a user message and an assistant reply (text)")
    if "```" in reply:
        reply = extract_code(reply) or reply
    return prompt, reply


def check_record(record: dict) -> None:
    """The row's size and text, before anything else reads it (RowError naming the field)."""
    total = 0
    for name, value in record.items():
        if not isinstance(value, str):
            continue
        total += len(value)
        if total > MAX_ROW_CHARS:
            raise RowError(name, f"the row holds over {MAX_ROW_CHARS:,} characters of text "
                                 f"(this field {len(value):,}): too big for one task")
        bad = _SURROGATE.search(value)
        if bad:
            raise RowError(name, f"a lone surrogate (U+{ord(bad.group()):04X}) at character "
                                 f"{bad.start()}: not valid Unicode text")


def _task_id(record: dict) -> str | None:
    value = record.get("task_id")
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise RowError("task_id", f"expected a string or an integer, got {type(value).__name__}")
    text = str(value)
    if len(text) > MAX_TASK_ID:
        raise RowError("task_id", f"{len(text):,} characters; a task id has at most "
                                  f"{MAX_TASK_ID}")
    if not text.isprintable():
        odd = next(c for c in text if not c.isprintable())
        raise RowError("task_id", f"holds {odd!r} at character {text.index(odd)}: a task id "
                                  "is printable text")
    return text


def _text(record: dict, name: str, empty: bool = False) -> str:
    if name not in record or record[name] is None:
        raise RowError(name, f"missing (the row has: {', '.join(sorted(record)) or 'nothing'})")
    value = record[name]
    if not isinstance(value, str):
        raise RowError(name, f"expected text, got {type(value).__name__}")
    if not empty and not value.strip():
        raise RowError(name, "is empty")
    return value


def _optional(record: dict, name: str) -> str | None:
    value = record.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RowError(name, f"expected text, got {type(value).__name__}")
    return value


def _last_def(code: str) -> str | None:
    names = [m.group(1) for m in _DEF.finditer(code)]
    return names[-1] if names else None
