"""The app's look: a Gradio theme with system fonts only (nothing fetched from the
network), and the CSS and keyboard-shortcut JS from assets/, all passed to `launch()` as
Gradio 6 expects (css, js and theme are launch() arguments there, not Blocks ones).
"""

from __future__ import annotations

import warnings
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SANS = ["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif"]
MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "DejaVu Sans Mono", "monospace"]


def theme():
    import gradio as gr  # noqa: PLC0415  heavy: gradio

    return gr.themes.Soft(primary_hue="indigo", secondary_hue="slate", neutral_hue="slate",
                          font=SANS, font_mono=MONO, radius_size="md", spacing_size="sm")


def _asset(name: str) -> str:
    path = ASSETS / name
    if not path.is_file():
        warnings.warn(f"persd: {path} is missing; the app runs without it", stacklevel=2)
        return ""
    return path.read_text(encoding="utf-8")


def css() -> str:
    return _asset("app.css")


def js() -> str | None:
    """The keyboard shortcuts (a function Gradio runs once the page has loaded)."""
    return _asset("shortcuts.js") or None


def launch_options() -> dict:
    # The footer's API page would list every internal event handler as if it were a
    # public API; the settings link (language, light/dark) is the one a reviewer needs.
    # No run history: Gradio would keep every event's inputs and outputs (code, a typed API
    # key) in the browser's localStorage, re-serialising up to 100 of them on each event,
    # which alone cost the review screen hundreds of milliseconds per key press.
    return {"theme": theme(), "css": css(), "js": js(), "footer_links": ["settings"],
            "run_history": False}
