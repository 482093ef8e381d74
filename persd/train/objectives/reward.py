"""The sandbox as GRPO's reward: the share of a task's tests a completion passes.

    reward = SandboxReward(workers=4)
    reward(prompts=[...], completions=[...], tests=[...])   # -> [1.0, 0.25, 0.0, ...]

What is rewarded, exactly (persd.execution decides the verdicts, as for collection and
evaluation):
  passed                     1.0
  failed or error (runtime)  tests_passed / tests_total: the asserts that completed before
                             the first failure
  a program that does not parse, times out, runs out of memory or is killed   0.0
The program is the prompt plus the completion re-indented to the prompt's
(persd.code.indent.match_indent) and cut by the student's stop rule
(persd.code.splice.end_completion): the shape inference and the training rows give it, so a
tab-indented body after a space-indented docstring is rewarded as the student's output
would be run, not scored 0 for a TabError. The batch's programs run
in parallel on the executor's sandboxes (`run_many`), so a GRPO step pays roughly one
program's time per `workers` completions. By default the rows carry the visible tests
(docstring examples); the hidden tests are what evaluation scores, so rewarding on them
(`--reward-tests hidden`) trains on the test set and is for studies only.
"""

from __future__ import annotations

import time
from typing import Any

from persd.code.indent import match_indent
from persd.code.splice import end_completion
from persd.execution import make_executor

ZERO_STATUSES = ("timeout", "memory", "killed")


def reward_of(result: Any) -> float:
    """The reward of one `ExecutionResult`; see the module docstring."""
    if result.passed:
        return 1.0
    if result.status in ZERO_STATUSES or result.error_type == "SyntaxError" or not result.tests_total:
        return 0.0
    return round(min(result.tests_passed, result.tests_total) / result.tests_total, 6)


class SandboxReward:
    """A trl reward function (called with the batch's prompts, completions and columns)."""

    __name__ = "sandbox"  # trl logs the reward as rewards/sandbox/mean

    def __init__(self, workers: int | None = None, timeout_s: float = 3.0, executor: Any = None) -> None:
        self.workers, self.timeout_s = workers, timeout_s
        self._executor, self._owned = executor, executor is None
        self.calls, self.seconds = 0, 0.0

    @property
    def executor(self):
        if self._executor is None:
            self._executor = make_executor(workers=self.workers, timeout_s=self.timeout_s)
        return self._executor

    def __call__(self, prompts: list[str], completions: list[str], tests: list[str],
                 **_: Any) -> list[float]:

        started = time.perf_counter()
        programs = [prompt + end_completion(prompt, match_indent(prompt, completion))
                    for prompt, completion in zip(prompts, completions)]
        results = self.executor.run_many(list(zip(programs, tests, prompts)))
        self.calls += 1
        self.seconds += time.perf_counter() - started
        return [reward_of(result) for result in results]

    def close(self) -> None:
        if self._owned and self._executor is not None:
            self._executor.close()
            self._executor = None
