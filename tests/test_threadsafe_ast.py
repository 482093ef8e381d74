"""ast.parse from many threads at once (the app's handlers and the sandbox's verdicts do)
must not fail with CPython's "AST constructor recursion depth mismatch"."""

from __future__ import annotations

import ast
import threading

import persd  # noqa: F401  (importing persd installs the lock)
from persd.code.threadsafe_ast import install

# Deep nesting makes the conversion long, so threads overlap inside it.
SOURCE = "x = " + "[" * 60 + "1" + "]" * 60 + "\n" + "\n".join(
    f"def f{i}(a, b=({i}, [{i}])):\n    return [a for a in range(b[0]) if a % 3 == {i % 3}]"
    for i in range(150))


def _parse_in_threads(threads: int = 8, rounds: int = 25) -> list[BaseException]:
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(rounds):
                ast.parse(SOURCE)
                ast.literal_eval("[" * 30 + "1" + "]" * 30)
        except BaseException as error:  # noqa: BLE001 - collected and reported below
            errors.append(error)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


def test_parsing_in_many_threads_at_once_never_fails():
    assert getattr(ast.parse, "persd_serialised", False)
    install()  # a second install keeps one lock, not a wrapper around a wrapper
    assert not hasattr(ast.parse.__wrapped__, "persd_serialised")
    assert _parse_in_threads() == []
