"""The student model field of the Train tab: which local models there are, and whether a
typed value can be loaded, checked before a run starts.

    local_models([Path("models"), runs_dir])   # ["models/tiny", "runs/s1-persd-full", ...]
    model_problem("models/tiny")               # None, or one sentence saying what is wrong

A local model is a folder holding config.json (a transformers checkpoint). A value that
is not one is taken as a Hugging Face id when it looks like one (`org/name`); with
HF_HUB_OFFLINE=1 an id must already be in the local Hub cache.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from huggingface_hub import try_to_load_from_cache

TINY_NAME = "tiny"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_DEPTH = 3  # models/<name>, runs/<run>/<checkpoint>: deep enough, cheap to scan


def local_models(roots: Iterable[Path]) -> list[str]:
    """Folders holding config.json under each root (at most a few levels down), sorted,
    written relative to the working folder when they are inside it."""
    found: set[str] = set()
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for config in _configs(root, _DEPTH):
            found.add(_shown(config.parent))
    return sorted(found)


def _configs(folder: Path, depth: int) -> Iterable[Path]:
    if (folder / "config.json").is_file():
        yield folder / "config.json"
        return  # a model's own subfolders (checkpoints) are not offered apart
    if depth == 0:
        return
    try:
        children = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return
    for child in children:
        yield from _configs(child, depth - 1)


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path.resolve())


def model_problem(value: str | None, offline: bool | None = None) -> str | None:
    """Why `value` cannot be loaded as the student, or None when it can be tried."""
    value = (value or "").strip()
    if not value:
        return "give the student model: pick a local model folder, create the tiny model, " \
               "or type a Hugging Face id"
    path = Path(value).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").is_file():
            return f"{value} is not a model folder (it holds no config.json)"
        return None
    if _path_like(value):
        return (f"no model folder {value}: create the tiny model (button beside the field) "
                "or give a Hugging Face id such as Qwen/Qwen2.5-Coder-0.5B")
    if offline is None:
        offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes",
                                                                           "on")
    if offline and not _in_hub_cache(value):
        return (f"{value} is not in the local Hugging Face cache and HF_HUB_OFFLINE=1 keeps "
                "the app from downloading it: pick a local model folder, or download the "
                "model first (with network access)")
    return None


def _path_like(value: str) -> bool:
    """A value that names a folder rather than a Hub id: ./x, ../x, /x, ~/x, a/b/c, or a/b
    whose first part is a local folder (e.g. models/tiny when models/ exists)."""
    if value.startswith(("./", "../", "/", "~", ".")) or not _HUB_ID.match(value):
        return True
    first = value.split("/")[0]
    return "/" in value and (Path(first).is_dir() or first in ("models", "runs", "sessions"))


def _in_hub_cache(repo_id: str) -> bool:
    try:
        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except ValueError:  # not a valid repo id
        return False
