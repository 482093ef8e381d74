"""Numbers a test's asserts and rewrites each into a call the judge records; tells the
task's functions the program is to write from the task's own. Standard library only.

    sites, tree = instrument(test_source)   # raises SyntaxError for a bad test
    sites[k] = {"line", "end_line", "source", "sides", "message"}

`assert A == B` becomes `CHECK_EQ(k, lambda: A, lambda: B)`, any other `assert E`
`CHECK(k, lambda: E)`, so the judge evaluates both sides itself, compares with its own
`same`, records the outcome and goes on with the next assert (the first failure decides;
every outcome is known). Line and column numbers are kept, so a traceback through the
rewritten test points at the test as written. The host numbers the asserts with the same
function (for the feedback), the judge compiles the tree; neither runs the program.
"""

from __future__ import annotations

import ast

CHECK, CHECK_EQ = "__assert_holds__", "__assert_equal__"


def asserts_of(tree: ast.AST) -> list[ast.Assert]:
    """Every assert of the test, in source order: the numbering host and judge share."""
    return sorted((n for n in ast.walk(tree) if isinstance(n, ast.Assert)),
                  key=lambda n: (n.lineno, n.col_offset))


def _lambda(body: ast.expr) -> ast.Lambda:
    arguments = ast.arguments(posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[],
                              kwarg=None, defaults=[])
    return ast.copy_location(ast.Lambda(arguments, body), body)


def _equality(test: ast.expr) -> tuple[ast.expr, ast.expr] | None:
    if isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Eq):
        return test.left, test.comparators[0]
    return None


class _Rewriter(ast.NodeTransformer):
    def __init__(self, numbers: dict[int, int]) -> None:
        self.numbers = numbers

    def visit_Assert(self, node: ast.Assert) -> ast.stmt:
        self.generic_visit(node)
        number = ast.copy_location(ast.Constant(self.numbers[id(node)]), node)
        sides = _equality(node.test)
        if sides:
            call = ast.Call(ast.Name(CHECK_EQ, ast.Load()), [number, _lambda(sides[0]), _lambda(sides[1])], [])
        else:
            call = ast.Call(ast.Name(CHECK, ast.Load()), [number, _lambda(node.test)], [])
        ast.copy_location(call.func, node)
        return ast.copy_location(ast.Expr(ast.copy_location(call, node)), node)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def instrument(test: str, describe: bool = True) -> tuple[list[dict], ast.Module]:
    """(the asserts' descriptions, the rewritten tree ready to compile); the judge, which
    needs no descriptions, passes describe=False."""
    tree = ast.parse(test, "test.py")
    found = asserts_of(tree)
    sites = []
    for node in found if describe else ():
        sides = _equality(node.test)
        message = node.msg.value if isinstance(node.msg, ast.Constant) and isinstance(node.msg.value, str) else ""
        sites.append({"line": node.lineno, "end_line": node.end_lineno or node.lineno,
                      "source": _one_line(ast.get_source_segment(test, node) or ""),
                      "sides": [_one_line(ast.unparse(side)) for side in sides] if sides else None,
                      "message": message})
    rewritten = _Rewriter({id(node): i for i, node in enumerate(found)}).visit(tree)
    return sites, ast.fix_missing_locations(rewritten)


def stub_names(tree) -> set[str]:
    """Top-level functions of the task's code with no body (a docstring, `pass`, `...`,
    imports): the ones the program writes."""

    def empty(statement) -> bool:
        return isinstance(statement, (ast.Pass, ast.Import, ast.ImportFrom)) or (
            isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            and (isinstance(statement.value.value, str) or statement.value.value is Ellipsis))

    return {node.name for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and all(map(empty, node.body))}
