"""A complete program <-> `task.prompt` + completion: what training and inference share.

    from persd.code.splice import split_program, split_failure
    program, completion = split_program(task, teacher_code)   # or None; split_failure says why
"""

from __future__ import annotations

import ast
import io
import tokenize
from typing import TYPE_CHECKING

from persd.code.extract import parse

if TYPE_CHECKING:
    from persd.tasks import Task

def split_program(task: Task, code: str) -> tuple[str, str] | None:
    """Turn the teacher's full code into `(program, completion)` with
    `program == task.prompt + completion`, or None (see `split_failure` for why).

    The completion is the body of the teacher's `entry_point` (without its docstring: the
    prompt has one), re-indented to the prompt's, followed by the teacher's other top-level
    statements (helpers, imports, constants) placed after the function: Python resolves
    globals at call time, so they still work there. Renamed parameters are aliased at the
    top of the body and decorators are re-applied at the end, so the program behaves like
    the teacher's code. Example usage (prints, asserts, `__main__` blocks) is dropped.
    """
    result = _split(task, code)
    return result if isinstance(result, tuple) else None


def split_failure(task: Task, code: str) -> str:
    """Why `split_program` returns None for this code ("" when it does not)."""
    result = _split(task, code)
    return "" if isinstance(result, tuple) else result


def _split(task: Task, code: str) -> tuple[str, str] | str:
    code = code.replace("\r\n", "\n")
    try:
        tree = ast.parse(code)
    except SyntaxError as error:
        return f"SyntaxError: {error.msg} (line {error.lineno})"
    except ValueError as error:
        return f"the code cannot be parsed: {error}"
    name = task.entry_point
    functions = [n for n in tree.body if _is_function(n, name)]
    if not functions:
        return f"does not define {name}"
    function, lines = functions[-1], code.split("\n")
    prompt_function, indent, known = _prompt_shape(task)
    body = _param_aliases(prompt_function, function, indent)
    body += _body_lines(function, lines, _string_rows(code), indent, _prompt_body(prompt_function))
    extras = _extra_statements(tree, lines, name, known)
    extras += [f"{name} = {ast.unparse(d)}({name})" for d in reversed(function.decorator_list)]
    completion = "" if task.prompt.endswith("\n") or not task.prompt else "\n"
    completion += "\n".join(body) + "\n" + "".join(f"\n\n{extra}\n" for extra in extras)
    program = task.prompt + completion
    try:
        compile(program, "<program>", "exec")
    except SyntaxError as error:
        return f"the code cannot follow the task prompt: {error.msg} (line {error.lineno})"
    return program, completion


def _is_function(node: ast.stmt, name: str) -> bool:
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == name


def _prompt_shape(task: Task) -> tuple[ast.FunctionDef | None, str, set[str]]:
    """The prompt's entry function, its body indentation, and its other statements."""
    for source in (task.prompt, task.prompt.rstrip() + "\n    pass\n"):
        tree = parse(source)
        functions = [n for n in tree.body if _is_function(n, task.entry_point)] if tree else []
        if functions:
            function = functions[-1]
            line = source.split("\n")[function.body[0].lineno - 1]
            indent = line[: len(line) - len(line.lstrip())] or "    "
            known = {ast.dump(n) for n in tree.body if n is not function}
            known |= {key for n in tree.body for key in _import_keys(n)}
            return function, indent, known
    return None, "    ", set()


def _param_aliases(ours: ast.FunctionDef | None, theirs: ast.FunctionDef, indent: str) -> list[str]:
    """Assignments that give the teacher's parameter names their values in our header."""
    if ours is None:
        return []
    our_names = [a.arg for a in ours.args.posonlyargs + ours.args.args]
    their_args = theirs.args.posonlyargs + theirs.args.args
    defaults = [None] * (len(their_args) - len(theirs.args.defaults)) + theirs.args.defaults
    pairs = list(zip(their_args, defaults)) + list(
        zip(theirs.args.kwonlyargs, theirs.args.kw_defaults)
    )
    all_ours = set(our_names) | {a.arg for a in ours.args.kwonlyargs}
    targets, values = [], []
    for position, (arg, default) in enumerate(pairs):
        if position < len(our_names) and position < len(their_args):
            value = our_names[position]
        elif arg.arg not in all_ours and default is not None:
            value = ast.unparse(default)
        else:
            continue
        if value != arg.arg:
            targets.append(arg.arg)
            values.append(value)
    if not targets:
        return []
    return [f"{indent}{', '.join(targets)} = {', '.join(values)}"]


def _prompt_body(function: ast.FunctionDef | None) -> list[str]:
    """The statements the prompt already puts in the function (e.g. an `import` before
    the docstring, as in HumanEval/115), so the completion does not repeat them."""
    if function is None:
        return []
    statements = function.body
    if statements and isinstance(statements[-1], ast.Pass):
        statements = statements[:-1]
    return [ast.dump(statement) for statement in statements]


def _body_lines(
    function: ast.FunctionDef, lines: list[str], in_string: set[int], indent: str,
    already_in_prompt: list[str],
) -> list[str]:
    statements = function.body
    for dumped in already_in_prompt:
        if statements and ast.dump(statements[0]) == dumped:
            statements = statements[1:]
    if statements and ast.get_docstring(function, clean=False) is not None and statements[0] is function.body[0]:
        statements = statements[1:]
    if not statements:
        return [f"{indent}pass"]
    first = statements[0]
    start = min([first.lineno] + [d.lineno for d in getattr(first, "decorator_list", [])])
    head = lines[start - 1]
    prefix = head.encode()[: first.col_offset].decode(errors="replace")
    base = None if prefix.strip() else head[: len(head) - len(head.lstrip())]
    out = []
    for row in range(start, function.end_lineno + 1):
        line = lines[row - 1]
        if row == start and base is None:  # the body shares a line with the header
            out.append(indent + head.encode()[first.col_offset:].decode().strip())
        elif row in in_string:
            out.append(line)
        elif not line.strip():
            out.append("")
        elif base is not None and line.startswith(base):
            out.append(indent + line[len(base):].rstrip())
        else:
            out.append(indent + line.strip())
    return out


def _string_rows(code: str) -> set[int]:
    """Rows that continue a multi-line string: their indentation is part of the string."""
    rows: set[int] = set()
    fstring_start = getattr(tokenize, "FSTRING_START", None)  # Python 3.12+
    opened: list[int] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(code).readline):
            if token.type == tokenize.STRING:
                rows.update(range(token.start[0] + 1, token.end[0] + 1))
            elif fstring_start is not None and token.type == fstring_start:
                opened.append(token.start[0])
            elif fstring_start is not None and token.type == tokenize.FSTRING_END and opened:
                rows.update(range(opened.pop() + 1, token.end[0] + 1))
    except (tokenize.TokenError, SyntaxError):
        pass
    return rows


def _extra_statements(tree: ast.Module, lines: list[str], name: str, known: set[str]) -> list[str]:
    extras, used_rows = [], set()
    for node in tree.body:
        if _is_function(node, name) or _is_noise(node) or ast.dump(node) in known:
            continue
        if _import_keys(node) and _import_keys(node) <= known:  # the prompt imports them already
            continue
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        rows = set(range(start, node.end_lineno + 1))
        if rows & used_rows:  # `import a; import b` on one line: already taken
            continue
        used_rows |= rows
        extras.append("\n".join(line.rstrip() for line in lines[start - 1 : node.end_lineno]))
    return extras


def _import_keys(node: ast.stmt) -> set[str]:
    """What an import statement binds, as comparable keys ("from typing import List")."""
    if isinstance(node, ast.Import):
        return {f"import {a.name} as {a.asname or a.name}" for a in node.names}
    if isinstance(node, ast.ImportFrom) and node.level == 0:
        return {f"from {node.module} import {a.name} as {a.asname or a.name}" for a in node.names}
    return set()


def _is_noise(node: ast.stmt) -> bool:
    """Example usage and checks that must not run when the program is imported."""
    if isinstance(node, ast.Assert):
        return True
    if isinstance(node, ast.ImportFrom) and node.module == "__future__":
        return True  # only legal at the top of a file, and the header is ours
    if isinstance(node, ast.Expr):
        call = node.value
        if not isinstance(call, ast.Call):
            return True
        return isinstance(call.func, ast.Name) or (
            isinstance(call.func, ast.Attribute) and call.func.attr == "testmod"
        )
    if isinstance(node, ast.If):
        return "__name__" in ast.unparse(node.test)
    return False
