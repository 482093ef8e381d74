"""Settings dataclasses built from plain dicts (JSON files, stored runs, the CLI).

    config = settings_from_dict(StudentConfig, {"model": "m", "n": 2}, "student")

Unknown keys and values of the wrong type are rejected with one message that names them.
JSON has no int/float distinction, so an int is a float here; a bool is never a number.

`Sampling` is the student's sampling (temperature, top_p, max_new_tokens): one value,
checked once, held by every config that samples (collect, eval, loop, the students):

    config = EvalConfig(sampling=Sampling(temperature=0.2))
    config = EvalConfig(temperature=0.2)         # the same: `@with_sampling` folds the keys
    student.complete(prompts, n=4, **config.sampling)
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
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
    """`cls(**values)` after checking that every key is a field and every value fits.
    A class with a `sampling` field also takes its keys flat (how runs are stored)."""
    known = [f.name for f in dataclasses.fields(cls)]
    if "sampling" in known:
        try:
            values = fold_sampling(cls, values)
        except (TypeError, ValueError) as problem:
            raise error(f"invalid {what} setting(s): {problem}") from problem
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise error(f"unknown {what} setting(s): {', '.join(unknown)}; known: {', '.join(known)}")
    bad = wrong_types(values, cls)
    if bad:
        raise error(f"invalid {what} setting(s): " + "; ".join(bad))
    return cls(**values)


def default_of(config: type, field: str) -> Any:
    """The default a settings dataclass declares for `field`: the one place it is written,
    for the CLI and the app alike. A sampling key is read from the config's `sampling`."""
    if field in SAMPLING_FIELDS and field not in {f.name for f in dataclasses.fields(config)}:
        return getattr(default_of(config, "sampling"), field)
    spec = next(f for f in dataclasses.fields(config) if f.name == field)
    if spec.default is not dataclasses.MISSING:
        return spec.default
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    raise ValueError(f"{config.__name__}.{field} has no default")


MAX_TEMPERATURE = 2.0  # the OpenAI API's bound; every backend shares it


SAMPLING_FIELDS = ("temperature", "top_p", "max_new_tokens")


@dataclass(frozen=True)
class Sampling:
    """The student's sampling, checked once, here.

    Parameters:
        temperature (`float`, defaults to `0.3`): The paper's collection setting; `0` is
            greedy decoding. At most 2 (the OpenAI API's bound).
        top_p (`float`, defaults to `0.95`): Nucleus sampling mass, in (0, 1]; no top-k cut.
        max_new_tokens (`int`, defaults to `512`): Upper bound on a completion's length.

    It unpacks as keywords (`complete(prompts, **sampling)`) and `replace(**changes)` gives
    a new, checked value.
    """

    temperature: float = 0.3
    top_p: float = 0.95
    max_new_tokens: int = 512

    def __post_init__(self) -> None:
        bad = wrong_types({name: getattr(self, name) for name in SAMPLING_FIELDS}, Sampling)
        if bad:
            raise TypeError("invalid sampling: " + "; ".join(bad))
        check_sampling(self.temperature, self.top_p, self.max_new_tokens)

    def replace(self, **changes: Any) -> Sampling:
        unknown = sorted(set(changes) - set(SAMPLING_FIELDS))
        if unknown:
            raise TypeError(f"unknown sampling option(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def keys(self) -> tuple[str, ...]:
        return SAMPLING_FIELDS

    def __getitem__(self, name: str) -> Any:
        if name not in SAMPLING_FIELDS:
            raise KeyError(name)
        return getattr(self, name)


def fold_sampling(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """`values` with flat sampling keys folded into its `sampling` (a `Sampling`, or a dict
    as `to_dict` of an older run may hold it), over the class's default sampling."""
    flat = {name: values[name] for name in SAMPLING_FIELDS if name in values}
    given = values.get("sampling")
    if not flat and not isinstance(given, dict):
        return values
    base = given if isinstance(given, Sampling) else default_of(cls, "sampling")
    nested = given if isinstance(given, dict) else {}
    rest = {k: v for k, v in values.items() if k not in SAMPLING_FIELDS}
    return {**rest, "sampling": base.replace(**nested, **flat)}


def with_sampling(cls: type[Settings]) -> type[Settings]:
    """A settings dataclass with a `sampling: Sampling` field also takes `temperature`,
    `top_p` and `max_new_tokens` as keywords (folded into `sampling`) and reads them back as
    attributes; `sampling_dict()` is its fields with the sampling laid flat, as runs store it."""
    init = cls.__init__

    def __init__(self, *args: Any, **values: Any) -> None:
        init(self, *args, **fold_sampling(cls, values))

    __init__.__doc__, __init__.__wrapped__ = init.__doc__, init
    cls.__init__ = __init__
    for name in SAMPLING_FIELDS:
        setattr(cls, name, property(lambda self, name=name: getattr(self.sampling, name),
                                    doc=f"`sampling.{name}`"))
    return cls


def flat_dict(config: Any) -> dict[str, Any]:
    """`dataclasses.asdict(config)` with its `sampling` laid flat: the stored form."""
    values = dataclasses.asdict(config)
    return {**{k: v for k, v in values.items() if k != "sampling"}, **values["sampling"]}


def check_sampling(temperature: float, top_p: float, max_new_tokens: int | None = None) -> None:
    """The one check of sampling settings, for every student, the teacher and evaluation."""
    if not 0 <= temperature <= MAX_TEMPERATURE:
        raise ValueError(f"temperature must be between 0 and {MAX_TEMPERATURE:g} (got {temperature})")
    if not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1] (got {top_p})")
    if max_new_tokens is not None and max_new_tokens < 1:
        raise ValueError(f"max_new_tokens must be at least 1 (got {max_new_tokens})")
