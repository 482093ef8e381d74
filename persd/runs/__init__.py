"""Work that spans steps: each run takes its config (and a session) and is called alike by
the CLI, the app's jobs and the loop.

    from persd.runs import collect_round, eval_run, import_file, train_run
    summary = collect_round(CollectConfig(...))                                  # persd collect
    outcome = train_run(TrainConfig(...), data=None, sessions_dir="sessions")   # persd train
    report = eval_run(EvalConfig(...), tasks, model="models/tiny", store=store)  # persd eval
    report = import_file("sessions", "mine", "rows.csv", fmt="table")           # persd import

The layer sits above the parts it joins (persd.collect, persd.importing, persd.train's
child process, persd.evaluate, persd.execution, persd.student, persd.data, the store) and
below persd.jobs (the app's background work), persd.cli, persd.loop and persd.studies;
nothing below it imports it, so the package graph has no cycle (tests/test_layout.py).
Training and evaluation children are one kind of job: a job file run by persd.runs.child
(started by persd.launch); persd.runs.ended records how a training child ended.
"""

from persd.runs.collect import collect_round, round_tasks
from persd.runs.evaluate import eval_run
from persd.runs.importing import import_file
from persd.runs.train import TrainOutcome, train_run

__all__ = ["TrainOutcome", "collect_round", "eval_run", "import_file", "round_tasks",
           "train_run"]
