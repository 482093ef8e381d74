"""Long work started from the app: training children and collection threads.

    from persd.jobs import TrainJobs, CollectJob, train_command
    job = TrainJobs().start(store, train_config, rows)   # see persd.jobs.train
    job = CollectJob(collect_config).start()               # see persd.jobs.collect
"""

from persd.jobs.collect import CollectJob, CollectProgress
from persd.jobs.snapshot import JobError, RunSnapshot
from persd.jobs.train import TrainJob, TrainJobs, train_command

__all__ = ["CollectJob", "CollectProgress", "JobError", "RunSnapshot", "TrainJob", "TrainJobs",
           "train_command"]
