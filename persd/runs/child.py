"""The job runner: what every training and evaluation child process runs.

    python -m persd.runs.child --config runs/r1/train_job.json

The job file is what persd.launch.start_job wrote (an eval job's shape:
persd.runs.evaluate.eval_job): `{"kind": "train", ...}` runs
persd.train.run.run_training on the job's TrainConfig, rows and metrics file;
`{"kind": "eval", ...}` runs `eval_run` on the job's EvalConfig and fills in the session's
queued eval run `run_id` (every step's samples go into the session as the step ends) and
writes the report. Progress and errors go to the child's log; an error is one line
starting "Error:" (the app shows it). Exit status: 0 done, 2 bad input, 130 stopped
(SIGINT or SIGTERM; the eval run is recorded "stopped", its samples kept), and the
training exit codes of persd.train.run.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

from persd.evaluate import EvalConfig
from persd.launch import job_file_argument, read_job
from persd.runs.evaluate import eval_run
from persd.store import SessionStore, StoreError
from persd.student import StudentLoadError
from persd.student.openai import StudentServerError
from persd.tasks import TaskFileError, load_tasks
from persd.train.run import EXIT_BAD_INPUT, run_training

EXIT_STOPPED = 130


def main(argv: list[str] | None = None) -> int:
    job_file = job_file_argument("python -m persd.runs.child", __doc__.split("\n")[0], argv)
    try:
        job = read_job(job_file)
    except (OSError, ValueError) as error:
        print(f"Error: cannot read the job {job_file}: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if job["kind"] == "train":
        return run_training(job["train"], job["data"], job.get("metrics"))
    if job["kind"] == "eval":
        return run_eval_job(job)
    print(f"Error: {job_file}: unknown job kind {job['kind']!r}", file=sys.stderr)
    return EXIT_BAD_INPUT


def run_eval_job(job: dict[str, Any]) -> int:
    """Evaluate as the job says, recording into its run; the exit status."""
    # SIGTERM (the loop's death signal, a stop) ends the run as Ctrl-C does: "stopped".
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    meta = job["meta"]
    try:
        config = EvalConfig.from_dict(job["eval"])
        tasks = load_tasks(meta["task_spec"])[: meta.get("limit")]
        if not tasks:
            raise ValueError(f"no tasks to evaluate in {meta['task_spec']}")
        with SessionStore.open(job["sessions_dir"], job["session"]) as store:
            report = eval_run(config, tasks, model=meta["model"], adapter=meta.get("adapter"),
                              store=store, meta=meta, run_id=job["run_id"],
                              progress=lambda line: print(line, file=sys.stderr, flush=True),
                              batch_size=meta.get("batch_size", 8), seed=meta.get("seed"),
                              prompt_format=meta.get("prompt_format"))
    except KeyboardInterrupt:
        print("Stopped: the samples scored so far are kept", file=sys.stderr)
        return EXIT_STOPPED
    except (StoreError, StudentLoadError, StudentServerError, TaskFileError, ValueError,
            OSError) as error:
        print(f"Error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(report.summary_table())
    Path(job["report"]).parent.mkdir(parents=True, exist_ok=True)
    Path(job["report"]).write_text(json.dumps(report.to_dict(), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
