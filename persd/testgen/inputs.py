"""Test inputs from a teacher's reply, and the asserts made from their outcomes.

    messages = input_messages(row, n=5)          # ask for calls with literal arguments only
    calls = parse_calls(reply, "add", limit=5)   # ["add(1, 2)", ...]: parsed, never run here
    assert_for("add(1, 2)", "3")                 # "assert add(1, 2) == 3"

Nothing the model wrote is evaluated on the host: calls are checked with `ast` and only
run, with the reference solution, inside the sandbox (persd.execution.probe).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from persd.tasks import function_header

MAX_CALL_CHARS = 1000


@dataclass(frozen=True)
class Row:
    """One input row, checked."""

    task_id: str
    text: str
    code: str
    entry_point: str


def input_messages(row: Row, n: int) -> list[dict]:
    """Our request for test inputs: calls only, never expected outputs."""
    signature = " ".join(function_header(row.code, row.entry_point).split("\n\n")[-1].split())
    return [
        {"role": "system", "content": (
            "You design test inputs for Python functions. You write function calls with "
            "literal arguments and never predict results.")},
        {"role": "user", "content": (
            f"Task: {row.text.strip()}\n\nReference solution:\n```python\n{row.code.strip()}\n```"
            f"\n\nWrite {n} different calls of `{row.entry_point}` that exercise it well: "
            "ordinary cases, edge cases (empty, zero, negative, one element, ...) and one "
            "somewhat larger case. Arguments must be literals only (numbers, strings, lists, "
            "tuples, dicts, sets, True, False, None) and valid for the function's contract "
            f"(`{signature}`). Put one call per line in a single ```python "
            f"block, like\n```python\n{row.entry_point}(...)\n```\nand nothing else: no "
            "expected results, asserts, variables, imports or comments.")},
    ]


def parse_calls(reply: str, entry_point: str, limit: int) -> list[str]:
    """Up to `limit` distinct calls `entry_point(<literals>)` found in the reply, as source.

    Asserts and print() around a call are unwrapped; anything else is ignored.
    """
    blocks = re.findall(r"```[\w+.-]*[ \t]*\n(.*?)(?:```|\Z)", reply, re.S)
    calls: list[str] = []
    for node in _statements("\n".join(blocks) if blocks else reply):
        call = _unwrap(node, entry_point)
        source = ast.unparse(call) if call is not None else ""
        if call is not None and len(source) <= MAX_CALL_CHARS and source not in calls:
            calls.append(source)
        if len(calls) == limit:
            break
    return calls


def _statements(text: str) -> list[ast.stmt]:
    try:
        return ast.parse(text).body
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        pass
    nodes = []
    for line in text.splitlines():  # a junk line must not hide the good ones
        try:
            nodes += ast.parse(line.strip()).body
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
    return nodes


def _unwrap(node: ast.stmt, entry_point: str) -> ast.Call | None:
    value = node.value if isinstance(node, ast.Expr) else None
    if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare):
        value = node.test.left
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) \
            and value.func.id == "print" and len(value.args) == 1:
        value = value.args[0]
    if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
            and value.func.id == entry_point):
        return None
    arguments = value.args + [k.value for k in value.keywords]
    if any(k.arg is None for k in value.keywords) or not all(map(_is_literal, arguments)):
        return None
    return value


def _is_literal(node: ast.expr) -> bool:
    if any(isinstance(n, ast.Constant) and n.value is ... for n in ast.walk(node)):
        return False  # f(...) copied from our own example
    try:
        ast.literal_eval(node)  # only checks the node's form; evaluates nothing else
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def assert_for(call: str, expected: str) -> str:
    """The assert for one call whose reference result has the literal repr `expected`."""
    value = ast.literal_eval(expected)
    if value is None or isinstance(value, bool):
        return f"assert {call} is {expected}"
    if isinstance(value, float):
        shown = f"({expected})" if expected.startswith("-") else expected
        return f"assert abs({call} - {shown}) < {_tolerance([value])}"
    if _is_float_sequence(value):
        # Another summation order changes the last bits: compare each item within tolerance.
        return (f"assert all(abs(got - want) < {_tolerance(value)} "
                f"for got, want in zip({call}, {expected}, strict=True))")
    return f"assert {call} == {expected}"


def _is_float_sequence(value: object) -> bool:
    """A flat list or tuple of numbers with at least one float."""
    if not isinstance(value, (list, tuple)):
        return False
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    return numbers and any(isinstance(v, float) for v in value)


def _tolerance(values: list | tuple) -> str:
    """1e-6, relative above magnitude 1."""
    return format(1e-6 * max(1.0, *(abs(v) for v in values)), ".3g")
