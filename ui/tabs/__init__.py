"""The app's tabs: one module each, composed by `persd_app.app.build`.

A tab module defines `TITLE` (the tab's label) and `build(ctx: AppContext) -> None`, which
creates its components (the app has already opened the `gr.Tab`) and wires their events.
Modules named in `TAB_MODULES` are picked up when they exist.

Every tab wires its events one way. What an event does lives in the tab's handlers module
(`<tab>_handlers.py`, testable without a browser): a handler returns {output name: value}
holding only what it changes. The tab module lays out the components and wires each
handler with `persd_app.tabs.keyed.Keyed`, which maps those names to the components and
leaves every output the handler does not name as it is:

    # ui/tabs/analysis.py
    TITLE = "Analysis"
    def build(ctx):
        handlers = AnalysisHandlers(ctx.stores)  # .show(name) -> {"summary": html, ...}
        widgets = {"summary": gr.HTML(), "notes": gr.HTML(), ...}
        out = Keyed(**{name: widgets[name] for name in OUTPUTS})  # every name show() gives
        ctx.on_session(out.wire(handlers.show), [ctx.session], out.list)

An event that changes only some outputs is wired to `out.only(*names)`. Where the form's
widgets are many, a small wrapper in the tab module gathers them into one value (Review's
`Inputs`, Queue's `View`, Study's `StudyInputs`, Collect's `CollectForm`) and returns the
handler's dict; `out.wire` wraps that wrapper, keeping its signature and name (so Gradio
still injects `gr.Request` / `gr.Progress` / `gr.SelectData`, and the API names that
scripts call, `/handler_6` and the like, stay as they were).

`ctx.session` is the session picker (use it as an input); `ctx.on_session` runs a handler
once the page has its session and whenever another session is picked (`lazy=True`: only
while the tab is shown, and when it is opened); `ctx.follow_form(fields, ...)` redraws what
a form shows of itself (its Equivalent command) as it changes, while the tab is shown;
`ctx.tab` is the tab's own gr.Tab (e.g. `ctx.tab.select(...)` to refresh when it is opened);
`ctx.stores.get(name)` gives the shared, thread-safe `SessionStore`;
`ctx.reviewer_name(typed, request)` is the acting user (the login name when auth is on);
`ctx.executor()` is the shared sandbox; `ctx.runs_dir` is the one folder the app may write
training output to; `ctx.models_dir` where local models are looked for; `ctx.endpoints`
the teacher endpoints it may call (`persd_app.endpoints`); `ctx.data_dirs` checks every
file or folder a form names (`persd.data_dirs`).
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from persd.execution import Executor
from persd.store import SessionStore, list_sessions

# Clicks a hidden button of a tab when the tab (its panel) is on screen.
_CLICK_IF_SHOWN = ('() => { const tab = document.getElementById("TAB"); '
                   'if (tab && tab.offsetParent !== null) '
                   'document.getElementById("BUTTON")?.click(); }')
# The tab's select: its panel may not be mounted yet when the script runs (first opening).
_CLICK_ONCE_MOUNTED = ('() => { const click = (left) => { '
                       'const button = document.getElementById("BUTTON"); '
                       'if (button) button.click(); '
                       'else if (left) setTimeout(() => click(left - 1), 50); }; click(100); }')
_HIDDEN_BUTTONS = itertools.count(1)
TAB_MODULES = ("review", "queue", "collect", "train", "evaluate", "analysis", "loop", "live_demo", "study")
LOCAL_REVIEWER = "local"


class Stores:
    """Open sessions by name, once each, shared by every browser session of the app."""

    def __init__(self, sessions_dir: str | Path) -> None:
        self.sessions_dir = Path(sessions_dir)
        self._open: dict[str, Any] = {}
        self._retired: list[Any] = []  # read-only ones opened again writable: closed last
        self._lock = threading.Lock()

    def get(self, name: str):
        """The `SessionStore` of `name` (SessionNotFound if there is none); read-only
        (`store.readonly`) while this process may not write its file or folder."""
        with self._lock:
            store = self._open.get(name)
            # A read-only one made writable since is opened again (the old one is left to
            # the threads still reading it).
            if store is not None and store.readonly and _writable(store.path):
                self._retired.append(store)
                store = None
            if store is None or not store.path.exists():
                store = self._open[name] = SessionStore.open_to_read(self.sessions_dir, name)
            return store

    def names(self) -> list[str]:
        return list_sessions(self.sessions_dir)

    def close(self) -> None:
        with self._lock:
            for store in [*self._open.values(), *self._retired]:
                store.close()
            self._open.clear()
            self._retired.clear()


def _writable(path: Path) -> bool:
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


class SharedExecutor:
    """One sandbox pool for the app, started on first use (reviewers' edits run in it)."""

    def __init__(self, workers: int = 2, timeout_s: float = 3.0) -> None:
        self.workers, self.timeout_s = workers, timeout_s
        self._executor = None
        self._lock = threading.Lock()

    def __call__(self):
        with self._lock:
            if self._executor is None:
                self._executor = Executor(workers=self.workers, timeout_s=self.timeout_s)
            return self._executor

    def close(self) -> None:
        with self._lock:
            if self._executor is not None:
                self._executor.close()
                self._executor = None


@dataclass
class AppContext:
    sessions_dir: Path
    page: Any                  # the gr.Blocks being built
    session: Any               # gr.Dropdown: the chosen session's name
    reviewer: Any              # gr.Textbox: the typed reviewer name (hidden when auth is on)
    stores: Stores
    executor: SharedExecutor
    auth: bool                 # logins are on: the reviewer is the login name
    runs_dir: Path = Path("runs")  # the app's training output goes only under it
    models_dir: Path = Path("models")  # local models the Train tab lists (and the tiny one)
    endpoints: Any = None      # persd_app.endpoints.TeacherEndpoints: where the teacher may be
    tab: Any = None            # the gr.Tab being built (each tab module gets its own)
    shown_first: bool = True   # that tab is the one the page opens on
    timers: list = field(default_factory=list)  # (tab, gr.Timer) of every tab, shared
    shown: Any = None          # gr.State: the id of the tab shown in this browser
    roles: dict = field(default_factory=dict)  # login -> "operator" | "reviewer" (with auth)
    data_dirs: Any = None      # persd.data_dirs.DataDirs: the only folders form fields may name

    def reviewer_name(self, typed: str | None, request: Any = None) -> str:
        if self.auth:
            return getattr(request, "username", None) or ""
        return (typed or "").strip() or LOCAL_REVIEWER

    def timer(self, interval_s: float) -> Any:
        """A gr.Timer that ticks only while this tab is shown (`persd_app.app` switches them on tab
        select). Every tick is a full Gradio event in the browser: four tabs polling in the
        background slowed each key press of the tab in view."""
        import gradio as gr  # noqa: PLC0415  heavy: gradio

        timer = gr.Timer(interval_s, active=self.shown_first)
        self.timers.append((self.tab, timer))
        return timer

    def on_session(self, fn: Callable, inputs: list, outputs: list, *, lazy: bool = False,
                   on_select: bool = True, **options: Any) -> Any:
        """Run `fn` once the page has loaded its session, and whenever another is picked;
        returns the event (for `.then`), or None when `lazy` splits it in two.
        (The picker starts empty and the page's load handler fills it in, so a change
        event always follows a page load that found a session.)

        `lazy`: only while this tab is shown; opening the tab runs `fn` then. For the
        tabs that read a whole session (analysis, training data): computed for a tab
        nobody looks at, they held the session's lock for seconds after a page load. The
        page itself decides whether the tab is shown (a script, no server event): every
        server event the page ever ran keeps its inputs in Gradio's loading state, which
        the page walks on every message of every event, so a skipped event still cost each
        later review key press (about 30 ms on 10,000 records with every tab's load).
        `on_select=False`: the tab's own select handler covers opening it."""
        if not lazy or self.tab is None or self.shown is None:
            return self.session.change(fn, inputs, outputs, **options)
        self.follow_form([self.session], fn, inputs, outputs, on_select=on_select, **options)
        return None

    def follow_form(self, fields: list, fn: Callable, inputs: list, outputs: list, *,
                    on_select: bool = True, **options: Any) -> None:
        """Run `fn` when one of `fields` changes while this tab is shown, and when the tab
        is opened (unless `on_select` is False): for what a form shows of itself (its
        command line, a prompt), which nobody needs drawn for a tab that is not on screen.
        Both run the one server event (a hidden button's): every event the page has run
        keeps its inputs in Gradio's loading state, which each later event walks, so two
        events cost twice."""
        import gradio as gr  # noqa: PLC0415  heavy: gradio

        button = self._offstage(fn, inputs, outputs, **options)
        gr.on([field.change for field in fields], None, js=self._click_if_shown(button))
        if on_select:
            self.tab.select(None, js=_CLICK_ONCE_MOUNTED.replace("BUTTON", button))

    def _offstage(self, fn: Callable, inputs: list, outputs: list, **options: Any) -> str:
        """The elem_id of a hidden button of this tab whose click runs `fn` on the server (a
        click while an earlier run is on its way runs it once more after: "always_last");
        scripts click it (`follow_form`)."""
        import gradio as gr  # noqa: PLC0415  heavy: gradio

        button = gr.Button(elem_id=f"persd-run-{self.tab.id}-{next(_HIDDEN_BUTTONS)}",
                           elem_classes=["persd-offstage"])
        button.click(fn, inputs, outputs, **{"trigger_mode": "always_last", **options})
        return button.elem_id

    def _click_if_shown(self, button: str) -> str:
        """A script for a script-only event (`fn` None) that clicks `button` only while this
        tab is on screen."""
        return _CLICK_IF_SHOWN.replace("TAB", str(self.tab.elem_id)).replace("BUTTON", button)


def available_tabs() -> list[tuple[str, ModuleType]]:
    """(name, module) of the tab modules present, in TAB_MODULES order."""
    found = []
    for name in TAB_MODULES:
        if importlib.util.find_spec(f"persd_app.tabs.{name}") is not None:
            found.append((name, importlib.import_module(f"persd_app.tabs.{name}")))
    return found
