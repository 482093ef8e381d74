"""The folders a shared app may read: every file or folder a form names is checked here
before anything opens it.

    dirs = DataDirs.of(["sessions", "runs", "models", "/data/tasks"])
    dirs.path("Adapter", "runs/s1-persd")                 # the resolved Path, or PathRefused
    dirs.task_spec("Eval tasks", "hf:/data/tasks/saved:test?text=q")   # checked, or PathRefused
    dirs.model("Student", "Qwen/Qwen2.5-0.5B")            # a hub id passes; a folder is checked

A path is resolved (symlinks and `..` followed) before it is compared with the folders, so
a link inside a data folder that points out of it is refused. A refusal names the field,
the value as typed and the folders, and reads the same whether the path exists or not:
it says nothing about the host's files. Named sources pass unchecked: a task spec in
`NAMED_TASKS` (`humaneval`) and Hugging Face hub ids (`name` or `org/name`, for a model or
an `hf:` dataset) that are not a local path. The app builds one `DataDirs` from
`--data-dir` (default: its sessions, runs and models folders and the shipped task files).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from persd.tasks.formats import SHAPES
from persd.tasks.sources import split_columns

__all__ = ["EVERYWHERE", "NAMED_TASKS", "DataDirs", "PathRefused"]

NAMED_TASKS = frozenset({"humaneval"})  # task specs that name a packaged source, not a file
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")


class PathRefused(ValueError):
    """A form field named a file or folder outside the data folders."""


@dataclass(frozen=True)
class DataDirs:
    roots: tuple[Path, ...]  # resolved; a path must be one of them or inside one

    @classmethod
    def of(cls, folders: Iterable[str | os.PathLike]) -> DataDirs:
        roots = []
        for folder in folders:
            root = Path(folder).expanduser().resolve()
            if root not in roots:
                roots.append(root)
        return cls(tuple(roots))

    def describe(self) -> str:
        return ", ".join(str(root) for root in self.roots) or "none"

    def path(self, field: str, value: str | os.PathLike) -> Path:
        """`value` resolved, when it is inside a data folder; PathRefused otherwise."""
        text = os.fspath(value).strip()
        if not text:
            raise PathRefused(f"{field}: no file or folder given")
        try:
            resolved = Path(text).expanduser().resolve()
        except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte
            resolved = None
        if resolved is None or not any(resolved.is_relative_to(root) for root in self.roots):
            raise PathRefused(f"{field}: {text!r} is outside the data folders ({self.describe()}); "
                              "the operator adds folders with --data-dir")
        return resolved

    def model(self, field: str, value: str | None) -> str:
        """A model or adapter field: a hub id passes, a local path must be inside."""
        text = (value or "").strip()
        if text and not _is_hub_id(text):
            self.path(field, text)
        return text

    def task_spec(self, field: str, spec: str | None) -> str:
        """A task spec (see `persd.tasks.load_tasks`): a named source, a hub dataset, or a
        file or folder inside the data folders; `?mapping` and `<shape>:` prefixes kept."""
        text = (spec or "").strip()
        base, _ = split_columns(text)
        shape, sep, rest = base.partition(":")
        if sep and shape in SHAPES and rest:
            base = rest
        if base in NAMED_TASKS:
            return text
        if base.startswith("hf:"):
            name = base.removeprefix("hf:").split(":", 1)[0]  # without its config and split
            if not _is_hub_id(name):
                self.path(field, name)
            return text
        self.path(field, base)
        return text


EVERYWHERE = DataDirs((Path("/").resolve(),))  # library and CLI use: the caller is the operator


def _is_hub_id(text: str) -> bool:
    """`name` or `org/name` that is not a local path (a hub id the libraries look up)."""
    return bool(_HUB_ID.match(text)) and ".." not in text and not Path(text).exists()
