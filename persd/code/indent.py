"""A completion's indentation made the prompt's, where the two are joined.

    from persd.code.indent import match_indent
    body = match_indent(task.prompt, "\\tif x:\\n\\t\\treturn 1\\n")   # "    if x:\\n        return 1\\n"

A prompt whose function already has a body line (persd's MBPP and HumanEval prompts put
the docstring inside the function) fixes the body's indentation: a completion indented
with tabs, or by another width, after it is a TabError or an IndentationError, although
the same code is fine on its own. 128 of MBPP's 974 references and 272 completions of the
paper's release are tab-indented. `match_indent` re-indents the start of every logical
line of the completion to the prompt's unit at the same depth; continuation lines, the
inside of strings and comment lines are left as they are (their whitespace is not
indentation). A prompt without a body line imposes nothing: the completion is kept.
"""

from __future__ import annotations

import io
import re
import tokenize

_DEF = re.compile(r"^([ \t]*)(?:async[ \t]+)?def[ \t]+\w+", re.M)
_STARTS = (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
_SKIP = (tokenize.NL, tokenize.COMMENT, tokenize.ENCODING)
_TRIES = 200  # shorter and shorter prefixes of output cut off mid-statement, at most


def match_indent(prompt: str, completion: str) -> str:
    """`completion` (generated after `prompt`) with its logical lines indented the way the
    prompt's function body is; unchanged when the prompt has no body line or the text does
    not tokenize at all."""
    unit, base = _prompt_unit(prompt)
    if unit is None:
        return completion
    head = ""
    if prompt and not prompt.endswith("\n"):  # the first line continues the prompt's last
        opening, newline, completion = completion.partition("\n")
        head = opening + newline
    lines = completion.split("\n")
    first = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
    if first.startswith(base + unit) and first[len(base + unit):][:1] not in (" ", "\t"):
        return head + completion  # already the prompt's: kept byte for byte
    for end in range(len(lines), max(len(lines) - _TRIES, 0), -1):  # the part that reads
        depths = _depths("\n".join(lines[:end]))
        if depths is not None:
            break
    else:
        return head + completion
    for row, depth in depths.items():
        line = lines[row]
        lines[row] = (base + unit * depth if depth else base) + line.lstrip(" \t")
    return head + "\n".join(lines)


def _prompt_unit(prompt: str) -> tuple[str | None, str]:
    """(the indentation one level adds in the prompt's last function, that function's own
    indentation); (None, "") when the function has no body line yet."""
    starts = list(_DEF.finditer(prompt))
    if not starts:
        return None, ""
    base = starts[-1].group(1)
    for line in prompt[starts[-1].end():].split("\n")[1:]:
        if not line.strip():
            continue
        indent = line[:len(line) - len(line.lstrip(" \t"))]
        if len(indent) > len(base) and indent.startswith(base):
            return indent[len(base):], base
        return None, ""  # the header spans lines, or the body is not below it: leave it
    return None, ""


def _depths(text: str) -> dict[int, int] | None:
    """Row (0-based, in `text`) -> block depth of each logical line's first row, with
    `text` read as the body of a function (depth 1); None when it does not tokenize."""
    source = "def _():\n" + text + "\n"
    depth, at_start, found = 0, True, {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.INDENT:
                depth += 1
            elif token.type == tokenize.DEDENT:
                depth -= 1
            if token.type in _STARTS:
                at_start = True
            elif token.type not in _SKIP and token.type != tokenize.ENDMARKER and at_start:
                at_start = False
                if token.start[0] >= 2:
                    found[token.start[0] - 2] = depth
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return None
    return found
