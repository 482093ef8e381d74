"""The app against a hostile reviewer or web page: the operator's API key only reaches the
endpoints the operator listed, remote error bodies stay off the page, training output stays
in the runs folder, a network bind needs logins, foreign Host headers get a 403, and
password guessing is throttled. Real HTTP servers on 127.0.0.1 throughout."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from persd.teacher import TeacherError
from persd.train import TrainError
from tests.ports import free_port
from persd_app.endpoints import TeacherEndpoints
from persd_app.guard import LoginThrottle, host_allowed
from persd_app.tabs.collect import collect_job
from persd_app.tabs.train_handlers import output_folder

SERVER_KEY = "sk-operator-secret-marker"
BODY_MARKER = "internal-body-marker-7f3a"
ROOT = Path(__file__).resolve().parent.parent


class Listener:
    """An HTTP server on 127.0.0.1 that records every request's headers and answers each
    with `status` (200: a model list naming model "m"; else a JSON error holding
    BODY_MARKER)."""

    def __init__(self, status: int = 200) -> None:
        self.status, self.headers = status, []
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                listener.headers.append({k.lower(): v for k, v in self.headers.items()})
                length = int(self.headers.get("content-length") or 0)
                self.rfile.read(length)
                body = ({"object": "list", "data": [{"id": "m", "object": "model"}]}
                        if listener.status == 200 else
                        {"error": {"message": f"secret page {BODY_MARKER}", "type": "x"}})
                data = json.dumps(body).encode()
                self.send_response(listener.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def bearers(self) -> list[str]:
        return [h.get("authorization", "") for h in self.headers]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def listener():
    server = Listener()
    yield server
    server.close()


@pytest.fixture(autouse=True)
def server_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SERVER_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.delenv("PERSD_TEACHER_ENDPOINTS", raising=False)


def job(tmp_path, endpoints: TeacherEndpoints, url: str, key: str):
    """The Collect tab's job for a real-backend form with this endpoint and key."""
    ctx = SimpleNamespace(sessions_dir=tmp_path, endpoints=endpoints, executor=lambda: None,
                          data_dirs=None)
    return collect_job(ctx, "real", "s1", "humaneval", 1, "models/tiny", "", "persd", url, key,
                       "m", 1, 1, 1, 1, 16)


def check(job) -> None:
    asyncio.run(job.teacher.check())


def test_a_typed_endpoint_is_refused_unless_the_operator_allows_it(tmp_path, listener):
    with pytest.raises(ValueError, match="not one the operator allows"):
        job(tmp_path, TeacherEndpoints.from_options(), listener.url, "")
    with pytest.raises(ValueError, match="not one the operator allows"):
        job(tmp_path, TeacherEndpoints.from_options(), listener.url, "sk-mine")
    assert listener.headers == []


def test_a_typed_endpoint_never_gets_the_server_key(tmp_path, listener):
    endpoints = TeacherEndpoints.from_options(allow_custom=True)
    with pytest.raises(ValueError, match="needs your own API key"):
        job(tmp_path, endpoints, listener.url, "")
    assert listener.headers == []
    check(job(tmp_path, endpoints, listener.url, "sk-mine"))
    assert listener.bearers() and set(listener.bearers()) == {"Bearer sk-mine"}
    assert not any(SERVER_KEY in str(h) for h in listener.headers)


def test_a_listed_endpoint_gets_the_server_key(tmp_path, listener):
    endpoints = TeacherEndpoints.from_options([listener.url + "/"])  # the same, normalised
    check(job(tmp_path, endpoints, listener.url, ""))
    assert set(listener.bearers()) == {f"Bearer {SERVER_KEY}"}
    check(job(tmp_path, endpoints, "", ""))  # empty: the first listed one
    assert len(listener.bearers()) == 2


def test_endpoints_come_from_the_option_the_env_and_openai_base_url(monkeypatch):
    monkeypatch.setenv("PERSD_TEACHER_ENDPOINTS", "http://a:1/v1, http://B:2/v1/")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://base:3/v1")
    assert TeacherEndpoints.from_options(["http://c:4/v1"]).listed == (
        "http://c:4/v1", "http://a:1/v1", "http://b:2/v1", "http://base:3/v1")
    with pytest.raises(ValueError, match="http:// or https://"):
        TeacherEndpoints.from_options(["file:///etc/passwd"])


@pytest.mark.parametrize("status, says", [
    (401, "authentication failed (HTTP 401)"),
    (404, "model not found"),
    (503, "the endpoint answered HTTP 503"),
])
def test_a_failing_endpoint_is_described_not_echoed(tmp_path, status, says):
    server = Listener(status)
    try:
        endpoints = TeacherEndpoints.from_options([server.url])
        with pytest.raises(TeacherError) as caught:
            check(job(tmp_path, endpoints, server.url, ""))
    finally:
        server.close()
    assert says in str(caught.value) and BODY_MARKER not in str(caught.value)


def test_an_unreachable_endpoint_says_so(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(TeacherError, match="unreachable") as caught:
        check(job(tmp_path, TeacherEndpoints.from_options([url]), url, ""))
    assert "Connect" not in str(caught.value)


def test_a_per_call_error_body_is_not_kept(tmp_path):
    from persd.tasks import load_tasks

    server = Listener(400)
    try:
        teacher = job(tmp_path, TeacherEndpoints.from_options([server.url]), server.url,
                      "").teacher
        result = asyncio.run(teacher.solve(load_tasks("humaneval")[0], validate=None))
    finally:
        server.close()
    assert result.reason == "teacher error: HTTP 400 (bad request)"
    assert all(BODY_MARKER not in (call.error or "") for call in result.calls)


@pytest.mark.parametrize("name", ["../victim", "/tmp/x", "a/b", "..", "a..b", ".hidden", ""])
def test_train_output_names_stay_in_the_runs_folder(tmp_path, name):
    with pytest.raises(TrainError, match="plain folder name"):
        output_folder(tmp_path / "runs", name)


def test_a_plain_train_output_name_lands_in_the_runs_folder(tmp_path):
    assert output_folder(tmp_path / "runs", " demo-persd-1 ") == (tmp_path / "runs" /
                                                                  "demo-persd-1").resolve()


def test_cli_refuses_a_network_bind_without_auth(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GRADIO_ANALYTICS_ENABLED": "False"}
    done = subprocess.run(
        [sys.executable, "-m", "persd.cli", "app", "--host", "0.0.0.0", "--port",
         str(free_port()), "--sessions-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path)
    assert done.returncode == 1
    assert "refusing to serve on 0.0.0.0 without --auth" in done.stderr
    assert "--insecure-no-auth-on-network" in done.stderr


@pytest.fixture(scope="module")
def open_app(tmp_path_factory):
    from persd_app.app import launch

    running = launch(tmp_path_factory.mktemp("sessions"), port=free_port(), block=False,
                     quiet=True)
    yield running
    running.close()


@pytest.fixture(scope="module")
def login_app(tmp_path_factory):
    from persd_app.app import launch

    running = launch(tmp_path_factory.mktemp("sessions"), port=free_port(), block=False,
                     quiet=True, auth=[("ana", "right-password")])
    yield running
    running.close()


def test_without_auth_only_loopback_host_headers_are_served(open_app):
    url = open_app.url.rstrip("/")
    port = httpx.URL(url).port
    for host in (f"evil.example:{port}", "evil.example", f"10.0.0.5:{port}"):
        answer = httpx.get(url + "/", headers={"Host": host})
        assert answer.status_code == 403, host
        assert "is not served here" in answer.text
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
        assert httpx.get(url + "/", headers={"Host": host}).status_code == 200, host
    api = httpx.get(url + "/config", headers={"Host": f"evil.example:{port}"})
    assert api.status_code == 403


def test_repeated_wrong_logins_lock_the_client_out(login_app):
    login = login_app.url.rstrip("/") + "/login"
    answers = [httpx.post(login, data={"username": "ana", "password": f"guess{i}"})
               for i in range(10)]
    assert [a.status_code for a in answers] == [400] * 10  # what Gradio's login page shows
    locked = ["Too many failed logins" in a.text for a in answers]
    assert locked == [False] * 5 + [True] * 5
    right = httpx.post(login, data={"username": "ana", "password": "right-password"})
    assert right.status_code == 400 and "try again in" in right.text
    assert int(right.headers["retry-after"]) >= 20


def test_host_checks_without_auth():
    strict, insecure = host_allowed(insecure=False), host_allowed(insecure=True)
    assert strict("127.0.0.1:7860") and strict("localhost") and strict("[::1]:7860")
    assert not strict("192.168.1.5:7860") and not strict("") and not strict("evil.example")
    assert insecure("192.168.1.5:7860") and insecure(f"{socket.gethostname()}:7860")
    assert not insecure("evil.example:7860")  # a rebinding page sends its DNS name


def test_a_lockout_ends_and_grows_with_each_further_failure():
    now = [0.0]
    throttle = LoginThrottle(max_failures=5, window_s=60, lock_s=30, clock=lambda: now[0])
    for _ in range(5):
        throttle.failed("1.2.3.4")
    assert throttle.wait_s("1.2.3.4") == 30 and throttle.wait_s("5.6.7.8") == 0
    now[0] = 31
    assert throttle.wait_s("1.2.3.4") == 0
    throttle.failed("1.2.3.4")  # one more failure locks it again, for twice as long
    assert throttle.wait_s("1.2.3.4") == 60
    now[0] = 100
    throttle.succeeded("1.2.3.4")
    throttle.failed("1.2.3.4")
    assert throttle.wait_s("1.2.3.4") == 0
