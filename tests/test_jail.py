"""The jail leaks nothing and keeps nothing: System V IPC, links and FIFOs where the harness
reads, kernel settings, the host's environment, directories too deep to walk."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from persd.execution import Executor

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")


@pytest.fixture(scope="module")
def executor():
    with Executor(workers=1, timeout_s=5.0, memory_mb=1024) as ex:
        yield ex


def _host_shared_memory_mb() -> float:
    with open("/proc/meminfo") as meminfo:
        line = next(line for line in meminfo if line.startswith("Shmem:"))
    return int(line.split()[1]) / 1024


SHM = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
def grab(mb):
    made = []
    for _ in range(3):
        number = libc.shmget(0, mb << 20, 0o1600)   # IPC_PRIVATE, IPC_CREAT | 0600
        address = libc.shmat(number, None, 0)
        ctypes.memset(address, 1, mb << 20)           # touched: real memory
        libc.shmdt(ctypes.c_void_p(address))
        made.append(number)
    return len([n for n in made if n >= 0])
"""


def test_system_v_shared_memory_a_program_made_is_gone_after_its_run(executor):
    before = _host_shared_memory_mb()
    for _ in range(3):
        result = executor.run(SHM, "assert grab(100) == 3\n")
        assert result.passed, result.feedback
    time.sleep(0.2)
    assert _host_shared_memory_mb() - before < 100, "900 MB of segments outlived their runs"
    assert executor.run(SHM, "assert grab(10) == 3\n").passed


def test_output_replaced_by_a_link_or_a_fifo_is_neither_followed_nor_waited_on(executor, monkeypatch):
    secret = "sk-host-secret-5f3a"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    with Executor(workers=1, timeout_s=5.0) as fresh:  # started with the secret in the host's environment
        program = ("import os\nprint('hello')\n"
                   "for name in ('.output', 'output', 'out'):\n"
                   "    try:\n        os.symlink('/proc/1/environ', name)\n    except OSError:\n        pass\n"
                   "os.mkfifo('fifo')\n"
                   "def leak():\n"
                   "    try:\n        return open('/proc/1/environ', 'rb').read().decode('latin-1')\n"
                   "    except OSError as error:\n        return str(error)\n")
        started = time.monotonic()
        result = fresh.run(program, "assert leak() == ''\n")
        assert time.monotonic() - started < 10
        assert secret not in result.output and secret not in result.feedback
        assert result.output.startswith("hello")
        assert fresh.run("def f():\n    return 1\n", "assert f() == 1\n").passed


@needs_bwrap
def test_kernel_settings_are_read_only_in_the_jail(executor):
    program = ("def write(path):\n    try:\n        with open(path, 'w') as f:\n            f.write('1')\n"
               "        return 'written'\n    except OSError as error:\n        return type(error).__name__\n")
    result = executor.run(program, "assert write('/proc/sys/kernel/core_pattern') == 'written'\n")
    assert result.status == "failed" and result.test_outcomes[0].returned in ("'OSError'", "'PermissionError'")


def test_a_directory_thousands_deep_is_removed_and_the_next_program_passes(executor):
    program = ("import os\nfor _ in range(3000):\n    os.mkdir('d')\n    os.chdir('d')\n"
               "open('leaf', 'w').write('x')\ndef f():\n    return 1\n")
    lost_before = executor.replacements["died under a program"]
    result = executor.run(program, "assert f() == 1\n")
    assert result.passed, result.feedback
    assert executor.run("import os\ndef f():\n    return os.listdir('.')\n", "assert f() == []\n").passed
    assert executor.replacements["died under a program"] == lost_before


def test_the_judge_is_another_uid_the_program_cannot_signal(executor):
    if os.geteuid() != 0:
        pytest.skip("programs switch to a uid of their own only when persd runs as root")
    program = ("import os, signal\ndef kill_everything():\n    killed = 0\n"
               "    for pid in filter(str.isdigit, os.listdir('/proc')):\n"
               "        if int(pid) == os.getpid():\n            continue\n"
               "        try:\n            os.kill(int(pid), signal.SIGKILL)\n            killed += 1\n"
               "        except OSError:\n            pass\n    return killed\n")
    result = executor.run(program, "assert kill_everything() == 0\nassert kill_everything() == 0\n")
    assert result.passed, result.feedback
