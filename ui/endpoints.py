"""Which teacher endpoints the app may call, with which key, and what of their errors a
page may see.

    from persd_app.endpoints import TeacherEndpoints, QuietTeacher
    endpoints = TeacherEndpoints.from_options(["http://gpu-box:8000/v1"])   # + the env
    base_url, api_key = endpoints.resolve(typed_url, typed_key)          # ValueError
    teacher = QuietTeacher(OpenAITeacher(TeacherConfig(model, base_url, api_key)))

The server's key (`OPENAI_API_KEY`) belongs to the operator: it is only ever sent to an
endpoint the operator listed (`persd app --teacher-endpoint URL`, `PERSD_TEACHER_ENDPOINTS`,
and the server's own `OPENAI_BASE_URL`, else OpenAI's URL). An endpoint a reviewer types is
refused unless the operator allowed it (`--allow-custom-endpoints`), and then it needs the
reviewer's own key. A remote error body never reaches the page: a reviewer who could point
the server at any URL would otherwise read the replies of hosts only the server can reach.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from persd.teacher import TeacherAuthError, TeacherError, TeacherModelNotFound, TeacherUnavailable

OPENAI_DEFAULT_URL = "https://api.openai.com/v1"  # as persd.teacher's default endpoint
# The SDK's exception names of per-call failures (kept in a TeacherCall's error text).
CALL_ERRORS = {
    "BadRequestError": "HTTP 400 (bad request)",
    "ConflictError": "HTTP 409",
    "UnprocessableEntityError": "HTTP 422",
    "RateLimitError": "HTTP 429 (rate limited)",
    "InternalServerError": "HTTP 5xx (server error)",
    "APITimeoutError": "timed out",
    "APIConnectionError": "unreachable",
    "AuthenticationError": "authentication failed",
    "PermissionDeniedError": "authentication failed",
    "NotFoundError": "model not found",
}


def normalize_url(url: str) -> str:
    """`url` with a lower-case scheme and host and no trailing slash (ValueError if it is
    not an http(s) URL with a host)."""
    text = (url or "").strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"teacher endpoint {text!r}: expected an http:// or https:// URL "
                         "such as http://localhost:8000/v1")
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/"),
                       parts.query, "")).rstrip("/")


@dataclass(frozen=True)
class TeacherEndpoints:
    """The operator's endpoints (the first is the default) and whether others may be typed."""

    listed: tuple[str, ...]
    allow_custom: bool = False

    @classmethod
    def from_options(cls, given: Iterable[str] = (), allow_custom: bool = False,
                     env: Mapping[str, str] | None = None) -> TeacherEndpoints:
        """`given` (--teacher-endpoint), then PERSD_TEACHER_ENDPOINTS (comma or space
        separated), then the server's OPENAI_BASE_URL (else OpenAI's URL); ValueError names
        a malformed one."""
        env = os.environ if env is None else env
        urls = [*given, *re.split(r"[,\s]+", env.get("PERSD_TEACHER_ENDPOINTS", "")),
                env.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_URL]
        listed = dict.fromkeys(normalize_url(url) for url in urls if url and url.strip())
        return cls(tuple(listed), allow_custom)

    def resolve(self, endpoint: str | None, typed_key: str | None,
                env: Mapping[str, str] | None = None) -> tuple[str, str | None]:
        """(base_url, api_key) for a run; ValueError with the reason a form is refused.
        The key is None only for a listed endpoint when the server has none either."""
        env = os.environ if env is None else env
        url = normalize_url(endpoint) if (endpoint or "").strip() else self.listed[0]
        key = (typed_key or "").strip() or None
        if url in self.listed:
            return url, key or env.get("OPENAI_API_KEY") or None
        if not self.allow_custom:
            raise ValueError(f"teacher endpoint {url} is not one the operator allows: pick "
                             "one from the list (the operator adds others with persd app "
                             "--teacher-endpoint URL)")
        if key is None:
            raise ValueError("an endpoint you type needs your own API key (any text, e.g. "
                             "EMPTY, for a local server without keys): the server's key is "
                             "only sent to the endpoints the operator listed")
        return url, key


def classify(error: BaseException) -> str:
    """A short, fixed description of a teacher failure: never the remote reply's text."""
    status = getattr(error.__cause__, "status_code", None)
    if isinstance(error, TeacherAuthError):
        if status is None:
            return "no API key for this endpoint: type one"
        return f"authentication failed (HTTP {status}): check the API key"
    if isinstance(error, TeacherModelNotFound):
        return "model not found at this endpoint (HTTP 404): check the model name"
    if status is not None:
        return f"the endpoint answered HTTP {status}"
    if isinstance(error, TeacherUnavailable):
        return "unreachable: no connection to the endpoint"
    return f"failed ({type(error).__name__})"


def classify_call(text: str) -> str:
    """A TeacherCall's error text ("RateLimitError: <remote message>") without the message."""
    name = text.split(":", 1)[0].strip()
    return CALL_ERRORS.get(name, f"failed ({name})" if name.isidentifier() else "failed")


class QuietTeacher:
    """A teacher whose failures carry `classify`'s short text instead of the remote one;
    everything else is the wrapped teacher's."""

    def __init__(self, teacher: Any, where: str) -> None:
        self._teacher, self.model = teacher, teacher.model
        self._where = where  # "teacher endpoint URL (model M)", the prefix of every error

    @property
    def cache(self) -> Any:
        return self._teacher.cache

    @cache.setter
    def cache(self, value: Any) -> None:
        self._teacher.cache = value

    async def check(self) -> None:
        await self._quiet(self._teacher.check())

    async def refine(self, task, code: str, feedback: str, validate):
        return self._scrub(await self._quiet(self._teacher.refine(task, code, feedback,
                                                                  validate)))

    async def solve(self, task, validate):
        return self._scrub(await self._quiet(self._teacher.solve(task, validate)))

    async def flush(self, ledger, round: int) -> None:
        await self._quiet(self._teacher.flush(ledger, round))

    async def aclose(self) -> None:
        await self._teacher.aclose()

    async def _quiet(self, call):
        try:
            return await call
        except TeacherError as error:
            # The SDK's error stays the cause, for logs; str() is all a page shows.
            raise type(error)(f"{self._where}: {classify(error)}") from error.__cause__

    @staticmethod
    def _scrub(result):
        for call in result.calls:
            if call.error is not None:
                call.error = classify_call(call.error)
        prefix = "teacher error: "
        if result.reason.startswith(prefix):
            result.reason = prefix + classify_call(result.reason[len(prefix):])
        return result
