"""Multi-step inference: sample, score on the hidden tests, and repair from the visible
tests' feedback, step after step. The hidden tests only ever go to the executor."""

from __future__ import annotations

import dataclasses
import time

from persd.evaluate.report import SampleResult
from persd.student import attempt, refine


def run_steps(student, tasks, config, executor, store, run_id, say, timings):
    """All steps; each step lists the samples task by task, sample by sample. Appends
    (generation seconds, execution seconds) per step to `timings`."""
    n, check_visible = config.samples, config.refine_steps > 0
    say(f"step 0: sampling {len(tasks)} tasks x {n}")
    clock = time.perf_counter()
    style, hidden = config.prompt_style, config.feedback_tests == "hidden"
    programs = attempt(student, tasks, n=n, style=style, **config.sampling)
    generated = time.perf_counter()
    for task, got in zip(tasks, programs):
        if len(got) != n:
            raise RuntimeError(f"the student returned {len(got)} samples for {task.task_id}, "
                               f"expected {n}")
    slots = [(task, i) for task, got in zip(tasks, programs) for i in range(n)]
    flat = [program for got in programs for program in got]
    step = score(executor, slots, flat, 0, check_visible, refined=False)
    timings.append((generated - clock, time.perf_counter() - generated))
    history = [step]
    record(store, run_id, step)
    for number in range(1, config.refine_steps + 1):
        todo = [i for i, s in enumerate(step)
                if (run := _feedback_run(s, hidden)) is not None and not run.passed]
        say(f"step {number}: refining {len(todo)} of {len(step)} samples")
        clock = time.perf_counter()
        fixes = refine(student, [(slots[i][0], step[i].program, _feedback_run(step[i], hidden))
                                 for i in todo], style=style, **config.sampling) if todo else []
        generated = time.perf_counter()
        fresh = score(executor, [slots[i] for i in todo], fixes, number, True, refined=True)
        timings.append((generated - clock, time.perf_counter() - generated))
        step = [dataclasses.replace(s, step=number, refined=False) for s in step]
        for i, sample in zip(todo, fresh):
            step[i] = sample
        history.append(step)
        record(store, run_id, step)
    return history


def _feedback_run(sample: SampleResult, hidden: bool):
    """The run a repair learns from: the visible tests', or (`--feedback-tests hidden`, the
    release's MBPP protocol) the hidden tests' that also score the sample."""
    return sample.hidden if hidden else sample.visible


def score(executor, slots, programs, step, check_visible, refined) -> list[SampleResult]:
    """Runs the hidden tests (and the visible ones, if asked and present) in one batch."""
    pairs = [(program, task.test, task.prompt) for (task, _), program in zip(slots, programs)]
    visible_at = []
    if check_visible:
        for j, ((task, _), program) in enumerate(zip(slots, programs)):
            if task.visible_test.strip():
                visible_at.append(j)
                pairs.append((program, task.visible_test, task.prompt))
    results = executor.run_many(pairs)
    visible = dict(zip(visible_at, results[len(programs):]))
    return [SampleResult(task.task_id, index, step, program, results[j], visible.get(j), refined)
            for j, ((task, index), program) in enumerate(zip(slots, programs))]


def record(store, run_id, step: list[SampleResult]) -> None:
    if store is None:
        return
    with store.transaction():  # one commit per step, not per sample
        for s in step:
            record = store.eval_samples.add(run_id, s.task_id, program=s.program, result=s.hidden,
                                           sample_index=s.sample_index, step=s.step)
            if s.visible is not None:
                store.executions.add("eval_sample", record.id, s.visible, tests="visible")
