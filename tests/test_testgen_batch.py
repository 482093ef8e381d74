"""`persd make-tests --teacher-batch` against the local test server's /v1/files and
/v1/batches, and the two batch ledgers (session store, JSON file) behind one protocol."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager

import pytest

from persd.teacher.ledger import JsonBatchLedger, LedgerError
from persd.store import RecordNotFound, SessionStore, StoreError
from persd.teacher.config import BUILTIN_PRICES
from persd.teacher import TeacherConfig
from persd.teacher.batch import BATCH_DISCOUNT
from persd.testgen import MakeTestsConfig, ledger_path, make_tests, side_paths
from tests.openai_batches import kill_while_polling
from tests.openai_server import OpenAITestServer
from tests.test_testgen import EXPECTED_DROPS, EXPECTED_TESTS, ROWS, solver

MODEL = "gpt-4o-mini"  # priced, so the discount shows; listed by the server, so check() is free
ASKED = 7              # rows that reach the teacher (the others are bad or duplicate rows)


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("PERSD_BATCH_POLL_S", "0.02")
    with OpenAITestServer(solver=solver, models=[MODEL]) as running:
        yield running


@pytest.fixture
def rows_file(tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def run(rows_file, server, out_name="out.jsonl", **settings):
    config = MakeTestsConfig(str(rows_file), str(rows_file.parent / out_name), n_inputs=6,
                             min_tests=2, call_timeout_s=0.5, **settings)
    teacher = TeacherConfig(model=MODEL, base_url=server.base_url, api_key="test")
    return make_tests(config, teacher, progress=False)


def written(rows_file, out_name="out.jsonl"):
    """{task_id: row} of the output and {task_id: reason} of the rejected rows."""
    out = rows_file.parent / out_name
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    rejected = [json.loads(line) for line in side_paths(out)[0].read_text().splitlines()]
    return {r["task_id"]: r for r in rows}, {r["task_id"]: r["reason"] for r in rejected}


def only_batch(rows_file, out_name="out.jsonl"):
    (record,) = JsonBatchLedger(ledger_path(rows_file.parent / out_name)).list()
    return record


def test_batch_mode_writes_what_live_mode_writes_at_half_price(rows_file, server, capfd):
    live = run(rows_file, server, "live.jsonl")
    live_requests = len(server.chat_requests())
    summary = run(rows_file, server, teacher_batch=True)
    assert "teacher batch" not in capfd.readouterr().err  # progress=False covers the batch's bar

    assert server.batches.created == 1 and len(server.chat_requests()) == live_requests == ASKED
    assert written(rows_file) == written(rows_file, "live.jsonl")
    kept, dropped = written(rows_file)
    assert {k: v["test_list"] for k, v in kept.items()} == EXPECTED_TESTS
    assert dropped == EXPECTED_DROPS

    record = only_batch(rows_file)
    assert (record.state, record.remote_status, record.error) == ("done", "completed", None)
    assert len(record.custom_ids) == len(record.results) == ASKED
    assert (summary.calls, summary.batched, summary.cached) == (ASKED, ASKED, 0)
    assert summary.batch_ids == [record.batch_id] and summary.kept == live.kept == 3
    assert f"{ASKED} from batch {record.batch_id}" in summary.text()
    assert live.cost_usd > 0 and summary.cost_usd == pytest.approx(BATCH_DISCOUNT * live.cost_usd)
    assert summary.prompt_tokens == live.prompt_tokens
    batch_file = record_file(rows_file, record.id)
    assert batch_file.read_text().count("\n") == ASKED

    # a rerun costs nothing: no request of any kind, nothing written twice
    requests, output = len(server.requests), (rows_file.parent / "out.jsonl").read_text()
    again = run(rows_file, server, teacher_batch=True)
    assert len(server.requests) == requests and (again.calls, again.skipped) == (0, ASKED)
    assert (rows_file.parent / "out.jsonl").read_text() == output


def record_file(rows_file, submission_id):
    return rows_file.parent / f"out.batch-{submission_id}.jsonl"


def test_a_failed_batch_falls_back_to_live_calls(rows_file, server):
    server.batches.configure(fail=True)
    summary = run(rows_file, server, teacher_batch=True)
    assert server.batches.created == 1 and len(server.chat_requests()) == ASKED
    kept, dropped = written(rows_file)
    assert {k: v["test_list"] for k, v in kept.items()} == EXPECTED_TESTS
    assert dropped == EXPECTED_DROPS
    record = only_batch(rows_file)
    assert record.remote_status == "failed" and "failed validation" in record.error
    assert (summary.calls, summary.batched) == (ASKED, 0)
    full = BUILTIN_PRICES[MODEL]
    assert summary.cost_usd == pytest.approx(
        (summary.prompt_tokens * full[0] + summary.completion_tokens * full[1]) / 1e6)


def test_expired_lines_are_retried_live(rows_file, server):
    server.batches.configure(expire_lines=2)
    summary = run(rows_file, server, teacher_batch=True)
    assert server.batches.created == 1 and len(server.chat_requests()) == 2
    kept, dropped = written(rows_file)
    assert {k: v["test_list"] for k, v in kept.items()} == EXPECTED_TESTS
    assert dropped == EXPECTED_DROPS
    record = only_batch(rows_file)
    assert record.remote_status == "expired"
    assert sum("batch_expired" in r.get("error", "") for r in record.results.values()) == 2
    assert (summary.calls, summary.batched) == (ASKED, ASKED - 2)


@pytest.mark.slow
def test_kill_while_polling_then_rerun_resumes_the_same_batch(rows_file, server):
    server.batches.configure(hold=True)
    out = rows_file.parent / "out.jsonl"
    env = {**os.environ, "OPENAI_BASE_URL": server.base_url, "OPENAI_API_KEY": "test",
           "PERSD_BATCH_POLL_S": "0.05"}
    batch_id = kill_while_polling(
        ["make-tests", "--input", str(rows_file), "--output", str(out), "--teacher-model", MODEL,
         "--n-inputs", "6", "--min-tests", "2", "--call-timeout", "0.5", "--teacher-batch"],
        env, server.batches, timeout_s=60)
    record = only_batch(rows_file)
    assert (record.state, record.batch_id) == ("submitted", batch_id)
    assert not out.exists() or out.read_text() == ""

    server.batches.release()
    summary = run(rows_file, server, teacher_batch=True)
    assert server.batches.created == 1 and server.chat_requests() == []
    assert summary.batch_ids == [batch_id] and summary.batched == ASKED
    kept, dropped = written(rows_file)
    assert {k: v["test_list"] for k, v in kept.items()} == EXPECTED_TESTS
    assert dropped == EXPECTED_DROPS
    assert only_batch(rows_file).state == "done"


@pytest.fixture(params=["session", "json"])
def ledger(request, tmp_path):
    if request.param == "json":
        yield JsonBatchLedger(tmp_path / "out.batches.json")
    else:
        with SessionStore(tmp_path / "s.sqlite") as store:
            yield store.teacher_batches


@contextmanager
def reopened(ledger, tmp_path):
    if isinstance(ledger, JsonBatchLedger):
        yield JsonBatchLedger(ledger.path)
    else:
        with SessionStore(tmp_path / "s.sqlite") as store:
            yield store.teacher_batches


def test_both_ledgers_keep_submissions_alike(ledger, tmp_path):
    first = ledger.add("sub-1", round=0, model="m", custom_ids=["a", "b"])
    assert (first.state, first.batch_id, first.custom_ids, first.results) == \
        ("creating", None, ["a", "b"], None)
    ledger.add("sub-2", round=1, model="m", custom_ids=["c"])
    ledger.update("sub-1", input_file_id="file-1")
    ledger.update("sub-1", state="submitted", batch_id="batch_1", remote_status="validating")
    done = ledger.update("sub-2", state="done", results={"c": {"reply": "x"}},
                         request_counts={"total": 1, "completed": 1, "failed": 0})
    assert done.results == {"c": {"reply": "x"}} and done.updated_at >= done.created_at
    with pytest.raises(StoreError, match="cannot be set: round"):
        ledger.update("sub-1", round=3)
    with pytest.raises(StoreError, match="unknown teacher batch state 'lost'"):
        ledger.update("sub-1", state="lost")
    with pytest.raises(RecordNotFound):
        ledger.update("sub-9", state="done")
    assert ledger.input_path("sub-1").parent == tmp_path

    with reopened(ledger, tmp_path) as again:
        assert [r.id for r in again.list()] == ["sub-1", "sub-2"]
        (open_one,) = again.list(round=0, states=("creating", "submitted"))
        assert (open_one.batch_id, open_one.input_file_id, open_one.remote_status) == \
            ("batch_1", "file-1", "validating")
        assert again.list(round=1, states=("submitted",)) == []
        assert again.list(states=("done",))[0].request_counts["completed"] == 1


def test_json_ledger_is_replaced_whole_and_refuses_a_damaged_file(tmp_path):
    path = tmp_path / "out.batches.json"
    ledger = JsonBatchLedger(path)
    ledger.add("sub-1", round=0, model="m", custom_ids=["a"])
    assert [p.name for p in tmp_path.iterdir()] == ["out.batches.json"]  # no temp file left
    assert ledger.input_path("sub-1").name == "out.batch-sub-1.jsonl"
    path.write_text(path.read_text()[:-20])
    with pytest.raises(LedgerError, match="out.batches.json: not a persd batch ledger"):
        JsonBatchLedger(path)
