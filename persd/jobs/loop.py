"""The online loop started from the app: `persd loop` as a child process.

    from persd.jobs.loop import start_loop
    started = start_loop(loop_config, env={"OPENAI_BASE_URL": url, "OPENAI_API_KEY": key})
    started.run_id, started.pid          # the loop run the child recorded in the session
    persd.loop.request_stop(store)       # Stop: SIGTERM, the step in progress ends cleanly

The loop's settings go into a job file, `loop_job.json` in its output folder beside
`loop.log`, and the child is `python -m persd.loop.child --config loop_job.json`
(persd.launch, as training and evaluation children are started). The child records the
loop run itself (its pid, every step), exactly as `persd loop` does, so the Loop tab, the
CLI and a reloaded page read the same run; the same settings again continue an unfinished
loop. The teacher's endpoint and key travel in the child's environment, never in a file.
`start_loop` waits until the child has recorded its run, or has ended (JobError with the
line its log ends on), so a start that cannot go on says why at once.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from persd import private
from persd.jobs.snapshot import JobError
from persd.launch import start_in_own_thread, start_job
from persd.loop import LoopConfig, loop_state
from persd.store import SessionStore, StoreError, session_path
from persd.text import log_tail

RUNNER = "persd.loop.child"
LOG, JOB = "loop.log", "loop_job.json"
CLAIM_WAIT_S = 60.0   # a loaded machine imports persd and opens the session in seconds


@dataclass(frozen=True)
class LoopStart:
    run_id: int
    pid: int
    log: Path


def start_loop(config: LoopConfig, *, env: dict[str, str] | None = None,
               wait_s: float = CLAIM_WAIT_S, poll_s: float = 0.2) -> LoopStart:
    """Start the loop's child and wait for its run; JobError when a loop of the session is
    running already, or the child cannot start or ends before it records its run."""
    running = _running_loop(config)
    if running is not None:
        raise JobError(f"a loop of session {config.session!r} is running (run "
                       f"{running}): stop it first (one loop per session)")
    out = Path(config.output_dir)
    job = {"kind": "loop", "loop": config.to_dict()}
    try:
        private.make_dir(out)
        child = start_in_own_thread(
            lambda: start_job(job, out / JOB, out / LOG, env=env, runner=RUNNER),
            lambda ended: None, "persd-loop")  # the child records how the loop ended
    except OSError as error:
        raise JobError(f"cannot start the loop: {error}") from error
    run_id = _claimed(config, child, out / LOG, wait_s, poll_s)
    return LoopStart(run_id, child.pid, out / LOG)


def _running_loop(config: LoopConfig) -> int | None:
    """The id of the session's loop run whose process is alive, if any."""
    if not session_path(config.sessions_dir, config.session).is_file():
        return None
    with SessionStore.open_to_read(config.sessions_dir, config.session) as store:
        state = loop_state(store)
    return state.run_id if state is not None and state.alive else None


def _claimed(config: LoopConfig, child: subprocess.Popen, log: Path, wait_s: float,
             poll_s: float) -> int:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        run_id = _run_of(config, child.pid)
        if run_id is not None:
            return run_id
        if child.poll() is not None:
            raise JobError(_last_error(log) or f"the loop process exited ({child.returncode})")
        time.sleep(poll_s)
    raise JobError(f"the loop process ({child.pid}) has not recorded its run after "
                   f"{wait_s:.0f} s; see {log}")


def _run_of(config: LoopConfig, pid: int) -> int | None:
    if not session_path(config.sessions_dir, config.session).is_file():
        return None
    try:
        with SessionStore.open_to_read(config.sessions_dir, config.session) as store:
            runs = [run for run in store.runs.list(kind="loop") if run.pid == pid]
    except StoreError:  # created this instant: not yet migrated
        return None
    return runs[-1].id if runs else None


def _last_error(log: Path) -> str:
    lines = [line.strip() for line in log_tail(log, 4000).splitlines() if line.strip()]
    errors = [line.removeprefix("Error: ") for line in lines if line.startswith("Error:")]
    return errors[-1] if errors else (lines[-1] if lines else "")
