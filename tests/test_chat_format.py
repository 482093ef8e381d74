"""The chat prompt format: a reply's code laid out after the prompt by the training rule,
and `auto` choosing the format (persd.student.chat)."""

from __future__ import annotations

import pytest

from persd.code.splice import split_program
from persd.prompts import student_refine_prompt
from persd.student.chat import reply_completion, resolve_format
from persd.tasks import load_tasks

REPLY = ("Here is the function:\n\n```python\nfrom typing import List\n\n"
         "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
         "    return any(abs(a - b) < threshold\n"
         "               for i, a in enumerate(numbers) for b in numbers[i + 1:])\n```\n"
         "It compares every pair.")


@pytest.fixture(scope="module")
def task():
    return load_tasks("humaneval")[0]


def test_reply_code_becomes_the_completion_training_rows_have(task):
    completion = reply_completion(task.prompt, REPLY)
    assert completion == split_program(task, REPLY.split("```python\n")[1].split("```")[0])[1]
    namespace: dict = {}
    exec(task.prompt + completion + "\n" + task.test + f"\ncheck({task.entry_point})", namespace)


def test_a_refine_prompt_is_completed_the_same_way(task):
    prompt = student_refine_prompt(task, "def has_close_elements(n, t):\n    return 1\n", "AssertionError")
    assert reply_completion(prompt, REPLY) == reply_completion(task.prompt, REPLY)


def test_a_reply_without_the_function_completes_nothing(task):
    assert reply_completion(task.prompt, "I cannot help with that.") == ""
    assert reply_completion(task.prompt, "```python\ndef other():\n    return 1\n```") == ""


def test_auto_is_chat_only_for_an_instruct_model_with_a_template(tiny_model_dir):
    from transformers import AutoTokenizer

    tiny = AutoTokenizer.from_pretrained(tiny_model_dir)
    assert tiny.chat_template  # the tiny model has one, but is no instruct model
    assert resolve_format("auto", tiny, tiny_model_dir) == "completion"
    assert resolve_format("auto", tiny, "org/Coder-1.5B") == "completion"
    assert resolve_format("auto", tiny, "org/Coder-1.5B-Instruct") == "chat"
    assert resolve_format("chat", tiny, tiny_model_dir) == "chat"
    tiny.chat_template = None
    assert resolve_format("auto", tiny, "org/Coder-1.5B-Instruct") == "completion"
    with pytest.raises(ValueError, match="has none"):
        resolve_format("chat", tiny, tiny_model_dir)
    with pytest.raises(ValueError, match="prompt_format must be one of"):
        resolve_format("text", tiny, tiny_model_dir)


def test_a_training_reply_reads_back_as_its_completion(task):
    from persd.student.chat import training_reply

    completion = split_program(task, task.solution)[1]
    reply = training_reply(task.prompt.rstrip(), task.prompt[len(task.prompt.rstrip()):] + completion)
    assert reply.startswith("```python\nfrom typing import List") and reply.endswith("\n```")
    assert reply_completion(task.prompt, reply) == completion
    refine = student_refine_prompt(task, "def has_close_elements(n, t):\n    return 1\n", "AssertionError")
    reply = training_reply(refine, completion)
    assert "# " not in reply.split("def has_close_elements")[0]  # the attempt and errors stay out
    assert reply_completion(refine, reply) == completion
