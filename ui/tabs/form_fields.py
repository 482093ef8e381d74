"""Form fields several tabs share, built alike everywhere (Collect, Evaluate, Train, Loop,
Live demo): the teacher endpoint with its key, the student's prompt format, the prompt style.

    base_url, api_key = teacher_endpoint(ctx, "persd-loop")   # inside the tab's row
    fmt = prompt_format("persd-ev")                            # CLI's --prompt-format
    style = prompt_style("persd-live")                         # CLI's --prompt-style

Each takes the prefix of its elem_id (`<prefix>-base-url`, `-api-key`, `-prompt-format`,
`-prompt-style`); the defaults are the CLI's (persd.collect.CollectConfig's).
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from persd.collect import CollectConfig
from persd.prompts import PROMPT_STYLES
from persd.settings import default_of
from persd.student.chat import PROMPT_FORMATS

FORMAT_INFO = ("completion: a base model continues the prompt · chat: an instruct model gets "
               "the task as a user message · auto: chat for an instruct model")
STYLE_INFO = "persd's prompts, or the paper release's (PAPER.md)"


def teacher_endpoint(ctx: Any, prefix: str) -> tuple[Any, Any]:
    """The OpenAI-compatible base URL (the operator's list; typed ones when allowed) and
    the key used for one run, never stored."""
    custom = ctx.endpoints.allow_custom
    base_url = gr.Dropdown(
        list(ctx.endpoints.listed), value=ctx.endpoints.listed[0], allow_custom_value=custom,
        label="Teacher endpoint",
        info="an OpenAI-compatible base URL " + (
            "from the list, or type another (with your own key)" if custom else
            "(the app's operator sets the list)"),
        elem_id=f"{prefix}-base-url", scale=2)
    api_key = gr.Textbox(label="API key", type="password",
                         info="empty: the server's key (listed endpoints only); used for "
                              "this run, never stored", elem_id=f"{prefix}-api-key")
    return base_url, api_key


def prompt_format(prefix: str, **options: Any) -> Any:
    return gr.Dropdown(list(PROMPT_FORMATS), value=default_of(CollectConfig, "prompt_format"),
                       label="Prompt format", info=FORMAT_INFO,
                       elem_id=f"{prefix}-prompt-format", min_width=150, **options)


def prompt_style(prefix: str, **options: Any) -> Any:
    return gr.Dropdown(list(PROMPT_STYLES), value=default_of(CollectConfig, "prompt_style"),
                       label="Prompt style", info=STYLE_INFO,
                       elem_id=f"{prefix}-prompt-style", min_width=130, **options)
