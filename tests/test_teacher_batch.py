"""The teacher's Batch API mode in the collection loop, against the local test server's
/v1/files and /v1/batches: answers at half price, fallbacks to live calls, resumption."""

from __future__ import annotations

import os

import pytest

from persd.collect import CollectConfig, collect
from persd.store import SessionStore
from persd.tasks import load_tasks
from persd.teacher.config import BUILTIN_PRICES
from persd.teacher.batch import BATCH_DISCOUNT
from tests.openai_batches import kill_while_polling
from tests.openai_server import OpenAITestServer

TASKS = 6
MODEL = "gpt-4o-mini"  # a model with a price, so the discount shows


@pytest.fixture(scope="module")
def humaneval():
    return load_tasks("humaneval")[:TASKS]


@pytest.fixture()
def server(humaneval, monkeypatch):
    with OpenAITestServer(tasks=humaneval, models=[MODEL]) as server:
        monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("PERSD_BATCH_POLL_S", "0.02")
        yield server


def _config(tmp_path, tiny_model_dir, **overrides) -> CollectConfig:
    settings = dict(session="b", tasks="humaneval", student=tiny_model_dir, teacher_model=MODEL,
                    limit=TASKS, max_new_tokens=16, sessions_dir=str(tmp_path), workers=1,
                    teacher_batch=True)
    return CollectConfig(**{**settings, **overrides})


def _price(call, discount: float) -> float:
    cost_in, cost_out = BUILTIN_PRICES[MODEL]
    return discount * (call.prompt_tokens * cost_in + call.completion_tokens * cost_out) / 1e6


def _check_costs(store: SessionStore, live: int) -> None:
    """`live` calls at the full price, the others at the batch price."""
    calls = [c for c in store.teacher_calls.list() if not c.cached]
    full = [c for c in calls if c.cost_usd == pytest.approx(_price(c, 1.0))]
    half = [c for c in calls if c.cost_usd == pytest.approx(_price(c, BATCH_DISCOUNT))]
    assert len(full) == live and len(half) == len(calls) - live
    assert store.teacher_calls.cost(round=1) == pytest.approx(sum(c.cost_usd for c in calls))


def _finished(summary, store: SessionStore) -> None:
    assert summary.complete and summary.failed > 0
    assert summary.refined == summary.validated == summary.failed
    assert store.pending.work(1).done


def test_batch_answers_every_first_request_at_half_price(tmp_path, tiny_model_dir, server, capfd):
    server.inject("wrong_code", count=2)  # two batch answers fail validation: their retries go live
    summary = collect(_config(tmp_path, tiny_model_dir), progress=False)
    assert "teacher batch" not in capfd.readouterr().err  # progress=False: no polling bar either
    assert server.batches.created == 1
    live = server.chat_requests()
    assert len(live) == 2 and all(body["messages"][-1]["role"] == "user" for body in live)
    with SessionStore.open(tmp_path, "b") as store:
        _finished(summary, store)
        (record,) = store.teacher_batches.list(round=1)
        assert record.state == "done" and record.remote_status == "completed" and not record.error
        assert len(record.custom_ids) == summary.failed and len(record.results) == summary.failed
        refinements = store.refinements.list(round=1)
        assert sorted(r.tries for r in refinements) == [1] * (summary.failed - 2) + [2, 2]
        _check_costs(store, live=2)
        calls = store.teacher_calls.list(round=1)
        assert sorted(c.batch_id or "live" for c in calls) == \
            [record.batch_id] * summary.failed + ["live"] * 2  # the call log says which came how
        assert all((c.batch_id is None) == (c.purpose == "retry") for c in calls)
    assert (tmp_path / f"b.batch-{record.id}.jsonl").read_text().count("\n") == summary.failed


def test_failed_batch_falls_back_to_live_calls(tmp_path, tiny_model_dir, server):
    server.batches.configure(fail=True)
    summary = collect(_config(tmp_path, tiny_model_dir), progress=False)
    assert server.batches.created == 1 and len(server.chat_requests()) == summary.failed
    with SessionStore.open(tmp_path, "b") as store:
        _finished(summary, store)
        (record,) = store.teacher_batches.list(round=1)
        assert record.remote_status == "failed" and "failed validation" in record.error
        _check_costs(store, live=summary.failed)


def test_an_endpoint_that_cannot_list_batches_still_gets_one(tmp_path, tiny_model_dir, server,
                                                              caplog):
    server.batches.configure(listing=False)
    with caplog.at_level("WARNING", logger="persd.teacher.batch"):
        summary = collect(_config(tmp_path, tiny_model_dir), progress=False)
    assert server.batches.created == 1 and server.chat_requests() == []
    warnings = [r.getMessage() for r in caplog.records if "cannot list batches" in r.getMessage()]
    assert len(warnings) == 1 and "creating the batch anyway" in warnings[0]
    assert "cannot find it again" in warnings[0]
    with SessionStore.open(tmp_path, "b") as store:
        _finished(summary, store)
        (record,) = store.teacher_batches.list(round=1)
        assert record.remote_status == "completed" and not record.error
        _check_costs(store, live=0)


def test_expired_lines_are_retried_live(tmp_path, tiny_model_dir, server):
    server.batches.configure(expire_lines=2)
    summary = collect(_config(tmp_path, tiny_model_dir), progress=False)
    assert server.batches.created == 1 and len(server.chat_requests()) == 2
    with SessionStore.open(tmp_path, "b") as store:
        _finished(summary, store)
        (record,) = store.teacher_batches.list(round=1)
        assert record.remote_status == "expired"
        expired = [r for r in record.results.values() if "batch_expired" in r.get("error", "")]
        assert len(expired) == 2
        _check_costs(store, live=2)


@pytest.mark.slow
def test_kill_while_polling_then_rerun_resumes_the_same_batch(tmp_path, tiny_model_dir, server):
    server.batches.configure(hold=True)
    env = {**os.environ, "PERSD_BATCH_POLL_S": "0.05"}
    batch_id = kill_while_polling(
        ["collect", "--session", "b", "--student", tiny_model_dir, "--teacher-model", MODEL,
         "--limit", str(TASKS), "--max-new-tokens", "16", "--workers", "1", "--teacher-batch",
         "--sessions-dir", str(tmp_path)], env, server.batches)
    with SessionStore.open(tmp_path, "b") as store:
        (record,) = store.teacher_batches.list(round=1)
        assert record.state == "submitted" and record.batch_id == batch_id
        assert store.refinements.list(round=1) == []

    server.batches.release()
    summary = collect(_config(tmp_path, tiny_model_dir), progress=False)
    assert server.batches.created == 1 and server.chat_requests() == []
    with SessionStore.open(tmp_path, "b") as store:
        _finished(summary, store)
        (record,) = store.teacher_batches.list(round=1)
        assert record.state == "done" and record.batch_id == batch_id
        _check_costs(store, live=0)


def test_rerun_after_the_batch_costs_nothing(tmp_path, tiny_model_dir, server):
    first = collect(_config(tmp_path, tiny_model_dir), progress=False)
    again = collect(_config(tmp_path, tiny_model_dir), progress=False)
    assert again.complete and again.validated == first.validated
    assert server.batches.created == 1 and server.chat_requests() == []
