"""Form memory (persd.forms) and the panel's handlers (persd_app.tabs.form_memory): what a
session's Train and Evaluate forms last held, and named presets, in a JSON file beside the
session database."""

from __future__ import annotations

import json

import pytest

from persd.forms import FormMemory, FormMemoryError
from persd.store import SessionNameError
from persd_app.tabs.form_memory import FormMemoryHandlers


def test_last_values_and_presets_survive_a_new_reader(tmp_path):
    memory = FormMemory.of(tmp_path, "demo")
    assert memory.last("evaluate") == {} and memory.presets("evaluate") == []
    memory.remember("evaluate", {"student": "models/tiny", "samples": 2, "limit": None})
    memory.save_preset("evaluate", "adapter r1", {"student": "models/tiny", "samples": 5})
    again = FormMemory.of(tmp_path, "demo")
    assert again.last("evaluate") == {"student": "models/tiny", "samples": 2, "limit": None}
    assert again.last("train") == {}  # each form apart
    assert again.presets("evaluate") == ["adapter r1"]
    assert again.preset("evaluate", "adapter r1")["samples"] == 5
    assert (tmp_path / "demo.forms.json").is_file()
    assert not list(tmp_path.glob("*.tmp"))  # written aside, then renamed


def test_bad_names_values_and_files_are_refused_or_kept_aside(tmp_path):
    memory = FormMemory.of(tmp_path, "demo")
    with pytest.raises(FormMemoryError, match="unknown form"):
        memory.remember("collect", {})
    with pytest.raises(FormMemoryError, match="needs a name"):
        memory.save_preset("train", "  ", {"epochs": 1})
    with pytest.raises(FormMemoryError, match="epochs"):
        memory.remember("train", {"epochs": {"nested": 1}})
    with pytest.raises(FormMemoryError, match="no train preset"):
        memory.preset("train", "missing")
    with pytest.raises(SessionNameError):
        FormMemory.of(tmp_path, "../elsewhere")
    memory.remember("train", {"epochs": 1})
    (tmp_path / "demo.forms.json").write_text("{not json", encoding="utf-8")
    assert memory.last("train") == {}
    assert (tmp_path / "demo.forms.json.bad").read_text(encoding="utf-8") == "{not json"
    memory.remember("train", {"epochs": 2})
    assert json.loads((tmp_path / "demo.forms.json").read_text())["last"]["train"] == {
        "epochs": 2}


def test_panel_handlers_restore_known_fields_and_drop_what_no_longer_fits(tmp_path):
    def fits(session, values):
        return {k: v for k, v in values.items() if v != "gone"}

    handlers = FormMemoryHandlers(tmp_path, "evaluate", ["student", "adapter"], fits)
    assert handlers.restore(None) == ({}, [])
    handlers.remember("demo", {"student": "m", "adapter": "gone", "old_field": 1})
    assert handlers.restore("demo") == ({"student": "m"}, [])
    note, presets = handlers.save("demo", "base", {"student": "m", "adapter": ""})
    assert "Saved" in note and presets == ["base"]
    note, values = handlers.load("demo", "base")
    assert "Loaded" in note and values == {"student": "m", "adapter": ""}
    note, values = handlers.load("demo", "nope")
    assert "no evaluate preset" in note and values == {}
