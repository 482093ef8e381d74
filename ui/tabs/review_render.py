"""HTML pieces of the review tab: counts, record header, test results, messages.

Pure functions from persd records to HTML strings for gr.HTML. Every text is escaped,
`$`, `{` and `}` included, because gr.HTML reads its value as a template.
"""

from __future__ import annotations

import html
from typing import Any

from persd.review import ReviewView

STATUSES = ("pending", "approved", "edited", "rejected", "skipped")
SIMULATED_BADGE = '<span class="persd-badge persd-sim" title="Simulated student and teacher ' \
                  '(persd.demo.sim), judged by the real sandbox">SIMULATED</span>'


def esc(text: Any) -> str:
    return (html.escape(str(text), quote=True).replace("$", "&#36;").replace("{", "&#123;")
            .replace("}", "&#125;"))


def message(kind: str, text: str) -> str:
    """A one-line notice; kind is "ok", "info", "warn" or "error"."""
    if not text:
        return ""
    return f'<div class="persd-msg persd-msg-{kind}" role="status">{esc(text)}</div>'


def counts(by_status: dict[str, int], in_view: int, simulated: bool) -> str:
    chips = "".join(
        f'<span class="persd-count persd-st-{s}" data-status="{s}">{s.capitalize()} '
        f'<b>{by_status.get(s, 0)}</b></span>'
        for s in STATUSES
    )
    sim = SIMULATED_BADGE if simulated else ""
    return (f'<div class="persd-counts">{sim}{chips}<span class="persd-inview">'
            f'<b data-testid="in-view">{in_view}</b> in this view</span></div>')


NO_SESSION = ("No session picked: pick one above, build the demo, or collect one in the "
              "Collect tab.")


def header(view: ReviewView | None, simulated: bool, empty: str = "", source: Any = None) -> str:
    """The record's title line, or `empty` (default: no record matches) without one.
    `source` (persd.store.ImportSource) marks a record brought in by `persd import`."""
    if view is None:
        text = empty or "Nothing to review here: no record matches the filters."
        return f'<div class="persd-header persd-empty">{esc(text)}</div>'
    badges = [f'<span class="persd-badge persd-st-{view.status}">{esc(view.status)} '
              f'· v{view.version}</span>']
    badges.append('<span class="persd-badge persd-ok">teacher code passes tests</span>'
                  if view.validated else
                  '<span class="persd-badge persd-bad">teacher code fails tests</span>')
    if view.attempt_error_type:
        badges.append(f'<span class="persd-badge">attempt: {esc(view.attempt_error_type)}</span>')
    if simulated:
        badges.append(SIMULATED_BADGE)
    if source is not None:
        badges.append(import_badge(source))
    who = ""
    if view.reviewer:
        who = (f'<span class="persd-who">last change by <b>{esc(view.reviewer)}</b> at '
               f'{esc(_short_time(view.updated_at))}</span>')
    if view.reason:
        who += f'<span class="persd-who">reason: {esc(view.reason)}</span>'
    return (f'<div class="persd-header" data-refinement="{view.refinement_id}">'
            f'<span class="persd-task" data-testid="task-id">{esc(view.task_id)}</span>'
            f'<span class="persd-meta">round {view.round} · {esc(view.method)} · '
            f'{esc(view.teacher_model)}</span>{"".join(badges)}{who}</div>')


def import_badge(source: Any) -> str:
    """Where an imported record came from, and whether it was run here."""
    name = str(source.file).replace("\\", "/").rsplit("/", 1)[-1]
    checked = "re-run here" if source.rerun else "not validated: feedback from the file"
    title = f"persd import #{source.import_id} ({source.format}) of {source.file}, line " \
            f"{source.line}; {checked}"
    return (f'<span class="persd-badge persd-imported" data-testid="import-source" '
            f'title="{esc(title)}">imported · {esc(name)}:{source.line}</span>')


def attempt_feedback(view: ReviewView | None) -> str:
    if view is None or not view.attempt_status:
        return ""
    test = (f'<div class="persd-label">Failing test</div><pre class="persd-pre">'
            f'{esc(view.failing_test)}</pre>') if view.failing_test else ""
    return (f'<div class="persd-feedback">{test}<div class="persd-label">What the student '
            f'saw ({esc(view.attempt_status)})</div><pre class="persd-pre">'
            f'{esc(view.attempt_feedback)}</pre></div>')


def run_result(title: str, passed: bool, status: str, feedback: str,
               tests_passed: int | None = None, tests_total: int | None = None) -> str:
    verdict = "passes the hidden tests" if passed else f"fails the hidden tests ({esc(status)})"
    score = f" · {tests_passed}/{tests_total} passed" if tests_total else ""
    body = "" if passed or not feedback else f'<pre class="persd-pre">{esc(feedback)}</pre>'
    kind = "ok" if passed else "bad"
    return (f'<div class="persd-run persd-run-{kind}" data-passed="{str(passed).lower()}">'
            f'<b>{esc(title)}</b>: {verdict}{esc(score)}{body}</div>')


def metrics(view: ReviewView | None) -> str:
    if view is None:
        return ""
    lines = [f'Refinement vs attempt: similarity <b data-testid="similarity">'
             f'{view.similarity:.1%}</b> · diff <b data-testid="diff-size">{view.diff_size}</b>'
             ' lines']
    if view.reference_similarity is not None:
        gap = view.similarity - view.reference_similarity
        closer = ("the refinement stays closer to the attempt" if gap > 0.001 else
                  "the reference is closer to the attempt" if gap < -0.001 else
                  "both are about as close to the attempt")
        lines.append(f'Reference vs attempt: similarity <b>{view.reference_similarity:.1%}</b>'
                     f' · diff <b>{view.reference_diff_size}</b> lines ({closer})')
    return f'<div class="persd-metrics">{"<br>".join(lines)}</div>'


def bulk_question(status: str, count: int, left_out: int, reviewer: str) -> str:
    verb = {"approved": "Approve", "rejected": "Reject", "skipped": "Skip"}[status]
    extra = (f" {left_out} refinements that fail their tests are left out (tick override to "
             "include them).") if left_out else ""
    return (f'<div class="persd-confirm" data-count="{count}">{verb} <b>{count}</b> '
            f'record{"s" if count != 1 else ""} matching the current filters, as '
            f'<b>{esc(reviewer)}</b>?{esc(extra)} Undo reverts the whole batch.</div>')


def _short_time(iso: str | None) -> str:
    if not iso:
        return "?"
    return iso.replace("T", " ").removesuffix("Z")[:19] + " UTC"
