"""`ast.parse` one thread at a time, for the whole process.

CPython (seen on 3.11.7) keeps the depth counter of its C-to-Python AST conversion in
interpreter-wide state: two threads parsing at once can trip it, and one of them gets
"SystemError: AST constructor recursion depth mismatch" (python/cpython#106905 and its
follow-ups). The app parses in many threads at once: review and analysis handlers, the
verdicts of the sandbox runs, the task loaders. `install()` (run when `persd` is imported)
wraps `ast.parse` in a lock; `ast.literal_eval` goes through it too.
"""

from __future__ import annotations

import ast
import functools
import threading

_LOCK = threading.RLock()  # re-entrant: a finalizer run mid-parse may parse too


def install() -> None:
    if getattr(ast.parse, "persd_serialised", False):
        return
    unlocked = ast.parse

    @functools.wraps(unlocked)
    def parse(*args, **kwargs):
        with _LOCK:
            return unlocked(*args, **kwargs)

    parse.persd_serialised = True  # type: ignore[attr-defined]
    ast.parse = parse
