"""A collection round: its tasks (the config's task set, cut to its limit) and
persd.collect's round over them, student attempts, sandbox verdicts and teacher
refinements into the session.

    from persd.runs import collect_round, round_tasks
    summary = collect_round(CollectConfig(session="s", tasks="humaneval", ...))   # persd collect
    tasks = round_tasks(config)                       # the app's job shows progress over these
    summary = collect_round(config, tasks=tasks, should_stop=stop.is_set)

What `persd collect`, the app's collect job and the loop's collect step run. Raises
TaskFileError for a task set it cannot read, CollectError (SessionBusy: another collection
of the session runs) for what stops the round.
"""

from __future__ import annotations

from collections.abc import Callable

from persd.collect import CollectConfig, CollectSummary, collect
from persd.tasks import Task, load_tasks


def round_tasks(config: CollectConfig) -> list[Task]:
    """The round's tasks: the config's task set, its first `limit` when one is set."""
    tasks = load_tasks(config.tasks)
    return tasks[: config.limit] if config.limit else tasks


def collect_round(config: CollectConfig, *, tasks: list[Task] | None = None, student=None,
                  teacher=None, executor=None, progress: bool = True,
                  should_stop: Callable[[], bool] | None = None, wait: bool = False,
                  on_wait: Callable[[str], None] | None = None) -> CollectSummary:
    """Run (or resume) the round over `tasks` (default: round_tasks(config)); backends are
    built from `config` unless given. See persd.collect.collect for `should_stop`, `wait`."""
    return collect(config, tasks=round_tasks(config) if tasks is None else tasks,
                   student=student, teacher=teacher, executor=executor, progress=progress,
                   should_stop=should_stop, wait=wait, on_wait=on_wait)
