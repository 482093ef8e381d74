"""Failures a user can cause at the `persd` command line give one clear message (what,
where, what to do), a non-zero exit code and no traceback; nothing is lost on the way."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from persd.store import SessionStore
from tests.test_store import FAIL, Result, make_task

ROOT = Path(__file__).resolve().parents[1]
ROWS = 40


def persd(*args: str, prefix: list[str] = (), timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PERSD_DEBUG": ""}
    return subprocess.run([*prefix, sys.executable, "-m", "persd.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def one_clear_error(result: subprocess.CompletedProcess, *fragments: str) -> str:
    assert result.returncode != 0, result.stdout
    message = result.stderr.strip()
    assert "Traceback" not in result.stderr and len(message.splitlines()) == 1, result.stderr
    for fragment in fragments:
        assert fragment in message, message
    return message


def make_session(folder: Path, name: str = "s") -> Path:
    """A session with ROWS validated persd refinements, each a few KB of code."""
    with SessionStore.open(folder, name, create=True) as store:
        padding = "    # " + "x" * 70 + "\n"
        tasks = [make_task(i, prompt=f"def f{i}(x):\n    \"\"\"Return x + {i}.\"\"\"\n" + padding * 30)
                 for i in range(ROWS)]
        store.tasks.add(tasks)
        for task in tasks:
            attempt = store.attempts.add(task.task_id, 0, model="tiny", sampling={}, prompt=task.prompt,
                                        completion="    return x\n", program=task.prompt + "    return x\n")
            store.executions.add("attempt", attempt.id, FAIL)
            store.refinements.add("persd", attempt_id=attempt.id, teacher_model="t", validated=True,
                                 program=task.prompt + f"    return x + {task.entry_point[1:]}\n",
                                 execution=Result())
        return store.path


def export(sessions: Path, output: Path, *extra: str, prefix: list[str] = ()):
    return persd("export", "--sessions-dir", str(sessions), "--session", "s", "--variant", "persd",
                 "--output", str(output), *extra, prefix=prefix)


@pytest.fixture
def sessions(tmp_path: Path) -> Path:
    make_session(tmp_path / "sessions")
    return tmp_path / "sessions"


# -- export ---------------------------------------------------------------------------------


def test_export_refuses_to_overwrite_without_force(sessions: Path, tmp_path: Path) -> None:
    output = tmp_path / "out.jsonl"
    output.write_text("previous\n")
    one_clear_error(export(sessions, output), str(output), "already exists", "--force")
    assert output.read_text() == "previous\n"
    assert export(sessions, output, "--force").returncode == 0
    assert len([json.loads(line) for line in output.read_text().splitlines()]) == ROWS
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "sessions"]  # no temp left


def test_export_to_a_folder_or_under_a_file_is_one_message(sessions: Path, tmp_path: Path) -> None:
    one_clear_error(export(sessions, tmp_path, "--force"), str(tmp_path), "is a folder")
    blocker = tmp_path / "plain-file"
    blocker.write_text("")
    one_clear_error(export(sessions, blocker / "out.jsonl"), str(blocker), "is a file, not a folder")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_export_on_a_full_disk_keeps_the_previous_file(sessions: Path, tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        output = disk / "out.jsonl"
        output.write_text('{"previous": "export"}\n')
        message = one_clear_error(export(sessions, output, "--force"), str(output), "disk is full",
                                  "previous file is unchanged")
        assert output.read_text() == '{"previous": "export"}\n', message
        assert os.listdir(disk) == ["out.jsonl"]  # the partial temporary file is gone
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_export_where_permission_is_denied_is_one_message(sessions: Path) -> None:
    # Root may write anywhere: as root, export as the unprivileged user "nobody" instead.
    prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.geteuid() == 0 else []
    if prefix and not shutil.which("setpriv"):
        pytest.skip("setpriv is needed to drop root")
    shared = Path(tempfile.mkdtemp())  # outside pytest's private (0700) folder
    try:
        shared.chmod(0o755)
        (shared / "sessions").mkdir()
        shutil.copy(sessions / "s.sqlite", shared / "sessions" / "s.sqlite")
        (shared / "sessions" / "s.sqlite").chmod(0o644)
        locked = shared / "locked"
        locked.mkdir(mode=0o555)
        locked.chmod(0o555)
        one_clear_error(export(shared / "sessions", locked / "out.jsonl", prefix=prefix),
                        str(locked / "out.jsonl"), "permission denied")
        # The session's folder is not writable for that user either: it is read as it stands.
        free = shared / "free"
        free.mkdir()
        free.chmod(0o777)
        result = export(shared / "sessions", free / "out.jsonl", prefix=prefix)
        assert result.returncode == 0, result.stderr
        assert len((free / "out.jsonl").read_text().splitlines()) == ROWS
        assert sorted(os.listdir(shared / "sessions")) == ["s.sqlite"]
    finally:
        shutil.rmtree(shared)


# -- collect on a session it cannot use -------------------------------------------------------


def test_collect_on_a_newer_or_damaged_session_says_so_before_loading_the_model(tmp_path: Path) -> None:
    # The student path does not exist: the session's error must come first, not the model's.
    collect = ["collect", "--sessions-dir", str(tmp_path), "--session", "s", "--student",
               str(tmp_path / "no-model"), "--teacher-model", "t", "--limit", "1"]
    SessionStore.open(tmp_path, "s", create=True).close()
    with sqlite3.connect(tmp_path / "s.sqlite") as conn:
        conn.execute("INSERT INTO _migrations (name) VALUES ('m999_from_the_future')")
    conn.close()
    one_clear_error(persd(*collect), str(tmp_path / "s.sqlite"), "newer schema", "upgrade persd")
    # A fresh session for the damage: the one above would stop at its newer schema first.
    SessionStore.open(tmp_path, "d", create=True).close()
    path = tmp_path / "d.sqlite"
    data = bytearray(path.read_bytes())
    data[4096:] = b"\xff" * (len(data) - 4096)  # every page but the first (the schema's)
    path.write_bytes(bytes(data))
    damaged = [arg if arg != "s" else "d" for arg in collect]
    one_clear_error(persd(*damaged), str(path), "damaged")
    path.write_bytes(b"not a database at all" * 50)
    one_clear_error(persd(*damaged), str(path), "not a persd session")


# -- the app's address ------------------------------------------------------------------------


def test_app_on_a_port_in_use_is_one_message(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        one_clear_error(persd("app", "--sessions-dir", str(tmp_path), "--port", str(port)),
                        f"port {port}", "in use", "--port")


@pytest.mark.parametrize("host", ["::", "::1"])
def test_app_on_an_ipv6_host_is_one_message(tmp_path: Path, host: str) -> None:
    one_clear_error(persd("app", "--sessions-dir", str(tmp_path), "--host", host, "--port", "1"),
                    f"--host {host}", "IPv6", "127.0.0.1")


def test_the_top_help_says_where_to_start_and_cuts_no_description():
    # Issue 25, defect 10: descriptions cut with "...", no starting point, flags unexplained.
    from click.testing import CliRunner

    from persd.cli import cli

    top = CliRunner().invoke(cli, ["--help"], terminal_width=80).output
    assert "Where to start" in top and "persd demo" in top
    assert "..." not in top.split("Commands:")[1]
    assert "teacher refinements, stored in a session." in " ".join(top.split())
    app_help = " ".join(CliRunner().invoke(cli, ["app", "--help"]).output.split())
    assert "--port INTEGER Port the app listens on" in app_help
    eval_help = CliRunner().invoke(cli, ["eval", "--help"]).output
    assert "--preset [paper]" in eval_help
    collect_help = " ".join(CliRunner().invoke(cli, ["collect", "--help"]).output.split())
    assert "stand: it solves every task" in collect_help
