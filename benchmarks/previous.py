"""A previous revision's `persd` package in a folder, for benchmarks that measure against it."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def previous_copy(revision: str, into: Path) -> Path:
    """`persd/` as it was at `revision`, extracted under `into` (which is returned)."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "persd"], capture_output=True,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into
