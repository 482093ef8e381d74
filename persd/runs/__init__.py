"""Work that spans steps: each run takes its config (and a session) and is called alike by
the CLI, the app's jobs and the loop.

    from persd.runs import eval_run, train_run
    outcome = train_run(TrainConfig(...), data=None, sessions_dir="sessions")   # persd train
    report = eval_run(EvalConfig(...), tasks, model="models/tiny", store=store)  # persd eval

The layer sits above the parts it joins (persd.train's child process, persd.evaluate,
persd.execution, persd.student, persd.data, persd.jobs, the store) and below persd.cli,
persd.loop and persd.studies; nothing below it imports it, so the package graph has no
cycle (tests/test_layout.py). Collection's round is `persd.collect.collect` and an import is
`persd.importing.import_file`: both already take a config (or a store) and are one call.
"""

from persd.runs.evaluate import eval_run
from persd.runs.train import TrainOutcome, train_run

__all__ = ["TrainOutcome", "eval_run", "train_run"]
