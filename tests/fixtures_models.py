"""Model fixtures shared by tests: the tiny model, written once per test session.

tests/conftest.py imports `tiny_model_dir` from here, so every test module can ask for it.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> str:
    """A folder holding `persd tiny-model` output (seed 0). Treat it as read-only."""
    from persd.demo.tiny_model import write_tiny_model

    return write_tiny_model(tmp_path_factory.mktemp("models") / "tiny", seed=0).path
