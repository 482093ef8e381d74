"""Settings of an OpenAI-compatible teacher, and the price table its costs come from."""

from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from persd.settings import check_sampling, matches, settings_from_dict

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
        if self.timeout_s <= 0:
            raise ValueError("TeacherConfig needs timeout_s > 0")
        check_sampling(self.temperature, 1.0)
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
