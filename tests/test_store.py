"""The session store on real SQLite files: idempotency, round trips, migrations,
review concurrency and undo, the review queue, runs, and crash safety under kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from persd.execution.result import ExecutionResult, not_run
from persd.store import (
    ConfigMismatch,
    QueueFilters,
    RecordNotFound,
    ReviewConflict,
    RunBusy,
    SessionNameError,
    SessionNotFound,
    SessionStore,
    StoreError,
    list_sessions,
)
from persd.store.schema import MIGRATIONS, apply_migrations
from persd.tasks import Task

ROOT = Path(__file__).resolve().parents[1]


def Result(status: str = "passed", feedback: str = "", duration_s: float = 0.01,
           tests_passed: int = 3, tests_total: int = 3, error_type: str = "") -> ExecutionResult:
    """A sandbox verdict as the store is given one, with the fields these tests vary."""
    return ExecutionResult(status, feedback, duration_s, tests_passed, tests_total, error_type)


FAIL = Result("failed", "assert add(1, 2) == 3", 0.02, 1, 3, "AssertionError")


def make_task(i: int, prompt: str = "") -> Task:
    return Task(
        task_id=f"T/{i}", prompt=prompt or f"def f{i}(x):\n    \"\"\"Return x + {i}.\"\"\"\n",
        entry_point=f"f{i}", test=f"assert f{i}(1) == {1 + i}", visible_test="",
        solution=f"def f{i}(x):\n    return x + {i}\n", source="test",
    )


def add_attempt(store: SessionStore, task_id: str, round: int = 0, sample_index: int = 0):
    return store.attempts.add(
        task_id, round, sample_index=sample_index, model="tiny", sampling={"temperature": 0.3},
        prompt="p", completion="    return x\n", program="def f(x):\n    return x\n",
    )


def add_failed_refinement(store: SessionStore, task_id: str, round: int = 0, **kwargs):
    attempt = add_attempt(store, task_id, round)
    store.executions.add("attempt", attempt.id, FAIL)
    return store.refinements.add(
        "persd", attempt_id=attempt.id, teacher_model="teacher", program="fixed",
        validated=True, execution=Result(), **kwargs,
    )


@pytest.fixture
def store(tmp_path: Path):
    with SessionStore.open(tmp_path, "s", create=True) as opened:
        opened.tasks.add([make_task(i) for i in range(4)])
        yield opened


def table_count(store: SessionStore, table: str) -> int:
    with sqlite3.connect(store.path) as conn:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


# -- opening, names, schema ----------------------------------------------------------------


def test_open_by_name_lists_sessions_and_validates_names(tmp_path: Path) -> None:
    assert list_sessions(tmp_path / "missing") == []
    with pytest.raises(SessionNotFound, match="none yet"):
        SessionStore.open(tmp_path, "a")
    SessionStore.open(tmp_path / "dir", "alpha-1.v2_x", create=True).close()
    SessionStore.open(tmp_path / "dir", "beta", create=True).close()
    assert list_sessions(tmp_path / "dir") == ["alpha-1.v2_x", "beta"]
    with pytest.raises(SessionNotFound, match="alpha-1.v2_x, beta") as error:
        SessionStore.open(tmp_path / "dir", "gamma")
    assert error.value.available == ["alpha-1.v2_x", "beta"]
    for bad in ["", "../x", "a/b", "a b", ".hidden", "-x", "x" * 200]:
        with pytest.raises(SessionNameError):
            SessionStore.open(tmp_path, bad, create=True)
    with SessionStore.open(tmp_path / "dir", "beta") as store:
        assert store.name == "beta" and store.schema_version == len(MIGRATIONS)
        mode = store._db._conn.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
        assert store._db._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_a_file_that_is_not_a_session_is_refused_by_name(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database, just text " * 100)
    with pytest.raises(StoreError, match="junk.sqlite"):
        SessionStore(junk)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (x)")
    with pytest.raises(StoreError, match="other.sqlite.*not a persd session"):
        SessionStore(other)
    with pytest.raises(StoreError, match="does not exist"):
        SessionStore(tmp_path / "nope.sqlite", create=False)


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    SessionStore(tmp_path / "s.sqlite").close()
    with sqlite3.connect(tmp_path / "s.sqlite") as conn:
        conn.execute("INSERT INTO _migrations (name) VALUES ('m999_from_the_future')")
    with pytest.raises(StoreError, match="s.sqlite has a newer schema.*m999_from_the_future"):
        SessionStore(tmp_path / "s.sqlite")


def test_an_old_database_is_migrated_forward_keeping_its_data(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    assert apply_migrations(conn, path, upto=3) == 3
    conn.execute(
        "INSERT INTO tasks (task_id, prompt, entry_point, test, visible_test, solution, source) "
        "VALUES ('T/0', 'p', 'f', 't', '', 's', 'old')"
    )
    conn.execute(
        "INSERT INTO attempts (task_id, round, sample_index, model, sampling, prompt, "
        "completion, program) VALUES ('T/0', 0, 0, 'm', '{}', 'p', 'c', 'pc')"
    )
    conn.execute(
        "INSERT INTO refinements (method, task_id, round, attempt_id, teacher_model, program, "
        "validated, reason, tries) VALUES ('persd', 'T/0', 0, 1, 'teacher', 'fixed', 1, '', 1)"
    )
    names = [row[0] for row in conn.execute("SELECT name FROM _migrations")]
    conn.close()
    assert names == [name for name, _ in MIGRATIONS[:3]]

    with SessionStore(path) as store:
        assert store.schema_version == len(MIGRATIONS) > 3
        assert [a.program for a in store.attempts.list()] == ["pc"]
        (refinement,) = store.refinements.list()
        assert refinement.diff_lines is None  # a column added by a later migration
        assert store.reviews.get(refinement.id).status == "pending"  # reviews: a later table
        store.reviews.set(refinement.id, "approved", reviewer="ana", expected_version=0)
    with SessionStore(path) as again:  # reopening applies nothing twice
        assert again.schema_version == len(MIGRATIONS)


def test_teacher_calls_logged_before_batch_ids_keep_their_data(tmp_path: Path) -> None:
    """m008 adds teacher_calls.batch_id: old calls read as live, new ones name their batch."""
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    before = [name for name, _ in MIGRATIONS].index("m008_teacher_calls_batch_id")
    apply_migrations(conn, path, upto=before)
    conn.execute(
        "INSERT INTO teacher_calls (task_id, round, purpose, model, messages, raw_reply, "
        "prompt_tokens, completion_tokens, cost_usd, cached) "
        "VALUES ('T/0', 1, 'refine', 'gpt', '[]', 'reply', 10, 5, 0.25, 0)"
    )
    conn.close()

    with SessionStore(path) as store:
        (old,) = store.teacher_calls.list()
        assert (old.raw_reply, old.cost_usd, old.prompt_tokens, old.batch_id) == ("reply", 0.25, 10, None)
        new = store.teacher_calls.add(task_id="T/0", round=1, purpose="refine", model="gpt",
                                     messages=[], cost_usd=0.125, batch_id="batch_abc")
        assert new.batch_id == "batch_abc"
        assert [c.batch_id for c in store.teacher_calls.list(task_id="T/0")] == [None, "batch_abc"]
        (usage,) = store.teacher_calls.usage()
        assert (usage["calls"], usage["batched"], usage["cost_usd"]) == (2, 1, 0.375)


# -- settings, tasks, attempts, executions -------------------------------------------------


def test_config_is_set_once_and_mismatches_are_named(tmp_path: Path) -> None:
    with SessionStore.open(tmp_path, "s", create=True) as store:
        assert store.config() == {} and not store.simulated
        assert store.created_at.endswith("Z")
        store.set_config({"student": "tiny", "simulated": True, "tries": 2})
        store.set_config({"tries": 2, "simulated": True, "student": "tiny"})  # same: no-op
        with pytest.raises(ConfigMismatch, match="tries: stored 2, given 3") as error:
            store.set_config({"student": "tiny", "simulated": True, "tries": 3})
        assert set(error.value.differences) == {"tries"}
        assert store.simulated and store.config()["tries"] == 2
        store.set_config({"student": "other"}, replace=True)
        assert store.config() == {"student": "other"}


def test_tasks_are_idempotent_and_a_changed_task_is_named(store: SessionStore) -> None:
    assert store.tasks.add([make_task(i) for i in range(6)]) == 2
    assert store.tasks.add([make_task(5)]) == 0
    assert [t.task_id for t in store.tasks.list()] == [f"T/{i}" for i in range(6)]
    assert store.tasks.get("T/3") == make_task(3)
    with pytest.raises(StoreError, match="'T/2'.*different prompt"):
        store.tasks.add([make_task(7), make_task(2, prompt="changed")])
    assert len(store.tasks.list()) == 6  # the failed add left nothing behind (T/7 rolled back)
    with store.transaction():  # inside a bigger transaction, a failed add undoes only itself
        add_attempt(store, "T/0")
        with pytest.raises(StoreError, match="'T/2'"):
            store.tasks.add([make_task(8), make_task(2, prompt="changed")])
        store.tasks.add([make_task(9)])
    assert [t.task_id for t in store.tasks.list()][-1] == "T/9" and len(store.tasks.list()) == 7
    assert len(store.attempts.list()) == 1
    with pytest.raises(RecordNotFound, match="T/99"):
        store.tasks.get("T/99")


def test_attempts_round_trip_and_are_idempotent(store: SessionStore) -> None:
    first = add_attempt(store, "T/0")
    assert (first.task_id, first.round, first.sample_index, first.model) == ("T/0", 0, 0, "tiny")
    assert first.sampling == {"temperature": 0.3} and first.execution is None
    again = store.attempts.add("T/0", 0, model="other", prompt="x", completion="y", program="z")
    assert again == first  # the stored attempt wins
    add_attempt(store, "T/0", sample_index=1)
    add_attempt(store, "T/0", round=1)
    assert table_count(store, "attempts") == 3
    assert [a.sample_index for a in store.attempts.list(round=0, task_id="T/0")] == [0, 1]
    assert store.attempts.get(first.id) == first
    with pytest.raises(RecordNotFound, match="task 'T/99'"):
        add_attempt(store, "T/99")


def test_executions_round_trip_and_are_idempotent(store: SessionStore) -> None:
    attempt = add_attempt(store, "T/0")
    stored = store.executions.add("attempt", attempt.id, FAIL)
    assert (stored.result.status, stored.result.passed, stored.result.feedback,
            stored.result.error_type) == ("failed", False, FAIL.feedback, "AssertionError")
    assert (stored.result.tests_passed, stored.result.tests_total, stored.tests) == (1, 3, "hidden")
    assert store.executions.add("attempt", attempt.id, Result()) == stored
    visible = store.executions.add("attempt", attempt.id, Result(), tests="visible")
    assert visible.id != stored.id and visible.result.passed
    assert store.attempts.get(attempt.id).execution == stored
    assert store.executions.latest_of("attempt", attempt.id) == stored
    refinement = store.refinements.add("persd", attempt_id=attempt.id, teacher_model="t",
                                      program="p", validated=True)
    edits = [store.executions.add("review_edit", refinement.id, r) for r in (FAIL, Result())]
    assert edits[0].id != edits[1].id  # every edit is its own run
    assert store.executions.latest_of("review_edit", refinement.id) == edits[1]
    assert len(store.executions.list("review_edit")) == 2
    with pytest.raises(StoreError, match="status 'exploded'"):
        store.executions.add("attempt", attempt.id, Result("exploded"))
    with pytest.raises(RecordNotFound, match="attempt 999"):
        store.executions.add("attempt", 999, Result())


def test_a_verdict_known_only_from_its_text_is_stored_without_detail(store: SessionStore) -> None:
    attempt = add_attempt(store, "T/0")
    text = not_run("error", "NameError: name 'y' is not defined", "NameError")
    stored = store.executions.add("attempt", attempt.id, text)
    assert stored.result == text and not stored.result.has_detail
    with store._db.read() as conn:
        row = conn.execute("SELECT duration_s, tests_passed, tests_total, detail FROM executions "
                           "WHERE id = ?", (stored.id,)).fetchone()
    assert tuple(row) == (None, None, None, None)  # not measured here, not zero
    with pytest.raises(StoreError, match="from an ExecutionResult, not ExecutionRecord"):
        store.executions.add("attempt", add_attempt(store, "T/1").id, stored)


def test_a_real_execution_result_is_stored() -> None:
    execution = pytest.importorskip("persd.execution")
    result = execution.ExecutionResult(
        status="error", feedback="NameError: name 'y' is not defined", duration_s=0.1,
        tests_passed=0, tests_total=2, error_type="NameError",
    )
    with SessionStore(Path(os.environ.get("TMPDIR", "/tmp")) / f"real-{os.getpid()}.sqlite") as s:
        s.tasks.add([make_task(0)])
        stored = s.executions.add("attempt", add_attempt(s, "T/0").id, result)
        path = s.path
    path.unlink()
    assert (stored.result.status, stored.result.passed, stored.result.error_type,
            stored.result.tests_total) == ("error", False, "NameError", 2)


# -- refinements and the teacher -----------------------------------------------------------


def test_refinements_round_trip_and_are_idempotent(store: SessionStore) -> None:
    attempt = add_attempt(store, "T/1")
    call = store.teacher_calls.add(task_id="T/1", round=0, purpose="refine", model="teacher",
                                  messages=[{"role": "user", "content": "fix"}], raw_reply="```",
                                  prompt_tokens=10, completion_tokens=5, cost_usd=0.01)
    refinement = store.refinements.add(
        "persd", attempt_id=attempt.id, teacher_model="teacher", program="prog",
        completion="comp", validated=True, tries=2, diff_lines=3, execution=Result(),
        teacher_call_ids=[call.id],
    )
    assert (refinement.task_id, refinement.round, refinement.tries) == ("T/1", 0, 2)
    assert refinement.validated and refinement.diff_lines == 3 and refinement.execution.result.passed
    assert store.refinements.add("persd", attempt_id=attempt.id, teacher_model="x",
                                program="other", validated=False) == refinement
    assert store.teacher_calls.list(refinement_id=refinement.id)[0].messages[0]["content"] == "fix"
    solution = store.refinements.add("stand", task_id="T/2", round=0, teacher_model="teacher",
                                    program="sol", validated=False, reason="no code in reply")
    assert solution.attempt_id is None and solution.reason == "no code in reply"
    assert store.refinements.add("stand", task_id="T/2", round=0, teacher_model="t",
                                program="x", validated=True).id == solution.id
    assert table_count(store, "refinements") == 2
    assert [r.id for r in store.refinements.list(validated=True)] == [refinement.id]
    assert [r.id for r in store.refinements.list(method="stand", round=0)] == [solution.id]
    store.refinements.set_diff_lines({solution.id: 7})
    assert store.refinements.get(solution.id).diff_lines == 7
    with pytest.raises(StoreError, match="needs the attempt_id"):
        store.refinements.add("persd", task_id="T/1", round=0, teacher_model="t",
                             program="p", validated=True)
    with pytest.raises(StoreError, match="not task 'T/3'"):
        store.refinements.add("persd", attempt_id=attempt.id, task_id="T/3", round=0,
                             teacher_model="t", program="p", validated=True)


def test_a_teacher_error_is_retried_in_place(store: SessionStore) -> None:
    attempt = add_attempt(store, "T/0")
    store.executions.add("attempt", attempt.id, FAIL)
    failed = store.refinements.add("persd", attempt_id=attempt.id, teacher_model="t",
                                  program=None, validated=False, error="HTTP 503")
    assert store.refinements.list() == [] and len(store.refinements.list(include_errors=True)) == 1
    with pytest.raises(StoreError, match="teacher error: HTTP 503"):
        store.reviews.set(failed.id, "approved", reviewer="ana", expected_version=0)
    retried = store.refinements.add("persd", attempt_id=attempt.id, teacher_model="t",
                                   program="ok", validated=True, execution=Result())
    assert retried.id == failed.id and retried.error is None and retried.program == "ok"
    assert retried.execution.result.passed


def test_teacher_calls_cost_and_cache(store: SessionStore) -> None:
    for cached, cost in [(False, 0.25), (True, 0.25), (False, 0.5)]:
        store.teacher_calls.add(task_id="T/0", round=0, purpose="refine", model="gpt",
                               messages=[], cost_usd=cost, cached=cached, prompt_tokens=100)
    store.teacher_calls.add(task_id="T/1", round=1, purpose="solve", model="other", messages=[],
                           error="timeout")
    assert store.teacher_calls.cost() == pytest.approx(0.75)
    assert store.teacher_calls.cost(round=1) == 0
    usage = {row["model"]: row for row in store.teacher_calls.usage()}
    assert (usage["gpt"]["calls"], usage["gpt"]["cached"], usage["gpt"]["prompt_tokens"]) == (3, 1, 300)
    assert usage["other"]["errors"] == 1
    assert [c.error for c in store.teacher_calls.list(task_id="T/1")] == ["timeout"]
    cache = store.teacher_cache
    assert cache.get("k") is None
    cache.put("k", {"content": "```python\npass\n```", "usage": [1, 2]})
    cache.put("k", {"content": "second"})
    assert store.teacher_cache.get("k") == {"content": "second"}
    assert table_count(store, "teacher_cache") == 1


# -- resumable collection ------------------------------------------------------------------


def test_pending_work_after_partial_progress(store: SessionStore) -> None:
    work = store.pending.work(0)
    assert work.needs_attempt == [(f"T/{i}", 0) for i in range(4)] and not work.done
    passed, failed, refined, unexecuted = (add_attempt(store, f"T/{i}") for i in range(4))
    store.executions.add("attempt", passed.id, Result())
    store.executions.add("attempt", failed.id, FAIL)
    store.executions.add("attempt", refined.id, FAIL)
    store.refinements.add("persd", attempt_id=refined.id, teacher_model="t", program="p",
                         validated=False, reason="still failing")
    store.teacher_calls.add(task_id="T/1", round=0, purpose="refine", model="t", messages=[],
                           error="429 Too Many Requests")
    work = store.pending.work(0)
    assert work.needs_attempt == []
    assert work.needs_execution == [unexecuted.id]
    assert work.needs_refinement == [failed.id]
    assert work.teacher_errors == {"T/1": "429 Too Many Requests"}
    assert store.pending.work(0, samples=2).needs_attempt == [(f"T/{i}", 1) for i in range(4)]
    assert store.pending.work(0, task_ids=["T/0", "T/3"]).needs_refinement == []
    assert store.pending.work(0, method="inpd").needs_solution == ["T/1", "T/2"]
    stand = store.pending.work(0, method="stand")
    assert stand.needs_solution == ["T/0", "T/1", "T/2", "T/3"] and stand.needs_execution == []
    assert store.pending.work(1).needs_attempt_tasks == ["T/0", "T/1", "T/2", "T/3"]

    store.executions.add("attempt", unexecuted.id, Result())
    store.refinements.add("persd", attempt_id=failed.id, teacher_model="t", program="p",
                         validated=True)
    assert store.pending.work(0).done and store.pending.work(0).teacher_errors == {}
    with pytest.raises(RecordNotFound, match="T/99"):
        store.pending.work(0, task_ids=["T/99"])


# -- reviews -------------------------------------------------------------------------------


def test_review_round_trip_versions_and_audit_trail(store: SessionStore) -> None:
    refinement = add_failed_refinement(store, "T/0")
    pending = store.reviews.get(refinement.id)
    assert (pending.status, pending.version, pending.reviewer) == ("pending", 0, None)
    edited = store.reviews.set(refinement.id, "edited", reviewer="ana", expected_version=0,
                              edited_program="def f(x):\n    return x + 1\n", edit_execution=FAIL)
    assert (edited.status, edited.version, edited.reviewer) == ("edited", 1, "ana")
    assert store.executions.get(edited.edit_execution_id).result.error_type == "AssertionError"
    item = store.queue.item(refinement.id)
    assert item.edit_execution.result.status == "failed" and item.task.task_id == "T/0"
    assert item.attempt.execution.result.status == "failed" and item.review == edited
    rejected = store.reviews.set(refinement.id, "rejected", reviewer="bo", expected_version=1,
                                reason="rewrites everything")
    assert rejected.version == 2 and rejected.reason == "rewrites everything"
    events = store.reviews.events(refinement.id)
    assert [(e.old_status, e.new_status, e.reviewer, e.version) for e in events] == [
        ("pending", "edited", "ana", 1), ("edited", "rejected", "bo", 2)]
    assert events[1].payload["before"]["status"] == "edited"
    assert store.reviews.by_refinement() == {refinement.id: rejected}
    with pytest.raises(StoreError, match="needs the edited_program"):
        store.reviews.set(refinement.id, "edited", reviewer="ana", expected_version=2)
    with pytest.raises(StoreError, match="unknown review status"):
        store.reviews.set(refinement.id, "lgtm", reviewer="ana", expected_version=2)
    with pytest.raises(RecordNotFound):
        store.reviews.get(999)


def test_the_audit_trail_is_append_only(store: SessionStore) -> None:
    refinement = add_failed_refinement(store, "T/0")
    store.reviews.set(refinement.id, "approved", reviewer="ana", expected_version=0)
    with sqlite3.connect(store.path) as conn:
        for statement in ["UPDATE review_events SET new_status = 'rejected'",
                          "DELETE FROM review_events"]:
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(statement)
    assert [e.new_status for e in store.reviews.events()] == ["approved"]


def test_two_reviewers_on_the_same_file_conflict_clearly(tmp_path: Path) -> None:
    with SessionStore.open(tmp_path, "s", create=True) as ana_store:
        ana_store.tasks.add([make_task(0)])
        refinement = add_failed_refinement(ana_store, "T/0")
        with SessionStore.open(tmp_path, "s") as bo_store:
            seen_by_bo = bo_store.reviews.get(refinement.id)
            ana_store.reviews.set(refinement.id, "approved", reviewer="ana",
                                 expected_version=ana_store.reviews.get(refinement.id).version)
            with pytest.raises(ReviewConflict, match="changed by ana at .*now approved, version 1"):
                bo_store.reviews.set(refinement.id, "rejected", reviewer="bo",
                                    expected_version=seen_by_bo.version)
            assert bo_store.reviews.get(refinement.id).status == "approved"
            assert len(bo_store.reviews.events(refinement.id)) == 1


@pytest.mark.parametrize("shared", [True, False], ids=["one-store", "store-per-thread"])
def test_two_threads_racing_on_one_review_one_wins(tmp_path: Path, shared: bool) -> None:
    path = tmp_path / "s.sqlite"
    with SessionStore(path) as setup:
        setup.tasks.add([make_task(0)])
        refinement_id = add_failed_refinement(setup, "T/0").id
    common = SessionStore(path) if shared else None
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def review(name: str) -> None:
        own = common or SessionStore(path)
        barrier.wait()
        try:
            own.reviews.set(refinement_id, "approved", reviewer=name, expected_version=0)
            outcomes.append("won")
        except ReviewConflict:
            outcomes.append("conflict")
        finally:
            if own is not common:
                own.close()

    threads = [threading.Thread(target=review, args=(f"r{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if common:
        common.close()
    assert sorted(outcomes) == ["conflict"] * 7 + ["won"]
    with SessionStore(path) as check:
        assert check.reviews.get(refinement_id).version == 1
        assert len(check.reviews.events()) == 1


def test_undo_restores_the_reviewers_previous_states(store: SessionStore) -> None:
    first, second = (add_failed_refinement(store, f"T/{i}").id for i in range(2))
    store.reviews.set(first, "approved", reviewer="ana", expected_version=0)
    store.reviews.set(first, "edited", reviewer="ana", expected_version=1, edited_program="x")
    store.reviews.set(second, "rejected", reviewer="ana", expected_version=0, reason="bad")
    assert store.reviews.last_action("ana").refinement_id == second
    restored = store.reviews.undo_last("ana")
    assert (restored.refinement_id, restored.status, restored.version) == (second, "pending", 2)
    assert restored.reason is None
    restored = store.reviews.undo_last("ana")
    assert (restored.status, restored.edited_program, restored.version) == ("approved", None, 3)
    restored = store.reviews.undo_last("ana")
    assert (restored.status, restored.version) == ("pending", 4)
    assert store.reviews.undo_last("ana") is None and store.reviews.undo_last("nobody") is None
    undos = [e for e in store.reviews.events() if e.kind == "undo"]
    assert [e.undoes for e in undos] == [3, 2, 1]  # the action events, newest first


def test_undo_refuses_to_overwrite_another_reviewer(store: SessionStore) -> None:
    refinement = add_failed_refinement(store, "T/0").id
    store.reviews.set(refinement, "approved", reviewer="ana", expected_version=0)
    store.reviews.set(refinement, "rejected", reviewer="bo", expected_version=1)
    with pytest.raises(ReviewConflict, match="cannot undo your 'approved'.*changed by bo"):
        store.reviews.undo_last("ana")
    assert store.reviews.get(refinement).status == "rejected"
    store.reviews.undo_last("bo")  # bo takes his back: ana's action is in force again
    assert store.reviews.undo_last("ana").status == "pending"


def test_bulk_review_skips_conflicts_and_undoes_as_one(store: SessionStore) -> None:
    ids = [add_failed_refinement(store, f"T/{i}").id for i in range(4)]
    versions = store.queue.versions(QueueFilters(status="pending"))
    assert versions == dict.fromkeys(ids, 0)
    store.reviews.set(ids[0], "rejected", reviewer="bo", expected_version=0)
    result = store.reviews.bulk_set(versions, "approved", reviewer="ana")
    assert result.conflicts == [ids[0]] and [r.refinement_id for r in result.updated] == ids[1:]
    assert store.queue.counts() == {"pending": 0, "approved": 3, "edited": 0,
                                     "rejected": 1, "skipped": 0}
    assert store.reviews.undo_last("ana").status == "pending"
    assert store.queue.counts()["pending"] == 3 and store.reviews.get(ids[0]).status == "rejected"
    with pytest.raises(StoreError, match="cannot mark records 'edited'"):
        store.reviews.bulk_set(ids, "edited", reviewer="ana")


# -- the review queue ----------------------------------------------------------------------


def test_review_queue_filters_and_pages(store: SessionStore) -> None:
    store.tasks.add([make_task(10, prompt="def parse_json(text):\n    pass\n")])
    errors = ["AssertionError", "NameError", "AssertionError", "Timeout", "NameError"]
    ids = []
    for i, (task_id, error) in enumerate(zip(["T/0", "T/1", "T/2", "T/3", "T/10"], errors)):
        attempt = add_attempt(store, task_id)
        store.executions.add("attempt", attempt.id, Result("error", f"boom {i}", error_type=error))
        ids.append(store.refinements.add(
            "persd", attempt_id=attempt.id, teacher_model="t", program="p",
            validated=i % 2 == 0, diff_lines=i * 10).id)
    store.refinements.add("stand", task_id="T/0", round=1, teacher_model="t", program="s",
                         validated=True)
    store.reviews.set(ids[1], "approved", reviewer="ana", expected_version=0)

    def queue(**filters) -> list[int]:
        return [row.refinement_id for row in store.queue.list(QueueFilters(**filters))]

    assert queue(round=0) == ids
    assert queue(status="pending", round=0) == [ids[0], *ids[2:]]
    assert queue(status=("approved", "rejected")) == [ids[1]]
    assert queue(error_type="NameError") == [ids[1], ids[4]]
    assert queue(validated=True, round=0) == [ids[0], ids[2], ids[4]]
    assert queue(max_diff_lines=20) == ids[:3]
    assert queue(search="json") == [ids[4]] and queue(search="t/3") == [ids[3]]
    assert queue(search="%") == [] and queue(method="stand") == [ids[-1] + 1]
    row = store.queue.list(QueueFilters(status="approved"))[0]
    assert (row.status, row.version, row.reviewer, row.error_type, row.feedback) == (
        "approved", 1, "ana", "NameError", "boom 1")
    assert [r.refinement_id for r in store.queue.list(after_id=ids[1], limit=2)] == ids[2:4]
    assert [r.refinement_id for r in store.queue.list(before_id=ids[3], limit=2)] == ids[1:3]
    assert [r.refinement_id for r in store.queue.list(offset=4, limit=1)] == [ids[4]]
    assert store.queue.count(QueueFilters(status="pending")) == 5
    assert store.queue.counts(round=0) == {"pending": 4, "approved": 1, "edited": 0,
                                            "rejected": 0, "skipped": 0}
    assert store.queue.counts(filters=QueueFilters(error_type="NameError"))["pending"] == 1
    assert store.queue.error_types() == ["AssertionError", "NameError", "Timeout"]
    assert store.queue.count({"status": "approved"}) == 1  # a dict works too
    with pytest.raises(TypeError):
        store.queue.list({"colour": "red"})


@pytest.mark.slow
def test_review_queue_on_ten_thousand_records_is_quick(tmp_path: Path) -> None:
    n = 10_000
    started = time.perf_counter()
    with SessionStore(tmp_path / "big.sqlite") as store:
        with store.transaction():
            store.tasks.add([make_task(i) for i in range(n)])
            for i in range(n):
                attempt = add_attempt(store, f"T/{i}")
                store.executions.add("attempt", attempt.id, Result("failed", "x", error_type=
                                    ("AssertionError", "NameError", "TypeError")[i % 3]))
                store.refinements.add("persd", attempt_id=attempt.id, teacher_model="t",
                                     program="p", validated=i % 4 != 0, diff_lines=i % 40,
                                     execution=Result())
        build_s = time.perf_counter() - started
        filters = QueueFilters(status="pending", validated=True, max_diff_lines=30)
        current = store.queue.list(filters, limit=1)[0]
        latencies = []
        for _ in range(200):  # approve the current record, then fetch and read the next
            started = time.perf_counter()
            store.reviews.set(current.refinement_id, "approved", reviewer="ana",
                             expected_version=current.version)
            current = store.queue.list(filters, after_id=current.refinement_id, limit=1)[0]
            store.queue.item(current.refinement_id)
            store.queue.counts(filters=filters)
            latencies.append(time.perf_counter() - started)
        started = time.perf_counter()
        searched = store.queue.list(QueueFilters(search="return x + 9999"), limit=50)
        search_s = time.perf_counter() - started
    p50, p95 = statistics.median(latencies), statistics.quantiles(latencies, n=20)[-1]
    print(f"\n10k session built in {build_s:.1f} s; approve -> next record: "
          f"p50 {p50 * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms; text search {search_s * 1000:.1f} ms")
    assert [row.task_id for row in searched] == ["T/9999"]
    assert p95 < 1.0  # a sanity bound only; the real target is measured by the benchmark


# -- runs and evaluation samples -----------------------------------------------------------


def test_runs_and_eval_samples(store: SessionStore) -> None:
    train = store.runs.add("train", {"variant": "persd", "lr": 1e-4}, exclusive=True)
    with pytest.raises(RunBusy, match=f"train run {train} is queued"):
        store.runs.add("train", {}, exclusive=True)
    record = store.runs.update(train, status="running", pid=1234, metrics_path="m.jsonl")
    assert (record.status, record.pid, record.metrics_path, record.config["lr"]) == (
        "running", 1234, "m.jsonl", 1e-4)
    assert store.runs.active("train").id == train
    finished = store.runs.update(train, status="finished", result={"loss": 0.5}, output="out/")
    assert (finished.result, finished.output, finished.pid) == ({"loss": 0.5}, "out/", 1234)
    assert store.runs.active("train") is None
    evaluation = store.runs.add("eval", {"samples": 2})
    assert [r.id for r in store.runs.list()] == [train, evaluation]
    assert [r.id for r in store.runs.list(kind="eval")] == [evaluation] == [store.runs.get(evaluation).id]
    with pytest.raises(StoreError, match="unknown run status"):
        store.runs.update(train, status="exploded")
    with pytest.raises(RecordNotFound):
        store.runs.update(999, status="failed")

    sample = store.eval_samples.add(evaluation, "T/0", program="p", result=FAIL, step=0)
    assert (sample.status, sample.passed, sample.feedback) == ("failed", False, FAIL.feedback)
    assert store.eval_samples.add(evaluation, "T/0", program="other", result=Result()) == sample
    second = store.eval_samples.add(evaluation, "T/0", program="p2", result=Result(), step=1)
    assert second.passed
    assert [(s.step, s.passed) for s in store.eval_samples.list(evaluation)] == [(0, False), (1, True)]


# -- threads, processes, crashes -----------------------------------------------------------


def test_many_threads_share_one_store(store: SessionStore) -> None:
    errors: list[BaseException] = []

    def work(sample: int) -> None:
        try:
            for task in range(4):
                attempt = add_attempt(store, f"T/{task}", sample_index=sample)
                store.executions.add("attempt", attempt.id, Result())
                store.pending.work(0)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert table_count(store, "attempts") == 32 == table_count(store, "executions")


WRITER = textwrap.dedent("""
    import sys
    from persd.execution.result import ExecutionResult, not_run
    from persd.store import QueueFilters, SessionStore
    from persd.tasks import Task

    def Result(status, feedback="", error_type=""):
        return ExecutionResult(status, feedback, 0.01, error_type=error_type)

    path, n = sys.argv[1], int(sys.argv[2])
    store = SessionStore(path, busy_timeout_s=60)
    store.tasks.add([Task(f"T/{i}", "p", "f", "t", "", "s", "crash") for i in range(n)])
    print("tasks", flush=True)
    while True:  # one step per loop, chosen from what the store says is missing
        work = store.pending.work(0)
        if work.needs_attempt:
            task_id, sample = work.needs_attempt[0]
            store.attempts.add(task_id, 0, sample_index=sample, model="m", prompt="p",
                              completion="c" * 2000, program="pc" * 2000)
            print("attempt", task_id, flush=True)
        elif work.needs_execution:
            attempt = store.attempts.get(work.needs_execution[0])
            odd = int(attempt.task_id.split("/")[1]) % 2
            result = Result("failed", "assert 1 == 2", error_type="AssertionError") if odd else Result("passed")
            store.executions.add("attempt", attempt.id, result)
            print("execution", attempt.task_id, flush=True)
        elif work.needs_refinement:
            attempt_id = work.needs_refinement[0]
            call = store.teacher_calls.add(purpose="refine", model="t", messages=["m" * 2000],
                                          attempt_id=attempt_id, cost_usd=0.001)
            refinement = store.refinements.add("persd", attempt_id=attempt_id, teacher_model="t",
                                              program="fixed" * 400, validated=True,
                                              execution=Result("passed"),
                                              teacher_call_ids=[call.id])
            print("refinement", refinement.task_id, flush=True)
        elif store.queue.list(QueueFilters(status="pending"), limit=1):
            row = store.queue.list(QueueFilters(status="pending"), limit=1)[0]
            store.reviews.set(row.refinement_id, "approved", reviewer="bot", expected_version=0)
            print("review", row.task_id, flush=True)
        else:
            break
    print("done", flush=True)
""")


def start_writer(path: Path, n: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(n)],
                            stdout=subprocess.PIPE, text=True, env=env)


def check_consistent(path: Path) -> tuple[dict[str, list[str]], set[str]]:
    """Integrity, and every stored step complete: what each table holds, by task."""
    with SessionStore(path) as store:
        assert store.integrity_check() == "ok"
        attempts = store.attempts.list()
        refinements = store.refinements.list(include_errors=True)
        for refinement in refinements:  # written in one transaction with its run and calls
            assert refinement.execution is not None and refinement.execution.result.passed
            assert len(store.teacher_calls.list(refinement_id=refinement.id)) == 1
        executed = {a.task_id for a in attempts if a.execution is not None}
        return {
            "attempt": [a.task_id for a in attempts],
            "execution": sorted(executed),
            "refinement": [r.task_id for r in refinements],
        }, {r.task_id for r in refinements if store.reviews.get(r.id).status == "approved"}


@pytest.mark.slow
def test_a_run_whose_process_is_gone_is_failed_saying_why_and_frees_the_slot(tmp_path: Path) -> None:
    """m009 records the process start time with the pid: a killed run, or one whose pid
    now names another process, no longer blocks; a live one does."""
    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    apply_migrations(conn, path, upto=[n for n, _ in MIGRATIONS].index("m009_run_process"))
    conn.execute("INSERT INTO runs (kind, status, config, pid) VALUES ('train', 'finished', '{}', 1)")
    conn.close()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with SessionStore(path) as store:
            assert store.runs.get(1).process_start is None  # recorded before m009
            live = store.runs.add("train", {}, exclusive=True)
            record = store.runs.update(live, status="running", pid=child.pid)
            assert record.process_start and record.process_start > 0
            with pytest.raises(RunBusy, match=f"train run {live} is running"):
                store.runs.add("train", {}, exclusive=True)
            child.kill()
            child.wait()
            second = store.runs.add("train", {}, exclusive=True)
            failed = store.runs.get(live)
            assert failed.status == "failed"
            assert failed.result == {"error": f"process {child.pid} is gone"}
            # A live pid with another start time: the pid was reused, the run's process is gone.
            store.runs.update(second, status="running", pid=os.getpid())
            with store._db.write() as conn:
                conn.execute("UPDATE runs SET process_start = process_start - 1 WHERE id = ?",
                             (second,))
            store.runs.add("train", {}, exclusive=True)
            assert store.runs.get(second).result == {"error": f"process {os.getpid()} is gone"}
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_kill_9_at_any_point_loses_nothing_and_a_rerun_finishes(tmp_path: Path) -> None:
    path, n = tmp_path / "crash.sqlite", 120
    for kill_after in (25, 120, 140):  # steps seen committed before each kill (360 in all)
        writer = start_writer(path, n)
        committed: list[tuple[str, str]] = []
        for line in writer.stdout:
            kind, *rest = line.split()
            assert kind != "done", "the writer finished before it was killed"
            if kind != "tasks":
                committed.append((kind, rest[0]))
            if len(committed) >= kill_after:
                break
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        writer.stdout.close()
        stored, approved = check_consistent(path)
        for kind, task_id in committed:  # every step reported as committed is there
            assert task_id in (approved if kind == "review" else stored[kind])
        with SessionStore(path) as store:
            work = store.pending.work(0)
            executed_or_pending = set(stored["execution"]) | {
                store.attempts.get(a).task_id for a in work.needs_execution}
            assert executed_or_pending == set(stored["attempt"])  # nothing lost in between
            assert approved <= set(stored["refinement"])
    writer = start_writer(path, n)
    assert writer.communicate(timeout=120)[0].splitlines()[-1] == "done"
    stored, approved = check_consistent(path)
    everything = [f"T/{i}" for i in range(n)]
    assert sorted(stored["attempt"]) == sorted(everything)  # one attempt per task, no duplicate
    assert stored["execution"] == sorted(everything)
    assert sorted(stored["refinement"]) == sorted(f"T/{i}" for i in range(1, n, 2))
    assert approved == set(stored["refinement"])
    with SessionStore(path) as store:
        assert store.pending.work(0).done


@pytest.mark.slow
def test_two_processes_write_the_same_session_at_once(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    SessionStore(path).close()
    script = textwrap.dedent("""
        import sys
        from persd.store import SessionStore
        from persd.tasks import Task
        store = SessionStore(sys.argv[1], busy_timeout_s=60)
        store.tasks.add([Task(f"T/{i}", "p", "f", "t", "", "s", "x") for i in range(50)])
        for i in range(50):
            store.attempts.add(f"T/{i}", 0, sample_index=int(sys.argv[2]), model="m",
                              prompt="p", completion="c", program="pc")
    """)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [subprocess.Popen([sys.executable, "-c", script, str(path), str(k)], env=env)
               for k in range(2)]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    with SessionStore(path) as store:
        assert len(store.tasks.list()) == 50 and len(store.attempts.list()) == 100
        assert store.integrity_check() == "ok"


# -- opening files that are not plain writable sessions -------------------------------------


def test_a_foreign_sqlite_file_is_refused_without_a_change(tmp_path: Path) -> None:
    other = tmp_path / "notes.sqlite"
    with sqlite3.connect(other) as conn:  # rollback-journal mode, as most SQLite files are
        conn.execute("CREATE TABLE notes (x)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    conn.close()
    before, files = other.read_bytes(), sorted(os.listdir(tmp_path))
    for options in ({}, {"readonly": True}):
        with pytest.raises(StoreError, match="notes.sqlite.*not a persd session"):
            SessionStore(other, **options)
    assert other.read_bytes() == before  # WAL would have rewritten the header
    assert sorted(os.listdir(tmp_path)) == files


def test_session_files_are_private_to_their_owner(tmp_path: Path) -> None:
    with SessionStore.open(tmp_path, "s", create=True) as store:
        store.tasks.add([make_task(0)])
        made = sorted(tmp_path.iterdir())
        assert [p.name for p in made] == ["s.sqlite", "s.sqlite-shm", "s.sqlite-wal"]
        for path in made:
            assert path.stat().st_mode & 0o777 == 0o600, path


def test_a_damaged_session_is_named_with_what_to_do(tmp_path: Path) -> None:
    with SessionStore.open(tmp_path, "s", create=True) as store:
        store.tasks.add([make_task(i) for i in range(50)])
    path = tmp_path / "s.sqlite"
    data = bytearray(path.read_bytes())
    for offset in range(4096, len(data), 4096):  # every page but the header's
        data[offset + 100 : offset + 300] = b"\xff" * 200
    path.write_bytes(bytes(data))
    # Which page SQLite reads first depends on the schema's size: the open or the first
    # read of the damaged pages must say so.
    with pytest.raises(StoreError, match=r"s\.sqlite is damaged.*backup"):
        with SessionStore.open(tmp_path, "s") as damaged:
            damaged.tasks.list()


def test_a_session_in_a_read_only_folder_is_reported_and_can_be_read(read_only_folder) -> None:
    folder, make_read_only = read_only_folder
    with SessionStore.open(folder, "s", create=True) as store:
        store.tasks.add([make_task(i) for i in range(3)])
    make_read_only()
    with pytest.raises(StoreError, match=r"ro/s\.sqlite is read-only.*writable") as error:
        SessionStore.open(folder, "s")
    assert "not a persd session" not in str(error.value)
    with pytest.raises(StoreError, match="read-only; choose a writable --sessions-dir"):
        SessionStore.open(folder, "new", create=True)
    with SessionStore.open_to_read(folder, "s") as store:
        assert [t.task_id for t in store.tasks.list()] == ["T/0", "T/1", "T/2"]
    assert sorted(os.listdir(folder)) == ["s.sqlite"]
