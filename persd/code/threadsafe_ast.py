"""`ast.parse` one thread at a time, for the whole process.

CPython (seen on 3.11.7) keeps the depth counter of its C-to-Python AST conversion in
interpreter-wide state: two threads parsing at once can trip it, and one of them gets
"SystemError: AST constructor recursion depth mismatch" (python/cpython#106905 and its
follow-ups). The app parses in many threads at once: review and analysis handlers, the
verdicts of the sandbox runs, the task loaders. `install()` (run when `persd` is imported)
wraps `ast.parse` in a lock; `ast.literal_eval` goes through it too.

persd parses code it did not write (students', teachers', datasets'): the parser's
warnings about that code (an invalid escape such as "\\d" in a regex: a SyntaxWarning
from Python 3.12, a DeprecationWarning before) are not the user's business and would be
printed once per program, so the wrapper silences them (`quiet()`, also for `compile`).
"""

from __future__ import annotations

import ast
import contextlib
import functools
import threading
import warnings

_LOCK = threading.RLock()  # re-entrant: a finalizer run mid-parse may parse too


@contextlib.contextmanager
def quiet():
    """Parse or compile code without the warnings it would print about that code."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        warnings.filterwarnings("ignore", "invalid escape sequence", DeprecationWarning)
        yield


def install() -> None:
    if getattr(ast.parse, "persd_serialised", False):
        return
    unlocked = ast.parse

    @functools.wraps(unlocked)
    def parse(*args, **kwargs):
        with _LOCK, quiet():
            return unlocked(*args, **kwargs)

    parse.persd_serialised = True  # type: ignore[attr-defined]
    ast.parse = parse
