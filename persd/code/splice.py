"""A complete program <-> `task.prompt` + completion: what training and inference share.

    from persd.code.splice import split_program, split_failure, end_completion
    program, completion = split_program(task, teacher_code)   # or None; split_failure says why
    kept = end_completion(prompt, generated)                  # where a student's output ends

One rule says what a completion holds, for the teacher's code (split_program), the
exported training rows and the student's output (end_completion): the function body, then
top-level definitions that follow it (helper functions and classes, imports, constants,
`f = decorator(f)`). Example usage (a print, an assert, a `__main__` block, a bare
expression, a call of the function) and a second definition of the function end it. So
`end_completion(task.prompt, completion) == completion` for every split completion: what
the store validates is what inference keeps.
"""

from __future__ import annotations

import ast
import io
import tokenize
from typing import TYPE_CHECKING

from persd.code.extract import parse
from persd.code.threadsafe_ast import quiet

if TYPE_CHECKING:
    from persd.tasks import Task

# Generation may stop at these: each starts a statement that ends a completion (see
# `_continues`), so stopping early never changes what `end_completion` keeps.
STOP_SEQUENCES = ("\nif __name__", "\nprint(", "\nassert ")

def split_program(task: Task, code: str) -> tuple[str, str] | None:
    """Turn the teacher's full code into `(program, completion)` with
    `program == task.prompt + completion`, or None (see `split_failure` for why).

    The completion is the body of the teacher's `entry_point` (without its docstring: the
    prompt has one), re-indented to the prompt's, followed by the teacher's other top-level
    definitions (helpers, classes, imports, constants) placed after the function: Python
    resolves globals at call time, so they still work there. Renamed parameters are aliased
    at the top of the body and decorators are re-applied at the end, so the program behaves
    like the teacher's code. Other top-level statements (prints, asserts, `__main__` blocks,
    calls) are dropped: the completion has the shape `end_completion` keeps.
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
        _compile(program)
    except SyntaxError as error:
        return f"the code cannot follow the task prompt: {error.msg} (line {error.lineno})"
    return program, completion


def _compile(program: str) -> None:
    """SyntaxError if `program` does not compile. The compiler's SyntaxWarnings about the
    code (`x is 0`, `assert (a, b)`) are the program's business, not the user's: they
    would be printed on the terminal once per row while training rows are built."""
    with quiet():
        compile(program, "<program>", "exec")


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
    base = None if prefix.strip() else _width(head)
    out = []
    for row in range(start, function.end_lineno + 1):
        line = lines[row - 1]
        if row == start and base is None:  # the body shares a line with the header
            out.append(indent + head.encode()[first.col_offset:].decode().strip())
        elif row in in_string:
            out.append(line)
        elif not line.strip():
            out.append("")
        elif base is not None and _width(line) >= base:
            out.append(indent + " " * (_width(line) - base) + line.strip())
        else:  # a continuation line left of the body: its indentation does not count
            out.append(indent + line.strip())
    return out


def _width(line: str) -> int:
    """The indentation's column as Python counts it: a tab moves to the next multiple of 8."""
    column = 0
    for char in line:
        if char == "\t":
            column = column // 8 * 8 + 8
        elif char in " \f":
            column = 0 if char == "\f" else column + 1
        else:
            break
    return column


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
    extras = []
    for node in tree.body:
        if _is_function(node, name) or not _continues(node, name) or ast.dump(node) in known:
            continue
        if _import_keys(node) and _import_keys(node) <= known:  # the prompt imports them already
            continue
        extras.append(_segment(node, lines))
    return extras


def _segment(node: ast.stmt, lines: list[str]) -> str:
    """The statement's own text (decorators included), without a `; other` sharing its line."""
    first = min([node] + getattr(node, "decorator_list", []), key=lambda n: n.lineno)
    rows = [line.encode() for line in lines[first.lineno - 1 : node.end_lineno]]
    rows[-1] = rows[-1][: node.end_col_offset]
    if first is node:  # a decorated statement cannot follow a `;`
        rows[0] = rows[0][node.col_offset:]
    return "\n".join(row.decode().rstrip() for row in rows)


def _import_keys(node: ast.stmt) -> set[str]:
    """What an import statement binds, as comparable keys ("from typing import List")."""
    if isinstance(node, ast.Import):
        return {f"import {a.name} as {a.asname or a.name}" for a in node.names}
    if isinstance(node, ast.ImportFrom) and node.level == 0:
        return {f"from {node.module} import {a.name} as {a.asname or a.name}" for a in node.names}
    return set()


def _continues(node: ast.stmt, entry: str) -> bool:
    """Whether a top-level statement after the function belongs to the completion:
    definitions do (helpers, classes, imports, constants, `f = decorator(f)`); usage
    (calls, prints, asserts, `__main__` blocks, loops) and a redefinition of `entry` end it."""
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return node.name != entry
    if isinstance(node, ast.Import):
        return True
    if isinstance(node, ast.ImportFrom):
        return node.module != "__future__"  # only legal at the top of a file
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = [n for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        if not all(isinstance(t, (ast.Name, ast.Tuple, ast.List, ast.Starred)) for t in targets):
            return False  # `x.attr = ...`, `d[k] = ...`: usage
        uses_entry = node.value is not None and any(
            isinstance(n, ast.Name) and n.id == entry for n in ast.walk(node.value))
        rebinds_entry = any(n.id == entry for n in names)
        return uses_entry == rebinds_entry  # a constant, or a wrapper of the function itself
    return False


def end_completion(prompt: str, text: str) -> str:
    """The part of `text`, generated after `prompt`, that a completion keeps: the function
    body and the definitions that follow it, up to the first top-level statement that
    `_continues` rejects (cut before it, with its line's blank and comment lines).

    Output cut off mid-statement (a token limit) is cut back to the last complete
    top-level statement; when nothing parses, the text ends at its first line in column 0.
    """
    text = _cut_at(text, STOP_SEQUENCES)
    tree, text = _longest_parsed(prompt, text)
    if tree is None:
        return text
    offsets = _line_offsets(prompt + text)
    start = len(prompt)
    entry, end = "", 0
    for node in tree.body:
        node_end = _offset(offsets, prompt + text, node.end_lineno, node.end_col_offset)
        node_start = _offset(offsets, prompt + text, node.lineno, node.col_offset)
        if node_end <= start or node_start < start:  # the prompt's, or the function it opens
            entry = getattr(node, "name", entry)
            end = max(end, node_end)
        elif _continues(node, entry):
            end = node_end
        else:
            break
    if end <= start:
        return ""
    rest = (prompt + text)[end:]
    line_end = rest.find("\n")
    tail = rest if line_end < 0 else rest[: line_end + 1]
    keep_line = not tail.strip() or tail.strip().startswith("#")
    return (prompt + text)[start : end + (len(tail) if keep_line else 0)]


def _cut_at(text: str, stops: tuple[str, ...]) -> str:
    end = min((i for i in (text.find(stop) for stop in stops) if i >= 0), default=len(text))
    return text[:end]


def _longest_parsed(prompt: str, text: str) -> tuple[ast.Module | None, str]:
    """The longest prefix of `text`, ending before a line in column 0, that parses after
    `prompt` (with its tree); else (None, text up to its first such line)."""
    starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]
    cuts = [i for i in starts if i and text[i:i + 1].strip() and text[i] != "#"]
    for cut in [len(text)] + cuts[::-1]:
        tree = parse(prompt + text[:cut])
        if tree is not None:
            return tree, text[:cut]
    return None, text[: cuts[0]] if cuts else text


def _line_offsets(program: str) -> list[int]:
    return [0] + [i + 1 for i, char in enumerate(program) if char == "\n"]


def _offset(offsets: list[int], program: str, lineno: int, col: int) -> int:
    """A character offset from ast's (line, UTF-8 byte column)."""
    start = offsets[lineno - 1]
    line = program[start : offsets[lineno] if lineno < len(offsets) else len(program)]
    return start + len(line.encode()[:col].decode(errors="ignore"))
