"""Form fields several tabs share, built alike everywhere (Collect, Evaluate, Train, Loop,
Live demo): the teacher endpoint with its key, the student's prompt format, the prompt style;
and the result of a form's button brought into view.

    base_url, api_key = teacher_endpoint(ctx, "persd-loop")   # inside the tab's row
    fmt = prompt_format("persd-ev")                            # CLI's --prompt-format
    style = prompt_style("persd-live")                         # CLI's --prompt-style
    reveal_after(started, "persd-ev-status")       # once the click's outputs are drawn
    reveal_on_click(run, "persd-col-progress")     # a streaming handler: once it changes

Each takes the prefix of its elem_id (`<prefix>-base-url`, `-api-key`, `-prompt-format`,
`-prompt-style`); the defaults are the CLI's (persd.collect.CollectConfig's).
"""

from __future__ import annotations

import json
from typing import Any

import gradio as gr

from persd.collect import CollectConfig
from persd.prompts import PROMPT_STYLES
from persd.settings import default_of
from persd.student.chat import PROMPT_FORMATS

FORMAT_INFO = "completion: a base model · chat: an instruct model, through its chat template · auto: picks"
STYLE_INFO = "persd's prompts, or the paper release's (PAPER.md)"


# A result printed under a button at the bottom of the window was below the fold (issue
# 25, defect 10): the element is scrolled into view, with a margin, when it is not. SCROLL_JS
# runs once the event's outputs are drawn; REVEAL_JS waits (up to 15 s) for the element's
# text to change after the click (or 1.5 s, for the same message again).
_INTO_VIEW = """(shown) => {
  const box = shown.getBoundingClientRect();
  if (box.bottom > window.innerHeight) window.scrollBy(0, box.bottom - window.innerHeight + 12);
  else if (box.top < 0) window.scrollBy(0, box.top - 12);
}"""
SCROLL_JS = """() => setTimeout(() => {
  const shown = document.getElementById(%(id)s);
  if (shown) (""" + _INTO_VIEW + """)(shown);
}, 100)"""
REVEAL_JS = """() => {
  const find = () => document.getElementById(%(id)s);
  const before = find() ? find().innerText : "";
  let tries = 0;
  const look = () => {
    const shown = find();
    const text = shown ? shown.innerText.trim() : "";
    if (text && (shown.innerText !== before || tries >= 10)) return (""" + _INTO_VIEW + """)(shown);
    if (++tries < 100) setTimeout(look, 150);
  };
  setTimeout(look, 150);
}"""


def reveal_after(event: Any, elem_id: str) -> None:
    """Bring `elem_id` (the form's result or status) into view once `event` has drawn its
    outputs. In the browser only: no Python function, nothing queued."""
    event.then(None, js=SCROLL_JS % {"id": json.dumps(elem_id)})


def reveal_on_click(button: Any, elem_id: str) -> None:
    """Bring `elem_id` into view once a click on `button` has changed it: for a handler
    that streams (its `.then` comes only when it ends). A listener of its own with no
    Python function, so it neither queues beside the button's event nor changes its inputs."""
    button.click(None, js=REVEAL_JS % {"id": json.dumps(elem_id)})


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
