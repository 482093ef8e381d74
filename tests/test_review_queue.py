"""The queue view's table (persd.analysis.queue), review assignments and guidelines
(persd.store.assignments) and the reject-reason taxonomy (persd.review_reasons), on a copy
of the simulated demo session."""

from __future__ import annotations

import threading
import time

import pytest

from persd.data import build_examples
from persd.analysis.queue import COLUMNS, DERIVED, QueueQuery, QueueTable, apply_plan, bulk_plan
from persd.review_reasons import (
    REASON_KINDS, ReasonError, compose, parse, reason_counts, tasks_with_wrong_tests,
)
from persd.store import SessionStore, StoreError
from tests.demo_copies import build_demo, opened_copy


@pytest.fixture(scope="module")
def demo_path(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("demo"), limit=16)


@pytest.fixture()
def store(demo_path, tmp_path):
    with opened_copy(demo_path, tmp_path) as opened:
        yield opened


def test_reasons_round_trip_and_unknown_kinds_are_refused():
    assert parse(compose("hard_codes", " returns 21 when n == 7 ")) == \
        ("hard_codes", "returns 21 when n == 7")
    assert parse(compose("test is wrong", "")) == ("test_wrong", "")
    assert parse("typed before the taxonomy") == ("other", "typed before the taxonomy")
    assert compose(None, "  ") is None and parse(None) == (None, "")
    with pytest.raises(ReasonError, match="wrong fix"):
        compose("sloppy", "x")


def test_reasons_are_counted_and_a_wrong_test_leaves_training(store):
    refinements = [r for r in store.refinements.list() if r.program is not None]
    first, second, third = refinements[:3]
    for refinement, kind in ((first, "test_wrong"), (second, "style"), (third, None)):
        store.reviews.set(refinement.id, "rejected", reviewer="ana", expected_version=0,
                         reason=compose(kind, "see the assert"))
    counts = reason_counts(store)
    assert set(counts) == set(REASON_KINDS.values())
    assert (counts["test is wrong"], counts["style"], counts["other"]) == (1, 1, 1)
    assert tasks_with_wrong_tests(store) == {first.task_id}
    assert first.task_id not in {row["task_id"] for row in build_examples(store, "persd",
                                                                          selection="all")}
    assert second.task_id in {row["task_id"] for row in build_examples(store, "persd",
                                                                       selection="all")}


def test_assignments_reach_my_queue_and_bad_ids_assign_nothing(store):
    ids = [r.id for r in store.refinements.list()][:4]
    assert store.review_assignments.assign(ids[:2], "ana", by="lea") == 2
    assert store.review_assignments.assign(ids[:2], "ana", by="lea") == 0
    with pytest.raises(StoreError, match="no refinement 999999"):
        store.review_assignments.assign([ids[2], 999999], "ana", by="lea")
    assert store.review_assignments.assigned_to("ana") == set(ids[:2])
    study = store.studies.add("queue-1", "review", owner="lea")
    item = store.studies.add_items(study.id, [{"task_id": store.refinements.get(ids[3]).task_id,
                                             "candidate_a": ids[3]}])[0]
    store.studies.assign(study.id, {item.id: ["ana"]}, by="lea")
    assert store.review_assignments.assigned_to("ana") == {*ids[:2], ids[3]}
    frame = QueueTable().frame(store)
    mine = QueueQuery(order="id", mine="ana").apply(frame, store)
    assert list(mine["id"]) == sorted({*ids[:2], ids[3]})
    assert store.review_assignments.unassign([ids[0]], "ana") == 1


def test_guidelines_keep_the_latest_and_refuse_a_novel(store):
    assert store.guidelines.latest() is None
    store.guidelines.set("Reject hard-coded answers.", author="lea")
    assert store.guidelines.set("v2", author="lea").text == store.guidelines.latest().text == "v2"
    with pytest.raises(StoreError, match="limited"):
        store.guidelines.set("x" * 30_000, author="lea")
    assert store.guidelines.latest().text == "v2"


def test_queue_table_sorts_risk_first_and_filters(store):
    frame = QueueTable().frame(store)
    assert list(frame.columns) == COLUMNS and len(frame) == len(store.refinements.list())
    risky = QueueQuery(order="risk").apply(frame)
    assert list(risky["risk"]) == sorted(risky["risk"], reverse=True)
    by_task = QueueQuery(order="task").apply(frame)["task"].tolist()
    numbers = [int(task.split("/")[1]) for task in by_task]
    assert numbers == sorted(numbers)
    task = frame["task"].iat[0]
    assert set(QueueQuery(text=task.lower()).apply(frame)["task"]) == {task}
    with pytest.raises(ValueError, match="unknown order"):
        QueueQuery(order="colour").apply(frame)


def test_bulk_plan_names_decided_records_and_keeps_them_unless_confirmed(store):
    ids = [r.id for r in store.refinements.list() if r.validated][:3]
    store.reviews.set(ids[0], "rejected", reviewer="ben", expected_version=0, reason="no")
    plan = bulk_plan(store, ids, "approved")
    task = store.refinements.get(ids[0]).task_id
    assert f"{task} (#{ids[0]}, rejected by ben)" in plan.question()
    changed, skipped = apply_plan(store, plan, reviewer="ana", overwrite=False)
    assert (changed, skipped) == (2, [ids[0]])
    assert store.reviews.get(ids[0]).status == "rejected"
    plan = bulk_plan(store, ids, "rejected")
    assert len(plan.overwrites) == 2  # the two just approved
    changed, _ = apply_plan(store, plan, reviewer="ana", overwrite=True)
    assert changed == 3 and {store.reviews.get(i).status for i in ids} == {"rejected"}


def test_queue_handlers_ask_before_acting_and_ignore_a_row_added_in_the_page(store):
    import pandas as pd

    from persd_app.tabs import Stores
    from persd_app.tabs.queue_handlers import QueueHandlers, View

    handlers = QueueHandlers(Stores(store.path.parent))
    v = View(session=store.name, reviewer="ana")
    assert "Pick a session" in handlers.show(View(session=None, reviewer="ana"))["counts"]
    assert "Tick records" in handlers.ask(v, "approved")["confirm"]
    table = handlers.show(v)["table"]
    added = pd.concat([table.assign(**{"✓": [True, True] + [False] * (len(table) - 2)}),
                       pd.DataFrame([{"✓": True, "id": None}])], ignore_index=True)
    picked = handlers.pick(v, added)["state"]
    assert picked["selected"] == sorted(table["id"][:2])
    v.state = picked
    asked = handlers.ask(v, "approved")
    assert "Set 2 records to approved?" in asked["confirm"]
    assert {store.reviews.get(i).status for i in picked["selected"]} == {"pending"}  # only asked
    v.state = asked["state"]
    done = handlers.confirm(v, overwrite=False)
    assert "2 records set to approved" in done["counts"]
    assert {store.reviews.get(i).status for i in picked["selected"]} == {"approved"}
    v.reason_kind = "sloppy"
    v.state = {"selected": picked["selected"]}
    assert "unknown reject reason" in handlers.ask(v, "rejected")["confirm"]


def test_the_static_columns_are_kept_in_the_session_and_read_back(store):
    first = QueueTable().frame(store)
    stored = store.derived.get(DERIVED)
    assert set(stored) == set(first["id"])
    again = QueueTable().frame(store)   # a new process would start like this
    assert again.equals(first)


def test_a_large_first_open_shows_what_is_ready_and_computes_the_rest_in_the_background(
        store, monkeypatch):
    import persd.analysis.queue as queue

    everything = QueueTable().frame(store)       # computed while waiting (under SYNC_LIMIT)
    monkeypatch.setattr(queue, "DERIVED", "queue-not-stored-yet")  # as for an older session
    monkeypatch.setattr(queue, "SYNC_LIMIT", 2)
    monkeypatch.setattr(queue, "CHUNK", 3)
    go = threading.Event()

    class Held(queue._Context):  # the pass waits until the first open has returned
        def __init__(self, store) -> None:
            go.wait(30)
            super().__init__(store)

    monkeypatch.setattr(queue, "_Context", Held)
    from persd_app.tabs import Stores
    from persd_app.tabs.queue_handlers import QueueHandlers, View

    handlers = QueueHandlers(Stores(store.path.parent))
    shown = handlers.show(View(session=store.name, reviewer="ana"))
    table = handlers._table(store.name)
    assert shown["table"].empty and f"{len(everything)} records not shown yet" in shown["counts"]
    first = table.frame(store)
    assert first.empty and list(first.columns) == COLUMNS
    assert table.pending == table.unshown == len(everything) > 3
    go.set()
    assert table.wait(timeout_s=60) and table.pending == 0 and not table.error
    after = table.frame(store)
    assert after.equals(everything) and table.unshown == 0
    assert set(store.derived.get(queue.DERIVED)) == set(everything["id"])


def test_records_are_computed_again_when_their_task_gets_new_attempts(store):
    table = QueueTable()
    before = table.frame(store).set_index("id")
    (task, count), *_ = sorted(store.attempts.counts_by_task().items())
    ids = set(before.index[before["task"] == task])
    model = store.attempts.list()[0]
    wrong = next(a.execution.result for a in store.attempts.list() if a.task_id == task and a.execution
                 and any(o.status == "failed" and o.returned for o in a.execution.result.test_outcomes))
    with store.transaction():
        for sample in range(100, 100 + 3 * max(count, 1)):  # most attempts now fail alike
            copy = store.attempts.add(task, 0, sample_index=sample, model=model.model,
                                     prompt=model.prompt, completion="", program="pass",
                                     sampling=model.sampling)
            store.executions.add("attempt", copy.id, wrong)
    after = table.frame(store).set_index("id")
    assert ids and not any("test looks wrong" in before.loc[rid, "flags"] for rid in ids)
    assert all("test looks wrong" in after.loc[rid, "flags"] for rid in ids)
    others = after.index[after["task"] != task]
    assert after.loc[others, "flags"].equals(before.loc[others, "flags"])


def test_a_background_pass_that_fails_says_why_and_the_next_open_tries_again(store, monkeypatch):
    import persd.analysis.queue as queue

    monkeypatch.setattr(queue, "DERIVED", "queue-failing-pass")
    monkeypatch.setattr(queue, "SYNC_LIMIT", 2)
    values = queue._Context.values

    def broken(self, refinement_id):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(queue._Context, "values", broken)
    table = QueueTable()
    table.frame(store)
    assert table.wait(timeout_s=60) and table.error == "RuntimeError: disk on fire"
    assert table.pending == len(store.queue.states())  # none computed, none lost
    monkeypatch.setattr(queue._Context, "values", values)
    table.frame(store)
    assert table.wait(timeout_s=60) and not table.error and table.pending == 0
    assert len(table.frame(store)) == len(store.queue.states())


def test_queue_and_review_show_one_similarity_for_a_record(store):
    """Both read persd.code.diffing.code_similarity (the code below the task prompt): for
    records whose whole-program figure differs, the two tabs still print the same."""
    from persd.code.diffing import similarity
    from persd.review import review_view
    from persd_app.tabs import Stores
    from persd_app.tabs.queue_handlers import QueueHandlers, View
    from persd_app.tabs.review_render import metrics
    from persd_app.tabs.shown import percent

    table = QueueHandlers(Stores(store.path.parent)).show(
        View(session=store.name, reviewer="ana", order="id"))["table"]
    checked = 0
    for rid, shown in zip(table["id"], table["similarity"]):
        view = review_view(store, int(rid))
        if not shown or percent(similarity(view.attempt_program, view.current_program)) == shown:
            continue  # the prompt changes nothing here: no test of agreement
        assert f'data-testid="similarity">{shown}</b>' in metrics(view), (rid, shown)
        checked += 1
    assert checked >= 3


def test_a_claim_on_derived_work_is_held_renewed_released_and_expires(store):
    assert store.derived.claim("queue-x", "one", lease_s=60)
    assert not store.derived.claim("queue-x", "two", lease_s=60)
    assert store.derived.claim("queue-x", "one", lease_s=0.05)    # renewed, shorter
    time.sleep(0.1)                                                # "one" died: it ran out
    assert store.derived.claim("queue-x", "two", lease_s=60)
    store.derived.release("queue-x", "one")                        # not its claim any more
    assert not store.derived.claim("queue-x", "one", lease_s=60)
    store.derived.release("queue-x", "two")
    assert store.derived.claim("queue-x", "one", lease_s=60)


def _one_app_process(path: str, start, done) -> None:
    """What an app process does on opening the Queue of a session not computed yet: a
    background pass (each record slowed down, so that the two passes overlap)."""
    import persd.analysis.queue as queue

    queue.DERIVED, queue.SYNC_LIMIT, queue.CHUNK, queue.WAIT_S = "queue-shared", 2, 3, 0.1
    values = queue._Context.values

    def slow(self, refinement_id):
        time.sleep(0.05)
        return values(self, refinement_id)

    queue._Context.values = slow
    with SessionStore(path) as opened:
        table = QueueTable()
        start.wait(60)                        # both open the Queue at once
        first = len(table.frame(opened)) + table.unshown
        began = table.pending                 # records its pass set out to compute
        finished = table.wait(timeout_s=120)
        frame = table.frame(opened)
        done.put((finished, table.computed, len(frame), table.error, first, began,
                  frame.drop(columns=["status", "reviewer", "assigned"]).to_json()))


def test_two_processes_on_one_session_compute_each_record_once(store):
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    start, done = spawn.Barrier(2), spawn.Queue()
    apps = [spawn.Process(target=_one_app_process, args=(str(store.path), start, done))
            for _ in range(2)]
    for app in apps:
        app.start()
    results = [done.get(timeout=180) for _ in apps]
    for app in apps:
        app.join(30)
    total = len(store.refinements.list())
    assert [(finished, rows, error, first) for finished, _, rows, error, first, _, _
            in results] == [(True, total, "", total)] * 2
    # Both set out to compute them; one did, the other took its results.
    assert all(began > 0 for *_, began, _ in results)
    assert sorted(computed for _, computed, *_ in results) == [0, total]
    assert results[0][-1] == results[1][-1]    # the same table in both
    assert set(store.derived.get("queue-shared")) == {r.id for r in store.refinements.list()}
