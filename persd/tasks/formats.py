"""Task records and the shapes that build them: HumanEval- and MBPP-shaped records.

    from persd.tasks.formats import SHAPES, Task, TaskFileError, function_header
    task = SHAPES["mbpp"].build(record, source="my.jsonl")   # raises FieldError

`persd.tasks.load_tasks` reads the records (persd.tasks.sources), detects the shape from the
first record unless the spec names it, and adds file and line to every error.
"""

from __future__ import annotations

import ast
import builtins
import io
import logging
import re
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from persd.tasks.visible_tests import visible_test_from_docstring

_log = logging.getLogger("persd.tasks")

__all__ = ["SHAPES", "FieldError", "Task", "TaskFileError", "TaskShape", "detect_shape", "function_header"]


@dataclass(frozen=True)
class Task:
    task_id: str
    prompt: str          # description + function header: what the student completes
    entry_point: str     # name of the function under test
    test: str            # hidden tests, self-contained (HumanEval: ends with check(entry_point))
    visible_test: str    # feedback tests shown to models (docstring examples); may be ""
    solution: str        # the complete reference program
    source: str          # where the task came from: "humaneval", a file path, ...


class TaskFileError(ValueError):
    """A task file that cannot be loaded; says which file, line and field."""

    def __init__(self, path: str | Path, message: str, line: int | None = None,
                 field: str | None = None):
        self.path, self.line, self.field, self.message = str(path), line, field, message
        where = f"{path}:{line}" if line else str(path)
        what = f"field {field!r}: " if field else ""
        super().__init__(f"{where}: {what}{message}")

    def with_hint(self, hint: str) -> TaskFileError:
        """The same error with `hint` after its message (once)."""
        if hint in self.message:
            return self
        return TaskFileError(self.path, f"{self.message} ({hint})", self.line, self.field)


class FieldError(Exception):
    """Raised by shape builders; load_tasks adds the file and line."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field, self.message = field, message


Record = tuple[int, dict]  # (line number in the file, the decoded record)


# ---------------------------------------------------------------- field helpers

def _field(record: dict, name: str, kinds: type | tuple[type, ...] = str, default=...):
    if name not in record:
        if default is not ...:
            return default
        raise FieldError(name, "missing")
    value = record[name]
    if value is None and default is not ...:
        return default
    if not isinstance(value, kinds) or isinstance(value, bool):
        wanted = "/".join(k.__name__ for k in (kinds if isinstance(kinds, tuple) else (kinds,)))
        raise FieldError(name, f"expected {wanted}, got {type(value).__name__}")
    return value


def _nonempty(record: dict, name: str) -> str:
    value = _field(record, name)
    if not value.strip():
        raise FieldError(name, "is empty")
    return value


def _string_list(record: dict, name: str, required: bool) -> list[str]:
    value = _field(record, name, list, ... if required else [])
    for i, item in enumerate(value):
        if not isinstance(item, str):
            raise FieldError(f"{name}[{i}]", f"expected str, got {type(item).__name__}")
    if required and not value:
        raise FieldError(name, "is an empty list")
    return value


def _check_parses(source: str, field: str, first_line: int = 1) -> ast.Module:
    """Parse `source`; a SyntaxError names `field` and the line within it."""
    try:
        return ast.parse(source)
    except ValueError as e:  # null bytes
        raise FieldError(field, f"does not parse as Python: {e}") from None
    except SyntaxError as e:
        line = (e.lineno or 1) - first_line + 1
        raise FieldError(field, f"does not parse as Python: {e.msg} "
                                 f"(line {line} of the field)") from None


def _top_level_defs(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


# ---------------------------------------------------------------- function headers

def function_header(code: str, entry_point: str | None = None) -> str:
    """The top-level import lines of `code`, a blank line, then the `def` line(s) of
    `entry_point` (default: the first top-level def), as exact text up to its colon.

    Raises ValueError when `code` does not parse or has no such def.
    """
    tree = ast.parse(code)
    defs = [d for d in _top_level_defs(tree) if entry_point in (None, d.name)]
    if not defs:
        raise ValueError(f"no top-level def {entry_point or ''}".rstrip())
    imports = [ast.get_source_segment(code, n) for n in tree.body
               if isinstance(n, (ast.Import, ast.ImportFrom))]
    signature = _signature_text(code, defs[-1] if entry_point else defs[0])
    return "\n".join(imports) + "\n\n" + signature if imports else signature


def _signature_text(code: str, node: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    lines = code.splitlines(keepends=True)
    first = min([node.lineno] + [d.lineno for d in node.decorator_list])
    depth = 0
    tokens = tokenize.generate_tokens(io.StringIO("".join(lines[node.lineno - 1:])).readline)
    for token in tokens:
        if token.type != tokenize.OP:
            continue
        if token.string in "([{":
            depth += 1
        elif token.string in ")]}":
            depth -= 1
        elif token.string == ":" and depth == 0:
            row, col = token.end
            end_line = node.lineno - 1 + row
            return "".join(lines[first - 1:end_line - 1]) + lines[end_line - 1][:col]
    raise ValueError(f"cannot find the end of the signature of {node.name}")


# ---------------------------------------------------------------- shapes

def _prompt_parses(prompt: str) -> bool:
    """A prompt parses alone (it ends with a docstring) or once given a body."""
    for suffix in ("", "\n    pass\n"):
        try:
            ast.parse(prompt + suffix)
            return True
        except SyntaxError:
            pass
    return False


def _build_humaneval(record: dict, source: str) -> Task:
    task_id = _nonempty(record, "task_id")
    prompt = _nonempty(record, "prompt")
    body = _field(record, "canonical_solution")
    test = _nonempty(record, "test")
    entry = _nonempty(record, "entry_point").strip()
    if not entry.isidentifier():
        raise FieldError("entry_point", "is not a Python identifier")  # its value stays unsaid
    solution = prompt + body
    if not _prompt_parses(prompt):
        _check_parses(prompt + "\n    pass\n", "prompt")
    tree = _check_parses(solution, "canonical_solution", prompt.count("\n") + 1)
    if entry not in {d.name for d in _top_level_defs(tree)}:
        raise FieldError("entry_point", f"no top-level def {entry}() in prompt + "
                                         "canonical_solution")
    _check_parses(test, "test")
    if not re.search(rf"^check\(\s*{entry}\s*\)\s*$", test, re.MULTILINE):
        test = f"{test}\n\ncheck({entry})\n"
    return Task(task_id=task_id, prompt=prompt, entry_point=entry, test=test,
                visible_test=visible_test_from_docstring(solution, entry, task_id),
                solution=solution, source=source)


# Between MBPP's test_list and challenge_test_list in Task.test (see persd.execution.verdicts).
CHALLENGE_MARKER = "# persd: challenge tests (strict protocol only)"


def _build_mbpp(record: dict, source: str) -> Task:
    raw_id = _field(record, "task_id", (int, str))
    task_id = f"MBPP/{raw_id}" if isinstance(raw_id, int) else raw_id
    if not task_id.strip():
        raise FieldError("task_id", "is empty")
    text_field = "text" if "text" in record or "prompt" not in record else "prompt"
    description = _nonempty(record, text_field).strip()
    code = _nonempty(record, "code").replace("\r\n", "\n")
    tests = [t.replace("\r\n", "\n") for t in _string_list(record, "test_list", True)]
    challenge = [t.replace("\r\n", "\n")
                 for t in _string_list(record, "challenge_test_list", False)]
    imports = _string_list(record, "test_imports", False)  # MBPP sanitized
    setup = _field(record, "test_setup_code", str, "").replace("\r\n", "\n")

    tree = _check_parses(code, "code")
    defs = _top_level_defs(tree)
    if not defs:
        raise FieldError("code", "has no top-level def: cannot tell the function under test")
    _check_parses(setup, "test_setup_code")
    for name, items in (("test_imports", imports), ("test_list", tests),
                        ("challenge_test_list", challenge)):
        for i, item in enumerate(items):
            _check_parses(item, f"{name}[{i}]")
    setup = "\n".join(imports + [setup]).strip()
    called = {n.func.id for n in ast.walk(ast.parse(tests[0]))
              if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    entry = next((d.name for d in defs if d.name in called), defs[0].name)

    prefix = setup + "\n" if setup else ""
    challenge = [CHALLENGE_MARKER, *challenge] if challenge else []  # the paper protocol cuts here
    test = prefix + "\n".join(tests + challenge) + "\n"
    given = _reference_only_names(tree, entry, test)
    if given:
        _log.warning("%s: the tests use %s, which only the reference solution defines; the "
                     "definition is put in the prompt above the function", task_id,
                     ", ".join(sorted(given)))
    return Task(task_id=task_id, prompt=_mbpp_prompt(code, entry, description, tests[0],
                                                     _definitions(code, tree, given)),
                entry_point=entry, test=test, visible_test=prefix + tests[0] + "\n",
                solution=code, source=source)


def _mbpp_prompt(code: str, entry: str, description: str, example: str, given: str = "") -> str:
    """Header + a docstring holding the description and the first test (the paper's
    MBPP protocol shows the first test). `given`: definitions the tests need, put between
    the header's imports and the `def` line."""
    doc = f"{description}\n\nExample:\n{example.strip()}".replace('"""', "'''")
    quote = 'r"""' if "\\" in doc else '"""'  # keep backslashes in the text as written
    body = "\n".join(f"    {line}".rstrip() for line in doc.splitlines())
    header = function_header(code, entry)
    if given:
        tree = ast.parse(code)
        signature = _signature_text(code, [d for d in _top_level_defs(tree) if d.name == entry][-1])
        header = f"{header[: -len(signature)]}{given}\n\n\n{signature}".lstrip("\n")
    return f'{header}\n    {quote}{body.lstrip()}\n    """\n'


def _bound(tree: ast.AST) -> set[str]:
    """Names a piece of code defines at any level (assignments, defs, imports, arguments)."""
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)
             and isinstance(n.ctx, (ast.Store, ast.Del))}
    names |= {n.name for n in ast.walk(tree)
              if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    names |= {n.arg for n in ast.walk(tree) if isinstance(n, ast.arg)}
    names |= {(a.asname or a.name).split(".")[0] for n in ast.walk(tree)
              if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    return names


def _top_level_names(node: ast.stmt) -> set[str]:
    return _bound(ast.Module(body=[node], type_ignores=[])) if not isinstance(
        node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else {node.name}


def _reference_only_names(tree: ast.Module, entry: str, test: str) -> set[str]:
    """Names the tests use but neither define nor get from builtins, the function header
    (its imports and the function) or the student: the reference defines them at top
    level (MBPP/601's `Pair`, MBPP/927's `Node`), and the tests need them as well.
    Names those definitions use in turn are added, so the set stands on its own."""
    test_tree = ast.parse(test)
    used = {n.id for n in ast.walk(test_tree) if isinstance(n, ast.Name)
            and isinstance(n.ctx, ast.Load)} - _bound(test_tree) - set(dir(builtins))
    header = {entry} | {name for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
                        for name in _top_level_names(n)}
    defined = {name: n for n in tree.body if not isinstance(n, (ast.Import, ast.ImportFrom))
               for name in _top_level_names(n)}
    needed, todo = set(), sorted(used - header)
    while todo:
        name = todo.pop()
        if name in needed or name not in defined:
            continue
        needed.add(name)
        todo += sorted({n.id for n in ast.walk(defined[name]) if isinstance(n, ast.Name)}
                       - header - needed)
    return needed


def _definitions(code: str, tree: ast.Module, names: set[str]) -> str:
    """The reference's top-level statements that define `names`, in their order."""
    lines = code.split("\n")
    chosen = [n for n in tree.body if _top_level_names(n) & names
              and not isinstance(n, (ast.Import, ast.ImportFrom))]
    return "\n\n\n".join(
        "\n".join(lines[min([n.lineno] + [d.lineno for d in getattr(n, "decorator_list", [])]) - 1
                        : n.end_lineno]).rstrip()
        for n in chosen)


@dataclass(frozen=True)
class TaskShape:
    """How to recognise one record format and turn a record into a Task."""

    name: str
    fields: tuple[str, ...]                 # all present in a record of this shape
    build: Callable[[dict, str], Task]      # (record, source) -> Task; raises FieldError


# Shape name -> shape, tried in order on the first record; "<name>:<path>" forces one.
SHAPES: dict[str, TaskShape] = {
    "humaneval": TaskShape("humaneval", ("task_id", "prompt", "canonical_solution", "test",
                                         "entry_point"), _build_humaneval),
    "mbpp": TaskShape("mbpp", ("task_id", "code", "test_list"), _build_mbpp),
}


def detect_shape(record: dict, path: Path, line: int) -> TaskShape:
    for shape in SHAPES.values():
        if all(f in record for f in shape.fields):
            return shape
    # What each shape misses, not the record's own field names (a CSV header is content).
    missing = "; ".join(f"{s.name} needs {', '.join(f for f in s.fields if f not in record)}"
                        for s in SHAPES.values())
    raise TaskFileError(path, f"unknown task shape: the record has {len(record)} field(s) "
                              f"and matches no shape ({missing}); map columns with "
                              "?field=column", line)
