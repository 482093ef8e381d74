"""HTML pieces of the Study tab: reviewer progress, the pair's header, agreement figures.

Pure functions from persd records to HTML strings; every text is escaped (`esc`). Nothing
here may name a candidate's source: the pair is blind.
"""

from __future__ import annotations

from typing import Any

from persd_app.tabs.review_query import MINE, write_query
from persd_app.tabs.review_render import esc, message  # noqa: F401 (message re-exported)

KEYS = (("1", "Candidate 1 teaches more"), ("2", "Candidate 2 teaches more"), ("T", "Tie"),
        ("N", "Next, undecided"))
KEYS_HELP = ('<div class="persd-keys">Keys (not while typing): ' + " ".join(
    f"<kbd>{key}</kbd> {label}" for key, label in KEYS) + "</div>")
NO_STUDY = ("No study in this session yet. The study's owner creates one under "
            "“Owner: set up, reassign, agreement” below, or with `persd study create`.")


def progress(rows: list[Any], me: str, owner: str | None) -> str:
    if not rows:
        return ""
    chips = "".join(
        f'<span class="persd-count{" persd-st-pending" if p.reviewer == me else ""}" '
        f'data-reviewer="{esc(p.reviewer)}" title="decided / assigned">{esc(p.reviewer)} '
        f'<b>{p.done}/{p.assigned}</b></span>' for p in rows)
    own = f'<span class="persd-inview">owner: <b>{esc(owner)}</b></span>' if owner else ""
    return f'<div class="persd-counts" data-testid="study-progress">{chips}{own}</div>'


def pair_header(view: Any, done: int, assigned: int, left: int) -> str:
    """The pair's title: task, the attempt's error, where the reviewer is in their queue."""
    done_count, done = done, ""
    if view.previous_choice:
        label = {"left": "Candidate 1", "right": "Candidate 2", "tie": "a tie"}[view.previous_choice]
        done = f'<span class="persd-badge persd-ok">you chose {label}</span>'
    error = f'<span class="persd-badge">attempt: {esc(view.error_type)}</span>' \
        if view.error_type else ""
    return (f'<div class="persd-header" data-item="{view.item_id}">'
            f'<span class="persd-task" data-testid="study-task">{esc(view.task_id)}</span>'
            f'{error}{done}<span class="persd-meta" data-testid="study-left">{done_count} of '
            f'{assigned} decided · {left} left · sources hidden, sides shuffled for you</span>'
            f'</div>{question()}')


def question() -> str:
    return ('<div class="persd-study-q">Which change would teach this student more? Both are '
            'shown as diffs against the student\'s own failed attempt.</div>')


def feedback(view: Any) -> str:
    if not view.attempt_feedback:
        return ""
    return (f'<div class="persd-label">What the student saw</div>'
            f'<pre class="persd-pre">{esc(view.attempt_feedback)}</pre>')


def candidate_title(number: int, lines: int) -> str:
    return (f'<div class="persd-label persd-cand">Candidate {number} '
            f'<span class="persd-meta">· changes {lines} line{"s" if lines != 1 else ""}'
            '</span></div>')


def review_queue(study: Any, task_ids: list[str], session: str | None = None) -> str:
    """A review study's queue: the records are decided in the Review tab, which a link
    opens on "My queue" (the records assigned to the signed-in reviewer)."""
    if not task_ids:
        return message("ok", f"Nothing left for you in {study.name}.")
    shown = ", ".join(esc(t) for t in task_ids[:20]) + (" …" if len(task_ids) > 20 else "")
    link = (f' · <a href="?{esc(write_query(session, None, {"f_search": MINE}))}" '
            'data-testid="study-my-queue">Open my queue in Review&nbsp;→</a>' if session else "")
    return (f'<div class="persd-msg persd-msg-info" data-testid="study-review-queue">'
            f'{len(task_ids)} record(s) of review study <b>{esc(study.name)}</b> are yours to '
            f'approve or reject in the Review tab ("My queue": only the records assigned to '
            f'you): {shown}{link}</div>')


def agreement(summary: Any, kind: str, tasks: dict[int, str] | None = None) -> str:
    """The agreement panel; `tasks` (item id -> task id) names the disagreements."""
    def number(value):
        return "–" if value is None else f"{value:.3f}"

    what = "choices (a / b / tie)" if kind == "pairwise" else "decisions (approve / reject)"
    pairs = "".join(f"<li>Cohen's κ {esc(x)} / {esc(y)}: <b>{number(k)}</b></li>"
                    for (x, y), k in summary.cohen.items())
    rows = "".join(
        f"<tr><td>{esc(f.reviewer)}</td><td>{f.decisions}</td>"
        f"<td>{'–' if f.median_s is None else f'{f.median_s:g} s'}</td>"
        f"<td>{'–' if f.agree_with_majority is None else f'{f.agree_with_majority:.0%} of {f.with_others}'}"
        "</td></tr>" for f in summary.reviewers)
    tasks = tasks or {}
    disputes = ", ".join(f'{esc(tasks.get(i, "?"))} (item {i})' if i in tasks else str(i)
                         for i in summary.disagreements) or "none"
    return (f'<div class="persd-study-agree" data-testid="study-agreement">'
            f'<div>Agreement on {what} over <b>{summary.items}</b> items rated twice or more: '
            f"Krippendorff's α <b>{number(summary.alpha)}</b> · Fleiss' κ "
            f'<b>{number(summary.fleiss)}</b> ({summary.fleiss_items} items)</div>'
            f'<ul>{pairs}</ul><table class="persd-study-table"><thead><tr><th>reviewer</th>'
            '<th>decisions</th><th>median time</th><th>agrees with the others\' majority</th>'
            f'</tr></thead><tbody>{rows}</tbody></table>'
            f'<div>Disagreements to adjudicate (task, and the item id to adjudicate): '
            f'<b data-testid="disagreements">'
            f'{disputes}</b></div></div>')


# Styles of this tab only, sent with its first HTML block (app.css belongs to the page).
CSS = """<style>
#persd-study-style { display: none; }
.persd-study-btn { align-self: flex-end; }
#persd-study-pair .persd-diff-code { word-break: normal; overflow-wrap: anywhere; }
.persd-study-q { font-size: 15px; font-weight: 600; margin: 2px 0 4px; }
.persd-cand { font-size: 15px; }
#persd-study-actions { gap: 6px; align-items: center; }
#persd-study-actions button { white-space: nowrap; }
.persd-study-table { border-collapse: collapse; margin: 6px 0; font-size: 13px; }
.persd-study-table td, .persd-study-table th { border: 1px solid rgba(128,128,128,.35);
  padding: 2px 8px; text-align: left; }
.persd-study-agree ul { margin: 4px 0 4px 18px; }
</style>"""
