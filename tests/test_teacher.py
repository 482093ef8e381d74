"""The OpenAI-compatible teacher against a real local HTTP server (tests/openai_server.py)."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from persd.teacher import (
    MemoryCache,
    OpenAITeacher,
    TeacherAuthError,
    TeacherConfig,
    TeacherModelNotFound,
    TeacherUnavailable,
    cache_key,
)
from tests.openai_server import OpenAITestServer, humaneval_tasks

TASKS = humaneval_tasks()[:20]
TASK = TASKS[2]  # truncate_number


def _subprocess_run(program: str, test: str):
    """Stand-in for Executor.run (trusted reference code only) while it is not importable."""
    done = subprocess.run([sys.executable, "-c", program + "\n" + test],
                          capture_output=True, text=True, timeout=10)
    return SimpleNamespace(passed=done.returncode == 0, feedback=done.stderr.strip()[-500:])


def _inprocess_run(program: str, test: str):
    """Trusted reference code, run in this process: cheap enough not to blur a timing."""
    try:
        exec(compile(program + "\n" + test, "<program>", "exec"), {"__name__": "program"})
    except Exception as error:
        return SimpleNamespace(passed=False, feedback=repr(error))
    return SimpleNamespace(passed=True, feedback="")


@pytest.fixture(scope="module")
def run_tests():
    try:
        from persd.execution import Executor
    except ImportError:
        yield _subprocess_run
        return
    with Executor(timeout_s=5.0) as executor:
        yield executor.run


@pytest.fixture
def server():
    with OpenAITestServer(tasks=TASKS) as running:
        yield running


def teacher_for(server: OpenAITestServer, cache=None, **settings) -> OpenAITeacher:
    settings = {"model": "gpt-4o-mini", "base_url": server.base_url, "api_key": "test", **settings}
    return OpenAITeacher(TeacherConfig(**settings), cache=cache)


def wrong_attempt(task=TASK) -> tuple[str, str]:
    return task.prompt + "    return 0.0\n", "AssertionError: returned 0.0, expected 0.5"


def refine(teacher, run_tests, task=TASK, results=None):
    def validate(program: str):
        result = run_tests(program, task.test)
        if results is not None:
            results.append(result)
        return result

    return asyncio.run(teacher.refine(task, *wrong_attempt(task), validate))


def test_good_reply_is_validated_in_one_try(server, run_tests):
    result = refine(teacher_for(server), run_tests)
    assert result.validated and result.tries == 1 and result.reason == ""
    assert result.program == TASK.prompt + result.completion
    assert run_tests(result.program, TASK.test).passed
    [call] = result.calls
    assert call.purpose == "refine" and not call.cached and call.error is None
    assert call.prompt_tokens > 0 and call.completion_tokens > 0
    [body] = server.chat_requests()
    assert body["model"] == "gpt-4o-mini" and body["temperature"] == 0.0
    assert "return 0.0" in body["messages"][-1]["content"]
    assert TASK.test.strip() not in json.dumps(body)  # hidden tests never reach the teacher
    assert server.requests[0]["headers"]["authorization"] == "Bearer test"


def test_wrong_code_then_good_code_validates_on_the_second_try(server, run_tests):
    server.inject("wrong_code")
    results = []
    result = refine(teacher_for(server), run_tests, results=results)
    assert result.validated and result.tries == 2
    assert [c.purpose for c in result.calls] == ["refine", "retry"]
    assert not results[0].passed and results[1].passed
    retry = server.chat_requests()[1]["messages"]
    assert retry[-2]["role"] == "assistant" and "return None" in retry[-2]["content"]
    assert results[0].feedback.strip() and results[0].feedback.strip()[:200] in retry[-1]["content"]


def test_replies_without_code_stay_unvalidated_with_a_reason(server, run_tests):
    server.inject("no_code", count=2)
    result = refine(teacher_for(server), run_tests)
    assert not result.validated and result.tries == 2 and len(result.calls) == 2
    assert result.reason == "no code in reply" and result.program is None
    assert "no ```python code block" in server.chat_requests()[1]["messages"][-1]["content"]


def test_wrong_code_every_time_keeps_the_last_program_and_its_feedback(server, run_tests):
    server.inject("wrong_code", count=2)
    result = refine(teacher_for(server), run_tests)
    assert not result.validated and result.tries == 2
    assert result.program is not None and result.reason == result.last_execution.feedback


def test_429_honours_retry_after(server, run_tests):
    server.inject("429", retry_after=1.0)
    start = time.perf_counter()
    result = refine(teacher_for(server), run_tests)
    assert time.perf_counter() - start >= 1.0
    assert result.validated and len(server.chat_requests()) == 2


def test_429_until_retries_run_out_is_recorded_not_raised(server, run_tests):
    server.inject("429", count=2, retry_after=0.1)
    result = refine(teacher_for(server, max_retries=1), run_tests)
    assert not result.validated and result.reason.startswith("teacher error: RateLimitError")
    assert result.calls[0].error and result.calls[0].raw_reply is None


def test_500_is_retried(server, run_tests):
    server.inject("500")
    result = refine(teacher_for(server), run_tests)
    assert result.validated and len(server.chat_requests()) == 2


def test_persistent_500_means_unavailable(server, run_tests):
    server.inject("500", count=2)
    with pytest.raises(TeacherUnavailable, match=server.base_url):
        refine(teacher_for(server, max_retries=1), run_tests)


def test_slow_reply_times_out_and_is_retried(server, run_tests):
    server.inject("slow", delay_s=5.0)
    start = time.perf_counter()
    result = refine(teacher_for(server, timeout_s=0.5), run_tests)
    assert result.validated and time.perf_counter() - start < 4.0
    assert len(server.chat_requests()) == 2


def test_wrong_key_raises_auth_error(run_tests):
    with OpenAITestServer(tasks=TASKS, api_key="right") as server:
        teacher = teacher_for(server, api_key="wrong")
        with pytest.raises(TeacherAuthError, match=f"{server.base_url} rejected the API key"):
            refine(teacher, run_tests)
        with pytest.raises(TeacherAuthError):
            asyncio.run(teacher.check())
        asyncio.run(teacher_for(server, api_key="right").check())


def test_injected_401_raises_auth_error(server, run_tests):
    server.inject("401")
    with pytest.raises(TeacherAuthError):
        refine(teacher_for(server), run_tests)


def test_closed_port_raises_unavailable(run_tests):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        teacher = OpenAITeacher(TeacherConfig(model="m", base_url=f"http://127.0.0.1:{port}/v1",
                                              max_retries=1))
        with pytest.raises(TeacherUnavailable, match=f"127.0.0.1:{port}"):
            refine(teacher, run_tests)
        with pytest.raises(TeacherUnavailable, match="cannot connect"):
            asyncio.run(teacher.check())


def test_unknown_model_raises_model_not_found(run_tests):
    with OpenAITestServer(tasks=TASKS, models=["teacher-a"]) as server:
        with pytest.raises(TeacherModelNotFound, match="teacher-b"):
            asyncio.run(teacher_for(server, model="teacher-b").check())
        with pytest.raises(TeacherModelNotFound):
            refine(teacher_for(server, model="teacher-b"), run_tests)
        asyncio.run(teacher_for(server, model="teacher-a").check())
        assert server.chat_requests()[-1]["model"] == "teacher-b"  # listed models skip the chat


def test_cache_makes_a_rerun_free(server, run_tests):
    cache = MemoryCache()
    first = refine(teacher_for(server, cache=cache), run_tests)
    assert first.cost_usd > 0 and len(server.chat_requests()) == 1
    second = refine(teacher_for(server, cache=cache), run_tests)
    assert len(server.chat_requests()) == 1  # no HTTP request at all
    assert second.validated and second.cost_usd == 0.0 and second.calls[0].cached
    assert second.program == first.program
    assert list(cache.entries) == [cache_key(server.chat_requests()[0])]


def test_cost_follows_usage_and_the_price_table(server, run_tests, tmp_path, monkeypatch):
    call = refine(teacher_for(server), run_tests).calls[0]
    expected = (call.prompt_tokens * 0.15 + call.completion_tokens * 0.60) / 1e6
    assert call.cost_known and call.cost_usd == pytest.approx(expected)
    unknown = refine(teacher_for(server, model="mystery-model"), run_tests).calls[0]
    assert unknown.cost_usd == 0.0 and not unknown.cost_known
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"mystery-model": [1.0, 2.0]}))
    monkeypatch.setenv("PERSD_PRICES", str(prices))
    priced = refine(teacher_for(server, model="mystery-model"), run_tests).calls[0]
    assert priced.cost_usd == pytest.approx((priced.prompt_tokens + 2 * priced.completion_tokens) / 1e6)


def test_concurrency_is_bounded_and_parallel():
    with OpenAITestServer(tasks=TASKS, latency_s=0.2) as server:
        teacher = teacher_for(server, concurrency=8)

        async def refine_all():
            await teacher.check()  # warm up: SDK import and client, outside the timing
            jobs = [teacher.refine(task, *wrong_attempt(task), lambda p, t=task: _inprocess_run(p, t.test))
                    for task in TASKS[:16]]
            start = time.perf_counter()
            results = await asyncio.gather(*jobs)
            return results, time.perf_counter() - start

        results, elapsed = asyncio.run(refine_all())
    assert all(r.validated for r in results), [r.reason for r in results if not r.validated]
    assert elapsed < 1.5, elapsed
    assert 2 <= server.max_in_flight <= 8


def test_solve_without_reference(server, run_tests):
    teacher = teacher_for(server, include_reference=False)
    result = asyncio.run(teacher.solve(TASK, lambda p: run_tests(p, TASK.test)))
    assert result.validated and result.calls[0].purpose == "solve"
    [body] = server.chat_requests()
    assert TASK.solution.strip() not in json.dumps(body)


def test_config_from_dict_rejects_unknown_keys_and_bad_types(monkeypatch):
    assert TeacherConfig.from_dict({"model": "m", "concurrency": 4}).concurrency == 4
    with pytest.raises(ValueError, match="unknown teacher setting.*colour"):
        TeacherConfig.from_dict({"model": "m", "colour": "red"})
    with pytest.raises(ValueError, match="concurrency"):
        TeacherConfig.from_dict({"model": "m", "concurrency": "8"})
    with pytest.raises(ValueError, match="tries"):
        TeacherConfig(model="m", tries=0)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    assert TeacherConfig(model="m", base_url="http://localhost:8000/v1").resolved_api_key() == "EMPTY"
    assert TeacherConfig(model="m").resolved_api_key() is None
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")
    config = TeacherConfig(model="gpt-4o", api_key="secret")
    assert config.resolved_base_url() == "http://127.0.0.1:9/v1"
    assert "secret" not in json.dumps(config.to_dict())
    assert config.price("gpt-4o-2024-08-06") == (2.50, 10.00)


def test_missing_key_for_a_remote_endpoint_is_an_auth_error(monkeypatch, run_tests):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    teacher = OpenAITeacher(TeacherConfig(model="m", base_url="https://api.example.invalid/v1"))
    with pytest.raises(TeacherAuthError, match="OPENAI_API_KEY"):
        asyncio.run(teacher.check())
