"""Who may do what when logins are on: a `reviewer` reviews and runs studies; an `operator`
also starts and stops the work that spends money or the machine (collect, train, evaluate,
the loop, aborts, exports, the tiny model). Without logins everyone is an operator.

    from persd_app.roles import operator_only
    start.click(operator_only(ctx, handlers.start, "start training"), inputs, outputs)

The check runs on the server for every call of the event, whoever sends it (the page, a
script through Gradio's API): hiding a button would stop only the page. The login name
comes from the request Gradio is answering (`gradio.context.LocalContext.request`, set
around each call of an event's function, generators included).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

OPERATOR, REVIEWER = "operator", "reviewer"
ROLES = (OPERATOR, REVIEWER)


class RoleRefused(Exception):
    """A reviewer's login asked for an operator's action."""


def refusal(ctx: Any, action: str) -> str | None:
    """Why the login behind the current event may not `action` (None: it may)."""
    if not ctx.auth:
        return None
    from gradio.context import LocalContext  # noqa: PLC0415  heavy: gradio

    user = getattr(LocalContext.request.get(None), "username", None)
    role = ctx.roles.get(user) if user else None
    if role == OPERATOR:
        return None
    return (f"Only an operator may {action}: {user or 'this page'} is signed in as "
            f"{role or 'nobody known'}. Ask the person who runs this app.")


def operator_only(ctx: Any, fn: Callable[..., Any], action: str) -> Callable[..., Any]:
    """`fn`, refused with a gr.Error (a toast on the page, an error through the API) unless
    the login is an operator's. Its signature is kept (Gradio reads gr.Request and
    gr.Progress parameters from it), generators stay generators."""

    def check() -> None:
        why = refusal(ctx, action)
        if why:
            import gradio as gr  # noqa: PLC0415  heavy: gradio

            raise gr.Error(why, title="Operators only")

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def stream(*args: Any, **kwargs: Any):
            check()
            yield from fn(*args, **kwargs)
        return stream

    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any):
        check()
        return fn(*args, **kwargs)
    return call
