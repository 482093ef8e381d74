"""Visible tests parsed from the examples in a function's docstring (never its hidden tests).

    from persd.tasks.visible_tests import visible_test_from_docstring
    src = visible_test_from_docstring(task.solution, task.entry_point, task.task_id)
    # def check(candidate):
    #     assert candidate([1, 2, 3]) == 6
    #
    # check(entry_point)

Formats read: doctest (`>>> f(x)` then the output line(s), or `>>> f(x) == y`);
`f(x) ==> y`, `=> y`, `-> y`, `➞ y`, `== y`, `= y`, `should return y`, `returns y`;
"Input: ... Output: ..." blocks; "For lst = [1, 2] the output should be 3"; and
"arr = [...] ... return [...]". An example is kept only when its call is a Python
expression calling the entry point with literal arguments and its expected value is a
Python literal; the examples are written in the text as the docstring shows them.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass

# Examples whose docstring answer disagrees with the reference solution (checked in
# tests/test_tasks.py by running every visible test against it): (task_id, call) pairs.
_WRONG_IN_DOCSTRING = {
    ("HumanEval/116", "sort_array([1, 5, 2, 3, 4])"),          # reference gives [1, 2, 4, 3, 5]
    ("HumanEval/116", "sort_array([-2, -3, -4, -5, -6])"),  # reference: [-4, -2, -6, -5, -3]
    # (116's third example, "sort_array([1, 0, 2, 3, 4]) [0, 1, 2, 3, 4]", has no separator)
    ("HumanEval/130", "tri(1)"),       # "tri(1) = 3" states the sequence, tri() returns a list
    ("HumanEval/130", "tri(2)"),
    ("HumanEval/130", "tri(4)"),
    ("HumanEval/148", 'bf("Earth", "Mercury")'),               # ("Venus") is a str, not a tuple
    ("HumanEval/47", "median([-10, 4, 6, 1000, 10, 20])"),     # reference gives 8.0, not 15.0
}
# Examples given in prose the forms above cannot follow, read by hand: (call, expected).
_READ_BY_HAND = {
    # "operator['+', '*', '-'] / array = [2, 3, 4, 5] / result = 2 + 3 * 4 - 5 => result = 9"
    "HumanEval/160": [("do_algebra(['+', '*', '-'], [2, 3, 4, 5])", "9")],
}
# Docstrings that write string arguments without quotes: is_happy(abcd) => True.
_UNQUOTED_STRINGS = {"HumanEval/80"}
# Builtins a doctest may wrap around the call, as in `round(find_zero([1, 2]), 2)`.
_WRAPPERS = {"abs", "round", "sorted", "len", "list", "tuple", "set", "str", "int", "float",
             "sum", "min", "max", "bool"}
_SEPARATOR = re.compile(r"\s*(?:#\s*)?(?:==>|=>|->|➞|==|=|should\s+return|returns?)\s*")


@dataclass(frozen=True)
class Example:
    call: str       # the call with the entry point renamed to `candidate`
    expected: str   # a Python literal, as written in the docstring
    key: str        # the call as the docstring writes it (exclusions match on this)

    def assertion(self) -> str:
        value = ast.literal_eval(_literal_text(self.expected))
        expected = self.expected
        if "\n" in expected:
            expected = "(" + expected.replace("\n", "\n        ") + ")"
        if type(value) is float:  # float answers are compared with a tolerance
            return f"assert abs({self.call} - ({expected})) < 1e-6"
        return f"assert {self.call} == {expected}"


def visible_test_from_docstring(program: str, entry_point: str, task_id: str = "") -> str:
    """A HumanEval-style `check(candidate)` test from the docstring examples of
    `entry_point` in `program`, or "" when the docstring has no usable example."""
    examples = docstring_examples(program, entry_point, task_id)
    if not examples:
        return ""
    asserts = "\n".join(f"    {e.assertion()}" for e in examples)
    return f"def check(candidate):\n{asserts}\n\ncheck({entry_point})\n"


def docstring_examples(program: str, entry_point: str, task_id: str = "") -> list[Example]:
    """The checked examples of `entry_point`'s docstring in `program`, in order, unique."""
    parser = _Parser(program, entry_point, task_id)
    found = parser.parse()
    if parser.doc:
        found += [parser.example(c, e) for c, e in _READ_BY_HAND.get(task_id, [])
                  if c.startswith(entry_point + "(")]
        found = [e for e in found if e is not None]
    unique = {(e.call, e.expected): e for e in reversed(found)}
    return [e for e in found if unique.get((e.call, e.expected)) is e
            and (task_id, e.key) not in _WRONG_IN_DOCSTRING]


def _docstring_source(program: str, entry_point: str) -> tuple[str, ast.FunctionDef] | None:
    """The docstring of the entry point as written in the source (escapes not applied)."""
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return None
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry_point]
    if not defs:
        return None
    for stmt in defs[-1].body:  # the first string statement: HumanEval/115 imports first
        if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) \
                and isinstance(stmt.value.value, str):
            text = ast.get_source_segment(program, stmt) or ""
            text = re.sub(r"^[rRuU]?(\"\"\"|'''|\"|')", "", text)
            return re.sub(r"(\"\"\"|'''|\"|')$", "", text), defs[-1]
    return None


def _literal_text(text: str) -> str:
    return {"true": "True", "false": "False"}.get(text.strip().lower(), text)


def _parse_expr(text: str) -> ast.Expression | None:
    try:
        return ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _is_literal(text: str) -> bool:
    try:
        ast.literal_eval(_literal_text(text.strip()))
        return True
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False


def _clean_expected(text: str) -> str | None:
    """The literal answer in `text`: whole, minus a full stop, after a last `=`
    (`1 + 9 = 10`), or the longest literal prefix (`'No' (because ...)`)."""
    text = text.strip()
    tries = [text.rstrip(".,;").strip(), text]  # "should return -15." means -15
    parts = re.split(r"(?<![=<>!])=(?!=)", text)
    if len(parts) > 1:
        tries.append(parts[-1].rstrip(".,;").strip())
    words = text.split()
    tries += [" ".join(words[:n]).rstrip(".,;") for n in range(len(words) - 1, 0, -1)]
    for attempt in tries:
        attempt = _literal_text(attempt.strip())
        tree = _parse_expr(attempt) if attempt else None
        if tree is not None and _is_literal(attempt):
            return ast.get_source_segment(attempt, tree.body)  # without a trailing comment
    return None


def _match_paren(text: str, start: int) -> int | None:
    """Index just past the bracket that closes text[start] ('('), skipping strings."""
    depth, i, quote = 0, start, ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
            elif ch == "\n":
                return None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


class _Parser:
    def __init__(self, program: str, entry_point: str, task_id: str):
        self.entry, self.task_id = entry_point, task_id
        found = _docstring_source(program, entry_point)
        self.doc, node = found if found else ("", None)
        self.params = [a.arg for a in node.args.posonlyargs + node.args.args] if node else []
        self.names = {entry_point} | self._alias(program)
        self.lines = self.doc.split("\n")

    def _alias(self, program: str) -> set[str]:
        """Docstrings that call the function by another name (grade_equation for
        numerical_letter_grade): accept that name when it is the only one and the
        entry point itself is never called."""
        if re.search(rf"(?<![\w.]){re.escape(self.entry)}\s*\(", self.doc):
            return set()
        defined = set(re.findall(r"^\s*def\s+(\w+)", program, re.MULTILINE))
        called = {m.group(1) for line in self.doc.split("\n")
                  if (m := re.match(r"\s*(?:[*]|assert|for|>>>)?\s*(\w+)\(", line))}
        called -= defined | set(dir(builtins))
        return called if len(called) == 1 else set()

    def parse(self) -> list[Example]:
        examples: list[Example] = []
        i = 0
        while i < len(self.lines):
            line = self.lines[i].strip()
            for form in (self._doctest, self._input_output, self._for_output,
                         self._assign_return, self._inline):
                result = form(i, line)
                if result is not None:
                    found, i = result
                    examples += [e for e in found if e is not None]
                    break
            else:
                i += 1
        return examples

    # Each form returns None (not this form) or (examples found, next line index).

    def _doctest(self, i: int, line: str):
        if not line.startswith(">>>"):
            return None
        source, j = line[3:].strip(), i + 1
        while j < len(self.lines) and self.lines[j].strip().startswith("..."):
            source += "\n" + self.lines[j].strip()[3:]
            j += 1
        output = []
        while j < len(self.lines) and self.lines[j].strip() \
                and not self.lines[j].strip().startswith(">>>"):
            output.append(self.lines[j].strip())
            j += 1
        tree = _parse_expr(source)
        if tree is None:
            return [], j
        body = tree.body
        if output:
            return [self.example(source, "\n".join(output))], j
        if isinstance(body, ast.Compare) and len(body.ops) == 1 and isinstance(body.ops[0], ast.Eq):
            left = ast.get_source_segment(source.strip(), body.left)
            right = ast.get_source_segment(source.strip(), body.comparators[0])
            return [self.example(left, right)], j
        if isinstance(body, ast.Call) and isinstance(body.func, ast.Name) \
                and body.func.id in self.names:
            return [self.example(source, "None")], j  # doctest: no output means None
        return [], j

    def _input_output(self, i: int, line: str):
        m = re.match(r"(?:Example\s*\d*\s*:\s*)?Input\s*:(.*)$", line, re.IGNORECASE)
        if not m:
            return None
        given, j = [m.group(1).strip()], i + 1
        while j < len(self.lines) and not re.match(r"\s*Output\s*:", self.lines[j]):
            if re.match(r"\s*(Input|Example)\b", self.lines[j], re.IGNORECASE):
                return [], j
            given.append(self.lines[j].strip())
            j += 1
        if j == len(self.lines):
            return [], j
        expected = self.lines[j].split(":", 1)[1]
        given = [g for g in given if g]
        call = self._call_from_bindings(" ".join(given))
        if call is None and all(re.match(r"\w+\s*:", g) for g in given):
            values = [g.split(":", 1)[1].strip() for g in given]  # "grid : [[0, 1]]" lines
            call = self._call_from_values(values)
        if call is None:
            call = self._call_from_values([" ".join(given)])
        return [self.example(call, expected) if call else None], j + 1

    def _for_output(self, i: int, line: str):
        m = re.match(r"For (.+?)[\s,]+the (?:output|result) should be (.+)$", line)
        if not m:
            return None
        call = self._call_from_bindings(m.group(1))
        return [self.example(call, m.group(2)) if call else None], i + 1

    def _assign_return(self, i: int, line: str):
        m = re.match(r"(\w+)\s*=\s*(.+)$", line)
        if not m or self.params != [m.group(1)]:
            return None
        for j in range(i + 1, len(self.lines)):
            nxt = self.lines[j].strip()
            if not nxt or re.match(rf"{m.group(1)}\s*=", nxt):
                break
            if ret := re.match(r"return\s*=?\s*(.+)$", nxt):
                call = self._call_from_values([m.group(2)])
                return [self.example(call, ret.group(1)) if call else None], j + 1
        return None

    def _inline(self, i: int, line: str):
        """`f(x) <separator> y` anywhere on the line; the call may span lines."""
        offset = sum(len(s) + 1 for s in self.lines[:i])
        pattern = r"(?<![\w.])(" + "|".join(map(re.escape, self.names)) + r")\s*\("
        for m in re.finditer(pattern, self.lines[i]):
            start = offset + m.start()
            end = _match_paren(self.doc, offset + m.end() - 1)
            if end is None:
                continue
            tail = self.doc[end:].split("\n", 1)[0]
            sep = _SEPARATOR.match(tail)
            if not sep:
                continue
            example = self.example(self.doc[start:end], tail[sep.end():])
            if example is not None:
                return [example], self.doc.count("\n", 0, end) + 1
        return None

    # --- building calls and examples

    def _call_from_bindings(self, text: str) -> str | None:
        """`lst = [1, 2], k = 3` -> `f([1, 2], 3)`, trying shorter comma-cut prefixes
        (`N = 1000, the sum of digits will be 1`)."""
        pieces = text.split(",")
        for n in range(len(pieces), 0, -1):
            source = f"f({','.join(pieces[:n]).strip()})"
            tree = _parse_expr(source)
            if tree is None or not isinstance(tree.body, ast.Call) or tree.body.args \
                    or not tree.body.keywords:
                continue
            keywords = {k.arg: ast.get_source_segment(source, k.value) for k in tree.body.keywords}
            if set(keywords) == set(self.params):
                return self._call_from_values([keywords[p] for p in self.params])
            if len(keywords) == len(self.params):  # "bucket_capacity" for capacity
                return self._call_from_values(list(keywords.values()))
        return None

    def _call_from_values(self, values: list[str]) -> str | None:
        if len(values) != len(self.params) or not all(_is_literal(v) for v in values):
            return None
        return f"{self.entry}({', '.join(v.strip() for v in values)})"

    def example(self, call: str, expected: str) -> Example | None:
        tree = _parse_expr(call)
        expected = _clean_expected(expected)
        if expected is None or tree is None:
            return None
        call = ast.get_source_segment(call.strip(), tree.body)  # drops trailing comments
        tree = _parse_expr(call)
        unquoted = self.task_id in _UNQUOTED_STRINGS
        renames = []
        for node in ast.walk(tree.body):
            if isinstance(node, ast.Name) and node.id not in self.names | _WRAPPERS:
                if not unquoted:
                    return None  # a free variable: prose, not an example
                renames.append((node, repr(node.id)))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in self.names:
                renames.append((node.func, "candidate"))
                arguments = node.args + [k.value for k in node.keywords]
                if not all(_is_literal(ast.get_source_segment(call, a) or "")
                           or (unquoted and isinstance(a, ast.Name)) for a in arguments):
                    return None
        if not any(text == "candidate" for _, text in renames):
            return None  # the entry point is not called
        example = Example(_splice(call, renames), expected, call)
        return example if _parse_expr(example.assertion().replace("assert ", "", 1)) else None


def _splice(source: str, replacements: list[tuple[ast.AST, str]]) -> str:
    """Replace the source of each node (offsets are UTF-8 bytes per line)."""
    lines = [line.encode() for line in source.split("\n")]
    spots = sorted(((n.lineno, n.col_offset, n.end_col_offset, text)
                    for n, text in replacements), reverse=True)
    for lineno, start, end, text in spots:
        row = lines[lineno - 1]
        lines[lineno - 1] = row[:start] + text.encode() + row[end:]
    return "\n".join(line.decode() for line in lines)
