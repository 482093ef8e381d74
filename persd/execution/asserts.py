"""Splits a test's asserts into what the sandbox evaluates and what the host decides.

    plan = plan_test(test_source, program_source)   # raises SyntaxError for a bad test
    plan.child_test       # the test with every assert replaced by a report call
    plan.sites            # one Site per assert, in source order
    plan.judge_plan()     # what the sandbox's judge needs (jail/judge.py), as JSON data

Each `assert E` becomes `__persd_check__(K, (leaf, ...))`: the leaves are the parts of E
the program's code produces (calls of its functions, names bound at run time); the rest
of E (constants, `==`, `abs`, `len`, `math.isclose`...) is its template, which never
enters the program's process: the jail's judge (jail/judge.py), a process the program
cannot reach, evaluates it on strict builtin copies of the leaves (see values.py). So an
expected literal never reaches the program, and no object the program made takes part in
a comparison. An assert whose outer part cannot be split this way (a lambda, `and`/`or`,
a comprehension over leaves) is "open": the program's process evaluates it whole, every
value it consumes copied by `__persd_copy__(K, x)` first, and the judge checks the copy's
truth. The host only parses the test and compiles the templates (to reject a bad one
early); it never evaluates any of it.
Line numbers are kept, so tracebacks and the sites still match the test as written.
"""

from __future__ import annotations

import ast
import functools
import warnings
from dataclasses import dataclass

from persd.execution.jail.judge import SAFE_FUNCTIONS, SAFE_MODULES

CHECK, COPY = "__persd_check__", "__persd_copy__"


@dataclass(frozen=True)
class Site:
    """One assert of the test."""

    number: int
    line: int
    end_line: int
    source: str                       # the assert as written, on one line
    leaves: tuple[str, ...]           # each leaf's source, for the feedback
    callees: tuple[str, ...]          # names called in leaves (resolved to real names)
    whole: str | None                 # source of the template (truth checked), or None
    sides: tuple[str, str] | None     # sources of `actual == expected` when that is its shape
    actual_leaf: int | None           # the leaf shown as "returned", when there is one
    message: str                      # a constant assert message, else ""


@dataclass(frozen=True)
class Plan:
    child_test: str
    sites: tuple[Site, ...]
    test_lines: tuple[str, ...]       # the test as written: tracebacks show these lines

    def judge_plan(self, approx: bool = False) -> dict:
        """The sites as the jail's judge reads them (`approx`: the paper protocol)."""
        return {"approx": approx, "sites": [
            {"leaves": len(s.leaves), "actual": s.actual_leaf, "whole": s.whole,
             "sides": list(s.sides) if s.sides else None} for s in self.sites]}


def _bound_names(*sources: str) -> set[str]:
    names: set[str] = set()
    for source in sources:
        try:
            with warnings.catch_warnings():  # invalid escapes in a program are its own business
                warnings.simplefilter("ignore")
                tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, ast.arg):
                names.add(node.arg)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update((a.asname or a.name).split(".")[0] for a in node.names
                             if isinstance(node, ast.ImportFrom) or a.asname or a.name not in SAFE_MODULES)
    return names


class _Splitter:
    """Separates one assert's expression into a host template and sandbox leaves."""

    def __init__(self, number: int, safe: set[str]) -> None:
        self.number, self.safe = number, safe
        self.leaves: list[ast.expr] = []
        self.open = False

    def _leaf(self, node: ast.expr) -> ast.expr:
        self.leaves.append(_Sanitizer(self.number, self.safe).inner(node))
        return ast.Name(f"_v{len(self.leaves) - 1}", ast.Load())

    def split(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Constant):
            return node
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            if any(isinstance(e, ast.Starred) for e in node.elts):
                self.open = True
                return node
            return type(node)([self.split(e) for e in node.elts], *([ast.Load()] if not isinstance(node, ast.Set) else []))
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys):
                self.open = True
                return node
            return ast.Dict([self.split(k) for k in node.keys], [self.split(v) for v in node.values])
        if isinstance(node, ast.BinOp):
            return ast.BinOp(self.split(node.left), node.op, self.split(node.right))
        if isinstance(node, ast.UnaryOp):
            return ast.UnaryOp(node.op, self.split(node.operand))
        if isinstance(node, ast.Compare):
            return ast.Compare(self.split(node.left), node.ops, [self.split(c) for c in node.comparators])
        if isinstance(node, ast.Subscript):
            return ast.Subscript(self.split(node.value), self.split(node.slice), ast.Load())
        if isinstance(node, ast.Slice):
            return ast.Slice(*(None if p is None else self.split(p) for p in (node.lower, node.upper, node.step)))
        if isinstance(node, ast.Call) and _is_safe_callee(node.func, self.safe):
            if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
                self.open = True
                return node
            return ast.Call(node.func, [self.split(a) for a in node.args],
                            [ast.keyword(k.arg, self.split(k.value)) for k in node.keywords])
        if isinstance(node, ast.Name) and node.id in self.safe:
            return node
        if isinstance(node, ast.Attribute) and _is_safe_callee(node, self.safe):
            return node
        if isinstance(node, (ast.Name, ast.Call, ast.Attribute, ast.ListComp, ast.SetComp,
                             ast.DictComp, ast.GeneratorExp, ast.JoinedStr)):
            return self._leaf(node)
        self.open = True  # lambda, and/or, if-else, walrus...: evaluated whole in the sandbox
        return node


def _is_safe_callee(func: ast.expr, safe: set[str]) -> bool:
    if isinstance(func, ast.Name):
        return func.id in safe
    return (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)
            and func.value.id in SAFE_MODULES and func.value.id in safe)


class _Sanitizer(ast.NodeTransformer):
    """Wraps each value an expression consumes in `__persd_copy__(K, ...)`; arguments
    passed to the program's own functions are left alone (they may be its objects)."""

    def __init__(self, number: int, safe: set[str]) -> None:
        self.number, self.safe = number, safe

    def _copy(self, node: ast.expr) -> ast.expr:
        return ast.Call(ast.Name(COPY, ast.Load()), [ast.Constant(self.number), node], [])

    def inner(self, node: ast.expr) -> ast.expr:
        """A leaf: copied as a whole by the report call; only its insides are wrapped."""
        if isinstance(node, ast.Call) and not _is_safe_callee(node.func, self.safe):
            return node
        if isinstance(node, (ast.Name, ast.Attribute)):
            return node
        return self.visit(node)

    def visit_Call(self, node: ast.Call) -> ast.expr:
        if _is_safe_callee(node.func, self.safe):
            return ast.Call(node.func, [self.visit(a) for a in node.args],
                            [ast.keyword(k.arg, self.visit(k.value)) for k in node.keywords])
        return self._copy(node)

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if node.id in self.safe or not isinstance(node.ctx, ast.Load):
            return node
        return self._copy(node)

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        return node if _is_safe_callee(node, self.safe) else self._copy(node)

    def visit_comprehension(self, node: ast.comprehension) -> ast.comprehension:
        # The iterable may hold the program's objects for its functions: not copied.
        node.ifs = [self.visit(i) for i in node.ifs]
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.expr:
        node.body = self.visit(node.body)
        return node


def _compile(node: ast.expr) -> str:
    """The template's source, checked to compile (without evaluating it: compile folds
    constants only within small size limits, so `9**9**9**9` costs nothing here)."""
    source = ast.unparse(ast.fix_missing_locations(node))
    compile(source, "<assert>", "eval", dont_inherit=True)
    return source


def _site(number: int, node: ast.Assert, test: str, safe: set[str]) -> tuple[Site, str]:
    splitter = _Splitter(number, safe)
    template = splitter.split(node.test)
    if splitter.open:
        splitter = _Splitter(number, safe)
        splitter.leaves = [_Sanitizer(number, safe).visit(_copy_tree(node.test))]
        template = ast.Name("_v0", ast.Load())
    sides = None
    actual_leaf = None
    calls = [i for i, leaf in enumerate(splitter.leaves) if isinstance(leaf, ast.Call)]
    if (isinstance(template, ast.Compare) and len(template.ops) == 1
            and isinstance(template.ops[0], ast.Eq)):
        left, right = template.left, template.comparators[0]
        if _uses_call(right, calls) and not _uses_call(left, calls):
            left, right = right, left
        sides = (_compile(left), _compile(right))
        if isinstance(left, ast.Name) and left.id.startswith("_v"):
            actual_leaf = int(left.id[2:])
    if actual_leaf is None and calls:
        actual_leaf = calls[0]
    callees = tuple(sorted({n.func.id for leaf in splitter.leaves for n in ast.walk(leaf)
                            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}))
    message = node.msg.value if isinstance(node.msg, ast.Constant) and isinstance(node.msg.value, str) else ""
    site = Site(number, node.lineno, node.end_lineno or node.lineno,
                " ".join((ast.get_source_segment(test, node) or "").split()),
                tuple(ast.unparse(leaf) for leaf in splitter.leaves), callees,
                None if sides else _compile(template), sides, actual_leaf, message)
    leaves = "".join(f"{ast.unparse(leaf)}, " for leaf in splitter.leaves)
    return site, f"{CHECK}({number}, ({leaves}{chr(10) * (site.end_line - site.line)}))"


def _uses_call(node: ast.expr, calls: list[int]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in {f"_v{i}" for i in calls} for n in ast.walk(node))


def _copy_tree(node: ast.expr) -> ast.expr:
    return ast.parse(ast.unparse(node), mode="eval").body


@functools.lru_cache(maxsize=256)
def _plan(test: str, shadowed: frozenset[str]) -> Plan:
    tree = ast.parse(test, "test.py")
    safe = (set(SAFE_FUNCTIONS) | set(SAFE_MODULES)) - shadowed
    asserts = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Assert)),
                     key=lambda n: (n.lineno, n.col_offset))
    lines = [line.encode() for line in test.splitlines(keepends=True)]
    sites = []
    replacements = []
    for number, node in enumerate(asserts):
        site, text = _site(number, node, test, safe)
        sites.append(site)
        replacements.append((node, text.encode()))
    for node, text in reversed(replacements):  # back to front: earlier offsets stay valid
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        head = lines[first][: node.col_offset]
        tail = lines[last][node.end_col_offset:]
        lines[first: last + 1] = [head + text + tail]
    child = b"".join(lines).decode()
    return Plan(child, tuple(sites), tuple(test.splitlines()))


@functools.lru_cache(maxsize=256)
def _test_names(test: str) -> frozenset[str]:
    return frozenset(_bound_names(test))


def plan_test(test: str, program: str = "") -> Plan:
    """The plan for `test`; names the program or the test rebind are never taken for builtins."""
    names = (_bound_names(program) | _test_names(test)) & (set(SAFE_FUNCTIONS) | set(SAFE_MODULES))
    return _plan(test, frozenset(names))
