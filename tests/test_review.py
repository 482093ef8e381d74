"""Review actions (persd.review) on a real session store with the real sandbox, the demo
session builder (persd.demo), and the review tab's handlers without a browser."""

from __future__ import annotations

import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest

from persd.demo import build_demo_session
from persd.code.diffing import diff_size
from persd.execution import Executor
from persd.review import (
    ReviewConflict,
    ReviewRefused,
    apply_bulk,
    approve,
    plan_bulk,
    reject,
    review_view,
    run_edit,
    save_edit,
    skip,
    undo,
)
from persd.store import QueueFilters, SessionStore

FIXTURE_SESSION = Path(__file__).parent / "data" / "sessions" / "main-2026-12.sqlite"

LIMIT = 12


@pytest.fixture(scope="module")
def executor():
    with Executor(workers=2) as ex:
        yield ex


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory, executor):
    return build_demo_session(tmp_path_factory.mktemp("sessions"), limit=LIMIT, executor=executor)


@pytest.fixture
def store(demo_path, tmp_path):
    """A fresh copy of the demo session for each test."""
    shutil.copy(demo_path, tmp_path / "demo.sqlite")
    with SessionStore.open(tmp_path, "demo") as opened:
        yield opened


def first(store, **filters):
    rows = store.queue.list(QueueFilters(**filters), limit=1)
    assert rows, f"no record matches {filters}"
    return store.refinements.get(rows[0].refinement_id)


def unvalidated(store, executor):
    """A round-1 refinement whose code fails the hidden tests: the attempt, unchanged."""
    good = first(store, validated=True)
    attempt = store.attempts.get(good.attempt_id)
    task = store.tasks.get(good.task_id)
    again = store.attempts.add(task.task_id, 1, model="m", prompt=task.prompt,
                              completion=attempt.completion, program=attempt.program)
    store.executions.add("attempt", again.id, executor.run(attempt.program, task.test))
    result = executor.run(attempt.program, task.test)
    assert not result.passed
    return store.refinements.add("persd", attempt_id=again.id, teacher_model="t",
                                program=attempt.program, validated=False, execution=result,
                                reason="fails the hidden tests", diff_lines=0)


# ---------------------------------------------------------------- the demo session

def test_demo_session_is_simulated_complete_and_idempotent(demo_path, executor):
    with SessionStore(demo_path) as store:
        assert store.simulated and store.config()["label"] == "simulated"
        attempts, refinements = store.attempts.list(), store.refinements.list()
        calls, executions = store.teacher_calls.list(), store.executions.list()
        assert len(attempts) == LIMIT and all(a.execution for a in attempts)
        failed = [a for a in attempts if not a.execution.result.passed]
        assert len(refinements) == len(failed) == len(calls) > 0
        for refinement in refinements:
            assert refinement.method == "persd" and refinement.teacher_model == "simulated-teacher"
            attempt = store.attempts.get(refinement.attempt_id)
            assert refinement.diff_lines == diff_size(attempt.program, refinement.program)
            assert refinement.validated == refinement.execution.result.passed
        assert all(call.cost_usd == 0 and call.raw_reply for call in calls)
        assert sum(r.validated for r in refinements) >= len(refinements) // 2
    started = time.perf_counter()
    build_demo_session(demo_path.parent, limit=LIMIT, executor=executor)
    assert time.perf_counter() - started < 5
    with SessionStore(demo_path) as store:
        assert (len(store.attempts.list()), len(store.refinements.list()), len(store.teacher_calls.list()),
                len(store.executions.list())) == (len(attempts), len(refinements), len(calls),
                                             len(executions))


# ---------------------------------------------------------------- actions

def test_approve_records_reviewer_and_version(store):
    refinement = first(store, validated=True)
    review = approve(store, refinement.id, reviewer="ana", expected_version=0)
    assert (review.status, review.reviewer, review.version) == ("approved", "ana", 1)
    assert store.reviews.get(refinement.id).status == "approved"
    assert [e.new_status for e in store.reviews.events(refinement.id)] == ["approved"]


def test_approving_failing_teacher_code_needs_override(store, executor):
    refinement = unvalidated(store, executor)
    with pytest.raises(ReviewRefused, match="not validated.*override"):
        approve(store, refinement.id, reviewer="ana", expected_version=0)
    assert store.reviews.get(refinement.id).version == 0
    review = approve(store, refinement.id, reviewer="ana", expected_version=0, override=True)
    assert review.status == "approved"


def test_edit_is_rerun_and_a_failing_edit_needs_override(store, executor):
    refinement = first(store, validated=True)
    attempt = store.attempts.get(refinement.attempt_id)
    with pytest.raises(ReviewRefused, match="fails the hidden tests") as refused:
        save_edit(store, executor, refinement.id, attempt.program,
                  reviewer="ana", expected_version=0)
    run = refused.value.execution
    assert run is not None and not run.result.passed and run.result.feedback
    assert store.executions.latest_of("review_edit", refinement.id).id == run.id
    assert store.reviews.get(refinement.id).status == "pending"

    forced = save_edit(store, executor, refinement.id, attempt.program, reviewer="ana",
                       expected_version=0, override=True, execution=run)
    assert forced.review.status == "edited" and forced.execution.id == run.id
    assert forced.review.edit_execution_id == run.id

    fixed = refinement.program + "\n# checked by ana\n"
    outcome = save_edit(store, executor, refinement.id, fixed, reviewer="ana",
                        expected_version=1)
    assert outcome.execution.result.passed and outcome.execution.result.tests_total
    assert outcome.review.edited_program == fixed and outcome.review.version == 2
    view = review_view(store, refinement.id)
    assert view.current_program == fixed and view.edit_execution.result.passed
    assert "Edited refinement" in view.diff_html


def test_hostile_edit_runs_only_in_the_sandbox(store, tmp_path, executor):
    refinement = first(store, validated=True)
    marker = tmp_path / "escaped"
    program = f"open({str(marker)!r}, 'w').write('x')\n" + refinement.program
    run = run_edit(store, executor, refinement.id, program)
    assert not marker.exists()
    assert run.subject_kind == "review_edit"


def test_unchanged_or_empty_edits_are_refused(store, executor):
    refinement = first(store, validated=True)
    with pytest.raises(ReviewRefused, match="unchanged"):
        save_edit(store, executor, refinement.id, refinement.program, reviewer="ana",
                  expected_version=0)
    with pytest.raises(ReviewRefused, match="empty"):
        run_edit(store, executor, refinement.id, "  \n")
    with pytest.raises(ReviewRefused, match="reviewer"):
        approve(store, refinement.id, reviewer=" ", expected_version=0)


def test_second_reviewer_gets_a_conflict_naming_the_first(store, executor):
    refinement = first(store, validated=True)
    approve(store, refinement.id, reviewer="ana", expected_version=0)
    with pytest.raises(ReviewConflict) as conflict:
        reject(store, refinement.id, reviewer="ben", expected_version=0, reason="too big")
    message = str(conflict.value)
    assert "ana" in message and "approved" in message and "version 0" in message
    assert store.reviews.get(refinement.id).status == "approved"
    edits_before = len(store.executions.list("review_edit"))
    with pytest.raises(ReviewConflict):  # refused before any code runs
        save_edit(store, executor, refinement.id, refinement.program + "\n#\n",
                  reviewer="ben", expected_version=0)
    assert len(store.executions.list("review_edit")) == edits_before


def test_reject_with_reason_skip_and_undo(store):
    one, two = [store.refinements.get(r.refinement_id) for r in store.queue.list(limit=2)]
    rejected = reject(store, one.id, reviewer="ana", expected_version=0, reason=" wrong fix ")
    assert (rejected.status, rejected.reason) == ("rejected", "wrong fix")
    skip(store, two.id, reviewer="ana", expected_version=0)
    assert undo(store, "ana").refinement_id == two.id
    assert store.reviews.get(two.id).status == "pending"
    restored = undo(store, "ana")
    assert (restored.refinement_id, restored.status) == (one.id, "pending")
    assert undo(store, "ana") is None


def test_undo_refused_when_someone_else_changed_the_record(store):
    refinement = first(store, validated=True)
    approve(store, refinement.id, reviewer="ana", expected_version=0)
    reject(store, refinement.id, reviewer="ben", expected_version=1)
    with pytest.raises(ReviewConflict, match="ben"):
        undo(store, "ana")
    assert store.reviews.get(refinement.id).status == "rejected"


def test_bulk_approve_counts_leaves_out_failing_code_and_reports_conflicts(store, executor):
    failing = unvalidated(store, executor)
    filters = QueueFilters(status="pending")
    plan = plan_bulk(store, filters, "approved")
    total = store.queue.count(filters)
    failing_count = store.queue.count(replace(filters, validated=False))
    assert failing_count >= 1 and plan.left_out == failing_count
    assert plan.count == total - failing_count and failing.id not in plan.versions
    moved = next(iter(plan.versions))
    approve(store, moved, reviewer="ben", expected_version=0)  # between question and answer
    outcome = apply_bulk(store, plan, reviewer="ana")
    assert (outcome.updated, outcome.conflicts) == (plan.count - 1, [moved])
    assert store.queue.counts()["approved"] == plan.count
    assert undo(store, "ana") is not None  # the whole batch at once
    assert store.queue.counts()["approved"] == 1
    forced = plan_bulk(store, filters, "approved", override=True)
    assert forced.left_out == 0 and failing.id in forced.versions


def test_bulk_reject_of_a_filtered_set(store):
    small = QueueFilters(validated=True, max_diff_lines=2)
    plan = plan_bulk(store, small, "rejected")
    assert plan.count == store.queue.count(small)
    outcome = apply_bulk(store, plan, reviewer="ana", reason="bulk")
    assert outcome.updated == plan.count
    assert store.queue.counts(filters=small)["rejected"] == plan.count
    with pytest.raises(ReviewRefused):
        plan_bulk(store, small, "edited")


def test_bulk_plan_names_the_records_a_person_decided(store, executor):
    # Issue 25, defect 1: a bulk action over a filter that holds an edited record names it
    # before anything changes, and "only the undecided" leaves the edit as it is.
    rows = store.queue.list(QueueFilters(validated=True), limit=3)
    edited, approved, untouched = (row.refinement_id for row in rows)
    task = store.tasks.get(store.refinements.get(edited).task_id)
    fixed = save_edit(store, executor, edited, task.solution + "\n# checked by ben\n",
                      reviewer="ben", expected_version=0)
    approve(store, approved, reviewer="ben", expected_version=0)
    chosen = QueueFilters(refinement_ids=(edited, approved, untouched))
    plan = plan_bulk(store, chosen, "rejected")
    assert plan.count == 3
    assert {(d.refinement_id, d.task_id, d.status, d.reviewer) for d in plan.decided} == {
        (edited, task.task_id, "edited", "ben"),
        (approved, store.refinements.get(approved).task_id, "approved", "ben")}
    # Approving again leaves the approved one unnamed: nothing of it would change.
    assert [d.refinement_id for d in plan_bulk(store, chosen, "approved").decided] == [edited]
    outcome = apply_bulk(store, plan.undecided(), reviewer="ana")
    assert outcome.updated == 1 and store.reviews.get(untouched).status == "rejected"
    kept = store.reviews.get(edited)
    assert kept.status == "edited" and kept.edited_program == fixed.review.edited_program


def test_review_view_shows_the_record_and_how_personal_it_is(store):
    refinement = first(store, validated=True)
    view = review_view(store, refinement.id)
    attempt = store.attempts.get(refinement.attempt_id)
    assert view.description == store.tasks.get(refinement.task_id).prompt
    assert view.attempt_program == attempt.program
    assert view.refinement_program == view.current_program == refinement.program
    assert view.diff_size == refinement.diff_lines and 0 < view.similarity <= 1
    assert view.failing_test and view.failing_test in view.attempt_feedback
    assert "persd-diff" in view.diff_html and view.reference_diff_html is None
    full = review_view(store, refinement.id, with_reference=True)
    assert full.reference_diff_html and "Reference solution" in full.reference_diff_html
    assert full.reference_diff_size == diff_size(attempt.program, full.reference_program)


def test_failing_test_comes_from_the_stored_structured_result(store):
    refinement = first(store, validated=True)
    view = review_view(store, refinement.id)
    run = store.attempts.get(refinement.attempt_id).execution.result
    assert run.has_detail and run.test_outcomes
    assert view.attempt_tests == run.test_outcomes
    assert view.failing_test == run.failing_test.source  # the first test that did not pass
    if run.status == "failed":
        assert run.test_outcomes[0].returned and run.test_outcomes[0].returned in view.attempt_feedback


def test_a_session_written_by_the_previous_layout_opens_and_reviews(tmp_path):
    """tests/data/sessions/main-2026-12.sqlite: a 12-task demo session written by persd
    before structured execution detail was kept (schema m008)."""
    shutil.copy(FIXTURE_SESSION, tmp_path / FIXTURE_SESSION.name)
    with SessionStore.open(tmp_path, FIXTURE_SESSION.stem) as old:
        refinement = first(old, validated=True)
        view = review_view(old, refinement.id)
        run = old.attempts.get(refinement.attempt_id).execution.result
        assert not run.has_detail and run.test_outcomes == () and run.exception is None
        assert view.failing_test == "" and view.attempt_feedback  # text only, no detail
        approved = approve(old, refinement.id, reviewer="ana", expected_version=view.version)
        assert approved.status == "approved" and approved.reviewer == "ana"


# ---------------------------------------------------------------- the tab's handlers

@pytest.fixture
def handlers(store):
    from persd_app.tabs import SharedExecutor, Stores
    from persd_app.tabs.review_handlers import ReviewHandlers

    store.close()
    stores = Stores(store.path.parent)
    yield ReviewHandlers(stores, SharedExecutor(workers=1))
    stores.close()


def _inputs(reviewer="ana", **values):
    from persd_app.tabs.review_handlers import Inputs, new_state

    return Inputs(session="demo", reviewer=reviewer, state=values.pop("state", new_state()),
                  **values)


def test_handlers_approve_moves_on_and_conflicts_are_shown(handlers):
    ana = handlers.open(_inputs("ana"))
    ben = handlers.open(_inputs("ben"))
    shown = ana["state"]["id"]
    assert shown == ben["state"]["id"] and "Pending <b>" in ana["counts"]
    after = handlers.approve(_inputs("ana", state=ana["state"], code=ana["editor"]))
    assert after["state"]["id"] != shown and "Approved" in after["message"]
    assert "Approved <b>1</b>" in after["counts"]
    clash = handlers.reject(_inputs("ben", state=ben["state"]))
    task = handlers.stores.get("demo").refinements.get(shown).task_id
    # Named by task and reviewer; the view already shows their version, so no "reload".
    assert f"{task} was changed by ana" in clash["message"] and "reload" not in clash["message"]
    assert "refinement " not in clash["message"]
    assert clash["state"]["id"] == shown and clash["state"]["version"] == 1


def test_a_key_pressed_again_before_the_next_record_is_drawn_decides_once(handlers):
    # A and A again, both sent from the same view: the second finds its own approval.
    first = handlers.open(_inputs("ana"))
    shown, rows_before = first["state"]["id"], _counted(first["counts"], "Approved")
    once = handlers.approve(_inputs("ana", state=first["state"], code=first["editor"]))
    again = handlers.approve(_inputs("ana", state=first["state"], code=first["editor"]))
    assert "Already approved" in again["message"] and "Conflict" not in again["message"]
    assert again["state"]["id"] == once["state"]["id"] != shown
    assert _counted(again["counts"], "Approved") == rows_before + 1
    store = handlers.stores.get("demo")
    assert store.reviews.get(shown).version == 1  # decided once
    # Someone else's decision, or another one of one's own, is still a conflict.
    ben = handlers.reject(_inputs("ben", state=first["state"]))
    assert "Conflict" in ben["message"] and "was changed by ana" in ben["message"]
    other = handlers.reject(_inputs("ana", state=first["state"]))
    assert "Conflict" in other["message"] and store.reviews.get(shown).status == "approved"


def _counted(counts_html: str, label: str) -> int:
    import re

    return int(re.search(rf"{label} <b>(\d+)</b>", counts_html).group(1))


def test_counts_follow_every_write_despite_the_memo(handlers, tmp_path):
    from persd.store import SessionStore

    first = handlers.open(_inputs("ana"))
    pending = _counted(first["counts"], "Pending")
    again = handlers.next(_inputs("ana", state=first["state"]))
    assert _counted(again["counts"], "Pending") == pending  # nothing written: same counts
    # A write through another connection (another process's collect or review).
    with SessionStore(handlers.stores.get("demo").path) as elsewhere:
        elsewhere.reviews.set(first["state"]["id"], "rejected", reviewer="ben", expected_version=0)
    seen = handlers.next(_inputs("ana", state=again["state"]))
    assert _counted(seen["counts"], "Pending") == pending - 1
    assert _counted(seen["counts"], "Rejected") == 1


def test_a_reject_reason_stays_with_its_record(handlers):
    first = handlers.open(_inputs())
    moved = handlers.next(_inputs(state=first["state"], reason="wrong variable name"))
    assert moved["reason"] == ""  # cleared: it belonged to the record left behind
    stay = handlers.refresh(_inputs(state=moved["state"], reason="typed here"))
    assert "reason" not in stay  # the same record keeps what is typed


def test_a_draft_survives_next_and_prev_and_is_saved_by_approve(handlers):
    first = handlers.open(_inputs())
    rid, drafts = first["state"]["id"], {}
    draft = first["editor"].rstrip() + "\n# reviewed\n"
    away = handlers.next(_inputs(state=first["state"], code=draft, drafts=drafts))
    assert away["drafts"] == {f"demo:{rid}": draft} and away["state"]["id"] != rid
    back = handlers.prev(_inputs(state=away["state"], code=away["editor"],
                                 drafts=away["drafts"]))
    assert back["state"]["id"] == rid and back["editor"] == draft
    assert 'data-testid="draft"' in back["header"] and "Your draft (unsaved)" in back["diff"]
    done = handlers.approve(_inputs(state=back["state"], code=back["editor"],
                                    drafts=back["drafts"]))
    assert "Saved edit (passes the hidden tests)" in done["message"] and done["drafts"] == {}
    assert handlers.stores.get("demo").reviews.get(rid).edited_program == draft


def test_j_on_the_last_and_k_on_the_first_record_say_so(handlers):
    first = handlers.open(_inputs())
    back = handlers.prev(_inputs(state=first["state"]))
    assert back["state"]["id"] == first["state"]["id"] and "first record" in back["message"]
    last = handlers.open(_inputs(), record=handlers.stores.get("demo").queue.list(
        QueueFilters(status="pending"), limit=100)[-1].refinement_id)
    on = handlers.next(_inputs(state=last["state"]))
    assert on["state"]["id"] == last["state"]["id"] and "last record" in on["message"]


def test_counts_keep_their_meaning_under_a_filter(handlers):
    from persd_app.tabs.review_handlers import filters_from

    first = handlers.open(_inputs())
    handlers.approve(_inputs(state=first["state"], code=first["editor"]))
    other = handlers.open(_inputs(filters=filters_from("pending", "NameError")))
    assert "Approved <b>1</b>" in other["counts"]  # session totals ignore the filters
    assert "attempt error NameError" in other["counts"]


def test_poll_reports_another_reviewers_change(handlers):
    ana = handlers.open(_inputs("ana"))
    assert handlers.poll(_inputs("ana", state=ana["state"])) == {}
    ben = handlers.open(_inputs("ben"))
    handlers.approve(_inputs("ben", state=ben["state"], code=ben["editor"]))
    seen = handlers.poll(_inputs("ana", state=ana["state"]))
    task = handlers.stores.get("demo").refinements.get(ana["state"]["id"]).task_id
    assert f"ben set approved: {task}" in seen["message"] and "Approved <b>1</b>" in seen["counts"]
    assert seen["state"]["version"] == 1 and "approved · v1" in seen["header"]


def test_the_url_opens_a_record_with_its_filters(handlers):
    rows = handlers.stores.get("demo").queue.list(QueueFilters(status="pending"), limit=5)
    out = handlers.open_from_url(_inputs(url=f"?session=demo&record={rows[3].refinement_id}"
                                             "&status=any&validated=yes"))
    assert out["state"]["id"] == rows[3].refinement_id
    assert out["f_status"] == "any" and out["f_validated"] == "yes"
    assert f"record={rows[3].refinement_id}" in out["header"]
    other = handlers.open_from_url(_inputs(url="?session=elsewhere&record=3"))
    assert other["state"]["id"] == rows[0].refinement_id  # a link to another session


def test_task_id_search_is_exact_unless_asked_for_a_prefix(store):
    from persd_app.tabs.review_query import filters_from

    def ids(search):
        return {r.task_id for r in store.queue.list(filters_from("any", search=search),
                                                      limit=100)}

    everything = ids("HumanEval/*")
    assert len(everything) == len(ids(""))
    one = sorted(everything)[-1]  # e.g. HumanEval/11: a prefix of no other id here
    assert ids(one) == {one} and ids(one[:-1]) <= {one[:-1]}
    assert ids(one[:-1] + "*") >= {one}
    words = store.queue.list(filters_from("any", search="text:def "), limit=100)
    assert len(words) == store.queue.count(QueueFilters())


def test_recursion_is_folded_and_the_exception_comes_first(executor):
    from persd_app.tabs.review_render import _detail, fold_frames

    program = "def down(n):\n    return down(n + 1)\n"
    result = executor.run(program, "assert down(0) == 1\n")
    assert result.exception is not None and result.exception.type == "RecursionError"
    folded = fold_frames(result.exception.frames)
    # The jail keeps the innermost frames; the ones it leaves out are counted.
    shown = max(times for _, times in folded)
    assert len(folded) < 6 and shown + result.exception.frames_omitted > 100
    html = _detail(result.test_outcomes, result.exception)
    assert html.index("RecursionError") < html.index("more identical frame")
    assert f"{result.exception.frames_omitted} earlier frames not kept" in html


def test_long_lines_wrap_under_their_own_indentation():
    from persd.code.diffing import side_by_side
    from persd_app.tabs.review_render import diff_html

    a = "def f(x):\n\n        return x\n"
    b = "def f(x):\n        return x + 1\n"
    html = diff_html(side_by_side(a, b), "a", "b", hide_blank=True)
    assert "padding-left:12ch;text-indent:-12ch" in html  # 8 spaces of indent + 4
    assert "1 blank-line change hidden" in html
    assert "blank-line" not in diff_html(side_by_side(a, b), "a", "b", hide_blank=False)


def test_parse_auth(tmp_path):
    from persd_app.app import parse_auth

    assert parse_auth(None) is None
    assert parse_auth("ana:s3:cret") == [("ana", "s3:cret")]
    users = tmp_path / "users.txt"
    users.write_text("# reviewers\nana:one\n\nben:two\n")
    assert parse_auth(str(users)) == [("ana", "one"), ("ben", "two")]
    users.write_text("ana:one\nben\n")
    with pytest.raises(ValueError, match="users.txt:2"):
        parse_auth(str(users))
    with pytest.raises(ValueError, match="USER:PASS"):
        parse_auth("no-such-file")


def test_a_failure_signature_filters_the_review_queue_and_drives_a_bulk_reject(store):
    from persd.analysis.signatures import refinements_with_signature, signature_of
    from persd_app.tabs.review_query import describe, filters_from

    failing = [r for r in store.refinements.list() if r.execution is not None and not r.validated
               and r.error is None]
    assert failing, "the demo session has teacher code that still fails"
    signature = signature_of(failing[0].execution.result)
    ids = refinements_with_signature(store, signature)
    filters = filters_from("any", search=f"sig:{signature}",
                           signature_ids=lambda sig: refinements_with_signature(store, sig))
    shown = [row.refinement_id for row in store.queue.list(filters)]
    assert sorted(shown) == sorted(ids) and failing[0].id in shown
    assert "failure signature" in describe(filters)
    plan = plan_bulk(store, filters, "rejected")
    outcome = apply_bulk(store, plan, reviewer="ana")
    assert outcome.updated == len(ids)
    assert all(store.reviews.get(i).status == "rejected" for i in ids)


@pytest.mark.parametrize("filters", [
    {}, {"status": "pending"}, {"status": ("approved", "pending")}, {"validated": True},
    {"error_type": "NameError"}, {"status": "pending", "error_type": "AssertionError"},
    {"search": "def"}, {"task_id": "HumanEval/1*"}, {"max_diff_lines": 3},
])
def test_counts_with_fewer_joins_match_the_queue(store, filters):
    first_id = store.queue.list(limit=1)[0].refinement_id
    store.reviews.set(first_id, "approved", reviewer="ana", expected_version=0)
    listed = store.queue.list(QueueFilters(**filters), limit=100_000)
    assert store.queue.count(QueueFilters(**filters)) == len(listed)
    by_status = store.queue.counts(filters=QueueFilters(**filters))
    assert sum(by_status.values()) == store.queue.count(
        QueueFilters(**{**filters, "status": None}))
