"""persd's sandbox and judge as an HTTP service (`persd sandbox serve`).

    from persd.execution import Executor
    from persd.execution.service import SandboxService
    with Executor() as ex, SandboxService(ex, port=8080) as service:   # 127.0.0.1 by default
        service.serve_forever()          # or service.start(): in a thread of its own

Endpoints (JSON in, JSON out):
  POST /persd/run   {"program", "test", "context"} -> ExecutionResult.to_dict(): persd's
                    verdict, the judge owning the test (everything `Executor.run` gives).
  POST /persd/run_many  {"jobs": [{"program", "test", "context"}, ...]} -> {"results": [...]}:
                    several programs in one request, run in parallel, results in order.
  GET  /persd/info  {"workers", "limits", "protocol", "isolation"}: what clients check.
  POST /run_code    SandboxFusion's request ({"code", "language": "python", "run_timeout",
                    "memory_limit_MB", "stdin", "files", ...}) and response ({"status":
                    "Success"|"Failed"|"SandboxError", "run_result": {"status": "Finished"|
                    "TimeLimitExceeded", "return_code", "stdout", "stderr", ...}}), so veRL's
                    `sandbox_fusion` reward and other SandboxFusion clients run unchanged.
                    `code` runs as one program: its own asserts decide, as under
                    SandboxFusion. A persd field `test` (and `context`, the task's prompt)
                    hands the asserts to the judge instead; the reply's `persd` field holds
                    the full result either way.
  GET  /v1/ping     "pong", as SandboxFusion answers.

The service's limits (`--timeout-s`, `--memory-mb`) apply to every request: a request's
`run_timeout` or `memory_limit_MB` does not change them. Python only; no stdin, no
extra files (such requests are answered `SandboxError`, saying why).

Security: it binds 127.0.0.1 unless told otherwise, and refuses to bind any other
address without a token; with a token, every request must carry
`Authorization: Bearer TOKEN`. Requests over `max_request_bytes` are refused (413)
before they are read; a program or test over the Executor's own cap is an `error`.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import threading
from collections import Counter
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

logger = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 4 * 1024 * 1024
PYTHON = ("python", "python3")
# SandboxFusion's run_result for each persd status: (status, return_code).
RUN_STATUS = {"passed": ("Finished", 0), "failed": ("Finished", 1), "error": ("Finished", 1),
              "memory": ("Finished", 1), "killed": ("Finished", -9), "timeout": ("TimeLimitExceeded", None)}


def is_loopback(host: str) -> bool:
    """Whether `host` (a name or an address, IPv6 in brackets or not) is this machine's loopback."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def fusion_reply(result) -> dict:
    """A SandboxFusion /run_code response for a persd ExecutionResult."""
    status, code = RUN_STATUS[result.status]
    return {"status": "Success" if result.passed else "Failed", "message": "", "compile_result": None,
            "run_result": {"status": status, "execution_time": result.duration_s, "return_code": code,
                           "stdout": result.output, "stderr": result.feedback},
            "executor_pod_name": None, "files": {}, "persd": result.to_dict()}


def fusion_error(message: str) -> dict:
    return {"status": "SandboxError", "message": message, "compile_result": None, "run_result": None,
            "executor_pod_name": None, "files": {}}


class SandboxService:
    """An HTTP server in front of one Executor (local, or any with its interface)."""

    def __init__(self, executor, host: str = "127.0.0.1", port: int = 8080, token: str | None = None,
                 max_request_bytes: int = MAX_REQUEST_BYTES) -> None:
        if not is_loopback(host) and not token:
            raise ValueError(f"a token is required to serve on {host} (only loopback addresses serve without one)")
        self.executor = executor
        self.token = token
        self.max_request_bytes = max_request_bytes
        self._thread: threading.Thread | None = None
        self.served: Counter[str] = Counter()  # requests answered, by path
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), _handler(self))
        self.server.daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def info(self) -> dict:
        return {"workers": self.executor.workers, "limits": self.executor.limits,
                "protocol": self.executor.protocol, "isolation": self.executor.isolation}

    def serve_forever(self) -> None:
        self.server.serve_forever()

    def start(self) -> "SandboxService":
        self._thread = threading.Thread(target=self.serve_forever, name="persd-sandbox-service", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self.server.shutdown()
            self._thread.join()
        self.server.server_close()

    def __enter__(self) -> "SandboxService":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def run_persd(self, body: dict) -> dict:
        program, test, context = body.get("program"), body.get("test", ""), body.get("context", "")
        return self.executor.run(program, test, context if isinstance(context, str) else "").to_dict()

    def run_persd_many(self, body: dict) -> dict:
        jobs = body.get("jobs")
        if not isinstance(jobs, list) or not all(isinstance(job, dict) for job in jobs):
            return {"error": "`jobs` must be a list of {program, test, context} objects"}
        texts = [(job.get("program"), job.get("test", ""), job.get("context", "")) for job in jobs]
        results = self.executor.run_many([(p, t, c if isinstance(c, str) else "") for p, t, c in texts])
        return {"results": [result.to_dict() for result in results]}

    def run_code(self, body: dict) -> dict:
        language = body.get("language", "python")
        if language not in PYTHON:
            return fusion_error(f"this persd sandbox runs Python only, not {language!r}")
        if body.get("stdin"):
            return fusion_error("this persd sandbox does not feed stdin: send the inputs as asserts in `test`")
        if body.get("files") or body.get("fetch_files"):
            return fusion_error("this persd sandbox takes no extra files")
        context = body.get("context", "")
        result = self.executor.run(body.get("code"), body.get("test", ""), context if isinstance(context, str) else "")
        return fusion_reply(result)


def _handler(service: SandboxService):
    posts = {"/persd/run": service.run_persd, "/persd/run_many": service.run_persd_many,
             "/run_code": service.run_code}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args) -> None:
            logger.debug("%s " + format, self.address_string(), *args)

        def _send(self, status: int, payload) -> None:
            data = json.dumps(payload).encode() if not isinstance(payload, bytes) else payload
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self) -> bool:
            if not service.token:
                return True
            given = self.headers.get("Authorization", "")
            if hmac.compare_digest(given.encode(), f"Bearer {service.token}".encode()):
                return True
            self._send(HTTPStatus.UNAUTHORIZED, {"error": "a valid `Authorization: Bearer TOKEN` header is required"})
            return False

        def do_GET(self) -> None:
            if not self._authorised():
                return
            if self.path == "/persd/info":
                self._send(HTTPStatus.OK, service.info())
            elif self.path == "/v1/ping":
                self._send(HTTPStatus.OK, b'"pong"')
            else:
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: GET {self.path}"})

        def do_POST(self) -> None:
            if not self._authorised():
                return
            run = posts.get(self.path)
            if run is None:
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint: POST {self.path}"})
                return
            try:
                size = int(self.headers.get("Content-Length", ""))
            except ValueError:
                self._send(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length is required"})
                return
            if size > service.max_request_bytes:
                self.close_connection = True  # the body is never read
                self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                           {"error": f"request of {size} bytes (limit {service.max_request_bytes})"})
                return
            try:
                body = json.loads(self.rfile.read(size))
                if not isinstance(body, dict):
                    raise ValueError("the body must be a JSON object")
            except ValueError as error:
                self._send(HTTPStatus.BAD_REQUEST, {"error": f"bad JSON: {error}"})
                return
            self._send(HTTPStatus.OK, run(body))
            with service._lock:
                service.served[self.path] += 1

    return Handler
