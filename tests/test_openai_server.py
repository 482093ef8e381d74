"""The test teacher server itself: routes, faults, request log, standalone mode."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.openai_server import OpenAITestServer, humaneval_tasks

TASKS = humaneval_tasks()[:5]


def post(server: OpenAITestServer, body: dict, key: str = "k") -> tuple[int, dict, dict]:
    request = urllib.request.Request(
        server.base_url + "/chat/completions", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error), dict(error.headers)


def chat(task) -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": f"Fix:\n{task.prompt}"}]}


def test_reference_reply_faults_and_request_log():
    with OpenAITestServer(tasks=TASKS) as server:
        status, body, _ = post(server, chat(TASKS[1]))
        assert status == 200 and body["model"] == "m"
        content = body["choices"][0]["message"]["content"]
        assert "```python" in content and TASKS[1].solution.strip() in content
        assert body["usage"]["completion_tokens"] == len(content.split())
        server.inject("429", retry_after=2)
        server.inject("no_code")
        status, body, headers = post(server, chat(TASKS[1]))
        assert status == 429 and headers["Retry-After"] == "2"
        assert body["error"]["code"] == "rate_limit_exceeded"
        assert "```" not in post(server, chat(TASKS[1]))[1]["choices"][0]["message"]["content"]
        assert post(server, chat(TASKS[1]))[0] == 200  # the queue is empty again
        assert len(server.chat_requests()) == 4
        assert server.requests[0]["headers"]["authorization"] == "Bearer k"
        with pytest.raises(ValueError, match="unknown fault"):
            server.inject("teapot")


def test_api_key_and_unknown_routes():
    with OpenAITestServer(tasks=TASKS, api_key="secret") as server:
        assert post(server, chat(TASKS[0]), key="other")[0] == 401
        assert post(server, chat(TASKS[0]), key="secret")[0] == 200
        request = urllib.request.Request(server.base_url + "/nothing",
                                         headers={"Authorization": "Bearer secret"})
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(request, timeout=10)
        assert error.value.code == 404


def test_standalone_mode_serves_humaneval():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen([sys.executable, "-m", "tests.openai_server", "--port", str(port)],
                               cwd=root, stdout=subprocess.PIPE, text=True)
    try:
        assert "serving 164 tasks" in process.stdout.readline()
        url = f"http://127.0.0.1:{port}/v1/models"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert json.load(response)["data"][0]["object"] == "model"
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
