"""`HttpExecutor`: programs spread over sandbox services (`--executor http://HOST:PORT,...`).

    from persd.execution import make_executor
    with make_executor("http://10.0.0.5:8080,http://10.0.0.6:8080", token="...") as ex:
        results = ex.run_many([(program, test, task.prompt), ...])

Each URL is a `persd sandbox serve` (persd's judge: the verdict an `Executor` gives on
that host, `ExecutionResult` and all) or a SandboxFusion deployment (`POST /run_code`;
found by its lack of `/persd/info`). A program and all of its tests travel in one
request, with a few consecutive programs (`/persd/run_many`; one per request to
SandboxFusion). An endpoint that stops answering (refused, reset, timed out, 5xx) is dropped
and its programs run on the others (remote.py).

Verdict guarantees differ:
- persd's service: the judge owns the test (README, "The sandbox"); a program cannot
  pass by exiting early, patching builtins or reading the expected values.
- SandboxFusion: the program and its test run as one script; `Success` (exit code 0)
  is a pass. The test shares the program's interpreter, so a program that patches
  `AssertionError`, calls `os._exit(0)` or rebinds `check` passes; the feedback is the
  script's stderr and no per-assert outcomes exist. Use it for speed, not for verdicts
  that become training data.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from persd.execution.feedback import rejected
from persd.execution.remote import EndpointLost, SpreadExecutor
from persd.execution.result import ExecutionResult, detail_from_dict

logger = logging.getLogger(__name__)

DEFAULT_LIMITS = {"cpu_s": 3.0, "wall_s": 7.0, "memory_mb": 2048}
LOST = (urllib.error.URLError, ConnectionError, TimeoutError, OSError)


def _text(value) -> str:
    """bytes as text; bytes that are not UTF-8 keep their bytes as surrogates, which the
    service's Executor rejects as it would have here."""
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


def result_from_dict(data: dict) -> ExecutionResult:
    """The inverse of ExecutionResult.to_dict()."""
    fields = {key: value for key, value in data.items() if key in ExecutionResult.__dataclass_fields__}
    outcomes, exception = detail_from_dict({"tests": data.get("test_outcomes"), "exception": data.get("exception")})
    return ExecutionResult(**{**fields, "test_outcomes": outcomes, "exception": exception})


class _Service:
    def __init__(self, url: str, token: str | None, timeout_s: float) -> None:
        self.name = url.rstrip("/")
        self._headers = {"Content-Type": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self.timeout_s = timeout_s
        self.capacity = 1

    def call(self, path: str, body: dict | None = None, timeout_s: float | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.name + path, data=data, headers=self._headers,
                                         method="GET" if body is None else "POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s or self.timeout_s) as reply:
                return json.loads(reply.read())
        except urllib.error.HTTPError as error:
            if error.code >= 500:
                raise EndpointLost(f"{self.name} answered {error.code}") from error
            raise
        except LOST as error:
            raise EndpointLost(f"{self.name}: {error}") from error

    def close(self) -> None:
        pass


class PersdService(_Service):
    """A `persd sandbox serve`: persd's verdicts, whole."""

    def describe(self) -> dict:
        info = self.call("/persd/info")
        self.capacity = int(info["workers"])
        return info

    def run_batch(self, jobs: list[tuple]) -> list[ExecutionResult]:
        body = {"jobs": [{"program": _text(p), "test": _text(t), "context": _text(c)} for p, t, c in jobs]}
        try:
            # Every program of the batch may run to its limits, one after another.
            reply = self.call("/persd/run_many", body, timeout_s=self.timeout_s * len(jobs))
        except urllib.error.HTTPError as error:
            if error.code != 413:
                raise
            if len(jobs) > 1:  # too large together: one request each
                return [result for job in jobs for result in self.run_batch([job])]
            return [rejected(f"The program and its test are too large for {self.name} (413).", "InputTooLarge")]
        if "results" not in reply:
            raise RuntimeError(f"{self.name}: {reply.get('error', reply)}")
        return [result_from_dict(result) for result in reply["results"]]


class FusionService(_Service):
    """A SandboxFusion deployment: program and test as one script, exit code 0 passes."""

    def __init__(self, url: str, token: str | None, timeout_s: float, workers: int, limits: dict) -> None:
        super().__init__(url, token, timeout_s)
        self.capacity = workers
        self.limits = limits

    def run_batch(self, jobs: list[tuple]) -> list[ExecutionResult]:
        with ThreadPoolExecutor(len(jobs)) as pool:
            return list(pool.map(lambda job: self.run(*job), jobs))

    def run(self, program: str, test: str, context: str) -> ExecutionResult:
        reply = self.call("/run_code", {
            "code": f"{program}\n\n{test}\n", "language": "python", "compile_timeout": 10,
            "run_timeout": self.limits["cpu_s"], "memory_limit_MB": self.limits["memory_mb"],
            "stdin": "", "files": {}, "fetch_files": []})
        run = reply.get("run_result") or {}
        if reply.get("status") == "SandboxError":
            raise EndpointLost(f"{self.name}: {reply.get('message') or 'SandboxError'}")
        if reply.get("status") == "Success":
            status = "passed"
        elif run.get("status") == "TimeLimitExceeded":
            status = "timeout"
        else:
            stderr = run.get("stderr") or ""
            status = "failed" if "AssertionError" in stderr else "error"
        feedback = "" if status == "passed" else (run.get("stderr") or reply.get("message") or status)
        return ExecutionResult(status=status, feedback=feedback, duration_s=float(run.get("execution_time") or 0.0),
                               output=run.get("stdout") or "", isolation="sandboxfusion")


class HttpExecutor(SpreadExecutor):
    """The Executor's interface over sandbox services.

    Parameters: `urls` one or more service addresses; `token` sent to each (also
    PERSD_SANDBOX_TOKEN through make_executor); `protocol` must be the services' own
    (their verdicts would differ otherwise); `timeout_s`, `memory_mb`: what you expect
    the services to apply (persd's services report theirs, and a difference is logged);
    `workers` programs in flight per SandboxFusion endpoint.
    """

    def __init__(self, urls: list[str], token: str | None = None, protocol: str = "strict",
                 timeout_s: float = 3.0, memory_mb: int = 2048, workers: int | None = None,
                 max_attempts: int = 3) -> None:
        wanted = {"cpu_s": timeout_s, "memory_mb": memory_mb, "wall_s": 2 * timeout_s + 1}
        request_timeout = wanted["wall_s"] + 30  # per program: the judge's own limits and a queue on top
        endpoints, limits, isolations = [], None, set()
        for url in urls:
            service = PersdService(url, token, request_timeout)
            try:
                info = service.describe()
            except urllib.error.HTTPError as error:
                if error.code != 404:
                    raise
                logger.warning("persd: %s is not a persd sandbox service; treating it as SandboxFusion, "
                               "whose verdicts a program can game (see persd.execution.http_backend)", url)
                endpoints.append(FusionService(url, token, request_timeout, workers or 4, wanted))
                isolations.add("sandboxfusion")
                continue
            if info["protocol"] != protocol:
                raise ValueError(f"{url} judges with protocol {info['protocol']!r}, not {protocol!r}")
            if any(info["limits"].get(key) != value for key, value in wanted.items()):
                logger.warning("persd: %s applies its own limits %s, not %s", url, info["limits"], wanted)
            limits = limits or info["limits"]
            isolations.add(info["isolation"])
            endpoints.append(service)
        super().__init__(endpoints, limits=limits or wanted, protocol=protocol,
                         isolation=",".join(sorted(isolations)), max_attempts=max_attempts)
