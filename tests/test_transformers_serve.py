"""The chat teacher against a real `transformers serve` running the tiny model (offline).

The tiny model's weights are random, so its replies are noise: the point is that the whole
path (SDK, chat template, usage accounting, code extraction, validation) works against a
real server and ends in a clear "not validated" result rather than a crash.
"""

from __future__ import annotations

import asyncio

import pytest

from persd.execution import Executor
from persd.tasks import load_tasks
from persd.teacher import MemoryCache, OpenAITeacher, TeacherConfig
from tests.fixtures_serve import transformers_serve  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow
MAX_TOKENS = 24


@pytest.fixture(scope="module")
def task():
    return load_tasks("humaneval")[0]


def _teacher(served, **overrides) -> OpenAITeacher:
    settings = dict(model=served.model, base_url=served.base_url, max_tokens=MAX_TOKENS, tries=2,
                    timeout_s=60.0, max_retries=0)
    return OpenAITeacher(TeacherConfig(**{**settings, **overrides}), cache=MemoryCache())


async def _check_and_refine(teacher, task, code, feedback, validate):
    try:
        await teacher.check()
        return await teacher.refine(task, code, feedback, validate)
    finally:
        await teacher.aclose()


def test_teacher_refine_against_transformers_serve(transformers_serve, task):
    teacher = _teacher(transformers_serve)
    code = task.prompt + "    return False\n"
    with Executor(workers=1) as executor:
        failed = executor.run(code, task.test)
        assert not failed.passed
        result = asyncio.run(_check_and_refine(
            teacher, task, code, failed.feedback, lambda program: executor.run(program, task.test)))

    assert result.validated is False
    assert result.reason, "an unvalidated result says why"
    if result.program is None:
        assert result.reason == "no code in reply"
    assert result.tries == 2 and [c.purpose for c in result.calls] == ["refine", "retry"]
    for call in result.calls:
        assert call.error is None and isinstance(call.raw_reply, str) and call.raw_reply
        assert call.prompt_tokens > 0 and 0 < call.completion_tokens <= MAX_TOKENS
        assert call.model == transformers_serve.model
        assert call.cost_usd == 0.0 and call.cost_known is False  # a local model has no price
    # The retry turn carries the first reply and the reason back to the model.
    retry_messages = result.calls[1].messages
    assert retry_messages[-2] == {"role": "assistant", "content": result.calls[0].raw_reply}


def test_rerun_is_served_from_the_cache(transformers_serve, task):
    teacher = _teacher(transformers_serve, tries=1)
    code, feedback = task.prompt + "    return False\n", "AssertionError"
    with Executor(workers=1) as executor:
        validate = lambda program: executor.run(program, task.test)  # noqa: E731
        first = asyncio.run(_check_and_refine(teacher, task, code, feedback, validate))
        second = asyncio.run(_check_and_refine(teacher, task, code, feedback, validate))
    assert not first.calls[0].cached and second.calls[0].cached
    assert second.calls[0].raw_reply == first.calls[0].raw_reply
    assert second.calls[0].completion_tokens == first.calls[0].completion_tokens
