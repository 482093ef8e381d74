"""The loop's job runner: the online loop the app starts, in a child process of its own.

    python -m persd.loop.child --config runs/loop-s/loop_job.json

The job file is what persd.launch.start_job wrote for persd.jobs.loop: `{"kind": "loop",
"loop": LoopConfig.to_dict()}`. The child runs `run_loop` as `persd loop` does, recording
the loop in the session (its pid, every step); SIGTERM (the Loop tab's Stop, the app's
death signal) ends the step in progress cleanly. The teacher's endpoint and key come in
the environment (OPENAI_BASE_URL, OPENAI_API_KEY), never in the job file. Progress and
errors go to the child's log; an error is one line starting "Error:". Exit status: 0
finished, 2 bad input, 130 stopped.
"""

from __future__ import annotations

import sys

from persd.launch import job_file_argument, read_job
from persd.loop import LoopConfig, LoopError, run_loop

EXIT_BAD_INPUT, EXIT_STOPPED = 2, 130


def main(argv: list[str] | None = None) -> int:
    job_file = job_file_argument("python -m persd.loop.child", __doc__.split("\n")[0], argv)
    try:
        job = read_job(job_file)
        if job["kind"] != "loop":
            raise ValueError(f"{job_file}: a {job['kind']!r} job, not a loop")
        config = LoopConfig.from_dict(job["loop"])
        outcome = run_loop(config, echo=lambda line: print(line, file=sys.stderr, flush=True))
    except (OSError, ValueError, LoopError) as error:
        print(f"Error: {error}", file=sys.stderr, flush=True)
        return EXIT_BAD_INPUT
    print(f"loop run {outcome.run_id} {outcome.status}: {outcome.reason}", flush=True)
    return EXIT_STOPPED if outcome.status == "stopped" else 0


if __name__ == "__main__":
    sys.exit(main())
