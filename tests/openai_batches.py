"""The Files and Batch APIs of the test server (tests/openai_server.py), in OpenAI's shapes.

    server.batches.configure(delay_s=0.5)          # a batch completes 0.5 s after creation
    server.batches.configure(fail=True)            # the next batches fail validation
    server.batches.configure(expire_lines=2)       # the last 2 lines of a batch expire
    server.batches.configure(hold=True)            # batches stay in progress ...
    server.batches.configure(listing=False)        # GET /v1/batches answers 404
    server.batches.release()                       # ... until released
    server.batches.created                         # how many batches were created

Routes: POST /v1/files (multipart upload), GET /v1/files/{id}, GET /v1/files/{id}/content,
POST /v1/batches, GET /v1/batches (list), GET /v1/batches/{id}. A created batch is
"validating", then "in_progress" while a worker thread waits `delay_s` and answers each
line with the server's chat route (so solvers and queued faults apply, without the
per-request latency); then "completed", or "expired" with the expired lines in the error
file (`batch_expired`), as OpenAI does. A line whose chat request fails goes to the error
file with its status code and error body.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.openai_server import OpenAITestServer

TERMINAL = ("completed", "failed", "expired", "cancelled")


class BatchAPI:
    def __init__(self, server: OpenAITestServer):
        self.server = server
        self.files: dict[str, dict[str, Any]] = {}       # id -> {"meta": FileObject, "data": bytes}
        self.batches: dict[str, dict[str, Any]] = {}
        self.created = 0
        self.retrievals = 0
        self.delay_s = 0.0
        self.fail = False
        self.expire_lines = 0
        self.listing = True
        self._released = threading.Event()
        self._released.set()
        self._lock = threading.Lock()

    def configure(self, delay_s: float | None = None, fail: bool | None = None,
                  expire_lines: int | None = None, hold: bool | None = None,
                  listing: bool | None = None) -> None:
        self.listing = self.listing if listing is None else listing
        if hold is not None:
            self._released.clear() if hold else self._released.set()
        with self._lock:
            self.delay_s = self.delay_s if delay_s is None else delay_s
            self.fail = self.fail if fail is None else fail
            self.expire_lines = self.expire_lines if expire_lines is None else expire_lines

    def release(self) -> None:
        """Lets held batches finish."""
        self._released.set()

    def routes(self) -> dict[tuple[str, str], Any]:
        return {
            ("POST", "/v1/files"): self._upload,
            ("GET", "/v1/files/{id}"): self._file,
            ("GET", "/v1/files/{id}/content"): self._content,
            ("POST", "/v1/batches"): self._create,
            ("GET", "/v1/batches"): self._list,
            ("GET", "/v1/batches/{id}"): self._retrieve,
        }

    # --- files -------------------------------------------------------------------------

    def add_file(self, data: bytes, filename: str, purpose: str) -> dict:
        file_id = f"file-{uuid.uuid4().hex[:16]}"
        meta = {"id": file_id, "object": "file", "bytes": len(data), "created_at": int(time.time()),
                "filename": filename, "purpose": purpose, "status": "processed"}
        with self._lock:
            self.files[file_id] = {"meta": meta, "data": data}
        return meta

    def _upload(self, body: dict | None) -> dict:
        from tests.openai_server import HTTPError

        if not isinstance(body, dict) or not isinstance(body.get("file"), bytes):
            raise HTTPError(400, "a multipart upload with a file is required", "invalid_request_error")
        return self.add_file(body["file"], body.get("filename") or "upload.jsonl",
                             body.get("purpose") or "batch")

    def _lookup(self, file_id: str) -> dict:
        from tests.openai_server import HTTPError

        with self._lock:
            found = self.files.get(file_id)
        if found is None:
            raise HTTPError(404, f"No such File object: {file_id}", "not_found")
        return found

    def _file(self, body: dict | None, id: str) -> dict:
        return self._lookup(id)["meta"]

    def _content(self, body: dict | None, id: str) -> bytes:
        return self._lookup(id)["data"]

    # --- batches -----------------------------------------------------------------------

    def _create(self, body: dict | None) -> dict:
        from tests.openai_server import HTTPError

        body = body or {}
        if body.get("endpoint") != "/v1/chat/completions" or body.get("completion_window") != "24h":
            raise HTTPError(400, "endpoint must be /v1/chat/completions and completion_window 24h",
                            "invalid_request_error")
        lines = [json.loads(line) for line in
                 self._lookup(body.get("input_file_id", ""))["data"].decode().splitlines() if line.strip()]
        batch_id = f"batch_{uuid.uuid4().hex[:16]}"
        batch = {
            "id": batch_id, "object": "batch", "endpoint": body["endpoint"],
            "input_file_id": body["input_file_id"], "completion_window": "24h",
            "status": "validating", "created_at": int(time.time()), "metadata": body.get("metadata"),
            "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            "output_file_id": None, "error_file_id": None, "errors": None,
        }
        with self._lock:
            self.created += 1
            self.batches[batch_id] = batch
            options = (self.delay_s, self.fail, self.expire_lines)
        threading.Thread(target=self._process, args=(batch, lines, *options), daemon=True).start()
        return dict(batch)

    def _list(self, body: dict | None) -> dict:
        from tests.openai_server import HTTPError

        if not self.listing:  # as some OpenAI-compatible servers do
            raise HTTPError(404, "Not Found", "not_found")
        with self._lock:
            data = [dict(b) for b in sorted(self.batches.values(), key=lambda b: -b["created_at"])]
        return {"object": "list", "data": data, "has_more": False,
                "first_id": data[0]["id"] if data else None, "last_id": data[-1]["id"] if data else None}

    def _retrieve(self, body: dict | None, id: str) -> dict:
        from tests.openai_server import HTTPError

        with self._lock:
            self.retrievals += 1
            batch = self.batches.get(id)
            if batch is None:
                raise HTTPError(404, f"No such Batch object: {id}", "not_found")
            return json.loads(json.dumps(batch))

    def _process(self, batch: dict, lines: list[dict], delay_s: float, fail: bool, expire: int) -> None:
        if fail:
            self._set(batch, status="failed", failed_at=int(time.time()), errors={"object": "list", "data": [
                {"code": "invalid_request", "message": "The batch failed validation (injected).",
                 "line": 1, "param": None}]})
            return
        self._set(batch, status="in_progress", in_progress_at=int(time.time()))
        if self.server._stopping.wait(delay_s):
            return
        while not self._released.wait(0.05):
            if self.server._stopping.is_set():
                return
        done, errors = [], []
        answered = lines[: max(0, len(lines) - expire)]
        for line in answered:
            outcome = self._answer(line)
            (done if outcome["error"] is None and outcome["response"]["status_code"] == 200
             else errors).append(outcome)
            counts = batch["request_counts"]
            self._set(batch, request_counts={**counts, "completed": len(done), "failed": len(errors)})
        for line in lines[len(answered):]:
            errors.append({"id": f"batch_req_{uuid.uuid4().hex[:12]}", "custom_id": line.get("custom_id"),
                           "response": None, "error": {"code": "batch_expired", "message":
                           "This request could not be executed before the completion window expired."}})
        self._set(batch, status="finalizing", finalizing_at=int(time.time()))
        final = {"status": "expired", "expired_at": int(time.time())} if expire else \
            {"status": "completed", "completed_at": int(time.time())}
        if done:
            final["output_file_id"] = self.add_file(_jsonl(done), "batch_output.jsonl", "batch_output")["id"]
        if errors:
            final["error_file_id"] = self.add_file(_jsonl(errors), "batch_errors.jsonl", "batch_output")["id"]
        final["request_counts"] = {"total": len(lines), "completed": len(done), "failed": len(errors)}
        self._set(batch, **final)

    def _answer(self, line: dict) -> dict:
        from tests.openai_server import HTTPError

        request_id = f"req_{uuid.uuid4().hex[:12]}"
        try:
            body = self.server._reply(line.get("body"), wait=False)
            response = {"status_code": 200, "request_id": request_id, "body": body}
        except HTTPError as error:
            response = {"status_code": error.status, "request_id": request_id, "body": {"error": {
                "message": str(error), "type": error.code, "code": error.code}}}
        return {"id": f"batch_req_{uuid.uuid4().hex[:12]}", "custom_id": line.get("custom_id"),
                "response": response, "error": None}

    def _set(self, batch: dict, **changes: Any) -> None:
        with self._lock:
            batch.update(changes)


def _jsonl(rows: list[dict]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def kill_while_polling(cli_args: list[str], env: dict, batches: BatchAPI, timeout_s: float = 120) -> str:
    """Runs `persd CLI_ARGS` until it has polled its batch a few times, kills it with
    SIGKILL, and returns the id of the one batch it created."""
    import signal
    import subprocess
    import sys

    process = subprocess.Popen([sys.executable, "-m", "persd.cli", *cli_args], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + timeout_s
        while batches.retrievals < 3:  # it is polling the batch it created
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "the run never started polling"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        process.wait()
    (batch_id,) = batches.batches
    return batch_id
