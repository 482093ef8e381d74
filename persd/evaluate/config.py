"""Settings of an evaluation, and the named presets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from persd.execution.verdicts import check_protocol
from persd.prompts import PROMPT_STYLES
from persd.settings import Sampling, flat_dict, settings_from_dict, with_sampling

# Named protocols; `EvalConfig.preset(name)` and `persd eval --preset NAME`.
PRESETS: dict[str, dict[str, Any]] = {
    # The paper's HumanEval pass@1 protocol (also Codex / human-eval).
    "paper": {"samples": 20, "temperature": 0.2, "top_p": 0.95},
}
_STANDARD_KS = (1, 10, 100)
FEEDBACK_TESTS = ("visible", "hidden")


EVAL_SAMPLING = Sampling(temperature=0.2)


@with_sampling
@dataclass
class EvalConfig:
    """Settings of an evaluation.

    Parameters:
        samples (`int`, defaults to `1`):
            Programs sampled per task (n of the pass@k estimator).
        sampling (`Sampling`, defaults to temperature 0.2, top_p 0.95, max_new_tokens 512):
            The sampling of attempts and refinements; temperature `0` is greedy (then all n
            samples of a task are identical). `temperature=`, `top_p=` and
            `max_new_tokens=` are accepted as keywords too.
        refine_steps (`int`, defaults to `0`):
            K, the multi-step repair rounds after the first attempt; `0` is one-step
            inference only (and the visible tests are not run).
        ks (`tuple[int, ...]` or `None`, defaults to `None`):
            The k of pass@k to report, each at most `samples`. `None` picks those of
            1, 10, 100 that `samples` allows.
        timeout_s (`float`, defaults to `3.0`):
            CPU-time limit per program run (the executor's `timeout_s`).
        workers (`int` or `None`, defaults to `None`):
            Parallel sandboxes; `None` is one per CPU core.
        protocol (`str`, defaults to `"strict"`):
            How programs are judged (persd.execution.verdicts): "strict" runs every test
            (MBPP: test_list and challenge_test_list) with exact comparison; "paper" is the
            MBPP release's protocol, test_list only, floats compared like pytest.approx.
            Recorded with the run; `eval-compare` keeps runs of different protocols apart.
        prompt_style (`str`, defaults to `"persd"`):
            Whose prompts the student is asked in: `"persd"` (persd.prompts) or `"paper"`,
            the release's task prompt, its "Rectify the below code" repair prompt and its
            stop rule (persd.paper_style). Recorded with the run; `eval-compare` keeps runs of
            different styles apart.
        feedback_tests (`str`, defaults to `"visible"`):
            Which tests the repair steps learn from: `"visible"` (docstring examples, MBPP's
            first assert) or `"hidden"`, the release's MBPP repair feedback: the very tests
            that score the sample, which leaks them into inference (only on purpose).
    """

    samples: int = 1
    sampling: Sampling = field(default_factory=lambda: EVAL_SAMPLING)
    refine_steps: int = 0
    ks: tuple[int, ...] | None = None
    timeout_s: float = 3.0
    workers: int | None = None
    protocol: str = "strict"
    prompt_style: str = "persd"
    feedback_tests: str = "visible"

    def __post_init__(self) -> None:
        check_protocol(self.protocol)
        if self.prompt_style not in PROMPT_STYLES:
            raise ValueError(f"unknown prompt style {self.prompt_style!r}; one of {', '.join(PROMPT_STYLES)}")
        if self.feedback_tests not in FEEDBACK_TESTS:
            raise ValueError(f"unknown feedback tests {self.feedback_tests!r}; one of "
                             f"{', '.join(FEEDBACK_TESTS)}")
        if self.samples < 1:
            raise ValueError(f"samples must be at least 1 (got {self.samples})")
        if self.refine_steps < 0 or self.timeout_s <= 0:
            raise ValueError("need refine_steps >= 0 and timeout_s > 0")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1 (got {self.workers})")
        if self.ks is None:
            self.ks = tuple(k for k in _STANDARD_KS if k <= self.samples)
        self.ks = tuple(sorted(set(self.ks)))
        too_big = [k for k in self.ks if not 1 <= k <= self.samples]
        if too_big or not self.ks:
            raise ValueError(f"pass@k needs 1 <= k <= samples: k={too_big or '[]'} with "
                             f"samples={self.samples} (raise --samples or lower k)")

    @classmethod
    def preset(cls, name: str, **overrides: Any) -> EvalConfig:
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; known: {', '.join(sorted(PRESETS))}")
        return cls.from_dict({**PRESETS[name], **overrides})

    @classmethod
    def paper(cls, **overrides: Any) -> EvalConfig:
        """n=20, temperature 0.2, top_p 0.95: the paper's pass@1 protocol."""
        return cls.preset("paper", **overrides)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> EvalConfig:
        """Build from a mapping (e.g. a stored run's config); unknown keys or bad types fail."""
        values = dict(values)
        if isinstance(values.get("ks"), list):
            values["ks"] = tuple(values["ks"])
        return settings_from_dict(cls, values, "eval")

    def to_dict(self) -> dict[str, Any]:
        """The stored form: the sampling laid flat, as `from_dict` reads it back."""
        return {**flat_dict(self), "ks": list(self.ks or ())}
