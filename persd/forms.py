"""What a session's forms (Train, Evaluate, Loop) were last filled with, and named presets of them.

    memory = FormMemory.of(sessions_dir, "demo")       # <sessions_dir>/demo.forms.json
    memory.remember("evaluate", {"student": "models/tiny", "samples": 1})
    memory.last("evaluate")                            # {"student": "models/tiny", "samples": 1}
    memory.save_preset("evaluate", "adapter r1", {...})
    memory.presets("evaluate")                         # ["adapter r1"]
    memory.preset("evaluate", "adapter r1")            # the values saved under that name

One JSON file beside the session's database, not in it: a form's values are the operator's
convenience, not the session's record (the runs started from them are recorded in the store
with their full config). Every write replaces the file whole (written aside, then renamed),
so a crash leaves the previous values; a damaged file reads as empty and is kept aside as
`<name>.forms.json.bad` rather than overwritten. Values are JSON scalars (text, numbers,
booleans, null) or lists of them; anything else is refused with FormMemoryError.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from persd.store import session_path

FORMS = ("train", "evaluate", "loop")
SUFFIX = ".forms.json"
MAX_PRESETS = 50
_LOCK = threading.Lock()  # one app process writes these files; browsers share it


class FormMemoryError(ValueError):
    """A form name, preset name or value that cannot be kept."""


class FormMemory:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def of(cls, sessions_dir: str | Path, session: str) -> FormMemory:
        """The memory of `session` (its name checked like the session's own)."""
        database = session_path(sessions_dir, session)
        return cls(database.with_name(database.name.removesuffix(".sqlite") + SUFFIX))

    def last(self, form: str) -> dict[str, Any]:
        """The values `form` last held in this session ({} if never filled)."""
        return dict(self._read()["last"].get(_form(form), {}))

    def remember(self, form: str, values: dict[str, Any]) -> None:
        self._update(lambda data: data["last"].__setitem__(_form(form), _checked(values)))

    def presets(self, form: str) -> list[str]:
        return sorted(self._read()["presets"].get(_form(form), {}), key=str.lower)

    def preset(self, form: str, name: str) -> dict[str, Any]:
        saved = self._read()["presets"].get(_form(form), {})
        if name not in saved:
            raise FormMemoryError(f"no {form} preset named {name!r} in this session")
        return dict(saved[name])

    def save_preset(self, form: str, name: str, values: dict[str, Any]) -> None:
        name = (name or "").strip()
        if not name or len(name) > 80:
            raise FormMemoryError("a preset needs a name (1 to 80 characters)")
        checked = _checked(values)

        def put(data: dict[str, Any]) -> None:
            presets = data["presets"].setdefault(_form(form), {})
            if name not in presets and len(presets) >= MAX_PRESETS:
                raise FormMemoryError(f"at most {MAX_PRESETS} {form} presets: delete one first")
            presets[name] = checked
        self._update(put)

    def delete_preset(self, form: str, name: str) -> None:
        self._update(lambda data: data["presets"].get(_form(form), {}).pop(name, None))

    # -- the file ------------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {"last": {}, "presets": {}}
        except (OSError, ValueError):
            self.path.replace(self.path.with_name(self.path.name + ".bad"))
            return {"last": {}, "presets": {}}
        if not isinstance(data, dict):
            return {"last": {}, "presets": {}}
        return {"last": dict(data.get("last") or {}), "presets": dict(data.get("presets") or {})}

    def _update(self, change) -> None:
        with _LOCK:
            data = self._read()
            change(data)
            aside = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            aside.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")
            aside.replace(self.path)


def _form(form: str) -> str:
    if form not in FORMS:
        raise FormMemoryError(f"unknown form {form!r}; one of {', '.join(FORMS)}")
    return form


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    bad = [name for name, value in values.items() if not isinstance(name, str) or not (
        _scalar(value) or (isinstance(value, list) and all(map(_scalar, value))))]
    if bad:
        raise FormMemoryError(f"cannot keep the values of {', '.join(map(str, bad))} "
                              "(text, numbers, booleans or lists of them only)")
    return dict(values)
