"""Builds and launches the persd app.

Until the review app lands this is a single page that says what persd is and where the
sessions live.
"""

from __future__ import annotations

import os


def build(sessions_dir: str, session: str | None = None):
    import gradio as gr

    with gr.Blocks(title="persd") as page:
        gr.Markdown(
            "# persd\n"
            "Personalised distillation of code models: the student attempts, the sandbox "
            "judges, the teacher refines, you review, the student learns.\n\n"
            f"Sessions directory: `{os.path.abspath(sessions_dir)}`"
        )
    return page


def launch(sessions_dir: str, session: str | None, host: str, port: int) -> None:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    page = build(sessions_dir, session)
    # Never a share link: sessions hold code and API spend that stay on this machine.
    page.launch(server_name=host, server_port=port, share=False)
