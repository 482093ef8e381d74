"""Teacher backends: a strong model that repairs the student's failed code.

    from persd.teacher import OpenAITeacher, TeacherConfig, MemoryCache
    teacher = OpenAITeacher(TeacherConfig(model="gpt-4o-mini"), cache=MemoryCache())
    await teacher.check()                                   # fail fast: key, URL, model
    validate = lambda program: executor.run(program, task.test)
    result = await teacher.refine(task, attempt_code, feedback, validate)
    result.validated, result.program, result.reason, result.cost_usd

`refine` asks for the closest fix of the student's code, extracts the code from the reply,
places it after `task.prompt` (see `persd.prompts.split_program`), runs `validate` on it
and, on failure, asks again with the new feedback, up to `tries` times. The caller may
`asyncio.gather` many refine()/solve() coroutines: at most `concurrency` API calls are in
flight at once. Errors that must end a run (wrong key, unreachable endpoint, unknown model)
are raised as `TeacherError` subclasses; any other failed call is recorded in the result.
A new vendor or the Batch API is a new class that follows the `Teacher` protocol.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlparse

from persd.settings import matches, settings_from_dict
from persd.prompts import (
    extract_code,
    split_failure,
    split_program,
    teacher_refine_messages,
    teacher_retry_messages,
    teacher_solve_messages,
)

if TYPE_CHECKING:
    from persd.execution import ExecutionResult
    from persd.tasks import Task

Validate = Callable[[str], "ExecutionResult"]

# USD per 1M (input, output) tokens, from OpenAI's published prices at the time of writing.
# Extend or correct with a JSON file named by PERSD_PRICES: {"model": [input, output], ...}.
BUILTIN_PRICES: dict[str, tuple[float, float]] = {
    "gpt-3.5-turbo": (0.50, 1.50),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
}
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"


class TeacherError(Exception):
    """A teacher failure that ends the run; the message says what and where."""


class TeacherAuthError(TeacherError):
    """The endpoint rejected the API key (401/403), or there is no key at all."""


class TeacherUnavailable(TeacherError):
    """The endpoint cannot be reached, or keeps failing with 5xx after all retries."""


class TeacherModelNotFound(TeacherError):
    """The endpoint does not serve the model (404)."""


@dataclass
class TeacherConfig:
    """Settings of an OpenAI-compatible chat teacher.

    Parameters:
        model (`str`): the teacher model's name at the endpoint (required).
        base_url (`str | None`, default `None`): the endpoint, e.g. `http://localhost:8000/v1`
            for vLLM; `None` falls back to `OPENAI_BASE_URL`, then to OpenAI itself.
        api_key (`str | None`, default `None`): `None` falls back to `OPENAI_API_KEY`; with
            neither, a local endpoint gets `"EMPTY"` (what vLLM and Ollama accept). Never
            stored in a session (`to_dict` leaves it out).
        temperature (`float`, default `0.0`): greedy by default, so a rerun asks the same
            question and the response cache makes it free.
        max_tokens (`int | None`, default `1024`): reply budget; `None` leaves it to the server.
        concurrency (`int`, default `8`): API calls in flight at once, across all coroutines.
        max_retries (`int`, default `5`): the SDK's own retries of 429 (honouring
            `Retry-After`), 5xx, timeouts and dropped connections, with exponential backoff.
        timeout_s (`float`, default `120.0`): per HTTP request; a timed-out request is retried.
        tries (`int`, default `2`): teacher replies per task; each failed validation is
            sent back with its feedback, until one passes or the tries run out.
        include_reference (`bool`, default `True`): show the reference solution to the
            teacher as its own earlier answer (as in the paper) before asking for the repair.
        prices (`dict[str, tuple[float, float]]`): USD per 1M input and output tokens per
            model; given entries override `PERSD_PRICES`, which overrides `BUILTIN_PRICES`.
            A model without a price costs 0.0 and its calls have `cost_known=False`.
    """

    model: str
    base_url: str | None = None
    api_key: str | None = None
    temperature: float = 0.0
    max_tokens: int | None = 1024
    concurrency: int = 8
    max_retries: int = 5
    timeout_s: float = 120.0
    tries: int = 2
    include_reference: bool = True
    prices: dict[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("TeacherConfig.model is required")
        for name, low in (("concurrency", 1), ("tries", 1), ("max_retries", 0)):
            if getattr(self, name) < low:
                raise ValueError(f"TeacherConfig.{name} must be >= {low}")
        if self.timeout_s <= 0 or not 0 <= self.temperature <= 2:
            raise ValueError("TeacherConfig needs timeout_s > 0 and 0 <= temperature <= 2")
        self.prices = {**BUILTIN_PRICES, **_env_prices(), **_check_prices(self.prices, "prices")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TeacherConfig:
        """Build from a plain dict (a JSON file, the CLI), rejecting unknown keys and bad types."""
        return settings_from_dict(cls, data, "teacher")

    def to_dict(self) -> dict[str, Any]:
        """The settings to record with a session: everything but the API key."""
        data = dataclasses.asdict(self)
        data.pop("api_key")
        price = self.price(self.model)
        data["prices"] = {self.model: list(price)} if price else {}
        return data

    def resolved_base_url(self) -> str:
        url = self.base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_URL
        return url.rstrip("/")

    def resolved_api_key(self) -> str | None:
        key = self.api_key or os.environ.get("OPENAI_API_KEY")
        if key is None and urlparse(self.resolved_base_url()).hostname in LOCAL_HOSTS:
            return "EMPTY"
        return key

    def price(self, model: str) -> tuple[float, float] | None:
        """Price of a model, also for dated snapshots such as `gpt-4o-2024-08-06`."""
        return self.prices.get(model) or self.prices.get(re.sub(r"-\d{4}-\d{2}-\d{2}$", "", model))


def _check_prices(prices: Any, where: str) -> dict[str, tuple[float, float]]:
    expected = "[input, output] USD per 1M tokens"
    if not isinstance(prices, dict):
        raise ValueError(f"{where}: expected a JSON object of model -> {expected}")
    checked = {}
    for model, pair in prices.items():
        if not (isinstance(pair, (list, tuple)) and len(pair) == 2
                and all(matches(x, float) and x >= 0 for x in pair)):
            raise ValueError(f"{where}: the price of {model!r} should be {expected}")
        checked[str(model)] = (float(pair[0]), float(pair[1]))
    return checked


def _env_prices() -> dict[str, tuple[float, float]]:
    path = os.environ.get("PERSD_PRICES")
    if not path:
        return {}
    try:
        with open(path, encoding="utf-8") as file:
            return _check_prices(json.load(file), f"PERSD_PRICES={path}")
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"PERSD_PRICES={path}: cannot read the price table: {error}") from error


@dataclass
class TeacherCall:
    """One chat call to the teacher, as the session stores it."""

    purpose: str                 # "refine" | "solve" | "retry"
    model: str
    messages: list[dict]
    raw_reply: str | None        # None when the call failed
    prompt_tokens: int = 0       # for a cached call: the tokens of the original call
    completion_tokens: int = 0
    cost_usd: float = 0.0        # 0.0 for cached calls and models without a price
    cost_known: bool = True
    cached: bool = False
    error: str | None = None
    duration_s: float = 0.0


@dataclass
class TeacherResult:
    """The outcome of refine() or solve() for one task."""

    program: str | None          # the latest teacher code that could run: task.prompt + completion
    completion: str | None
    validated: bool
    reason: str                  # why not validated ("" when validated)
    tries: int
    calls: list[TeacherCall]
    last_execution: ExecutionResult | None = None

    @property
    def cost_usd(self) -> float:
        return sum(call.cost_usd for call in self.calls)


class ResponseCache(Protocol):
    """Replies by request hash; `persd.store.SessionStore` implements the same two methods."""

    def get(self, key: str) -> dict | None: ...

    def put(self, key: str, value: dict) -> None: ...


class MemoryCache:
    """A ResponseCache in a dict, for tests and one-off scripts."""

    def __init__(self) -> None:
        self.entries: dict[str, dict] = {}

    def get(self, key: str) -> dict | None:
        return self.entries.get(key)

    def put(self, key: str, value: dict) -> None:
        self.entries[key] = value


class Teacher(Protocol):
    """What the collection loop needs from a teacher backend."""

    model: str

    async def check(self) -> None: ...

    async def refine(
        self, task: Task, code: str, feedback: str, validate: Validate
    ) -> TeacherResult: ...

    async def solve(self, task: Task, validate: Validate) -> TeacherResult: ...


async def _chat(client, request: dict):
    """POST /chat/completions with the SDK's retries, timeouts and errors, but without
    `create()`'s recursive re-typing of the messages (about 2 ms of CPU a call, which
    throttles a loop driving dozens of calls at once). The body is plain JSON already."""
    from openai.types.chat import ChatCompletion

    return await client.post("/chat/completions", body=request, cast_to=ChatCompletion)


def cache_key(request: dict) -> str:
    """sha256 of a request's model, messages and sampling parameters (canonical JSON)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


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
