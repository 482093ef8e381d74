"""The simulated demo session built once per test module, and a fresh copy of it per test
(tests plant reviews, runs and reasons in their copy)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from persd.demo import build_demo_session
from persd.execution import Executor
from persd.store import SessionStore


def build_demo(folder: Path, limit: int, executor: Executor | None = None) -> Path:
    """The demo session on `limit` tasks in `folder`, judged by `executor` (else a 2-sandbox one)."""
    if executor is not None:
        return build_demo_session(folder, limit=limit, executor=executor)
    with Executor(workers=2, timeout_s=3.0) as own:
        return build_demo_session(folder, limit=limit, executor=own)


@contextmanager
def opened_copy(template: Path, folder: Path) -> Iterator[SessionStore]:
    """A copy of the session file `template` in `folder`, opened."""
    copy = folder / "demo.sqlite"
    copy.write_bytes(template.read_bytes())
    with SessionStore(copy) as store:
        yield store
