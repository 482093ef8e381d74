"""Instruct students: the prompt as a chat turn, and the reply cut back to a completion.

    from persd.student.chat import chat_messages, reply_completion, resolve_format
    fmt = resolve_format("auto", tokenizer, "models/smollm2-135m")    # "chat" or "completion"
    text = tokenizer.apply_chat_template(chat_messages(prompt), tokenize=False,
                                         add_generation_prompt=True)
    completion = reply_completion(prompt, reply)   # prompt + completion: the program

A student prompt (`persd.prompts`) always ends with the function header to complete. In
`chat` format it goes to the model as one user message asking for the whole function; the
reply's code is found and laid out after the prompt by the rule that turns a teacher's
reply into a training row (`extract_code`, then `split_program`), so what a chat student is
scored on has the shape training rows have. In `completion` format (a base model) the
prompt is continued as text.
"""

from __future__ import annotations

import re
from typing import Any

from persd.code.extract import defined_names, extract_code, parse
from persd.code.splice import split_program
from persd.tasks.formats import Task

PROMPT_FORMATS = ("completion", "chat", "auto")
# Names of instruct-tuned checkpoints: "-Instruct", "-chat", "-it" (Gemma), "-sft".
_INSTRUCT_NAME = re.compile(r"(instruct|chat|[-_]it\b|[-_]sft\b)", re.I)


def chat_messages(prompt: str) -> list[dict[str, str]]:
    """The student prompt as the single user message of a chat."""
    return [{"role": "user", "content": (
        "Complete the Python function below. Reply with the complete function in one "
        f"```python code block.\n\n```python\n{prompt.rstrip()}\n```")}]


def reply_completion(prompt: str, reply: str) -> str:
    """The completion of `prompt` that the code in a chat `reply` amounts to ("" when the
    reply has no code defining the prompt's function), so that `prompt + completion` runs."""
    entry = _open_function(prompt)
    code = extract_code(reply, entry)
    if code is None or entry is None:
        return ""
    task = Task(task_id="", prompt=prompt, entry_point=entry, test="", visible_test="",
                solution="", source="")
    split = split_program(task, code)
    return split[1] if split else ""


def _open_function(prompt: str) -> str | None:
    """The function the prompt's header opens: its last top-level definition."""
    tree = parse(prompt.rstrip() + "\n    pass\n") or parse(prompt)
    if tree is None:
        return None
    functions = [n.name for n in tree.body if n.__class__.__name__ in ("FunctionDef", "AsyncFunctionDef")]
    return functions[-1] if functions and functions[-1] in defined_names(tree) else None


def chat_row(tokenizer: Any, prompt: str, completion: str) -> tuple[str, str]:
    """A training row (prompt, completion) in chat format: the chat-templated user message
    up to the reply, and the reply `reply_completion` reads `completion` back from."""
    text = tokenizer.apply_chat_template(chat_messages(prompt), tokenize=False, add_generation_prompt=True)
    return text, training_reply(prompt, completion)


def training_reply(prompt: str, completion: str) -> str:
    """The program `prompt + completion` as a chat reply: one ```python block, without the
    comment lines a refine prompt opens with (the failed attempt and its errors)."""
    lines = (prompt + completion).split("\n")
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("#")):
        lines.pop(0)
    return "```python\n" + "\n".join(lines).strip("\n") + "\n```"


def resolve_format(prompt_format: str, tokenizer: Any, model: str, config: Any = None) -> str:
    """"chat" or "completion" for a student; `auto` is chat when the tokenizer has a chat
    template and the model looks instruct-tuned (its name, its config's
    name_or_path, or the file `persd models get` converted it from)."""
    if prompt_format not in PROMPT_FORMATS:
        raise ValueError(f"prompt_format must be one of {', '.join(PROMPT_FORMATS)} (got {prompt_format!r})")
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if prompt_format == "chat" and not has_template:
        raise ValueError(f"--prompt-format chat needs a chat template, and the tokenizer of {model} "
                         "has none; use --prompt-format completion")
    if prompt_format != "auto":
        return prompt_format
    names = [model, *(str(getattr(config, key, "") or "") for key in ("_name_or_path", "persd_source"))]
    names += [str(getattr(tokenizer, "name_or_path", "") or "")]
    instruct = any(_INSTRUCT_NAME.search(name.rstrip("/").split("/")[-1]) for name in names if name)
    return "chat" if has_template and instruct else "completion"
