"""The teacher through OpenAI's Batch API: half the price, answers within 24 hours.

    persd collect ... --teacher-batch        # PERSD_BATCH_POLL_S sets the poll interval
    persd make-tests ... --teacher-batch

    teacher = BatchTeacher(TeacherConfig(model="gpt-4o-mini"), progress=False)
    jobs = [asyncio.ensure_future(teacher.refine(task, code, feedback, validate)) ...]
    await asyncio.sleep(0)                   # every job reaches its first request
    await teacher.flush(store, round=1)      # one batch for all of them; jobs then finish
    results = await asyncio.gather(*jobs)

A `BatchTeacher` is an `OpenAITeacher` whose first-turn requests (refine, solve, and
make-tests' tests) wait until `flush` sends them all as one batch: a JSONL file beside the
ledger (custom_id = a hash of the request, so identical requests are sent once), uploaded
with `files.create(purpose="batch")`, then `batches.create(endpoint="/v1/chat/completions",
completion_window="24h")`, polled with `batches.retrieve` under a progress bar (off with
`progress=False`), and read back with `files.content`. Each answer then goes through the
ordinary path, as a live reply would: the response cache, validation by the caller,
retries (second tries) as live calls, storage by the caller. Answers are priced at
`BATCH_DISCOUNT` times the live price table and carry the batch's id (`TeacherCall.
batch_id`, kept in the session's call log). Requests the batch did not answer (the batch
failed, lines expired or errored, an endpoint without a Batch API) are sent live.

A ledger (persd.teacher.ledger: the session store for collect, a JSON file for make-tests)
records each submission before the batch is created, then its batch id, then its
downloaded answers. A run killed while polling resumes polling the same batch when run
again; answers downloaded by a run that then died are used without asking again. Before
creating a batch, the batch list is searched for one a killed run created but did not
record; an endpoint that cannot list batches still gets its batch, with a warning that
such a batch would not be found again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from persd.teacher.base import TeacherCall
from persd.teacher.cache import cache_key
from persd.teacher.config import TeacherConfig
from persd.teacher.openai import OpenAITeacher

if TYPE_CHECKING:
    from persd.store import TeacherBatchRecord
    from persd.teacher.ledger import BatchLedger

BATCH_DISCOUNT = 0.5       # OpenAI bills Batch API tokens at half the live price
DEFAULT_POLL_S = 30.0
TERMINAL = ("completed", "failed", "expired", "cancelled")
# Requests known before any reply; a retry needs the reply before it, so it goes live.
FIRST_TURNS = ("refine", "solve", "tests")
logger = logging.getLogger(__name__)


@dataclass
class _Waiting:
    request: dict[str, Any]
    future: asyncio.Future


@dataclass
class BatchStats:
    """What the batch phase did, for summaries and tests."""

    created: list[str] = field(default_factory=list)     # batch ids created by this run
    resumed: list[str] = field(default_factory=list)     # batch ids an earlier run created
    answered: int = 0                                    # requests answered from a batch
    sent_live: int = 0                                   # first-turn requests sent live instead


class BatchTeacher(OpenAITeacher):
    """An OpenAITeacher whose first-turn requests go out as one Batch API job; see the module."""

    def __init__(self, config: TeacherConfig, cache=None, poll_interval_s: float | None = None,
                 progress: bool = True):
        super().__init__(config, cache)
        env = os.environ.get("PERSD_BATCH_POLL_S")
        self.poll_interval_s = poll_interval_s if poll_interval_s is not None else float(env or DEFAULT_POLL_S)
        self.progress = progress
        self.stats = BatchStats()
        self._waiting: dict[str, _Waiting] = {}
        self._answers: dict[str, dict[str, Any]] = {}
        self._flushed = False  # after flush, new first-turn requests go live (nothing would send them)

    async def ask(self, messages: list[dict], purpose: str) -> TeacherCall:
        if purpose not in FIRST_TURNS:
            return await super().ask(messages, purpose)
        request = self._request(messages)
        custom_id = _custom_id(request)
        if self.cache is not None and self.cache.get(cache_key(request)) is not None:
            return await super().ask(messages, purpose)  # a reply this session already has
        answer = self._answers.get(custom_id)
        if answer is None and self._flushed:
            answer = {"error": "asked after the batch was sent"}
        if answer is None:
            if custom_id not in self._waiting:
                future = asyncio.get_running_loop().create_future()
                self._waiting[custom_id] = _Waiting(request, future)
            answer = await asyncio.shield(self._waiting[custom_id].future)
        if "reply" not in answer:
            self.stats.sent_live += 1
            return await super().ask(messages, purpose)
        return self._batch_call(messages, purpose, answer)

    async def flush(self, ledger: BatchLedger, round: int) -> None:
        """Answers every waiting request: from earlier batches of this round, a resumed one,
        or one new batch; what no batch answers is marked to go live. `ledger` keeps the
        submissions: the session store, or a `persd.teacher.ledger.JsonBatchLedger`."""
        open_states = ("creating", "submitted")
        if not self._waiting and not ledger.list(round=round, states=open_states):
            self._flushed = True
            return
        try:
            for record in ledger.list(round=round, states=("done",)):
                self._learn(record)
            for record in ledger.list(round=round, states=open_states):
                self._learn(await self._finish(ledger, record))
            rest = {cid: w for cid, w in self._waiting.items() if cid not in self._answers}
            if rest:
                self._learn(await self._finish(ledger, await self._submit(ledger, round, rest)))
        finally:  # whatever happened, no request waits forever: unanswered ones go live
            for custom_id, waiting in self._waiting.items():
                if not waiting.future.done():
                    waiting.future.set_result(self._answers.get(custom_id, {"error": "not sent"}))
            self._waiting.clear()
            self._flushed = True

    # -- one submission: write, upload, create, poll, download ----------------------------

    async def _submit(self, ledger: BatchLedger, round: int,
                      rest: dict[str, _Waiting]) -> TeacherBatchRecord:
        submission = f"sub-{uuid.uuid4().hex[:16]}"
        record = ledger.add(submission, round=round, model=self.model,
                                          custom_ids=list(rest))
        path = ledger.input_path(submission)
        lines = [{"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": w.request}
                 for cid, w in rest.items()]
        path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), encoding="utf-8")
        try:
            uploaded = await self._api().files.create(
                file=(path.name, path.read_bytes(), "application/jsonl"), purpose="batch")
        except Exception as error:
            return self._give_up(ledger, record, "cannot upload the batch file", error)
        return ledger.update(submission, input_file_id=uploaded.id)

    async def _finish(self, ledger: BatchLedger, record: TeacherBatchRecord) -> TeacherBatchRecord:
        """Creates the batch if it does not exist yet, polls it to the end, downloads it."""
        if record.state == "done":
            return record
        if record.batch_id is None:
            if record.input_file_id is None:  # died before the upload: nothing was sent
                return ledger.update(record.id, state="done", error="never uploaded")
            record = await self._create(ledger, record)
            if record.state == "done":
                return record
        else:
            self.stats.resumed.append(record.batch_id)
        try:
            batch = await self._poll(ledger, record)
            results = await self._download(batch)
        except Exception as error:
            return self._give_up(ledger, record, f"batch {record.batch_id} could not be read", error)
        failure = _batch_errors(batch)
        return ledger.update(record.id, state="done", remote_status=batch.status,
                                           results=results, error=failure)

    async def _create(self, ledger: BatchLedger, record: TeacherBatchRecord) -> TeacherBatchRecord:
        client = self._api()
        try:
            existing = await self._find(record.id)  # created, but the run died before saving its id
        except Exception as error:
            if self._fatal(error) is not None and not isinstance(error, _not_found()):
                return self._give_up(ledger, record, "cannot list batches", error)
            # Some OpenAI-compatible endpoints create and poll batches but cannot list them.
            logger.warning("persd: %s; creating the batch anyway (a run that dies before "
                           "saving its id cannot find it again and sends its requests again)",
                           self._where(f"cannot list batches: {type(error).__name__}: "
                                       f"{getattr(error, 'message', None) or error}"))
            existing = None
        try:
            batch = existing or await client.batches.create(
                input_file_id=record.input_file_id, endpoint="/v1/chat/completions",
                completion_window="24h", metadata={"persd_submission": record.id})
        except Exception as error:
            return self._give_up(ledger, record, "cannot create the batch", error)
        if existing is None:
            self.stats.created.append(batch.id)
        return ledger.update(record.id, state="submitted", batch_id=batch.id,
                                           remote_status=batch.status)

    async def _find(self, submission: str):
        async for batch in self._api().batches.list(limit=100):
            if (batch.metadata or {}).get("persd_submission") == submission:
                return batch
        return None

    async def _poll(self, ledger: BatchLedger, record: TeacherBatchRecord):
        client = self._api()
        bar = tqdm(total=len(record.custom_ids), desc=f"teacher batch {record.batch_id}", unit="req",
                   disable=not self.progress, dynamic_ncols=True)
        status = record.remote_status
        try:
            while True:
                batch = await client.batches.retrieve(record.batch_id)
                counts = batch.request_counts
                if counts is not None:
                    bar.n = counts.completed + counts.failed
                bar.set_postfix_str(batch.status)
                if batch.status != status:
                    status = batch.status
                    ledger.update(record.id, remote_status=status, request_counts=(
                        counts.model_dump() if counts is not None else None))
                if batch.status in TERMINAL:
                    return batch
                await asyncio.sleep(self.poll_interval_s)
        finally:
            bar.close()

    async def _download(self, batch) -> dict[str, dict[str, Any]]:
        results: dict[str, dict[str, Any]] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            content = await self._api().files.content(file_id)
            for line in content.text.splitlines():
                if line.strip():
                    row = json.loads(line)
                    results[row["custom_id"]] = _answer(row)
        return results

    # -- bookkeeping -----------------------------------------------------------------------

    def _learn(self, record: TeacherBatchRecord) -> None:
        """Takes the answers of a finished submission; a request it held but did not answer
        goes live (it is never batched twice)."""
        if record.batch_id is None:
            return  # never created: its requests may go in a new batch
        results = record.results or {}
        for custom_id in record.custom_ids:
            if custom_id in self._answers:
                continue
            why = record.error or f"batch {record.batch_id} ended {record.remote_status} without it"
            answer = results.get(custom_id) or {"error": why}
            self._answers[custom_id] = {**answer, "batch_id": record.batch_id}
        self.stats.answered += sum(1 for cid in record.custom_ids if "reply" in results.get(cid, {}))

    def _give_up(self, ledger: BatchLedger, record: TeacherBatchRecord, what: str,
                 error: Exception) -> TeacherBatchRecord:
        fatal = self._fatal(error)
        if fatal is not None and not isinstance(error, _not_found()):
            raise fatal from error
        message = f"{what}: {type(error).__name__}: {getattr(error, 'message', None) or error}"
        logger.warning("persd: %s; its requests are sent live", self._where(message))
        return ledger.update(record.id, state="done", error=message)

    def _batch_call(self, messages: list[dict], purpose: str,
                    answer: dict[str, Any]) -> TeacherCall:
        reused = answer.get("used", False)  # an identical request answered once, paid once
        answer["used"] = True
        prompt_tokens, completion_tokens = answer.get("prompt_tokens", 0), answer.get("completion_tokens", 0)
        price = self.config.price(self.model) or self.config.price(answer.get("model") or "")
        cost = 0.0
        if price and not reused:
            cost = BATCH_DISCOUNT * (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6
        if self.cache is not None and answer["reply"] and not reused:  # as a live reply is kept
            self.cache.put(cache_key(self._request(messages)), {
                "reply": answer["reply"], "model": answer.get("model"),
                "prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens})
        return TeacherCall(purpose, self.model, messages, answer["reply"], prompt_tokens,
                                completion_tokens, cost, price is not None, cached=reused,
                                batch_id=answer.get("batch_id"))

    def _request(self, messages: list[dict]) -> dict[str, Any]:
        """The same request (and so the same cache key) as OpenAITeacher.ask sends."""
        request: dict[str, Any] = {"model": self.model, "messages": messages,
                                   "temperature": self.config.temperature}
        if self.config.max_tokens is not None:
            request["max_tokens"] = self.config.max_tokens
        return request

    def _api(self):
        return self._connect()[0]


def _custom_id(request: dict[str, Any]) -> str:
    return f"persd-{cache_key(request)[:40]}"


def _answer(row: dict[str, Any]) -> dict[str, Any]:
    """One line of a batch output or error file, as the session keeps it."""
    response, error = row.get("response"), row.get("error")
    if error is None and response and response.get("status_code") == 200:
        body = response.get("body") or {}
        choices = body.get("choices") or [{}]
        usage = body.get("usage") or {}
        return {"reply": (choices[0].get("message") or {}).get("content") or "",
                "model": body.get("model"), "prompt_tokens": usage.get("prompt_tokens", 0),
                "completion_tokens": usage.get("completion_tokens", 0)}
    if error:
        return {"error": f"{error.get('code')}: {error.get('message')}"}
    detail = ((response or {}).get("body") or {}).get("error") or {}
    return {"error": f"HTTP {(response or {}).get('status_code')}: {detail.get('message', 'failed')}"}


def _batch_errors(batch) -> str | None:
    if batch.status == "completed":
        return None
    found = [f"{e.code}: {e.message}" for e in ((batch.errors.data or []) if batch.errors else [])]
    return f"batch {batch.id} {batch.status}" + (f": {'; '.join(found[:3])}" if found else "")


def _not_found():
    import openai

    return openai.NotFoundError
