"""A student already served behind an OpenAI-compatible completions endpoint.

    from persd.student.openai import OpenAIStudent, OpenAIStudentConfig
    student = OpenAIStudent(OpenAIStudentConfig(model="Qwen/Qwen2.5-Coder-1.5B",
                                                base_url="http://localhost:8000/v1"))
    student.complete(["def add(a, b):\\n"], n=4)      # [[body, body, body, body]]

For a student served by `vllm serve MODEL` (add `--enable-lora --lora-modules
round1=out/adapter` and pass `model="round1"` for a fine-tuned one) or by
`transformers serve MODEL`. The student continues a raw prompt, so this backend uses the
legacy completions API (`/v1/completions`), not chat: both servers have it, so there is
no chat fallback. Each completion is ended by `persd.student.base.finish` here as well,
because servers differ in whether they send the stop string back (transformers serve
does; vLLM does not). Requests run on a thread pool, `concurrency` at once.

Server differences, handled here: `transformers serve` ignores `n` (one choice per
request), so missing samples are asked for with further requests; and it samples only if
the model's generation_config says `do_sample: true` (a `temperature` alone does not turn
sampling on), so with a model that decodes greedily by default all n samples may be equal.
"""

from __future__ import annotations

import hashlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from persd.settings import Sampling, flat_dict, with_sampling
from persd.student.base import STOP_SEQUENCES, StudentLoadError, finish, resolve_sampling


class StudentServerError(RuntimeError):
    """The student's endpoint failed a request after the SDK's retries."""


@with_sampling
@dataclass
class OpenAIStudentConfig:
    """Settings of a student behind an OpenAI-compatible `/v1/completions` endpoint.

    Parameters:
        model (`str`): the model's name at the endpoint (vLLM: the served name or a
            `--lora-modules` name; transformers serve: the id or folder it serves).
        base_url (`str | None`, default `None`): e.g. `http://localhost:8000/v1`; `None` falls
            back to `PERSD_STUDENT_BASE_URL` (not `OPENAI_BASE_URL`, which names the teacher).
        api_key (`str | None`, default `None`): falls back to `PERSD_STUDENT_API_KEY`, then
            `"EMPTY"` (what vLLM and transformers serve accept). Never stored.
        sampling (`Sampling`, default `Sampling()`): the paper's sampling; its
            max_new_tokens is sent as `max_tokens`.
        n (`int`, default `1`): completions per prompt when `complete` gets no `n`.
        concurrency (`int`, default `8`): requests in flight at once.
        seed (`int | None`, default `None`): derived per call, prompt and request and sent
            along, so a rerun repeats its samples where the server honours `seed`.
        timeout_s (`float`, default `300.0`) and max_retries (`int`, default `3`): per
            request, with the SDK's own backoff.
    """

    model: str
    base_url: str | None = None
    api_key: str | None = None
    sampling: Sampling = field(default_factory=Sampling)
    n: int = 1
    concurrency: int = 8
    seed: int | None = None
    timeout_s: float = 300.0
    max_retries: int = 3

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("OpenAIStudentConfig.model is required")
        if self.n < 1 or self.concurrency < 1:
            raise ValueError("n and concurrency must be >= 1")

    def resolved_base_url(self) -> str:
        url = self.base_url or os.environ.get("PERSD_STUDENT_BASE_URL")
        if not url:
            raise ValueError("the openai student backend needs a base URL "
                             "(--student-base-url or PERSD_STUDENT_BASE_URL)")
        return url.rstrip("/")

    def to_dict(self) -> dict[str, Any]:
        data = flat_dict(self)
        data.pop("api_key")
        return data


class OpenAIStudent:
    """The `Student` protocol over `/v1/completions`; see the module docstring."""

    def __init__(self, config: OpenAIStudentConfig):
        from openai import OpenAI

        self.config = config
        self.name = config.model
        self.base_url = config.resolved_base_url()
        self._calls = 0
        self._lock = threading.Lock()
        self.usage = {"requests": 0, "prompt_tokens": 0, "completion_tokens": 0}
        api_key = config.api_key or os.environ.get("PERSD_STUDENT_API_KEY") or "EMPTY"
        self._client = OpenAI(base_url=self.base_url, api_key=api_key,
                              timeout=config.timeout_s, max_retries=config.max_retries)
        self._check()

    def complete(self, prompts: list[str], n: int | None = None, **sampling: Any) -> list[list[str]]:
        n, settings = resolve_sampling(self.config, n, sampling)
        greedy = settings["temperature"] == 0
        asked = 1 if greedy else n  # greedy samples are identical: ask once, copy
        call = self._calls
        self._calls += 1
        with ThreadPoolExecutor(self.config.concurrency) as pool:
            results = list(pool.map(lambda i: self._samples(prompts[i], asked, settings, (call, i)),
                                    range(len(prompts))))
        return [samples * n if greedy else samples for samples in results]

    def close(self) -> None:
        self._client.close()

    def _samples(self, prompt: str, n: int, settings: Sampling, where: tuple[int, int]) -> list[str]:
        """n completions of one prompt; servers that ignore `n` are asked again."""
        samples: list[str] = []
        while len(samples) < n:
            seed = _seed(self.config.seed, *where, len(samples))
            samples += self._request(prompt, n - len(samples), settings, seed)
        return samples[:n]

    def _request(self, prompt: str, n: int, settings: Sampling, seed: int | None) -> list[str]:
        import openai

        request: dict[str, Any] = {
            "model": self.config.model, "prompt": prompt, "n": n,
            "temperature": settings["temperature"], "top_p": settings["top_p"],
            "max_tokens": settings["max_new_tokens"], "stop": list(STOP_SEQUENCES),
        }
        if seed is not None:
            request["seed"] = seed
        try:
            response = self._client.completions.create(**request)
        except openai.APIError as error:
            raise StudentServerError(self._where(_describe(error))) from error
        if not response.choices:
            raise StudentServerError(self._where("the reply has no choices"))
        with self._lock:
            self.usage["requests"] += 1
            if response.usage is not None:
                self.usage["prompt_tokens"] += response.usage.prompt_tokens
                self.usage["completion_tokens"] += response.usage.completion_tokens
        choices = sorted(response.choices, key=lambda choice: choice.index)
        return [finish(prompt, choice.text or "") for choice in choices]

    def _check(self) -> None:
        """Fail at construction, like a model that cannot load: wrong URL, key or model name."""
        import openai

        client = self._client.with_options(max_retries=1)
        try:
            served = {model.id for model in client.models.list()}
        except openai.NotFoundError:
            served = set()  # no /models route: the probe below decides
        except openai.APIError as error:
            raise StudentLoadError(self._where(f"cannot list models: {_describe(error)}")) from error
        if self.config.model in served:
            return
        # Unlisted is not unknown: an unpinned `transformers serve` loads models on demand.
        try:
            client.completions.create(model=self.config.model, prompt="def", max_tokens=1)
        except openai.APIError as error:
            listing = f"; it lists: {', '.join(sorted(served))}" if served else ""
            raise StudentLoadError(self._where(f"{_describe(error)}{listing}")) from error

    def _where(self, what: str) -> str:
        return f"student endpoint {self.base_url} (model {self.config.model}): {what}"


def _seed(seed: int | None, call: int, index: int, request: int) -> int | None:
    """A distinct, reproducible seed per request (a fixed one would repeat every sample)."""
    if seed is None:
        return None
    digest = hashlib.sha256(f"{seed}:{call}:{index}:{request}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def _describe(error: Exception) -> str:
    status = getattr(error, "status_code", None)
    message = getattr(error, "message", None) or str(error)
    cause = error.__cause__
    detail = f" ({cause})" if cause is not None and "Connection" in type(error).__name__ else ""
    return f"{type(error).__name__}{f' HTTP {status}' if status else ''}: {message}{detail}"
