"""A tab's form kept per session and saved as named presets (`persd.forms.FormMemory`).

    memory = FormMemoryPanel(ctx, "evaluate", {"student": student_box, "samples": n_box})
    memory.build()                     # the presets row, where the tab wants it
    memory.wire(attached)              # restore after the tab's own fill (an event), and
                                       # remember every value the user changes

The values the user types (`.input` events, never the ones a handler sets) are written at
once, so a tab switch, a reload or another browser on the session finds them again. They
are restored after the tab's own on-session fill, which sets defaults; a value that no
longer fits (an adapter whose run was removed) is dropped by the tab's `fits` hook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gradio as gr

from persd.forms import FormMemory, FormMemoryError
from persd.store import SessionNameError
from persd_app.tabs import AppContext
from persd_app.tabs.review_render import esc, message

Fits = Callable[[str, dict[str, Any]], dict[str, Any]]


class FormMemoryHandlers:
    """The event logic, testable without a browser: values keyed by field name."""

    def __init__(self, sessions_dir, form: str, names: list[str],
                 fits: Fits | None = None) -> None:
        self.sessions_dir, self.form, self.names = sessions_dir, form, names
        self.fits = fits or (lambda session, values: values)

    def _memory(self, session: str) -> FormMemory:
        return FormMemory.of(self.sessions_dir, session)

    def restore(self, session: str | None) -> tuple[dict[str, Any], list[str]]:
        """The values last typed in this session's form (only known fields), and the
        names of its presets."""
        if not session:
            return {}, []
        try:
            memory = self._memory(session)
            values = {k: v for k, v in memory.last(self.form).items() if k in self.names}
            return self.fits(session, values), memory.presets(self.form)
        except SessionNameError:
            return {}, []

    def remember(self, session: str | None, values: dict[str, Any]) -> None:
        if session:
            self._memory(session).remember(self.form, values)

    def save(self, session: str | None, name: str, values: dict[str, Any]) -> tuple[str, list]:
        if not session:
            return message("error", "Pick a session first."), []
        memory = self._memory(session)
        try:
            memory.save_preset(self.form, name, values)
        except FormMemoryError as error:
            return message("error", str(error)), memory.presets(self.form)
        return (message("ok", f"Saved the preset “{name.strip()}” in this session."),
                memory.presets(self.form))

    def load(self, session: str | None, name: str | None) -> tuple[str, dict[str, Any]]:
        if not session or not name:
            return message("info", "Pick a saved preset first."), {}
        try:
            values = self._memory(session).preset(self.form, name)
        except FormMemoryError as error:
            return message("error", str(error)), {}
        values = self.fits(session, {k: v for k, v in values.items() if k in self.names})
        return message("ok", f"Loaded the preset “{esc(name)}”."), values


class FormMemoryPanel:
    def __init__(self, ctx: AppContext, form: str, fields: dict[str, Any],
                 fits: Fits | None = None) -> None:
        self.ctx, self.fields = ctx, fields
        self.handlers = FormMemoryHandlers(ctx.sessions_dir, form, list(fields), fits)
        self.prefix = f"persd-{form}-preset"

    def build(self) -> None:
        with gr.Row(equal_height=True, elem_id=self.prefix + "s"):
            self.saved = gr.Dropdown([], value=None, label="Saved presets of this form",
                                     info="kept in this session; the form itself is "
                                          "remembered as you type",
                                     elem_id=self.prefix + "-pick", scale=2, min_width=220)
            self.load_button = gr.Button("Load preset", size="sm", scale=0, min_width=130,
                                         elem_id=self.prefix + "-load")
            self.name = gr.Textbox(label="Save the form as", placeholder="e.g. adapter r1",
                                   elem_id=self.prefix + "-name", scale=2, min_width=200)
            self.save_button = gr.Button("Save preset", size="sm", scale=0, min_width=130,
                                         elem_id=self.prefix + "-save")
        self.note = gr.HTML(elem_id=self.prefix + "-note")

    def _values(self, args: tuple) -> dict[str, Any]:
        return dict(zip(self.fields, args))

    def _fill(self, values: dict[str, Any]) -> list[Any]:
        return [values[name] if name in values else gr.skip() for name in self.fields]

    def wire(self, attached: Any) -> Any:
        """`attached`: the tab's on-session event (keep it quick: the user may type
        meanwhile); the restore runs after it. Returns the restore event."""
        session, fields = self.ctx.session, list(self.fields.values())

        def restore(name):
            values, presets = self.handlers.restore(name)
            return [*self._fill(values), gr.update(choices=presets, value=None)]

        def remember(name, *args):
            self.handlers.remember(name, self._values(args))

        def save(name, preset_name, *args):
            note, presets = self.handlers.save(name, preset_name, self._values(args))
            return note, gr.update(choices=presets)

        def load(name, preset_name):
            note, values = self.handlers.load(name, preset_name)
            return [note, *self._fill(values)]

        quiet = dict(show_progress="hidden")
        restored = attached.then(restore, [session], [*fields, self.saved], **quiet)
        gr.on([field.input for field in fields], remember, [session, *fields], None,
              trigger_mode="always_last", **quiet)
        self.save_button.click(save, [session, self.name, *fields], [self.note, self.saved],
                               **quiet)
        self.load_button.click(load, [session, self.saved], [self.note, *fields], **quiet)
        return restored

    def remember_after(self, event: Any) -> None:
        """Also keep the form once `event` (e.g. a run started from it) has finished: values
        a handler set (an adapter's round) are kept too. Chained, not a second listener of
        the click: that would queue beside the start and delay what it draws."""
        def remember(name, *args):
            self.handlers.remember(name, self._values(args))
        event.then(remember, [self.ctx.session, *self.fields.values()], None,
                   show_progress="hidden")
