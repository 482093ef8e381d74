"""`persd sandbox serve` and `--executor http://...`: real services on 127.0.0.1.

Services run as `persd sandbox serve` child processes, so killing one mid-run is a real
death; the SandboxFusion- and persd-shaped requests go over real sockets. Nothing
connects anywhere but 127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from persd.execution import Executor, make_executor
from persd.execution.service import SandboxService
from tests.ports import free_port
from tests.reference_jobs import as_dicts, reference_jobs, verdicts

SLOW = "\nimport time as _t\n_t.sleep(0.15)\n"  # keeps a run in flight long enough to kill a service under it


@pytest.fixture(scope="module")
def references():
    return reference_jobs()


@pytest.fixture(scope="module")
def local(references):
    with Executor(workers=2) as executor:
        yield executor, as_dicts(executor.run_many(references))


def post(url: str, body, token: str | None = None, raw: bytes | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, data=raw if raw is not None else json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def serve(port: int, workers: int = 1) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "persd.cli", "sandbox", "serve", "--port", str(port),
                                "--workers", str(workers)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/ping", timeout=1).read()
            return process
        except OSError:
            assert process.poll() is None, process.stderr.read()
            time.sleep(0.2)
    process.kill()
    raise AssertionError("the sandbox service did not start")


@pytest.fixture
def service(local):
    executor, _ = local
    with SandboxService(executor, port=free_port()).start() as running:
        yield running


def test_sandboxfusion_run_code_shapes(service):
    status, reply = post(service.url + "/run_code", {
        "code": "def add(a, b):\n    return a + b\nassert add(1, 2) == 3\nprint('ok')", "language": "python",
        "compile_timeout": 10, "run_timeout": 10, "memory_limit_MB": 1024, "stdin": "", "files": {},
        "fetch_files": []})
    assert status == 200 and reply["status"] == "Success"
    assert reply["run_result"]["status"] == "Finished" and reply["run_result"]["return_code"] == 0
    assert reply["run_result"]["stdout"] == "ok\n"
    _, failed = post(service.url + "/run_code", {"code": "assert 1 == 2", "language": "python"})
    assert failed["status"] == "Failed" and failed["run_result"]["return_code"] == 1
    assert "AssertionError" in failed["run_result"]["stderr"]
    _, slow = post(service.url + "/run_code", {"code": "while True: pass", "language": "python"})
    assert slow["status"] == "Failed" and slow["run_result"]["status"] == "TimeLimitExceeded"
    _, other = post(service.url + "/run_code", {"code": "int main(){}", "language": "cpp"})
    assert other["status"] == "SandboxError" and "Python only" in other["message"]


def test_run_code_with_a_test_lets_the_judge_own_it(service):
    """A program that exits 0 before the asserts passes a plain script, never persd's judge."""
    cheat = "import os\ndef add(a, b):\n    os._exit(0)\n"
    _, as_script = post(service.url + "/run_code", {"code": cheat + "\nadd(1, 2)\nassert add(1, 2) == 3"})
    assert as_script["status"] == "Failed"  # os._exit is `killed` under persd even as a script
    _, judged = post(service.url + "/run_code", {"code": cheat, "test": "assert add(1, 2) == 3"})
    assert judged["status"] == "Failed" and judged["persd"]["status"] != "passed"


def test_persd_endpoint_returns_the_full_result(service, local, references):
    executor, expected = local
    program, test, context = references[0]
    status, reply = post(service.url + "/persd/run", {"program": program, "test": test, "context": context})
    assert status == 200
    assert {k: v for k, v in reply.items() if k != "duration_s"} == \
        {k: v for k, v in expected[0].items() if k != "duration_s"}
    broken = program.replace("return", "return None and", 1)
    _, failed = post(service.url + "/persd/run", {"program": broken, "test": test, "context": context})
    assert failed["status"] == "failed" and failed["test_outcomes"] and failed["failed_test"]
    _, both = post(service.url + "/persd/run_many", {"jobs": [
        {"program": broken, "test": test, "context": context}, {"program": program, "test": test, "context": context}]})
    assert [r["status"] for r in both["results"]] == ["failed", "passed"]
    assert post(service.url + "/persd/run_many", {"jobs": "nope"})[1]["error"]


def test_limits_and_tokens(local):
    executor, _ = local
    with SandboxService(executor, port=free_port(), token="s3cret", max_request_bytes=2000).start() as service:
        assert post(service.url + "/persd/run", {"program": "x = 1", "test": ""})[0] == 401
        assert post(service.url + "/persd/run", {"program": "x = 1", "test": ""}, token="wrong")[0] == 401
        assert post(service.url + "/persd/run", {"program": "x = 1", "test": ""}, token="s3cret")[1]["passed"]
        assert post(service.url + "/persd/run", {"program": "x" * 5000, "test": ""}, token="s3cret")[0] == 413
        assert post(service.url + "/persd/run", None, token="s3cret", raw=b"[1, 2")[0] == 400
    with pytest.raises(ValueError, match="token is required"):
        SandboxService(executor, host="0.0.0.0", port=free_port())


def test_http_executor_over_two_services_equals_local(local, references):
    _, expected = local
    ports = [free_port(), free_port()]
    services = [serve(port) for port in ports]
    try:
        spec = ",".join(f"http://127.0.0.1:{port}" for port in ports)
        with make_executor(spec) as executor:
            assert executor.workers == 2 and executor.protocol == "strict"
            assert verdicts(executor.run_many(references)) == verdicts(expected)
            assert len(executor.served) == 2  # both services judged programs

            # One service killed mid-run: its programs run again on the other, each once.
            slow = [(program + SLOW, test, context) for program, test, context in references]
            killer = threading.Thread(target=lambda: (time.sleep(0.8), services[0].kill()))
            killer.start()
            results = executor.run_many(slow)
            killer.join()
            assert verdicts(results) == verdicts(expected)
            assert executor.lost == [f"http://127.0.0.1:{ports[0]}"]
            assert sum(executor.served.values()) == 2 * len(references)
    finally:
        for process in services:
            process.kill()
            process.wait()


def test_commands_run_programs_where_executor_says(tmp_path, service, monkeypatch):
    from click.testing import CliRunner

    from persd.cli import cli

    monkeypatch.setenv("PERSD_EXECUTOR", "local")  # the option sets it for the process: restored after
    prompt = 'def add(a, b):\n    """The sum."""\n'
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(json.dumps({"task_id": "t/add", "entry_point": "add", "prompt": prompt,
                                 "canonical_solution": "    return a + b\n",
                                 "test": "def check(f):\n    assert f(2, 3) == 5\n"}) + "\n")
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps({"task_id": "t/add", "attempt": prompt + "    return a * b\n",
                                "feedback": "wrong", "refinement": prompt + "    return a + b\n"}) + "\n")
    base = ["import", "--session", "s", "--sessions-dir", str(tmp_path), "--tasks", str(tasks), str(rows)]
    result = CliRunner().invoke(cli, [*base, "--executor", service.url])
    assert result.exit_code == 0, result.output
    assert "1 validated" in result.output
    assert service.served["/persd/run_many"] == 2  # the attempt and the refinement, judged by the service
    wrong = CliRunner().invoke(cli, [*base, "--executor", "carrier-pigeon"])
    assert wrong.exit_code == 2 and "unknown executor" in wrong.output


def test_a_sandboxfusion_endpoint_gives_plain_script_verdicts(service, references):
    """The SandboxFusion client, against this service's own /run_code (the same shapes)."""
    from persd.execution.http_backend import DEFAULT_LIMITS, FusionService
    from persd.execution.remote import SpreadExecutor

    fusion = FusionService(service.url, None, 30, 2, DEFAULT_LIMITS)
    with SpreadExecutor([fusion], limits=DEFAULT_LIMITS, protocol="strict", isolation="sandboxfusion") as executor:
        results = executor.run_many(references[:5])
        assert [r.status for r in results] == ["passed"] * 5
        program, test, _ = references[0]
        assert executor.run(program.replace("return", "return None and", 1), test).status == "failed"
        assert executor.run("def f(:\n", test).status == "error"
        assert executor.run("while True: pass", "").status == "timeout"


def test_no_live_service_is_a_clear_error():
    with pytest.raises(Exception, match="127.0.0.1"):
        make_executor(f"http://127.0.0.1:{free_port()}")
