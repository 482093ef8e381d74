"""The sandboxed executor: verdicts, feedback, hostile programs, bad input."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from persd.execution import STATUSES, Executor, IsolationUnavailable
from persd.execution import sandbox as sandbox_module
from persd.execution.sandbox import PROCESS_LIMIT, PidsCgroup, bwrap_available
from persd.tasks import load_tasks

ADD_ONE = "def add_one(x):\n    return x + 1\n"
ADD_ONE_TEST = "def check(candidate):\n    assert candidate(1) == 2\n    assert candidate(5) == 6\n\ncheck(add_one)\n"

needs_bwrap = pytest.mark.skipif(not bwrap_available(), reason="bubblewrap is not installed")
needs_root_jail = pytest.mark.skipif(not bwrap_available() or os.geteuid() != 0,
                                     reason="programs switch to an unprivileged uid only when we are root")
needs_process_cap = pytest.mark.skipif(
    PidsCgroup._find_parent() is None and not (bwrap_available() and os.geteuid() == 0),
    reason="no writable pids cgroup and no unprivileged uid for RLIMIT_NPROC on this host",
)


@pytest.fixture(scope="module")
def executor():
    with Executor(workers=2, timeout_s=1.0, memory_mb=1024) as ex:
        yield ex


@pytest.fixture(scope="module")
def humaneval():
    return load_tasks("humaneval")


def test_all_humaneval_reference_solutions_pass(executor, humaneval):
    results = executor.run_many([(task.solution, task.test) for task in humaneval])
    failures = {task.task_id: r.feedback for task, r in zip(humaneval, results) if not r.passed}
    assert failures == {}
    assert all(r.tests_passed == r.tests_total > 0 for r in results)


def test_check_is_split_into_its_asserts(executor, humaneval):
    task = next(t for t in humaneval if t.task_id == "HumanEval/0")
    result = executor.run(task.solution, task.test)
    assert result.tests_total == task.test.count("assert ")


def test_wrong_return_value_is_reported_with_the_actual_value(executor):
    result = executor.run("def add_one(x):\n    return x\n", ADD_ONE_TEST)
    assert result.status == "failed" and not result.passed
    assert result.error_type == "AssertionError"
    assert result.failed_test == "assert add_one(1) == 2"  # candidate -> the real name
    assert result.actual == "1"
    assert "add_one(1) returned 1" in result.feedback
    assert (result.tests_passed, result.tests_total) == (0, 2)


def test_later_failure_counts_the_tests_that_passed(executor):
    result = executor.run("def add_one(x):\n    return 2 if x == 1 else 0\n", ADD_ONE_TEST)
    assert result.status == "failed"
    assert "add_one(5) returned 0" in result.feedback
    assert "1 of 2 tests passed" in result.feedback


def test_broken_humaneval_variants_fail_with_useful_feedback(executor, humaneval):
    task = next(t for t in humaneval if t.task_id == "HumanEval/2")  # truncate_number
    wrong = task.prompt + "    return number\n"
    typo = task.prompt + "    return numbr % 1.0\n"
    results = executor.run_many([(wrong, task.test), (typo, task.test)])
    assert results[0].status == "failed" and "truncate_number(3.5) returned 3.5" in results[0].feedback
    assert results[1].status == "error" and results[1].error_type == "NameError"
    assert "name 'numbr' is not defined" in results[1].feedback
    assert "return numbr % 1.0" in results[1].feedback


def test_exception_feedback_shows_program_frames_only(executor):
    code = "def helper(xs):\n    return xs[10]\n\ndef add_one(x):\n    return helper([x])\n"
    result = executor.run(code, ADD_ONE_TEST)
    assert result.status == "error" and result.error_type == "IndexError"
    assert 'File "program.py", line 2, in helper' in result.feedback
    assert "return xs[10]" in result.feedback
    assert "harness" not in result.feedback and "persd" not in result.feedback


def test_syntax_error_names_the_line(executor):
    result = executor.run("def add_one(x):\n    return (x +\n", ADD_ONE_TEST)
    assert result.status == "error" and result.error_type == "SyntaxError"
    assert "program.py" in result.feedback


def test_infinite_loop_times_out_and_names_the_line(executor):
    code = "def add_one(x):\n    while True:\n        x += 1\n"
    started = time.monotonic()
    result = executor.run(code, ADD_ONE_TEST)
    assert result.status == "timeout" and not result.passed
    assert "line 2 in add_one" in result.feedback and "while True" in result.feedback
    assert time.monotonic() - started < 10


def test_timeout_that_swallows_exceptions_is_still_killed(executor):
    code = "def add_one(x):\n    while True:\n        try:\n            while True: pass\n        except BaseException:\n            pass\n"
    result = executor.run(code, ADD_ONE_TEST)
    assert result.status == "timeout"


def test_sleeping_program_hits_the_wall_clock_limit(executor):
    result = executor.run("import time\ntime.sleep(60)\n", "pass\n")
    assert result.status == "timeout"


def test_huge_allocation_is_a_memory_verdict(executor):
    result = executor.run("def add_one(x):\n    block = bytearray(10 * 1024**3)\n    return x + 1\n", ADD_ONE_TEST)
    assert result.status == "memory"
    assert "1024 MB" in result.feedback and "line 2" in result.feedback


def test_printing_100_mb_is_cut_and_not_passed(executor):
    code = "import sys\nfor _ in range(100):\n    sys.stdout.write('x' * 1_000_000)\n" + ADD_ONE
    result = executor.run(code, ADD_ONE_TEST)
    assert result.status == "killed" and result.error_type == "OutputLimitExceeded"
    assert len(result.output) <= 1000


def test_printed_output_is_kept_short(executor):
    result = executor.run("print('hello from the program')\n" + ADD_ONE, ADD_ONE_TEST)
    assert result.passed and "hello from the program" in result.output


@pytest.mark.parametrize(
    "code",
    [
        "import sys\nsys.exit(0)\n",
        "import os\nos._exit(0)\n",
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n",
        ADD_ONE + "import sys\nsys.exit(0)\n",
    ],
    ids=["sys.exit", "os._exit", "self-kill", "exit-after-def"],
)
def test_exiting_early_is_never_a_pass(executor, code):
    result = executor.run(code, ADD_ONE_TEST)
    assert not result.passed
    assert result.status in ("error", "killed")


def test_exit_inside_the_tested_function_is_not_a_pass(executor):
    result = executor.run("import os\ndef add_one(x):\n    os._exit(0)\n", ADD_ONE_TEST)
    assert result.status == "killed"


KILL_THE_HARNESS = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n" + ADD_ONE


@needs_root_jail
def test_programs_cannot_signal_the_harness(executor):
    results = executor.run_many([(KILL_THE_HARNESS, ADD_ONE_TEST)] * 3)
    assert all(r.status == "error" and r.error_type == "PermissionError" for r in results)
    assert executor.run(ADD_ONE, ADD_ONE_TEST).passed


def test_a_program_that_kills_its_sandbox_is_killed_even_on_a_fresh_one(monkeypatch):
    monkeypatch.setattr(sandbox_module, "program_uid", lambda: None)  # a host that cannot switch uid
    with Executor(workers=1, timeout_s=1.0) as ex:
        first = set(ex._all)
        results = [ex.run(KILL_THE_HARNESS, ADD_ONE_TEST) for _ in range(2)]
        assert [r.status for r in results] == ["killed", "killed"]
        assert "two fresh sandboxes" in results[0].feedback
        assert ex.run(ADD_ONE, ADD_ONE_TEST).passed
        assert not first & set(ex._all)


def _sandbox_pids(ex: Executor) -> set[int]:
    return {sandbox._process.pid for sandbox in ex._all}


def test_an_executor_made_in_a_thread_that_ended_keeps_its_sandboxes():
    # The app's worker threads retire when idle; a sandbox started from one used to die
    # with it (bwrap's --die-with-parent follows the thread) and correct code was "killed".
    made = []

    def worker() -> None:
        ex = Executor(workers=2, timeout_s=1.0)
        made.append((ex, _sandbox_pids(ex), ex.run(ADD_ONE, ADD_ONE_TEST)))

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    ex, pids, first = made[0]
    with ex:
        time.sleep(0.3)  # the kernel's death signal, had it come, has arrived by now
        results = ex.run_many([(ADD_ONE, ADD_ONE_TEST)] * 6)
        assert first.passed and [r.status for r in results] == ["passed"] * 6
        # None died (with the thread or otherwise). A sandbox may still be recycled when a
        # run reports it unclean (e.g. a killed leftover slow to die on a busy machine).
        died = {k: n for k, n in ex.replacements.items() if k.startswith("died")}
        assert not died, (died, pids, _sandbox_pids(ex))


def test_a_sandbox_dead_while_idle_is_replaced_before_the_next_program(caplog):
    with Executor(workers=1, timeout_s=1.0) as ex:
        (sandbox,) = ex._all
        os.killpg(sandbox._process.pid, signal.SIGKILL)
        sandbox._process.wait()
        with caplog.at_level(logging.INFO, logger="persd.execution.executor"):
            result = ex.run(ADD_ONE, ADD_ONE_TEST)
        assert result.passed, result.feedback
        assert sandbox not in ex._all
        assert "running it again" not in caplog.text  # replaced before, not after, sending


def test_a_program_whose_sandbox_is_killed_from_outside_is_run_again():
    with Executor(workers=1, timeout_s=2.0) as ex:
        (sandbox,) = ex._all
        threading.Timer(0.3, os.killpg, (sandbox._process.pid, signal.SIGKILL)).start()
        result = ex.run("import time\ntime.sleep(0.6)\n" + ADD_ONE, ADD_ONE_TEST)
        assert result.passed, result.feedback
        assert sandbox not in ex._all


def _descendants(root: int) -> set[int]:
    parents = {}
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                parents[int(entry)] = int(stat.read().rsplit(b")", 1)[1].split()[1])
        except (ValueError, OSError):
            continue
    found, frontier = set(), {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _running(pids: set[int]) -> set[int]:
    """Those of `pids` still running (a zombie waiting for its reaper does not count)."""
    alive = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as stat:
                if stat.read().rsplit(b")", 1)[1].split()[0] != b"Z":
                    alive.add(pid)
        except OSError:
            pass
    return alive


@pytest.mark.parametrize("isolation", ["auto", "process"])
def test_sandboxes_die_with_the_process_that_owns_them(isolation):
    marker = "554433"
    program = f"import subprocess, time\nsubprocess.Popen(['sleep', '{marker}'])\ntime.sleep(30)\n"
    script = textwrap.dedent(f"""
        import sys, threading, time
        sys.path.insert(0, {os.getcwd()!r})
        from persd.execution import Executor
        made = []
        maker = threading.Thread(target=lambda: made.append(Executor(workers=2, timeout_s=20, isolation={isolation!r})))
        maker.start(); maker.join()
        threading.Thread(target=made[0].run, args=({program!r}, "pass\\n"), daemon=True).start()
        print("ready", flush=True)
        time.sleep(60)
    """)
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 10
        while not _processes_named(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        inside = _descendants(owner.pid)
        assert len(inside) >= 4 and _processes_named(marker)  # two sandboxes, a program, its child
    finally:
        owner.kill()
        owner.wait()
    deadline = time.monotonic() + 5
    while _running(inside) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _running(inside) == set()
    assert _processes_named(marker) == []


def _processes_named(marker: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
    return [line for line in out.splitlines() if marker in line and "ps -eo" not in line]


def _survivors(marker: str, grace_s: float = 5.0) -> list[str]:
    """Processes still named `marker` after `grace_s`: a killed process leaves the
    table once it is reaped, which a loaded machine may take a moment to do."""
    deadline = time.monotonic() + grace_s
    while (left := _processes_named(marker)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def test_spawned_processes_are_all_killed_even_in_their_own_session(executor):
    marker = "987654"
    code = (
        "import subprocess, os\n"
        f"subprocess.Popen(['setsid', 'sleep', '{marker}'])\n"
        f"subprocess.Popen(['sleep', '{marker}'], start_new_session=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        f"        os.execvp('sleep', ['sleep', '{marker}'])\n"
        "    os._exit(0)\n" + ADD_ONE
    )
    result = executor.run(code, ADD_ONE_TEST)
    assert result.passed
    assert _survivors(marker) == []


def test_many_children_are_cleaned_up(executor):
    code = "import subprocess\nfor _ in range(30):\n    subprocess.Popen(['sleep', '876543'])\n" + ADD_ONE
    assert executor.run(code, ADD_ONE_TEST).passed
    assert _survivors("876543") == []


@needs_bwrap
def test_the_file_system_is_read_only_and_private(executor, tmp_path):
    target = tmp_path / "written-by-program"
    code = f"open({str(target)!r}, 'w').write('x')\n"
    result = executor.run(code, "pass\n")
    assert result.status == "error"
    assert not target.exists()


@needs_bwrap
def test_etc_holds_only_what_the_interpreter_needs(executor):
    code = textwrap.dedent("""
        import os, pwd, time
        for name in ("shadow", "gshadow", "hostname", "hosts", "machine-id", "environment"):
            assert not os.path.exists("/etc/" + name), name
        assert sorted(os.listdir("/etc")) == ["group", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "passwd"]
        assert pwd.getpwuid(os.getuid()).pw_name in ("root", "sandbox")
        time.localtime()
    """)
    result = executor.run(code, "pass\n")
    assert result.passed, result.feedback


@needs_root_jail
def test_programs_run_as_an_unprivileged_uid(executor):
    code = textwrap.dedent("""
        import os
        assert 0 not in (os.getuid(), os.geteuid(), os.getgid(), os.getegid())
        assert os.getgroups() in ([], [os.getgid()])
        status = dict(line.split(":\t") for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
        assert int(status["CapEff"], 16) == int(status["CapPrm"], 16) == 0
        assert status["NoNewPrivs"] == "1"
        open("note.txt", "w").write("x")      # its scratch directory is its own
        open("/tmp/other.txt", "w").write("x")  # and /tmp is writable, as a program expects
    """)
    results = executor.run_many([(code, "pass\n")] * 2)
    assert all(r.passed for r in results), results[0].feedback


def _host_process_count() -> int:
    return sum(entry.isdigit() for entry in os.listdir("/proc"))


FORK_BOMB = textwrap.dedent("""
    import os, time
    forked = 0
    try:
        while True:
            if os.fork() == 0:
                time.sleep(60)
                os._exit(0)
            forked += 1
    finally:
        print("forked", forked)
""")


@needs_process_cap
def test_a_fork_bomb_is_capped_and_cleaned_up(executor):
    before = _host_process_count()
    started = time.monotonic()
    result = executor.run(FORK_BOMB, "pass\n")
    assert not result.passed and result.status in ("error", "timeout")
    assert time.monotonic() - started < executor.limits["wall_s"] + 2
    forked = int(result.output.split("forked")[-1].split()[0])
    assert forked < PROCESS_LIMIT
    deadline = time.monotonic() + 5
    while _host_process_count() > before + 30 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _host_process_count() <= before + 30  # other work shares this machine: a margin
    assert all(r.passed for r in executor.run_many([(ADD_ONE, ADD_ONE_TEST)] * 4))


@needs_bwrap
def test_home_and_project_are_not_visible(executor):
    here = os.path.abspath(__file__)
    result = executor.run(f"import os\nassert not os.path.exists({here!r})\n", "pass\n")
    assert result.passed, result.feedback


def test_scratch_directory_is_writable_and_fresh(executor):
    code = "import os\nassert not os.path.exists('note.txt')\nopen('note.txt', 'w').write('x')\n"
    assert all(r.passed for r in executor.run_many([(code, "pass\n")] * 4))


@needs_bwrap
def test_no_network_not_even_the_hosts_loopback(executor):
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.5)
    port = server.getsockname()[1]
    accepted = []

    def accept() -> None:
        try:
            accepted.append(server.accept())
        except OSError:
            pass

    listener = threading.Thread(target=accept)
    listener.start()
    code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
    result = executor.run(code, "pass\n")
    listener.join()
    server.close()
    assert result.status == "error", result.feedback
    assert accepted == []


@pytest.mark.parametrize(
    "code,test,error_type",
    [
        (b"def f():\n    return '\xff\xfe'\n", "pass\n", "InvalidInput"),
        ("x = 1\n" * 2_000_000, "pass\n", "InputTooLarge"),
        ("", "pass\n", "EmptyProgram"),
        ("   \n", "pass\n", "EmptyProgram"),
        (ADD_ONE, "assert add_one(1 ==\n", "TestSyntaxError"),
        ("def f():\n    return '\udcff'\n", "pass\n", "InvalidInput"),
    ],
    ids=["not-utf8", "10MB", "empty", "blank", "test-does-not-parse", "lone-surrogate"],
)
def test_bad_input_gives_a_clear_result_never_an_exception(executor, code, test, error_type):
    result = executor.run(code, test)
    assert result.status == "error"
    assert result.error_type == error_type
    assert result.feedback


def test_run_many_keeps_the_order_given(executor):
    slow = "import time\ntime.sleep(0.3)\n" + ADD_ONE
    pairs = [(slow if i % 3 == 0 else ADD_ONE, ADD_ONE_TEST if i % 2 == 0 else "assert add_one(1) == 3\n") for i in range(12)]
    results = executor.run_many(pairs)
    assert [r.passed for r in results] == [i % 2 == 0 for i in range(12)]


def test_feedback_is_capped(executor):
    code = "def add_one(x):\n    raise ValueError('x' * 100000)\n"
    result = executor.run(code, ADD_ONE_TEST)
    assert result.status == "error" and len(result.feedback) <= 2000


def test_every_status_is_in_the_closed_set(executor):
    assert executor.run(ADD_ONE, ADD_ONE_TEST).status in STATUSES


def test_process_fallback_runs_the_same_harness():
    with Executor(workers=1, timeout_s=1.0, isolation="process") as ex:
        assert ex.isolation == "process"
        assert ex.run(ADD_ONE, ADD_ONE_TEST).passed
        assert ex.run("def add_one(x):\n    return x\n", ADD_ONE_TEST).status == "failed"
        assert ex.run("def add_one(x):\n    while True: pass\n", ADD_ONE_TEST).status == "timeout"


def test_missing_bwrap_falls_back_loudly(monkeypatch, caplog, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a real PATH without bwrap on it
    with caplog.at_level(logging.WARNING):
        with Executor(workers=1) as ex:
            assert ex.isolation == "process"
            assert ex.run(ADD_ONE, ADD_ONE_TEST).passed
    assert "SANDBOX DEGRADED" in caplog.text


def test_requiring_bwrap_without_it_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(IsolationUnavailable, match="bubblewrap"):
        Executor(workers=1, isolation="bwrap")


def test_closed_executor_leaves_no_sandbox_running():
    ex = Executor(workers=2)
    ex.run("import subprocess\nsubprocess.Popen(['sleep', '765432'])\n" + ADD_ONE, ADD_ONE_TEST)
    pids = [sandbox._process.pid for sandbox in ex._all]
    cgroups = [sandbox.pids_cgroup for sandbox in ex._all if sandbox.pids_cgroup]
    ex.close()
    assert all(not os.path.exists(f"/proc/{pid}") for pid in pids)
    assert not any(cgroup.exists() for cgroup in cgroups)
    assert _processes_named("765432") == []


@needs_bwrap
def test_an_interpreter_living_under_tmp_still_runs_in_the_jail(tmp_path):
    # CI clones (and their .venv) may live under /tmp, where the jail mounts its scratch.
    import sys
    from pathlib import Path

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    script = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parents[1])!r})\n"
        "from persd.execution import Executor\n"
        "with Executor(workers=1, isolation='bwrap') as ex:\n"
        "    r = ex.run('import sys\\nprint(sys.executable)\\n', 'pass\\n')\n"
        "    print(r.status, r.output)\n"
    )
    out = subprocess.run([str(venv / "bin" / "python"), "-c", script], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    # The venv is bound at a fixed path of the jail, whatever its host path (which may name persd).
    assert out.stdout.split() == ["passed", "/opt/python/bin/python"]
