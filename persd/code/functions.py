"""One function of a program, read with `ast`: is it the same code as another's?

    from persd.code.functions import same_function
    same_function(refinement, task.solution, "triple")   # True: the reference's body

Docstrings, comments and layout do not count; tabs are read as four spaces.
"""

from __future__ import annotations

import ast
import functools


def same_function(code: str, reference: str, name: str) -> bool:
    """Both define `name` at top level with the same body (docstring, layout and comments
    aside); False when either does not parse or does not define it."""
    mine, theirs = function_body(code, name), function_body(reference, name)
    return mine is not None and mine == theirs


@functools.lru_cache(maxsize=4096)
def function_body(code: str, name: str) -> str | None:
    """The body of top-level function `name` as an `ast.dump` (None: no such function)."""
    try:
        tree = ast.parse(code.expandtabs(4))
    except (SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            body = node.body
            if body and isinstance(body[0], ast.Expr) and \
                    isinstance(getattr(body[0], "value", None), ast.Constant):
                body = body[1:]
            return ast.dump(ast.Module(body=body, type_ignores=[]))
    return None
