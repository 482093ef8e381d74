"""Start a job as a child process: a config JSON, a log, a pid, a death signal.

    from persd.launch import start_job
    child = start_job({"kind": "eval", ...}, Path("runs/eval-3/job.json"),
                      Path("runs/eval-3/eval.log"))
    child.pid     # recorded in the job's run row by the caller
    child = start_in_own_thread(start, ended, "persd-eval")  # from a web request's thread

Training and evaluation run the same way, from the app's jobs, `persd train` and the loop:
the job's settings are written as JSON (`job_file`), and the child is
`python -m persd.runs.child --config job_file` (or `<launcher> -m persd.runs.child ...`,
e.g. `torchrun --nproc_per_node 2`), which reads them back. The loop the app starts is a
job of the same kind run by `persd.loop.child` (`runner=`): the loop sits above
persd.runs, so persd.runs.child cannot run it without an import cycle. Settings never travel as
command-line flags, so nothing is lost or re-parsed on the way.

The child runs in its own session (a signal to the parent's terminal group does not reach
it; stop it with SIGTERM or SIGINT), with its stdout and stderr appended to `log` (never
truncated: a run's earlier lines stay when a resumed or failed run writes after them), and
with umask 077 (its files 0600, as the session's). On Linux it gets SIGTERM when the thread
that started it ends (prctl PR_SET_PDEATHSIG, set between fork and exec): a `kill -9` of
`persd loop`, `persd train` or the app leaves no trainer or evaluator behind. The kernel
delivers that signal however the parent dies, with nothing to poll in the child; a pipe
the child watches would need a watcher thread in every child, in every process of a
multi-process launch.
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import json
import os
import shlex
import signal
import subprocess
import sys
import queue
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from persd import private

RUNNER = "persd.runs.child"
PR_SET_PDEATHSIG = 1


def start_job(job: dict[str, Any], job_file: Path, log: Path, *, launcher: str | None = None,
              env: dict[str, str] | None = None, pass_fds: Iterable[int] = (),
              runner: str = RUNNER) -> subprocess.Popen:
    """Write `job` to `job_file` and start `runner` (a module run with -m) on it; OSError if
    it cannot start."""
    private.write_text(job_file, json.dumps(job, indent=1, sort_keys=True) + "\n")
    prefix = shlex.split(launcher) if launcher else [sys.executable]
    command = [*prefix, "-m", runner, "--config", str(job_file)]
    with private.open_log(log, append=True) as output:
        return subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, pass_fds=tuple(pass_fds), env={**os.environ, **(env or {})},
            umask=private.UMASK, preexec_fn=die_with_parent(),
        )


def start_in_own_thread(start: Callable[[], subprocess.Popen],
                        ended: Callable[[subprocess.Popen], None], name: str) -> subprocess.Popen:
    """Call `start` (which starts a child with `start_job`) in a thread of its own that
    then waits for the child and calls `ended(child)`; the child, or what `start` raised.

    The death signal follows the thread that forked the child, not the process: a child
    started from a pooled worker thread (a web request's) would be ended when that thread
    retires. A thread that lives as long as its child fires it only when the process dies,
    and records how the child ended whether or not anyone is watching."""
    started: queue.Queue = queue.Queue(maxsize=1)

    def own() -> None:
        try:
            child = start()
        except BaseException as error:  # handed to the caller, which raises it
            started.put(error)
            return
        started.put(child)
        child.wait()
        ended(child)

    threading.Thread(target=own, name=name, daemon=True).start()
    outcome = started.get()
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def job_file_argument(prog: str, description: str, argv: list[str] | None = None) -> str:
    """The `--config JOB_FILE` a job runner's child process is started with."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--config", required=True, help="the job file (persd.launch)")
    return parser.parse_args(argv).config


def read_job(job_file: str | Path) -> dict[str, Any]:
    """The job `start_job` wrote; OSError or ValueError for a missing or broken file."""
    job = json.loads(Path(job_file).read_text(encoding="utf-8"))
    if not isinstance(job, dict) or not isinstance(job.get("kind"), str):
        raise ValueError(f"{job_file}: not a persd job (a JSON object with a \"kind\")")
    return job


def die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn: SIGTERM to the child when the thread that forks it ends. It runs
    between fork and exec, so it only calls what was loaded before the fork."""
    try:
        prctl = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None  # not Linux: the parent's stop signal is the only way to end the child
    parent = os.getpid()

    def set_death_signal() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM))
        if os.getppid() != parent:  # the parent died before the death signal was set
            os._exit(1)

    return set_death_signal
