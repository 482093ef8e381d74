"""The Python code in a model's reply: fenced blocks, bare code, thinking stripped.

    from persd.code.extract import extract_code
    code = extract_code(reply, entry_point="add")   # str or None when there is no code
"""

from __future__ import annotations

import ast
import re
import textwrap

_PYTHON_TAGS = {"", "python", "py", "python3", "py3"}
_THINKING = re.compile(r"<think>.*?(?:</think>|\Z)", re.S)
_FENCE_OPEN = re.compile(r"(`{3,}|~{3,})\s*([\w+.-]*)")
_CODE_START = re.compile(r"^(?:async\s+def|def|class|import|from\s+\S+\s+import|@)\b", re.M)


def extract_code(reply: str, entry_point: str | None = None) -> str | None:
    """The Python code in a model's reply, or None when there is none.

    Fenced blocks win (```python, ```py or bare fences; an unterminated fence runs to the
    end). Among several blocks the last one defining `entry_point` is taken, else the last
    one that parses and defines something. Without fences, the reply counts as code only
    if (from its first `def`/`import`/... line on) it parses and defines a function/class.
    """
    text = _THINKING.sub("", reply.replace("\r\n", "\n"))
    blocks = [b for b in _fenced_blocks(text) if b.strip()]
    if blocks:
        best = max(enumerate(blocks), key=lambda ib: (*_block_score(ib[1], entry_point), ib[0]))
        return best[1].strip("\n") + "\n"
    return _bare_code(text)


def _fenced_blocks(text: str) -> list[str]:
    blocks, lines, fence, keep = [], None, "", False
    for line in text.split("\n"):
        stripped = line.strip()
        if lines is None:
            match = _FENCE_OPEN.match(stripped)
            if match:
                fence, keep, lines = match.group(1), match.group(2).lower() in _PYTHON_TAGS, []
        elif stripped.startswith(fence) and not stripped.strip(fence[0]):
            if keep:
                blocks.append(textwrap.dedent("\n".join(lines)))
            lines = None
        else:
            lines.append(line)
    if lines is not None and keep:  # an unterminated fence runs to the end of the reply
        blocks.append(textwrap.dedent("\n".join(lines)))
    return blocks


def _block_score(code: str, entry_point: str | None) -> tuple[bool, bool, bool]:
    tree = parse(code)
    if tree is None:
        defines = bool(entry_point) and re.search(
            rf"^\s*(?:async\s+)?def\s+{re.escape(entry_point)}\s*\(", code, re.M
        )
        return bool(defines), False, False
    names = defined_names(tree)
    return entry_point in names, True, bool(names)


def _bare_code(text: str) -> str | None:
    start = _CODE_START.search(text)
    if start is None:
        return None
    lines = text[start.start():].rstrip().split("\n")
    for end in range(len(lines), 0, -1):
        code = "\n".join(lines[:end])
        tree = parse(code)
        if tree is not None and defined_names(tree):
            return code.strip("\n") + "\n"
    return None


def parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):  # ValueError: null bytes
        return None


def defined_names(tree: ast.Module) -> set[str]:
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {node.name for node in tree.body if isinstance(node, kinds)}


