"""Outputs readable by their owner only, as session files are: 0600 files, 0700 folders.

    from persd import private
    private.make_dir(out)                       # mkdir -p; the folders it creates are 0700
    private.write_text(out / "config.json", text)
    subprocess.Popen(..., umask=private.UMASK)  # a child's files: 0600, its folders 0700

Exports and training outputs hold the session's code, prompts and weights tuned on them;
a session is 0600, so what is made from it is no more readable. os.umask is never set in
this process: it is process-wide and the app has other threads.
"""

from __future__ import annotations

import os
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700
UMASK = 0o077


def make_dir(path: str | Path) -> Path:
    """`path` and any missing parents, the ones created here 0700."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for folder in missing:
        os.chmod(folder, DIR_MODE)
    return path


def write_text(path: str | Path, text: str) -> None:
    """Write `path` 0600 (a file left there before is replaced, its mode with it)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE), "w",
                   encoding="utf-8") as file:
        file.write(text)


def open_log(path: str | Path, append: bool):
    """A text file to append to (or truncate), created 0600."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    return os.fdopen(os.open(path, flags, FILE_MODE), "a" if append else "w")


def make_tree_private(root: str | Path) -> None:
    """Every file under `root` 0600, every folder 0700 (root included)."""
    os.chmod(root, DIR_MODE)
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(os.path.join(folder, name), DIR_MODE)
        for name in files:
            os.chmod(os.path.join(folder, name), FILE_MODE)
