"""Diffs and similarity between two versions of a program (attempt vs refinement).

    from persd.code.diffing import unified_diff, diff_size, similarity, side_by_side, side_by_side_html
    print(unified_diff(attempt, refinement))
    diff_size(attempt, refinement)        # changed lines: added + removed
    similarity(attempt, refinement)       # 0.0 .. 1.0 (1.0: the same code)
    code_similarity(attempt, refinement, task.prompt)   # the figure the app shows
    rows = side_by_side(attempt, refinement)        # aligned rows for a two-column view
    html = side_by_side_html(attempt, refinement)   # a self-contained table for gr.HTML
    html = rows_html(rows, "Attempt", "Refinement", columns=1, context=3, hide_blank=True)

All functions are pure; lines are compared without their trailing whitespace, so an editor
that strips it does not make a refinement look bigger than it is.
"""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass

from rapidfuzz.distance import Indel

__all__ = ["DiffRow", "below_prompt", "code_similarity", "collapse", "diff_size", "rows_html",
           "side_by_side", "side_by_side_html", "similarity", "unified_diff",
           "without_blank_changes"]

KINDS = ("equal", "replace", "delete", "insert")
# Replace blocks up to this many line pairs are aligned by content; larger ones line by line.
_ALIGN_LIMIT = 400
_PAIR_MIN_RATIO = 0.4  # lines less alike than this are shown as a delete plus an insert
_TOKEN = re.compile(r"\w+|\s+|[^\w\s]")

Span = tuple[int, int]  # [start, end) character offsets within a line's text


@dataclass(frozen=True, slots=True)
class DiffRow:
    """One row of a side-by-side diff. A side that has no line has number None and text "".

    kind: "equal" (same line both sides), "replace" (a changed line: both sides present,
    with `left_spans`/`right_spans` marking the changed characters), "delete" (left only)
    or "insert" (right only). Unequal parts of a replace block that have no counterpart
    become delete/insert rows, so every row's kind says which sides it has.
    """

    left_no: int | None
    left_text: str
    right_no: int | None
    right_text: str
    kind: str
    left_spans: tuple[Span, ...] = ()
    right_spans: tuple[Span, ...] = ()


def _lines(text: str) -> list[str]:
    text = text.replace("\r\n", "\n")
    text = text[:-1] if text.endswith("\n") else text  # a final newline ends a line
    return text.split("\n") if text else []


def _keys(lines: list[str]) -> list[str]:
    return [line.rstrip() for line in lines]


def _opcodes(a: list[str], b: list[str]) -> list[tuple[str, int, int, int, int]]:
    # autojunk off: blank lines and `return` lines are common in code, not noise.
    return difflib.SequenceMatcher(None, _keys(a), _keys(b), autojunk=False).get_opcodes()


def unified_diff(a: str, b: str, a_name: str = "attempt", b_name: str = "refinement",
                 context: int = 3) -> str:
    """A unified diff of `a` -> `b` ("" when they are the same)."""
    lines = list(difflib.unified_diff(_lines(a), _lines(b), a_name, b_name, n=context,
                                      lineterm=""))
    return "\n".join(lines) + "\n" if lines else ""


def diff_size(a: str, b: str) -> int:
    """Lines added plus lines removed from `a` to `b`, ignoring trailing whitespace."""
    return sum((i2 - i1) + (j2 - j1) for tag, i1, i2, j1, j2 in _opcodes(_lines(a), _lines(b))
               if tag != "equal")


def _normalise(code: str) -> str:
    return "\n".join(line.rstrip() for line in _lines(code) if line.strip())


def similarity(a: str, b: str) -> float:
    """How alike two programs are, in [0, 1]: rapidfuzz's normalised Indel similarity
    (the same number as `fuzz.ratio / 100`) over the code with trailing whitespace and
    blank lines removed. Character-level, so a one-token fix scores close to 1.0 and a
    rewrite in another style scores low even when it behaves the same."""
    return float(Indel.normalized_similarity(_normalise(a), _normalise(b)))


def code_similarity(attempt: str, other: str, prompt: str = "") -> float:
    """How alike a refinement (an edit, the reference) is to the student's attempt: the
    `similarity` of the code below the task prompt when both programs start with it,
    since the prompt (description and header) is the same in both and would make any two
    programs of a long task look alike. The one figure the Queue, Review, Analysis and the
    "not personalised" risk flag show."""
    if prompt and attempt.startswith(prompt) and other.startswith(prompt):
        return similarity(below_prompt(attempt, prompt), below_prompt(other, prompt))
    return similarity(attempt, other)


def below_prompt(program: str, prompt: str) -> str:
    """The program below the task prompt (the whole program if it does not start so)."""
    return program[len(prompt):] if prompt and program.startswith(prompt) else program


# ---------------------------------------------------------------- side by side

def side_by_side(a: str, b: str) -> list[DiffRow]:
    """Aligned rows for a two-column diff of `a` (left) and `b` (right)."""
    left, right = _lines(a), _lines(b)
    rows: list[DiffRow] = []
    for tag, i1, i2, j1, j2 in _opcodes(left, right):
        if tag == "equal":
            rows += [DiffRow(i + 1, left[i], j + 1, right[j], "equal")
                     for i, j in zip(range(i1, i2), range(j1, j2))]
        elif tag == "delete":
            rows += [DiffRow(i + 1, left[i], None, "", "delete") for i in range(i1, i2)]
        elif tag == "insert":
            rows += [DiffRow(None, "", j + 1, right[j], "insert") for j in range(j1, j2)]
        else:
            rows += _replace_rows(left, right, i1, i2, j1, j2)
    return rows


def _replace_rows(left: list[str], right: list[str], i1: int, i2: int, j1: int,
                  j2: int) -> list[DiffRow]:
    rows = []
    for i, j in _align(left[i1:i2], right[j1:j2]):
        if i is not None and j is not None:
            spans_l, spans_r = _changed_spans(left[i1 + i], right[j1 + j])
            rows.append(DiffRow(i1 + i + 1, left[i1 + i], j1 + j + 1, right[j1 + j],
                                "replace", spans_l, spans_r))
        elif i is not None:
            rows.append(DiffRow(i1 + i + 1, left[i1 + i], None, "", "delete"))
        else:
            rows.append(DiffRow(None, "", j1 + j + 1, right[j1 + j], "insert"))
    return rows


def _ratio(x: str, y: str) -> float:
    return Indel.normalized_similarity(x.strip(), y.strip())


def _align(xs: list[str], ys: list[str]) -> list[tuple[int | None, int | None]]:
    """Pairs of indices (None: no counterpart), in order, pairing lines that are alike.

    An order-preserving alignment maximising the summed similarity of the pairs (a small
    dynamic programme); blocks too big for it are paired line by line.
    """
    n, m = len(xs), len(ys)
    if n * m > _ALIGN_LIMIT:
        return [(k if k < n else None, k if k < m else None) for k in range(max(n, m))]
    score = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            r = _ratio(xs[i], ys[j])
            pair = score[i + 1][j + 1] + r if r >= _PAIR_MIN_RATIO else -1.0
            score[i][j] = max(pair, score[i + 1][j], score[i][j + 1])
    pairs: list[tuple[int | None, int | None]] = []
    i = j = 0
    while i < n and j < m:
        r = _ratio(xs[i], ys[j])
        if r >= _PAIR_MIN_RATIO and score[i][j] == score[i + 1][j + 1] + r:
            pairs.append((i, j))
            i, j = i + 1, j + 1
        elif score[i][j] == score[i + 1][j]:
            pairs.append((i, None))
            i += 1
        else:
            pairs.append((None, j))
            j += 1
    pairs += [(k, None) for k in range(i, n)] + [(None, k) for k in range(j, m)]
    return pairs


def _changed_spans(x: str, y: str) -> tuple[tuple[Span, ...], tuple[Span, ...]]:
    """Character ranges of `x` and `y` that differ, compared token by token (words,
    runs of spaces, single symbols), so `range(n)` -> `range(n - 1)` marks ` - 1`."""
    xt, yt = _TOKEN.findall(x), _TOKEN.findall(y)
    xo, yo = _offsets(xt), _offsets(yt)
    left: list[Span] = []
    right: list[Span] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, xt, yt, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if i2 > i1:
            _add_span(left, xo[i1], xo[i2])
        if j2 > j1:
            _add_span(right, yo[j1], yo[j2])
    return tuple(left), tuple(right)


def _offsets(tokens: list[str]) -> list[int]:
    out = [0]
    for token in tokens:
        out.append(out[-1] + len(token))
    return out


def _add_span(spans: list[Span], start: int, end: int) -> None:
    if spans and spans[-1][1] == start:
        spans[-1] = (spans[-1][0], end)
    else:
        spans.append((start, end))


# ---------------------------------------------------------------- HTML

_CSS = """
.persd-diff{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;
 line-height:1.45;overflow-x:auto;color:inherit}
.persd-diff-table{border-collapse:collapse;width:100%;table-layout:fixed}
.persd-diff-table th{font-weight:600;text-align:left;padding:4px 8px;
 border-bottom:1px solid rgba(128,128,128,.35)}
.persd-diff-table td{padding:0 8px;vertical-align:top;border:0}
.persd-diff-ln{width:3.5em;text-align:right;opacity:.55;user-select:none;
 border-right:1px solid rgba(128,128,128,.25)}
.persd-diff-sign{user-select:none;opacity:.7;text-align:center}
.persd-diff-code{white-space:pre-wrap;overflow-wrap:anywhere;tab-size:4}
.persd-diff-line{display:block}
.persd-diff-del{background:rgba(248,81,73,.16)}
.persd-diff-add{background:rgba(46,160,67,.18)}
.persd-diff-empty{background:rgba(128,128,128,.07)}
.persd-diff-del .persd-diff-mark{background:rgba(248,81,73,.45);border-radius:2px}
.persd-diff-add .persd-diff-mark{background:rgba(46,160,67,.45);border-radius:2px}
.persd-diff-skip td{text-align:center;opacity:.6;font-style:italic;
 background:rgba(128,128,128,.08)}
.persd-diff-none{opacity:.7;font-style:italic;padding:4px 8px}
"""
_CONTINUATION = 4  # extra indent (characters) of a wrapped line's continuation


def _escape(text: str) -> str:
    # `$`, `{`, `}` as entities too: a gr.HTML template must never read code as a template.
    return (html.escape(text, quote=True).replace("$", "&#36;").replace("{", "&#123;")
            .replace("}", "&#125;"))


def _marked(text: str, spans: tuple[Span, ...]) -> str:
    """One line of code, changed characters marked; a wrapped line hangs under its own
    indentation, so wrapped Python still reads as Python."""
    out, at = [], 0
    for start, end in spans:
        out.append(_escape(text[at:start]))
        out.append(f'<span class="persd-diff-mark">{_escape(text[start:end])}</span>')
        at = end
    out.append(_escape(text[at:]))
    indent = len(text) - len(text.lstrip(" \t")) + _CONTINUATION
    return (f'<span class="persd-diff-line" style="padding-left:{indent}ch;'
            f'text-indent:-{indent}ch">{"".join(out) or " "}</span>')


def _cells(number: int | None, text: str, spans: tuple[Span, ...], side: str) -> str:
    if number is None:
        return '<td class="persd-diff-ln persd-diff-empty"></td><td class="persd-diff-code ' \
               'persd-diff-empty"></td>'
    css = f" persd-diff-{side}" if side else ""
    return (f'<td class="persd-diff-ln{css}">{number}</td>'
            f'<td class="persd-diff-code{css}">{_marked(text, spans)}</td>')


def _row_html(row: DiffRow) -> str:
    changed = row.kind != "equal"
    left = _cells(row.left_no, row.left_text, row.left_spans, "del" if changed else "")
    right = _cells(row.right_no, row.right_text, row.right_spans, "add" if changed else "")
    return f'<tr class="persd-diff-row persd-diff-{row.kind}">{left}{right}</tr>'


def _line_html(row: DiffRow, old: int | None, new: int | None, side: str) -> str:
    text, spans = (row.left_text, row.left_spans) if side == "del" else (row.right_text,
                                                                        row.right_spans)
    css = f" persd-diff-{side}" if side else ""
    sign = {"del": "-", "add": "+"}.get(side, "")
    cells = (("ln", old or ""), ("ln", new or ""), ("sign", sign),
             ("code", _marked(text, spans if side else ())))
    tds = "".join(f'<td class="persd-diff-{name}{css}">{value}</td>' for name, value in cells)
    return f'<tr class="persd-diff-row persd-diff-{row.kind}">{tds}</tr>'


def _unified_rows_html(row: DiffRow) -> str:
    if row.kind == "equal":
        return _line_html(row, row.left_no, row.right_no, "")
    old = _line_html(row, row.left_no, None, "del") if row.left_no is not None else ""
    new = _line_html(row, None, row.right_no, "add") if row.right_no is not None else ""
    return old + new


def collapse(rows: list[DiffRow], context: int | None) -> list[DiffRow | int]:
    """Rows with runs of unchanged lines farther than `context` from a change replaced
    by the number of lines skipped."""
    if context is None:
        return list(rows)
    changed = [k for k, row in enumerate(rows) if row.kind != "equal"]
    keep = {k for c in changed for k in range(c - context, c + context + 1)}
    out: list[DiffRow | int] = []
    for k, row in enumerate(rows):
        if k in keep:
            out.append(row)
        elif out and isinstance(out[-1], int):
            out[-1] += 1
        else:
            out.append(1)
    return out


def without_blank_changes(rows: list[DiffRow]) -> list[DiffRow]:
    """`rows` less the changes that only add or remove a blank line."""
    return [row for row in rows if not (row.kind in ("insert", "delete")
                                        and not (row.left_text + row.right_text).strip())]


def _note(rows: list[DiffRow], hidden: int) -> str:
    notes = []
    if not any(row.kind != "equal" for row in rows):
        notes.append("No differences" + (" except blank lines." if hidden else "."))
    if hidden:
        notes.append(f"{hidden} blank-line change{'s' if hidden != 1 else ''} hidden.")
    return f'<div class="persd-diff-none">{" ".join(notes)}</div>' if notes else ""


def _head(left_title: str, right_title: str, columns: int) -> str:
    if columns == 1:
        return ('<colgroup><col style="width:3em"><col style="width:3em">'
                '<col style="width:1.4em"><col></colgroup><thead><tr><th colspan="4">'
                f'{_escape(left_title)} → {_escape(right_title)}</th></tr></thead>')
    return ('<colgroup><col style="width:3.5em"><col><col style="width:3.5em"><col></colgroup>'
            f'<thead><tr><th colspan="2">{_escape(left_title)}</th>'
            f'<th colspan="2">{_escape(right_title)}</th></tr></thead>')


def rows_html(rows: list[DiffRow], left_title: str = "Student attempt",
              right_title: str = "Teacher refinement", *, columns: int = 2,
              context: int | None = None, hide_blank: bool = False) -> str:
    """The one diff renderer: a self-contained HTML table of `rows`, removed lines
    red-ish, added lines green-ish, changed characters marked; every text is escaped.

    `columns`: 2 puts the left side beside the right, 1 shows one column with "-" and "+"
    lines under "left → right". `context`: show only this many unchanged lines around each
    change (None: all lines). `hide_blank`: drop changes that only add or remove blank
    lines (a note says how many). Styles use semi-transparent colours, so the table reads
    in light and dark themes.
    """
    if columns not in (1, 2):
        raise ValueError(f"columns must be 1 or 2, not {columns!r}")
    shown = without_blank_changes(rows) if hide_blank else rows
    row_html = _row_html if columns == 2 else _unified_rows_html
    body = []
    for item in collapse(shown, context):
        if isinstance(item, int):
            plural = "s" if item != 1 else ""
            body.append(f'<tr class="persd-diff-skip"><td colspan="4">⋯ {item} unchanged '
                        f'line{plural} ⋯</td></tr>')
        else:
            body.append(row_html(item))
    return (f'<div class="persd-diff"><style>{_CSS}</style>'
            f'{_note(shown, len(rows) - len(shown))}<table class="persd-diff-table">'
            f'{_head(left_title, right_title, columns)}<tbody>{"".join(body)}</tbody>'
            '</table></div>')


def side_by_side_html(a: str, b: str, left_title: str = "Student attempt",
                      right_title: str = "Teacher refinement", *, columns: int = 2,
                      context: int | None = None, hide_blank: bool = False) -> str:
    """`rows_html` of the diff of `a` (left) -> `b` (right)."""
    return rows_html(side_by_side(a, b), left_title, right_title, columns=columns,
                     context=context, hide_blank=hide_blank)
