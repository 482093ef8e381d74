"""The review screen's diff of the attempt against the refinement (or the reviewer's
draft), as HTML for gr.HTML: side by side in view mode, one column beside the editor.

    rows = side_by_side(attempt, refinement)             # persd.code.diffing
    html = diff_html(rows, "Student attempt", "Teacher refinement", hide_blank=True)

Both layouts are in one fragment and CSS shows the one the mode needs, so entering the
editor needs no server round trip. A long line wraps with its indentation kept (a hanging
indent), so wrapped Python still reads as Python. `hide_blank` drops changes that only add
or remove blank lines.
"""

from __future__ import annotations

from persd.code.diffing import DiffRow, collapse
from persd_app.tabs.review_render import esc

CONTEXT = 3          # unchanged lines kept around each change; the rest folds away
_CONTINUATION = 4    # extra indent (characters) of a wrapped line's continuation


def visible_rows(rows: list[DiffRow], hide_blank: bool) -> list[DiffRow]:
    if not hide_blank:
        return rows
    return [row for row in rows if not (row.kind in ("insert", "delete")
                                        and not (row.left_text + row.right_text).strip())]



def _code(text: str, spans: tuple[tuple[int, int], ...]) -> str:
    indent = len(text) - len(text.lstrip(" \t")) + _CONTINUATION
    parts, at = [], 0
    for start, end in spans:
        parts.append(esc(text[at:start]))
        parts.append(f'<span class="persd-dm">{esc(text[start:end])}</span>')
        at = end
    parts.append(esc(text[at:]))
    return (f'<span class="persd-dl" style="padding-left:{indent}ch;text-indent:-{indent}ch">'
            f'{"".join(parts) or " "}</span>')


def _skip(count: int, columns: int) -> str:
    return (f'<tr class="persd-dskip"><td colspan="{columns}">⋯ {count} unchanged '
            f'line{"s" if count != 1 else ""} ⋯</td></tr>')


def _side(number: int | None, text: str, spans, kind: str) -> str:
    if number is None:
        return '<td class="persd-dn persd-dnone"></td><td class="persd-dc persd-dnone"></td>'
    return (f'<td class="persd-dn {kind}">{number}</td>'
            f'<td class="persd-dc {kind}">{_code(text, spans)}</td>')


def _two_columns(items: list[DiffRow | int]) -> str:
    body = []
    for item in items:
        if isinstance(item, int):
            body.append(_skip(item, 4))
            continue
        changed = item.kind != "equal"
        body.append(f'<tr class="persd-d-{item.kind}">'
                    f'{_side(item.left_no, item.left_text, item.left_spans, "persd-ddel" if changed else "")}'
                    f'{_side(item.right_no, item.right_text, item.right_spans, "persd-dadd" if changed else "")}</tr>')
    return "".join(body)


def _one_column(items: list[DiffRow | int]) -> str:
    body = []
    for item in items:
        if isinstance(item, int):
            body.append(_skip(item, 3))
            continue
        if item.kind == "equal":
            body.append(f'<tr><td class="persd-dn">{item.right_no}</td><td class="persd-dsign">'
                        f'</td><td class="persd-dc">{_code(item.right_text, ())}</td></tr>')
            continue
        if item.left_no is not None:
            body.append(f'<tr><td class="persd-dn persd-ddel">{item.left_no}</td>'
                        '<td class="persd-dsign persd-ddel">-</td><td class="persd-dc persd-ddel">'
                        f'{_code(item.left_text, item.left_spans)}</td></tr>')
        if item.right_no is not None:
            body.append(f'<tr><td class="persd-dn persd-dadd">{item.right_no}</td>'
                        '<td class="persd-dsign persd-dadd">+</td><td class="persd-dc persd-dadd">'
                        f'{_code(item.right_text, item.right_spans)}</td></tr>')
    return "".join(body)


def diff_html(rows: list[DiffRow], left_title: str, right_title: str, *,
              hide_blank: bool = True, context: int = CONTEXT) -> str:
    """Both layouts of one diff; `right_title` names what the right side holds."""
    shown = visible_rows(rows, hide_blank)
    items = collapse(shown, context)
    hidden = len(rows) - len(shown)
    notes = []
    if not any(row.kind != "equal" for row in shown):
        notes.append("No differences" + (" except blank lines." if hidden else "."))
    if hidden:
        notes.append(f"{hidden} blank-line change{'s' if hidden != 1 else ''} hidden.")
    note = f'<div class="persd-dnote">{esc(" ".join(notes))}</div>' if notes else ""
    return (f'<div class="persd-d" data-right="{esc(right_title)}">{note}'
            '<table class="persd-dt persd-d2"><colgroup><col class="persd-dncol"><col>'
            '<col class="persd-dncol"><col></colgroup>'
            f'<thead><tr><th colspan="2">{esc(left_title)}</th><th colspan="2">'
            f'{esc(right_title)}</th></tr></thead><tbody>{_two_columns(items)}</tbody></table>'
            '<table class="persd-dt persd-d1"><colgroup><col class="persd-dncol">'
            '<col class="persd-dsigncol"><col></colgroup>'
            f'<thead><tr><th colspan="3">{esc(left_title)} → {esc(right_title)}</th></tr>'
            f'</thead><tbody>{_one_column(items)}</tbody></table></div>')
