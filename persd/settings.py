"""Settings dataclasses built from plain dicts (JSON files, stored runs, the CLI).

    config = settings_from_dict(StudentConfig, {"model": "m", "n": 2}, "student")

Unknown keys and values of the wrong type are rejected with one message that names them.
JSON has no int/float distinction, so an int is a float here; a bool is never a number.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

Settings = TypeVar("Settings")


def matches(value: Any, hint: Any) -> bool:
    """Whether `value` fits the type hint (unions, Optional, list[X], dict, plain types)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, arg) for arg in typing.get_args(hint))
    if origin is list:
        (item,) = typing.get_args(hint)
        return isinstance(value, list) and all(matches(v, item) for v in value)
    if origin is tuple:
        return isinstance(value, tuple)
    if origin is dict:
        return isinstance(value, dict)
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is Any:
        return True
    return isinstance(value, hint)


def type_name(hint: Any) -> str:
    return str(hint).replace("typing.", "").replace("<class '", "").replace("'>", "")


def wrong_types(instance_or_values: Any, cls: type) -> list[str]:
    """'name=value (expected T)' for each field whose value does not fit its hint."""
    hints = typing.get_type_hints(cls)
    values = (instance_or_values if isinstance(instance_or_values, dict)
              else {f.name: getattr(instance_or_values, f.name) for f in dataclasses.fields(cls)})
    return [f"{name}={value!r} (expected {type_name(hints[name])})"
            for name, value in values.items() if name in hints and not matches(value, hints[name])]


def settings_from_dict(cls: type[Settings], values: dict[str, Any], what: str,
                       error: type[Exception] = ValueError) -> Settings:
    """`cls(**values)` after checking that every key is a field and every value fits."""
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise error(f"unknown {what} setting(s): {', '.join(unknown)}; known: {', '.join(known)}")
    bad = wrong_types(values, cls)
    if bad:
        raise error(f"invalid {what} setting(s): " + "; ".join(bad))
    return cls(**values)


def default_of(config: type, field: str) -> Any:
    """The default a settings dataclass declares for `field`: the one place it is written,
    for the CLI and the app alike."""
    spec = next(f for f in dataclasses.fields(config) if f.name == field)
    if spec.default is not dataclasses.MISSING:
        return spec.default
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    raise ValueError(f"{config.__name__}.{field} has no default")


MAX_TEMPERATURE = 2.0  # the OpenAI API's bound; every backend shares it


def check_sampling(temperature: float, top_p: float, max_new_tokens: int | None = None) -> None:
    """The one check of sampling settings, for every student, the teacher and evaluation."""
    if not 0 <= temperature <= MAX_TEMPERATURE:
        raise ValueError(f"temperature must be between 0 and {MAX_TEMPERATURE:g} (got {temperature})")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] (got {top_p})")
    if max_new_tokens is not None and max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be at least 1 (got {max_new_tokens})")
