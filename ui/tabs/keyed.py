"""Handlers that return {output name: value}, wired to Gradio components by name.

    out = Keyed(note=note_html, steps=steps_html)          # name -> component
    button.click(out.wire(handlers.begin), inputs, out.list, show_progress="minimal")
    handlers.begin(...)  # -> {"note": "<div ...>", "steps": ""}: what a unit test checks

A handler names only what it changes; every other output is left as it is (gr.skip()).
Generator handlers (progress loops) are wired the same way. The wrapper keeps the
handler's signature, so Gradio still injects `gr.Progress` and `gr.Request` parameters.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import gradio as gr


class Keyed:
    def __init__(self, **components: Any) -> None:
        self.components = components

    @property
    def list(self) -> list[Any]:
        return list(self.components.values())

    def only(self, *names: str) -> Keyed:
        return Keyed(**{name: self.components[name] for name in names})

    def values(self, out: dict[str, Any]) -> list[Any]:
        """The handler's dict as Gradio's positional outputs (skip for names not given)."""
        unknown = set(out) - set(self.components)
        if unknown:
            raise KeyError(f"no output named {', '.join(sorted(unknown))}")
        values = [out[name] if name in out else gr.skip() for name in self.components]
        return values[0] if len(values) == 1 else values  # Gradio wraps a single output

    def wire(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def stream(*args: Any, **kwargs: Any):
                for out in fn(*args, **kwargs):
                    yield self.values(out)
            return stream

        @functools.wraps(fn)
        def call(*args: Any, **kwargs: Any):
            return self.values(fn(*args, **kwargs))
        return call
