"""Teacher backends: a strong model that repairs the student's failed code.

    from persd.teacher import OpenAITeacher, TeacherConfig, MemoryCache
    teacher = OpenAITeacher(TeacherConfig(model="gpt-4o-mini"), cache=MemoryCache())
    await teacher.check()                                   # fail fast: key, URL, model
    validate = lambda program: executor.run(program, task.test, task.prompt)
    result = await teacher.refine(task, attempt_code, feedback, validate)
    result.validated, result.program, result.reason, result.cost_usd

`refine` asks for the closest fix of the student's code, extracts the code from the reply,
places it after `task.prompt` (see `persd.prompts.split_program`), runs `validate` on it
and, on failure, asks again with the new feedback, up to `tries` times. The caller may
`asyncio.gather` many refine()/solve() coroutines: at most `concurrency` API calls are in
flight at once. Errors that must end a run (wrong key, unreachable endpoint, unknown model)
are raised as `TeacherError` subclasses; any other failed call is recorded in the result.
A new vendor or the Batch API is a new class that follows `persd.teacher.Teacher`.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from persd.code.extract import extract_code
from persd.code.splice import split_failure, split_program
from persd.prompts import teacher_refine_messages, teacher_retry_messages, teacher_solve_messages
from persd.teacher.base import (
    TeacherAuthError, TeacherCall, TeacherError, TeacherModelNotFound, TeacherResult,
    TeacherUnavailable, Validate,
)
from persd.teacher.cache import ResponseCache, cache_key
from persd.teacher.config import TeacherConfig

if TYPE_CHECKING:
    from persd.tasks import Task
    from persd.teacher.ledger import BatchLedger


async def _chat(client, request: dict):
    """POST /chat/completions with the SDK's retries, timeouts and errors, but without
    `create()`'s recursive re-typing of the messages (about 2 ms of CPU a call, which
    throttles a loop driving dozens of calls at once). The body is plain JSON already."""
    from openai.types.chat import ChatCompletion

    return await client.post("/chat/completions", body=request, cast_to=ChatCompletion)


class OpenAITeacher:
    """A teacher behind any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, ...)."""

    def __init__(self, config: TeacherConfig, cache: ResponseCache | None = None):
        self.config = config
        self.model = config.model
        self.cache = cache
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._semaphore: asyncio.Semaphore | None = None

    async def check(self) -> None:
        """One cheap request, so a wrong key, URL or model fails before any work starts."""
        import openai

        client = self._connect()[0].with_options(max_retries=min(1, self.config.max_retries))
        try:
            listed = {model.id for model in (await client.models.list()).data}
        except openai.NotFoundError:
            listed = set()  # an endpoint without /models: the chat request below decides
        except Exception as error:
            raise self._fatal(error) or TeacherUnavailable(self._where(str(error))) from error
        if self.model in listed:
            return
        try:
            await client.chat.completions.create(
                model=self.model, messages=[{"role": "user", "content": "Say OK."}], max_tokens=1
            )
        except Exception as error:
            fatal = self._fatal(error)
            if fatal is not None:  # anything else (400, 429) still shows key and URL work
                raise fatal from error

    async def refine(
        self, task: Task, code: str, feedback: str, validate: Validate
    ) -> TeacherResult:
        """Ask for the closest correct fix of the student's `code`, validated by `validate`."""
        messages = teacher_refine_messages(task, code, feedback, self.config.include_reference)
        return await self._converse(task, messages, "refine", validate)

    async def solve(self, task: Task, validate: Validate) -> TeacherResult:
        """Ask for a solution from scratch (StanD, InpD), validated by `validate`."""
        return await self._converse(task, teacher_solve_messages(task), "solve", validate)

    async def flush(self, ledger: BatchLedger, round: int) -> None:
        """A live teacher holds no requests back."""

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = self._loop = None

    async def _converse(
        self, task: Task, messages: list[dict], purpose: str, validate: Validate
    ) -> TeacherResult:
        calls: list[TeacherCall] = []
        program = completion = last = None
        reason = ""
        for attempt in range(1, self.config.tries + 1):
            call = await self.ask(messages, purpose if attempt == 1 else "retry")
            calls.append(call)
            if call.error is not None:
                return TeacherResult(program, completion, False, f"teacher error: {call.error}",
                                     attempt, calls, last)
            reason, feedback, split = self._judge(task, call.raw_reply or "")
            if split is not None:
                program, completion = split
                last = await asyncio.to_thread(validate, program)
                if last.passed:
                    return TeacherResult(program, completion, True, "", attempt, calls, last)
                reason = feedback = last.feedback
            if attempt < self.config.tries:
                messages = teacher_retry_messages(messages, call.raw_reply or "", feedback)
        return TeacherResult(program, completion, False, reason, self.config.tries, calls, last)

    @staticmethod
    def _judge(task: Task, reply: str) -> tuple[str, str, tuple[str, str] | None]:
        """(reason, feedback for the teacher, split program) for a reply before execution."""
        code = extract_code(reply, task.entry_point)
        if code is None:
            return "no code in reply", "Your reply has no ```python code block.", None
        split = split_program(task, code)
        if split is not None:
            return "", "", split
        reason = split_failure(task, code)
        if reason.startswith("does not define"):
            return reason, f"Your code does not define a function named `{task.entry_point}`.", None
        return reason, reason, None

    async def ask(self, messages: list[dict], purpose: str) -> TeacherCall:
        """One chat call with the cache, retries, concurrency limit and cost accounting;
        failures that must stop a run raise, others come back in `TeacherCall.error`."""
        request: dict[str, Any] = {"model": self.model, "messages": messages,
                                   "temperature": self.config.temperature}
        if self.config.max_tokens is not None:
            request["max_tokens"] = self.config.max_tokens
        key = cache_key(request)
        hit = self.cache.get(key) if self.cache is not None else None
        if hit is not None:
            return TeacherCall(purpose, self.model, messages, hit["reply"],
                               hit.get("prompt_tokens", 0), hit.get("completion_tokens", 0),
                               cached=True)
        client, semaphore = self._connect()
        async with semaphore:
            start = time.perf_counter()
            try:
                response = await _chat(client, request)
            except Exception as error:
                fatal = self._fatal(error)
                if fatal is not None:
                    raise fatal from error
                return TeacherCall(purpose, self.model, messages, None, error=_describe(error),
                                   duration_s=time.perf_counter() - start)
            duration = time.perf_counter() - start
        reply = (response.choices[0].message.content or "") if response.choices else ""
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage else 0
        completion_tokens = usage.completion_tokens if usage else 0
        price = self.config.price(self.model) or self.config.price(response.model or "")
        cost = (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6 if price else 0.0
        if self.cache is not None and reply:
            self.cache.put(key, {"reply": reply, "model": response.model,
                                 "prompt_tokens": prompt_tokens,
                                 "completion_tokens": completion_tokens})
        return TeacherCall(purpose, self.model, messages, reply, prompt_tokens, completion_tokens,
                           cost, price is not None, duration_s=duration)

    def _connect(self) -> tuple[Any, asyncio.Semaphore]:
        """The SDK client and semaphore of the running event loop (asyncio.run makes new loops)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            from openai import AsyncOpenAI

            api_key = self.config.resolved_api_key()
            if api_key is None:
                raise TeacherAuthError(self._where("no API key: set OPENAI_API_KEY"))
            self._client = AsyncOpenAI(
                base_url=self.config.resolved_base_url(), api_key=api_key,
                max_retries=self.config.max_retries, timeout=self.config.timeout_s,
            )
            self._semaphore = asyncio.Semaphore(self.config.concurrency)
            self._loop = loop
        return self._client, self._semaphore

    def _where(self, what: str) -> str:
        return f"teacher endpoint {self.config.resolved_base_url()} (model {self.model}): {what}"

    def _fatal(self, error: Exception) -> TeacherError | None:
        """The typed error for failures that must stop the run; None for per-call ones."""
        import openai

        url = self.config.resolved_base_url()
        if isinstance(error, (openai.AuthenticationError, openai.PermissionDeniedError)):
            return TeacherAuthError(f"the teacher endpoint {url} rejected the API key "
                                    f"(HTTP {error.status_code}): {error.message}")
        if isinstance(error, openai.NotFoundError):
            return TeacherModelNotFound(f"the teacher endpoint {url} has no model {self.model!r} "
                                        "(HTTP 404): check the model name and the base URL")
        if isinstance(error, openai.APITimeoutError):
            return None
        if isinstance(error, openai.APIConnectionError):
            cause = error.__cause__ or error
            return TeacherUnavailable(self._where(f"cannot connect ({cause})"))
        if isinstance(error, openai.APIStatusError) and error.status_code >= 500:
            retries = self.config.max_retries
            return TeacherUnavailable(self._where(
                f"HTTP {error.status_code} after {retries} retries: {error.message}"))
        return None


def _describe(error: Exception) -> str:
    message = getattr(error, "message", None) or str(error)
    return f"{type(error).__name__}: {message}"
