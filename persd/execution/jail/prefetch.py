"""The calls a test is certain to make first, known before it runs. Standard library only.

    calls = leading_calls(ast.parse(test))   # [(name, args, kwargs), ...] in the order made

The judge sends them to the program's process in one message, which answers each as
soon as it is computed, instead of one round trip per call; each call the test then
makes is matched with the next of them (same function, same arguments) and takes its
answer, and a test that goes another way makes its calls one by one from there.

Only straight-line code is read: module-level asserts (MBPP), and the body of a
function the test calls once with one name (HumanEval's `check(candidate)` then
`check(entry_point)`). A statement stops the list unless it is an assert making exactly
one call of a non-builtin name, with literal arguments, besides calls of builtins
and `math`, with no lambda, comprehension, `and`/`or` or conditional expression that
could skip or repeat it; or a statement that calls nothing (imports, definitions,
assignments of literals).
"""

from __future__ import annotations

import ast
import builtins

_BUILTIN_NAMES = frozenset(dir(builtins))
_BRANCHING = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp, ast.BoolOp,
              ast.IfExp, ast.NamedExpr, ast.Await, ast.Yield, ast.YieldFrom)
LIMIT = 200  # calls in one batch


class _Stop(Exception):
    pass


def _literal(node: ast.expr):
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise _Stop() from None


def _the_call(test: ast.expr, bindings: dict[str, str]):
    """(name, args, kwargs) of the one program call in an assert, or None when it calls nothing."""
    found = None
    for node in ast.walk(test):
        if isinstance(node, _BRANCHING):
            raise _Stop()
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "math":
            continue
        if not isinstance(func, ast.Name):
            raise _Stop()
        if func.id in _BUILTIN_NAMES and func.id not in bindings:
            continue
        if found is not None or any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            raise _Stop()
        found = (bindings.get(func.id, func.id), [_literal(a) for a in node.args],
                 {k.arg: _literal(k.value) for k in node.keywords})
    return found


def _calls_nothing(statement: ast.stmt) -> bool:
    return not any(isinstance(node, (ast.Call, *_BRANCHING)) for node in ast.walk(statement))


def _walk(statements: list[ast.stmt], bindings: dict[str, str], functions: dict, calls: list) -> None:
    for statement in statements:
        if len(calls) >= LIMIT:
            raise _Stop()
        if isinstance(statement, ast.Assert):
            call = _the_call(statement.test, bindings)
            if call is not None:
                calls.append(call)
            continue
        if isinstance(statement, (ast.FunctionDef, ast.Import, ast.ImportFrom)) and not bindings:
            continue
        if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.Expr, ast.Pass)) and _calls_nothing(statement):
            targets = [n.id for n in ast.walk(statement) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
            if any(t in bindings or t in functions for t in targets):
                raise _Stop()
            continue
        value = statement.value if isinstance(statement, ast.Expr) else None
        if (not bindings and isinstance(value, ast.Call) and isinstance(value.func, ast.Name)
                and value.func.id in functions and len(value.args) == 1 and not value.keywords
                and isinstance(value.args[0], ast.Name)):
            function = functions[value.func.id]
            parameters = function.args
            if (len(parameters.args) == 1 and not parameters.posonlyargs and not parameters.kwonlyargs
                    and not parameters.vararg and not parameters.kwarg and not function.decorator_list):
                _walk(function.body, {parameters.args[0].arg: value.args[0].id}, functions, calls)
                continue
        raise _Stop()


def _bound(tree: ast.Module) -> set[str]:
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    names |= {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    names |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    names |= {(a.asname or a.name).split(".")[0] for n in ast.walk(tree)
              if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    return names


def leading_calls(tree: ast.Module) -> list[tuple[str, list, dict]]:
    """The program calls the test makes first, in order, as (name, args, kwargs)."""
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    calls: list = []
    try:
        _walk(tree.body, {}, functions, calls)
    except _Stop:
        pass
    bound = _bound(tree)  # a name the test itself binds is never the program's at the start
    for index, (name, _args, _kwargs) in enumerate(calls):
        if name in bound:
            return calls[:index]
    return calls
