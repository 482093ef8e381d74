"""Realistic one-line bugs as exact text edits: the simulated student's mutations.

    from persd.demo.sim.mutations import candidate_edits, apply_edit, revert
    edits = candidate_edits(program, body_start=len(task.prompt))   # every candidate bug
    attempt, mutation = apply_edit(program, edits[0])
    assert revert(attempt, mutation) == program

Sites are found with `ast`; the edit replaces only the node's own characters (or removes
whole lines), so the rest of the program keeps its formatting. Only code at or after
`body_start` is touched, never docstrings or f-strings, so the student's prompt (header
and docstring) stays exactly as given.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

__all__ = ["KIND_WEIGHTS", "MUTATORS", "Edit", "Mutation", "apply_edit", "candidate_edits",
           "revert"]


@dataclass(frozen=True)
class Edit:
    """Replace program[start:end] with `text`: one candidate bug."""

    kind: str
    start: int
    end: int
    text: str
    description: str


@dataclass(frozen=True)
class Mutation:
    """The bug applied: lines `before` (of the reference) became `after` (of the attempt,
    from line `line` on; "" when lines were removed)."""

    kind: str
    line: int
    before: str
    after: str
    description: str

    def to_dict(self) -> dict:
        return asdict(self)


# ---------------------------------------------------------------- source positions

class _Source:
    """A program, its AST, and char offsets of the nodes in the editable body."""

    def __init__(self, text: str, body_start: int):
        self.text, self.body_start = text, body_start
        self.tree = ast.parse(text)
        self.lines = text.split("\n")
        self.starts = [0]
        for line in self.lines:
            self.starts.append(self.starts[-1] + len(line) + 1)
        self.parent: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(self.tree):
            for child in ast.iter_child_nodes(node):
                self.parent[child] = node
        self.names = set(re.findall(r"[A-Za-z_]\w*", text)) | set(dir(builtins))

    def offset(self, lineno: int, col: int) -> int:
        line = self.lines[lineno - 1]
        chars = col if line.isascii() else len(line.encode()[:col].decode(errors="ignore"))
        return self.starts[lineno - 1] + chars

    def span(self, node: ast.AST) -> tuple[int, int]:
        return (self.offset(node.lineno, node.col_offset),
                self.offset(node.end_lineno, node.end_col_offset))

    def seg(self, node: ast.AST) -> str:
        start, end = self.span(node)
        return self.text[start:end]

    def nodes(self, *types: type) -> Iterator:
        """Nodes of `types` in the body, outside docstrings and f-strings, in order."""
        found = []
        stack: list[ast.AST] = [self.tree]
        while stack:
            node = stack.pop()
            if isinstance(node, ast.JoinedStr) or _is_docstring(node, self.parent):
                continue
            if isinstance(node, types) and hasattr(node, "lineno") \
                    and self.span(node)[0] >= self.body_start:
                found.append(node)
            stack.extend(ast.iter_child_nodes(node))
        return iter(sorted(found, key=lambda n: self.span(n)))

    def function_of(self, node: ast.AST) -> ast.FunctionDef | None:
        while node in self.parent:
            node = self.parent[node]
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                return node
        return None


def _is_docstring(node: ast.AST, parent: dict) -> bool:
    owner = parent.get(node)
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str) and owner is not None
            and getattr(owner, "body", [None])[0] is node)


# ---------------------------------------------------------------- mutators

_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
           ast.Mod: "%", ast.Pow: "**", ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<",
           ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.In: "in", ast.NotIn: "not in",
           ast.Is: "is", ast.IsNot: "is not"}
_STRICTNESS = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}
_FLIPPED = {ast.Eq: ast.NotEq, ast.NotEq: ast.Eq, ast.Lt: ast.Gt, ast.Gt: ast.Lt,
            ast.LtE: ast.GtE, ast.GtE: ast.LtE, ast.In: ast.NotIn, ast.NotIn: ast.In,
            ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_ARITHMETIC = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.FloorDiv: ast.Div,
               ast.Div: ast.FloorDiv, ast.Mod: ast.FloorDiv, ast.Pow: ast.Mult}
_ATOMS = (ast.Name, ast.Call, ast.Attribute, ast.Subscript, ast.Constant)
_SYMMETRIC_CALLS = {"max", "min", "print"}


def _op_edit(src: _Source, kind: str, left_end: int, right_start: int, old: type,
             new: type, suffix: str = "") -> Edit | None:
    """Swap the operator written between two operands (only parens/spaces around it)."""
    gap = src.text[left_end:right_start]
    symbol = re.escape(_SYMBOL[old] + suffix).replace(r"\ ", r"\s+")
    match = re.fullmatch(rf"([\s()\\]*)({symbol})([\s()\\]*)", gap)
    if not match:
        return None
    start, end = left_end + match.start(2), left_end + match.end(2)
    text = _SYMBOL[new] + suffix
    return Edit(kind, start, end, text, f"`{match.group(2)}` -> `{text}`")


def _compare_edits(src: _Source, kind: str, table: dict) -> list[Edit]:
    edits = []
    for node in src.nodes(ast.Compare):
        left = node.left
        for op, right in zip(node.ops, node.comparators):
            if type(op) in table:
                edit = _op_edit(src, kind, src.span(left)[1], src.span(right)[0], type(op),
                                table[type(op)])
                edits += [edit] if edit else []
            left = right
    return edits


def _replace(src: _Source, kind: str, node: ast.AST, text: str) -> Edit:
    start, end = src.span(node)
    return Edit(kind, start, end, text, f"`{src.text[start:end]}` -> `{text}`")


def _plus(src: _Source, node: ast.AST, delta: int) -> str:
    """`node` +/- 1 as text, undoing an existing `+ 1`/`- 1` where there is one."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return str(node.value + delta)
    undo = ast.Sub if delta > 0 else ast.Add
    if isinstance(node, ast.BinOp) and isinstance(node.op, undo) \
            and isinstance(node.right, ast.Constant) and node.right.value == 1:
        return src.seg(node.left)
    text = src.seg(node)
    simple = isinstance(node, _ATOMS) or (isinstance(node, ast.BinOp) and isinstance(
        node.op, (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Div, ast.Mod)))
    return f"{text if simple else f'({text})'} {'+' if delta > 0 else '-'} 1"


def off_by_one(src: _Source) -> list[Edit]:
    """range(n) -> range(n - 1) / range(1, n); `<` <-> `<=`; slice bounds +/- 1."""
    kind, edits = "off_by_one", []
    for call in src.nodes(ast.Call):
        if not (isinstance(call.func, ast.Name) and call.func.id == "range") or call.keywords \
                or any(isinstance(a, ast.Starred) for a in call.args):
            continue
        if len(call.args) == 1:
            stop = call.args[0]
            edits.append(_replace(src, kind, stop, _plus(src, stop, -1)))
            edits.append(_replace(src, kind, stop, f"1, {src.seg(stop)}"))
        elif len(call.args) == 2:
            begin, stop = call.args
            edits.append(_replace(src, kind, stop, _plus(src, stop, -1)))
            edits.append(_replace(src, kind, begin, _plus(src, begin, +1)))
    edits += _compare_edits(src, kind, _STRICTNESS)
    for piece in src.nodes(ast.Slice):
        if piece.upper is not None:
            edits.append(_replace(src, kind, piece.upper, _plus(src, piece.upper, -1)))
        if piece.lower is not None:
            edits.append(_replace(src, kind, piece.lower, _plus(src, piece.lower, +1)))
    return edits


def wrong_comparison(src: _Source) -> list[Edit]:
    """`==` <-> `!=`, `<` -> `>`, `in` <-> `not in`, ...; drop a `not` in a condition."""
    edits = _compare_edits(src, "wrong_comparison", _FLIPPED)
    for node in src.nodes(ast.UnaryOp):
        if isinstance(node.op, ast.Not) and not isinstance(src.parent.get(node), ast.Return):
            edits.append(_drop_not(src, "wrong_comparison", node))
    return edits


def _drop_not(src: _Source, kind: str, node: ast.UnaryOp) -> Edit:
    start, end = src.span(node)
    text = src.text[start:end]
    return Edit(kind, start, end, text[3:].lstrip(), f"dropped `not` in `{text}`")


def wrong_arithmetic(src: _Source) -> list[Edit]:
    """`+` -> `-`, `*` -> `+`, `//` -> `/`, ... (also in `+=` and friends)."""
    kind, edits = "wrong_arithmetic", []
    for node in src.nodes(ast.BinOp, ast.AugAssign):
        op = type(node.op)
        if op not in _ARITHMETIC:
            continue
        if isinstance(node, ast.BinOp):
            if op is ast.Mod and isinstance(node.left, (ast.Constant, ast.JoinedStr)):
                continue  # "%s" % x is formatting, not arithmetic
            edit = _op_edit(src, kind, src.span(node.left)[1], src.span(node.right)[0], op,
                            _ARITHMETIC[op])
        else:
            edit = _op_edit(src, kind, src.span(node.target)[1], src.span(node.value)[0], op,
                            _ARITHMETIC[op], suffix="=")
        edits += [edit] if edit else []
    return edits


def missing_edge_case(src: _Source) -> list[Edit]:
    """Remove an `if ...: return/raise ...` guard (a whole statement of a function body)."""
    edits = []
    for node in src.nodes(ast.If):
        function = src.parent.get(node)
        if node.orelse or not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                or not isinstance(node.body[-1], (ast.Return, ast.Raise)):
            continue
        rest = [s for s in function.body if s is not node and not _is_docstring(s, src.parent)]
        start, end = src.starts[node.lineno - 1], src.starts[node.end_lineno]
        own_lines = not src.text[start:src.span(node)[0]].strip() \
            and not src.text[src.span(node)[1]:end].strip()
        if rest and own_lines and start >= src.body_start:
            first = src.lines[node.lineno - 1].strip()
            edits.append(Edit("missing_edge_case", start, end, "", f"removed `{first}`"))
    return edits


def _locals(function: ast.FunctionDef) -> list[str]:
    args = function.args
    names = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs]
    names += [a.arg for a in (args.vararg, args.kwarg) if a]
    names += [n.id for n in ast.walk(function)
              if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
    return list(dict.fromkeys(names))


def wrong_return(src: _Source) -> list[Edit]:
    """Return another local variable, return None, or drop a `not` from the value."""
    kind, edits = "wrong_return", []
    for node in src.nodes(ast.Return):
        value, function = node.value, src.function_of(node)
        if value is None:
            continue
        if isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.Not):
            edits.append(_drop_not(src, kind, value))
        if isinstance(value, ast.Name) and function is not None:
            others = [n for n in _locals(function) if n != value.id]
            edits += [_replace(src, kind, value, other) for other in others[-2:]]
        if not (isinstance(value, ast.Constant) and value.value is None):
            edits.append(_replace(src, kind, value, "None"))
    return edits


def _typo(name: str, taken: set[str]) -> str | None:
    swaps = [name[:k] + name[k + 1] + name[k] + name[k + 2:] for k in range(1, len(name) - 2)]
    options = swaps + [name[:-1], name + "s", name.upper(), name + "1"]
    for option in options:
        if option and option.isidentifier() and option not in taken \
                and not keyword.iskeyword(option):
            return option
    return None


def name_error(src: _Source) -> list[Edit]:
    """Misspell one use of a local variable, so that line raises NameError."""
    edits, local_names = [], {}
    for node in src.nodes(ast.Name):
        function = src.function_of(node)
        if function is not None and function not in local_names:
            local_names[function] = set(_locals(function))
        if not isinstance(node.ctx, ast.Load) or node.id not in local_names.get(function, ()):
            continue
        typo = _typo(node.id, src.names)
        if typo:
            edits.append(_replace(src, "name_error", node, typo))
    return edits


def wrong_constant(src: _Source) -> list[Edit]:
    """0 <-> 1, True <-> False, another small integer k -> k - 1."""
    edits = []
    for node in src.nodes(ast.Constant):
        value = node.value
        if src.seg(node) != repr(value):
            continue
        if isinstance(value, bool):
            edits.append(_replace(src, "wrong_constant", node, repr(not value)))
        elif isinstance(value, int):
            new = {0: 1, 1: 0}.get(value, value - 1)
            edits.append(_replace(src, "wrong_constant", node, str(new)))
    return edits


def swapped_arguments(src: _Source) -> list[Edit]:
    """f(a, b, ...) -> f(b, a, ...)."""
    edits = []
    for call in src.nodes(ast.Call):
        if len(call.args) < 2 or any(isinstance(a, ast.Starred) for a in call.args[:2]) \
                or (isinstance(call.func, ast.Name) and call.func.id in _SYMMETRIC_CALLS):
            continue
        (s1, e1), (s2, e2) = src.span(call.args[0]), src.span(call.args[1])
        first, second = src.text[s1:e1], src.text[s2:e2]
        if first != second:
            text = second + src.text[e1:s2] + first
            edits.append(Edit("swapped_arguments", s1, e2, text,
                              f"swapped `{first}` and `{second}`"))
    return edits


# Kind -> function(source) -> candidate edits. A new kind of bug is one more entry.
MUTATORS: dict[str, Callable[[_Source], list[Edit]]] = {
    "off_by_one": off_by_one,
    "wrong_comparison": wrong_comparison,
    "wrong_arithmetic": wrong_arithmetic,
    "missing_edge_case": missing_edge_case,
    "wrong_return": wrong_return,
    "name_error": name_error,
    "wrong_constant": wrong_constant,
    "swapped_arguments": swapped_arguments,
}


# How likely each kind is to be tried first; a typo is rarer than a wrong answer.
KIND_WEIGHTS = {"off_by_one": 3.0, "missing_edge_case": 3.0, "wrong_comparison": 2.0,
                "wrong_arithmetic": 2.0, "wrong_constant": 1.5, "wrong_return": 1.0,
                "swapped_arguments": 1.0, "name_error": 0.6}


# ---------------------------------------------------------------- edits and mutations

def apply_edit(program: str, edit: Edit) -> tuple[str, Mutation]:
    """The mutated program and the record of what changed, line by line."""
    new = program[:edit.start] + edit.text + program[edit.end:]
    first = program.count("\n", 0, edit.start)
    last = program.count("\n", 0, max(edit.end - 1, edit.start))
    last_new = last + edit.text.count("\n") - program.count("\n", edit.start, edit.end)
    before = "\n".join(program.split("\n")[first:last + 1])
    after = "\n".join(new.split("\n")[first:last_new + 1])
    return new, Mutation(edit.kind, first + 1, before, after, edit.description)


def revert(program: str, mutation: Mutation | dict) -> str:
    """`program` with `mutation` undone (ValueError if its lines are not where recorded)."""
    m = mutation if isinstance(mutation, Mutation) else Mutation(**mutation)
    lines, after = program.split("\n"), m.after.split("\n") if m.after else []
    at = m.line - 1
    if lines[at:at + len(after)] != after:
        raise ValueError(f"line {m.line} does not hold the recorded mutation {m.after!r}")
    return "\n".join(lines[:at] + m.before.split("\n") + lines[at + len(after):])


def candidate_edits(program: str, body_start: int, kinds: list[str] | None = None) -> list[Edit]:
    """Every edit of `kinds` (default all) after `body_start` that still parses and changes
    the AST."""
    src = _Source(program, body_start)
    original = ast.dump(src.tree)
    out, seen = [], set()
    for kind in kinds or list(MUTATORS):
        for edit in MUTATORS[kind](src):
            if (edit.start, edit.end, edit.text) in seen:
                continue  # e.g. `1` -> `0` is both a wrong constant and an off-by-one
            seen.add((edit.start, edit.end, edit.text))
            try:
                changed = ast.dump(ast.parse(apply_edit(program, edit)[0])) != original
            except (SyntaxError, ValueError):
                continue
            if changed:
                out.append(edit)
    return out
