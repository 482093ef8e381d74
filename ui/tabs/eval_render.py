"""HTML pieces of the Evaluate tab: one evaluation sample, step by step.

Pure functions from persd records to HTML strings for gr.HTML; every text is escaped
(`esc`), since gr.HTML reads its value as a template.
"""

from __future__ import annotations

from persd.analysis.signatures import signature_of
from persd.code.diffing import side_by_side_html
from persd.execution.result import ExecutionResult
from persd.store.records import ExecutionRecord, result_of
from persd_app.tabs.review_render import esc


def execution_html(title: str, execution: ExecutionResult | None) -> str:
    """A run's verdict from its structured fields: the failing test with expected vs
    returned, or the exception with the program's last frame."""
    if execution is None:
        return f'<div class="persd-ev-run"><b>{esc(title)}</b>: not run</div>'
    kind = "ok" if execution.passed else "error"
    counts = ""
    if execution.tests_total:
        counts = f" · {execution.tests_passed}/{execution.tests_total} tests"
    head = (f'<div class="persd-msg persd-msg-{kind}"><b>{esc(title)}</b>: '
            f'{esc(execution.status)}{counts}')
    if execution.passed:
        return head + "</div>"
    parts = [head + f' · <span data-testid="sample-signature">{esc(signature_of(execution))}'
                    "</span></div>"]
    test = execution.failing_test
    if test is not None:
        rows = [("failing test", test.source), ("expected", test.expected),
                ("returned", test.returned), ("error", test.error)]
        parts.append('<table class="persd-ev-test">' + "".join(
            f"<tr><th>{esc(name)}</th><td><code>{esc(value)}</code></td></tr>"
            for name, value in rows if value) + "</table>")
    exception = execution.exception
    if exception is not None:
        frames = [f for f in exception.frames if f.file == "program.py"]
        where = (f" at line {frames[-1].line} in {frames[-1].function}: "
                 f"<code>{esc(frames[-1].source)}</code>") if frames else ""
        parts.append(f'<div class="persd-ev-exc"><b>{esc(exception.type)}</b>'
                     f'{": " + esc(exception.message) if exception.message else ""}'
                     f"{where}</div>")
    if not execution.has_detail:
        parts.append(f"<pre>{esc(execution.feedback)}</pre>")
    return '<div class="persd-ev-run">' + "".join(parts) + "</div>"


def sample_html(steps: list, visible: dict[int, ExecutionRecord | None], run_label: str) -> str:
    """All steps of one (run, task, sample): the attempt, each repair with its test
    results and the diff from the step before."""
    if not steps:
        return '<div class="persd-msg persd-msg-info">Pick a sample in the table.</div>'
    first = steps[0]
    out = [f'<div class="persd-ev-sample" data-testid="eval-sample" '
           f'data-task="{esc(first.task_id)}" data-run="{first.run_id}">'
           f"<h3>{esc(first.task_id)} · sample {first.sample_index} · {esc(run_label)}</h3>"]
    previous = None
    for sample in steps:
        label = "Attempt (step 0)" if sample.step == 0 else f"Repair step {sample.step}"
        changed = previous is None or sample.program != previous.program
        out.append(f'<div class="persd-ev-step" data-step="{sample.step}"><h4>{label}'
                   f'{"" if changed else " (unchanged: it passed the visible tests)"}</h4>')
        out.append(execution_html("hidden tests", result_of(sample.execution)))
        if sample.id in visible:
            out.append(execution_html("visible tests (what a repair is told)",
                                      result_of(visible[sample.id])))
        if previous is None:
            out.append(f'<pre class="persd-ev-code">{esc(sample.program)}</pre>')
        elif changed:
            out.append(side_by_side_html(previous.program, sample.program,
                                         f"step {previous.step}", f"step {sample.step}",
                                         context=3))
        out.append("</div>")
        previous = sample
    return "".join(out) + "</div>"


def eval_name(store, run_id: int) -> str:
    """"Evaluation 1 (run 2)": run ids count every kind of run, so the first evaluation
    is rarely run 1; people count evaluations."""
    earlier = [r for r in store.runs.list(kind="eval") if r.id <= run_id]
    return f"Evaluation {len(earlier)} (run {run_id})"
