"""The command line that does what an app form does, read off the click command itself.

    from persd.cli.collect import collect
    command_for(collect, CollectConfig(session="s", teacher_model="gpt-4o-mini", limit=5))
    # 'persd collect --session s --teacher-model gpt-4o-mini --limit 5'

Every option of the command named like a field of `settings` is written when its value
differs from the option's default (so the line stays short and reads as what was changed);
flags are written when set. The options' names and defaults are the command's own, so the
line is what `persd` parses back into the same settings (tests/test_equivalent_command.py).
"""

from __future__ import annotations

import dataclasses
import shlex
from typing import Any

import click


def command_for(command: click.Command, settings: Any, *, program: str = "persd",
                env: dict[str, str] | None = None) -> str:
    """`program <command> --option value ...` for `settings` (a dataclass, or a dict of
    option names to values); `env` is written in front (`OPENAI_BASE_URL=... persd ...`)."""
    values = dict(settings) if isinstance(settings, dict) else \
        _flat(dataclasses.asdict(settings))
    parts = [f"{name}={shlex.quote(value)}" for name, value in (env or {}).items()]
    parts += [program, command.name or ""]
    for param in command.params:
        if not isinstance(param, click.Option) or param.name not in values:
            continue
        value = values[param.name]
        if value is None or (value == param.default and not param.required):
            continue
        flag = max(param.opts, key=len)  # the long name: --timeout, not -t
        if param.is_flag:
            if value:
                parts.append(flag)
            continue
        parts += [flag, shlex.quote(_text(value))]
    return " ".join(parts)


def _flat(values: dict) -> dict:
    """A nested group of settings (CollectConfig.sampling) as top-level names, as the
    command line takes them (--temperature, --top-p, --max-new-tokens)."""
    flat = {name: value for name, value in values.items() if not isinstance(value, dict)}
    for group in (value for value in values.values() if isinstance(value, dict)):
        flat.update({name: value for name, value in group.items() if name not in flat})
    return flat


def _text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)
