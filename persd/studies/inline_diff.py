"""A one-column (unified) diff as HTML: what a pairwise study shows for each candidate, so
two candidates fit side by side without repeating the student's attempt twice.

    html = inline_diff_html(attempt, candidate, "Candidate 1", context=3)

Removed lines (the attempt's) are red with "-", added lines green with "+", changed
characters marked; runs of unchanged lines farther than `context` from a change fold into
one "⋯ N unchanged lines ⋯" row. Every text is escaped, `$`, `{` and `}` included (gr.HTML
reads its value as a template).
"""

from __future__ import annotations

import html

from persd.code.diffing import DiffRow, side_by_side

_CSS = """
.persd-idiff{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:13px;
 line-height:1.45;color:inherit}
.persd-idiff table{border-collapse:collapse;width:100%;table-layout:fixed}
.persd-idiff th{font-weight:600;text-align:left;padding:4px 8px;border-bottom:1px solid rgba(128,128,128,.35)}
.persd-idiff td{padding:0 6px;vertical-align:top;border:0}
.persd-idiff .ln{width:2.6em;text-align:right;opacity:.55;user-select:none}
.persd-idiff .sg{width:1.2em;text-align:center;user-select:none;opacity:.8}
.persd-idiff .code{white-space:pre-wrap;overflow-wrap:anywhere;tab-size:4;border-left:1px solid rgba(128,128,128,.25)}
.persd-idiff .del{background:rgba(248,81,73,.16)}
.persd-idiff .add{background:rgba(46,160,67,.18)}
.persd-idiff .del .mk{background:rgba(248,81,73,.45);border-radius:2px}
.persd-idiff .add .mk{background:rgba(46,160,67,.45);border-radius:2px}
.persd-idiff .skip td{text-align:center;opacity:.6;font-style:italic;background:rgba(128,128,128,.08)}
"""


def _escape(text: str) -> str:
    return (html.escape(text, quote=True).replace("$", "&#36;").replace("{", "&#123;")
            .replace("}", "&#125;"))


def _marked(text: str, spans: tuple[tuple[int, int], ...]) -> str:
    out, at = [], 0
    for start, end in spans:
        out += [_escape(text[at:start]), f'<span class="mk">{_escape(text[start:end])}</span>']
        at = end
    return "".join(out) + _escape(text[at:])


def _line(old: int | None, new: int | None, sign: str, code: str, css: str) -> str:
    cls = f' class="{css}"' if css else ""
    return (f'<tr{cls}><td class="ln">{old or ""}</td><td class="ln">{new or ""}</td>'
            f'<td class="sg">{sign}</td><td class="code">{code}</td></tr>')


def _rows(row: DiffRow) -> list[str]:
    if row.kind == "equal":
        return [_line(row.left_no, row.right_no, "", _escape(row.right_text), "")]
    out = []
    if row.left_no is not None:
        out.append(_line(row.left_no, None, "-", _marked(row.left_text, row.left_spans), "del"))
    if row.right_no is not None:
        out.append(_line(None, row.right_no, "+", _marked(row.right_text, row.right_spans), "add"))
    return out


def inline_diff_html(a: str, b: str, title: str, context: int | None = 3) -> str:
    """`a` -> `b` as one column; see the module docstring."""
    rows = side_by_side(a, b)
    changed = [k for k, row in enumerate(rows) if row.kind != "equal"]
    keep = set(range(len(rows))) if context is None else {
        k for c in changed for k in range(c - context, c + context + 1)}
    body: list[str] = []
    skipped = 0
    for k, row in enumerate(rows):
        if k not in keep:
            skipped += 1
            continue
        if skipped:
            body.append(_skip(skipped))
            skipped = 0
        body += _rows(row)
    if skipped:
        body.append(_skip(skipped))
    note = "" if changed else '<tr class="skip"><td colspan="4">No differences.</td></tr>'
    return (f'<div class="persd-idiff"><style>{_CSS}</style><table><colgroup>'
            '<col style="width:2.6em"><col style="width:2.6em"><col style="width:1.2em"><col>'
            f'</colgroup><thead><tr><th colspan="4">{_escape(title)}</th></tr></thead>'
            f'<tbody>{note}{"".join(body)}</tbody></table></div>')


def _skip(count: int) -> str:
    return (f'<tr class="skip"><td colspan="4">⋯ {count} unchanged line'
            f'{"s" if count != 1 else ""} ⋯</td></tr>')
