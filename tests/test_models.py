"""What the app and `persd demo` offer as real models: only folders `persd models get` finished."""

from __future__ import annotations

from persd.models import get_model, installed_models


def test_only_a_finished_conversion_is_offered(tmp_path):
    assert installed_models(tmp_path) == []
    (tmp_path / "smollm2-135m").mkdir()
    (tmp_path / "smollm2-135m" / "config.json").write_text("{}")  # an interrupted or foreign folder
    assert installed_models(tmp_path) == []
    (tmp_path / "smollm2-135m" / "persd-model.json").write_text('{"parameters": 134515008}')
    assert installed_models(tmp_path) == [str(tmp_path / "smollm2-135m")]
    info = get_model("smollm2-135m", tmp_path / "smollm2-135m")  # found, not converted again
    assert not info.created and info.parameters == 134515008
