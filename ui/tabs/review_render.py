"""HTML pieces of the review tab: counts, record header, test results, messages, the diff.

Pure functions from persd records to HTML strings for gr.HTML. Every text is escaped,
`$`, `{` and `}` included, because gr.HTML reads its value as a template.
"""

from __future__ import annotations

import html
from typing import Any

from persd.code.diffing import DiffRow, rows_html
from persd.review import ReviewView
from persd.store.records import ExecutionRecord, result_of
from persd_app.tabs.shown import percent

DIFF_CONTEXT = 3  # unchanged lines kept around each change; the rest folds away
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


def counts(session: dict[str, int], in_view: int, filters_text: str, simulated: bool) -> str:
    """Session totals (never filtered) and the current view's size, apart and labelled."""
    chips = "".join(
        f'<span class="persd-count persd-st-{s}" data-status="{s}">{s.capitalize()} '
        f'<b>{session.get(s, 0)}</b></span>'
        for s in STATUSES
    )
    sim = SIMULATED_BADGE if simulated else ""
    return (f'<div class="persd-counts">{sim}<span class="persd-cgroup">Whole session</span>'
            f'{chips}<span class="persd-inview"><span class="persd-cgroup">This view</span> '
            f'<b data-testid="in-view">{in_view}</b> record{"s" if in_view != 1 else ""} '
            f'({esc(filters_text)})</span></div>')


NO_SESSION = ("No session picked: pick one above, build the demo, or collect one in the "
              "Collect tab.")


def header(view: ReviewView | None, simulated: bool, empty: str = "", draft: bool = False,
           query: str = "", source: Any = None) -> str:
    """The record's title line, or `empty` (default: no record matches) without one.
    `source` (persd.store.ImportSource) marks a record brought in by `persd import`."""
    if view is None:
        text = empty or "Nothing to review here: no record matches the filters."
        # The query even without a record: the address bar follows the filters (issue 25).
        where = f' data-query="{esc(query)}"' if query else ""
        return f'<div class="persd-header persd-empty"{where}>{esc(text)}</div>'
    badges = [f'<span class="persd-badge persd-st-{view.status}">{esc(view.status)} '
              f'· v{view.version}</span>']
    code = view.refinement_label.split(" ")[0].lower() + " code"  # teacher, gold, imported
    if view.validated:
        badges.append(f'<span class="persd-badge persd-ok">{code} passes tests</span>')
    elif view.refinement_run is None:
        badges.append(f'<span class="persd-badge" data-testid="not-run">{code} not run</span>')
    else:
        badges.append(f'<span class="persd-badge persd-bad">{code} fails tests</span>')
    if view.attempt_error_type:
        badges.append(f'<span class="persd-badge">attempt: {esc(view.attempt_error_type)}</span>')
    if draft:
        badges.append('<span class="persd-badge persd-draft" data-testid="draft">draft · '
                      'unsaved edit</span>')
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
    return (f'<div class="persd-header" data-refinement="{view.refinement_id}" '
            f'data-query="{esc(query)}">'
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


def failure(view: ReviewView | None) -> str:
    """Why the attempt failed, from the stored run's data: the failing test, expected
    against returned, the exception with the program's own frames (repeats folded)."""
    if view is None or not (view.attempt_status or view.imported_feedback):
        return ""
    title = f'Why the attempt failed <span class="persd-st">{esc(view.attempt_status or "not run")}</span>'
    detail = view.attempt_has_detail and (view.attempt_exception or any(
        t.status != "passed" for t in view.attempt_tests))
    if not detail and view.imported_feedback.strip():
        return (f'<div class="persd-fail" data-testid="attempt-failure"><div class="persd-label">'
                f'{title}</div><div class="persd-note">The error text of the imported file (no '
                f'sandbox detail for this attempt).</div><pre class="persd-pre" '
                f'data-testid="imported-error">{esc(view.imported_feedback)}</pre></div>')
    if not view.attempt_has_detail:
        return (f'<div class="persd-fail" data-testid="attempt-failure"><div class="persd-label">'
                f'{title}</div><div class="persd-note">No structured detail (run stored by an '
                f'older persd): the text the student saw.</div><pre class="persd-pre">'
                f'{esc(view.attempt_feedback)}</pre></div>')
    return (f'<div class="persd-fail" data-testid="attempt-failure"><div class="persd-label">'
            f'{title}</div>{_detail(view.attempt_tests, view.attempt_exception)}</div>')


def run_panel(title: str, run: ExecutionRecord | None, passed_hint: bool | None = None,
              feedback: str = "", record: int | None = None) -> str:
    """A run of the right-hand side (teacher code, saved edit, draft) against the hidden
    tests; `run` is an ExecutionRecord, or None when only `passed_hint`/`feedback` is known."""
    result = result_of(run)
    passed = result.passed if result is not None else bool(passed_hint)
    status = result.status if result is not None else ("passed" if passed else "failed")
    verdict = "passes the hidden tests" if passed else f"fails the hidden tests ({esc(status)})"
    if result is None and not passed:
        verdict = "not run against the hidden tests"
    total = result.tests_total if result is not None else 0
    score = f" · {result.tests_passed}/{total} passed" if result is not None and total else ""
    body = ""
    if not passed:
        if result is not None and result.has_detail and (result.test_outcomes or result.exception):
            body = _detail(result.test_outcomes, result.exception)
        elif result is not None and result.feedback or feedback:
            body = f'<pre class="persd-pre">{esc(result.feedback if result is not None else feedback)}</pre>'
    kind = "ok" if passed else "none" if run is None else "bad"
    of = f' data-record="{record}"' if record is not None else ""
    return (f'<div class="persd-run persd-run-{kind}" data-passed="{str(passed).lower()}"{of}>'
            f'<b>{esc(title)}</b>: {verdict}{esc(score)}{body}</div>')


def _detail(tests, exception) -> str:
    parts = []
    if exception is not None:
        parts.append(f'<div class="persd-exc" data-testid="exception"><b>{esc(exception.type)}'
                     f'</b>: {esc(exception.message)}</div>')
    failing = [t for t in tests if t.status != "passed"]  # outcomes hold passed tests too
    if failing:
        parts.append(_test(failing[0]))
        rest = failing[1:]
        if rest:
            more = "".join(_test(t, "more-failing-test") for t in rest[:5])
            parts.append(f'<details class="persd-more"><summary>{len(rest)} more failing '
                         f'test{"s" if len(rest) > 1 else ""} · {len(tests) - len(failing)} of '
                         f'{len(tests)} passed</summary>{more}</details>')
    if exception is not None and exception.frames:
        parts.append(frames_html(exception.frames, exception.frames_omitted))
    return "".join(parts)


def _test(test, testid: str = "failing-test") -> str:
    out = (f'<div class="persd-label">Failing test</div><pre class="persd-pre" '
           f'data-testid="{testid}">{esc(test.source)}</pre>')
    if test.expected or test.returned:
        out += (f'<div class="persd-vs"><div><div class="persd-label">Expected</div><pre '
                f'class="persd-pre" data-testid="expected">{esc(test.expected or "?")}</pre></div>'
                f'<div><div class="persd-label">Returned</div><pre class="persd-pre" '
                f'data-testid="returned">{esc(test.returned or "?")}</pre></div></div>')
    if test.error:
        out += f'<pre class="persd-pre persd-err">{esc(test.error)}</pre>'
    return out


def fold_frames(frames: tuple) -> list[tuple[tuple, int]]:
    """(block of frames, times it repeats in a row): recursion (one frame, or a cycle of
    up to three) becomes one block and a count."""
    out, i = [], 0
    while i < len(frames):
        best = (1, 1)
        for period in (1, 2, 3):
            block = frames[i:i + period]
            if len(block) < period:
                break
            times = 1
            while tuple(frames[i + times * period:i + (times + 1) * period]) == tuple(block):
                times += 1
            if times >= 3 and times * period > best[0] * best[1]:
                best = (period, times)
        period, times = best
        out.append((tuple(frames[i:i + period]), times))
        i += period * times
    return out


def frames_html(frames: tuple, omitted: int = 0) -> str:
    items = []
    if omitted:
        items.append(f'<li class="persd-fold" data-testid="omitted">… {omitted} earlier '
                     f'frame{"s" if omitted != 1 else ""} not kept</li>')
    for block, times in fold_frames(frames):
        items += [f'<li><span class="persd-loc">{esc(f.file)}:{f.line} in {esc(f.function)}'
                  f'</span> <code>{esc(f.source.strip())}</code></li>' for f in block]
        if times > 1:
            n = (times - 1) * len(block)
            items.append(f'<li class="persd-fold" data-testid="folded">… {n} more identical '
                         f'frame{"s" if n != 1 else ""}</li>')
    return (f'<div class="persd-label">Where (the program\'s own frames, innermost last)</div>'
            f'<ol class="persd-frames">{"".join(items)}</ol>')


def metrics(view: ReviewView | None) -> str:
    if view is None:
        return ""
    lines = [f'Refinement vs attempt: similarity <b data-testid="similarity">'
             f'{percent(view.similarity)}</b> · diff <b data-testid="diff-size">{view.diff_size}</b>'
             ' lines']
    if view.reference_similarity is not None:
        gap = view.similarity - view.reference_similarity
        closer = ("the refinement stays closer to the attempt" if gap > 0.001 else
                  "the reference is closer to the attempt" if gap < -0.001 else
                  "both are about as close to the attempt")
        lines.append(f'Reference vs attempt: similarity <b>{percent(view.reference_similarity)}</b>'
                     f' · diff <b>{view.reference_diff_size}</b> lines ({closer})')
    return f'<div class="persd-metrics">{"<br>".join(lines)}</div>'


def signature_miss(searched: str, known: Any, shown: int = 8) -> str:
    """Why a `sig:` search shows nothing, with the signatures there are (`known`: the
    frame of persd.analysis.signatures.refinement_signatures)."""
    if known.empty:
        return "No teacher refinement fails the hidden tests: there is no signature to search."
    listed = "; ".join(f"{row.signature} ({row.count})" for row in known.head(shown).itertuples())
    return (f"Nothing fails with “{searched.strip()}” here (the other filters apply too). "
            f"Signatures of the failing refinements: {listed}{' …' if len(known) > shown else ''}.")


def bulk_question(status: str, count: int, left_out: int, reviewer: str,
                  decided: tuple = ()) -> str:
    verb = {"approved": "Approve", "rejected": "Reject", "skipped": "Skip"}[status]
    extra = (f" {left_out} refinements that fail their tests are left out (tick override to "
             "include them).") if left_out else ""
    return (f'<div class="persd-confirm" data-count="{count}" data-decided="{len(decided)}">'
            f'{verb} <b>{count}</b> record{"s" if count != 1 else ""} matching the current '
            f'filters, as <b>{esc(reviewer)}</b>?{esc(extra)} Undo reverts the whole batch.'
            f'{decided_note(decided)}</div>')


def decided_note(decided: tuple, shown: int = 12) -> str:
    """The records a bulk action would overwrite, each named with its present decision
    (persd.review.DecidedRecord), for the question asked before it."""
    if not decided:
        return ""
    names = ", ".join(
        f'<b data-testid="decided-task">{esc(d.task_id)}</b> ({esc(d.status)}'
        f'{" by " + esc(d.reviewer) if d.reviewer else ""})' for d in decided[:shown])
    more = f" and {len(decided) - shown} more" if len(decided) > shown else ""
    holds = "holds" if len(decided) == 1 else "hold"
    return (f'<div class="persd-decided" data-testid="decided">{len(decided)} of them already '
            f'{holds} a person\'s decision that this would replace: {names}{more}. Choose '
            f'“Only the undecided” to leave those as they are.</div>')


def _short_time(iso: str | None) -> str:
    if not iso:
        return "?"
    return iso.replace("T", " ").removesuffix("Z")[:19] + " UTC"


def diff_html(rows: list[DiffRow], left_title: str, right_title: str, *,
              hide_blank: bool = True, context: int = DIFF_CONTEXT) -> str:
    """The record's diff in both layouts of `persd.code.diffing.rows_html`: two columns
    (`.persd-d2`, view mode) and one column (`.persd-d1`, beside the editor). CSS shows the
    one the mode needs, so entering the editor needs no server round trip."""
    def layout(columns: int) -> str:
        return rows_html(rows, left_title, right_title, columns=columns, context=context,
                         hide_blank=hide_blank)
    return (f'<div class="persd-d" data-right="{esc(right_title)}">'
            f'<div class="persd-d2">{layout(2)}</div><div class="persd-d1">{layout(1)}</div></div>')
