"""Settings and results of a collection round: `CollectConfig`, `CollectSummary`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from persd.execution.verdicts import check_protocol
from persd.prompts import PROMPT_STYLES
from persd.settings import Sampling, with_sampling
from persd.store.records import METHODS
from persd.student.chat import PROMPT_FORMATS

STOPPED_ON_REQUEST = "stopped on request"


@with_sampling
@dataclass
class CollectConfig:
    """Settings of one collection round.

    Parameters:
        session (`str`): Session name; its file is `<sessions_dir>/<session>.sqlite`.
        tasks (`str`, defaults to `"humaneval"`): A `load_tasks` spec.
        student (`str`): Hugging Face id or local path of the student (not needed for "stand").
        teacher_model (`str`): Model name at the OpenAI-compatible endpoint
            (`OPENAI_BASE_URL`, `OPENAI_API_KEY`).
        method (`str`, defaults to `"persd"`): "persd", "stand" or "inpd".
        round (`int`, defaults to `1`): Collection round; round 2 usually runs the student
            fine-tuned on round 1 (`adapter`). Rounds are kept apart in the session.
        adapter (`str` or `None`): A peft adapter applied to the student.
        limit (`int` or `None`): Only the first `limit` tasks.
        samples (`int`, defaults to `1`): Student attempts per task (the paper uses 1).
        sampling (`Sampling`, defaults to `Sampling()`: temperature 0.3, top_p 0.95,
            max_new_tokens 512, the paper's): The student's sampling; `temperature=`,
            `top_p=` and `max_new_tokens=` are accepted as keywords too.
        batch_size (`int`, defaults to `8`): Student prompts per generate call.
        concurrency (`int`, defaults to `8`): Teacher calls in flight.
        teacher_tries (`int`, defaults to `2`): Teacher attempts per task before a
            refinement is kept as unvalidated.
        teacher_max_tokens (`int`, defaults to `1024`): The teacher's reply budget; a small
            local teacher on CPU (persd teacher serve, transformers serve) wants less.
        timeout_s (`float`, defaults to `3.0`): CPU seconds per program in the sandbox.
        protocol (`str`, defaults to `"strict"`): How programs are judged: "strict" (every
            test, exact comparison) or "paper" (MBPP's test_list only, approximate floats);
            see persd.execution.verdicts. Recorded with the round.
        workers (`int` or `None`): Sandboxes (default: one per core).
        sessions_dir (`str`, defaults to `"sessions"`): Where sessions live.
        eval_tasks (`str` or `None`): The evaluation set (a `load_tasks` spec such as
            "humaneval") the student will be judged on; collection warns when its tasks
            overlap it (persd.tasks.decontaminate).
        student_backend (`str`, defaults to `"hf"`): "hf" (transformers), "vllm" (offline
            vLLM engine, `pip install 'persd[vllm]'`) or "openai" (a student already served
            at `student_base_url` by vLLM or `transformers serve`); see persd.student.backends.
        student_base_url (`str` or `None`): The student's endpoint for the "openai" backend.
        prompt_format (`str`, defaults to `"completion"`): How the student is prompted:
            "completion", "chat" (an instruct model: the task as a user message through its
            chat template) or "auto"; see persd.student.chat. The hf backend's setting.
        teacher_batch (`bool`, defaults to `False`): Send the teacher's first requests as one
            OpenAI Batch API job (half price, up to 24 h) once the student has tried every
            task; retries go live (persd.teacher.batch).
        prompt_style (`str`, defaults to `"persd"`): Whose task prompt the student completes:
            persd's, or "paper", the release's (the description as a module docstring above the
            header, its stop rule; persd.paper_style). Recorded with the round.
    """

    session: str
    teacher_model: str
    tasks: str = "humaneval"
    student: str = ""
    method: str = "persd"
    round: int = 1
    adapter: str | None = None
    limit: int | None = None
    samples: int = 1
    sampling: Sampling = field(default_factory=Sampling)
    batch_size: int = 8
    concurrency: int = 8
    teacher_tries: int = 2
    teacher_max_tokens: int = 1024
    timeout_s: float = 3.0
    protocol: str = "strict"
    workers: int | None = None
    sessions_dir: str = "sessions"
    eval_tasks: str | None = None
    student_backend: str = "hf"
    student_base_url: str | None = None
    teacher_batch: bool = False
    prompt_format: str = "completion"
    prompt_style: str = "persd"

    def __post_init__(self) -> None:
        check_protocol(self.protocol)
        if self.prompt_style not in PROMPT_STYLES:
            raise ValueError(f"prompt_style must be one of {', '.join(PROMPT_STYLES)}, "
                             f"not {self.prompt_style!r}")
        if self.prompt_format not in PROMPT_FORMATS:
            raise ValueError(f"prompt_format must be one of {', '.join(PROMPT_FORMATS)}, "
                             f"not {self.prompt_format!r}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {self.method!r}")
        if self.method != "stand" and not self.student:
            raise ValueError(f"method {self.method!r} needs a student model (--student)")
        if min(self.round, self.samples, self.concurrency, self.teacher_max_tokens) < 1:
            raise ValueError("round, samples, concurrency and teacher_max_tokens must be at least 1")

    def session_identity(self) -> dict[str, Any]:
        """The settings a session is bound to: a rerun with others is refused."""
        return {"kind": "collect", "tasks": self.tasks, "method": self.method,
                "student": self.student, "teacher_model": self.teacher_model,
                "samples": self.samples, "simulated": False}

    def round_settings(self) -> dict[str, Any]:
        return {"round": self.round, "adapter": self.adapter, **self.sampling.to_dict(),
                "limit": self.limit, "protocol": self.protocol, "prompt_format": self.prompt_format,
                "prompt_style": self.prompt_style}

    def student_format(self) -> str | None:
        """The student's prompt_format setting; None (the backend's own) for completion, so
        backends without the setting (vllm, openai) build as before."""
        return None if self.prompt_format == "completion" else self.prompt_format


@dataclass
class CollectSummary:
    session: str
    round: int
    method: str
    tasks: int = 0
    attempts: int = 0
    passed: int = 0
    failed: int = 0
    refined: int = 0
    validated: int = 0
    unvalidated: int = 0
    teacher_errors: dict[str, str] = field(default_factory=dict)
    cost_usd: float = 0.0
    wall_s: float = 0.0
    stopped_by: str | None = None   # why the teacher part stopped early, if it did

    @property
    def complete(self) -> bool:
        return self.stopped_by is None and not self.teacher_errors

    def table(self) -> str:
        rows = [
            ("session", f"{self.session} (round {self.round}, {self.method})"),
            ("tasks", self.tasks), ("student attempts", self.attempts),
            ("  passed", self.passed), ("  failed", self.failed),
            ("teacher results", self.refined), ("  validated", self.validated),
            ("  not validated", self.unvalidated),
            ("teacher errors (retried on rerun)", len(self.teacher_errors)),
            ("teacher cost (USD)", f"{self.cost_usd:.4f}"), ("wall time (s)", f"{self.wall_s:.1f}"),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        if self.stopped_by:
            lines.append(f"STOPPED: {self.stopped_by}. Run the same command again to finish.")
        for task_id, error in list(self.teacher_errors.items())[:5]:
            lines.append(f"  {task_id}: {error}")
        return "\n".join(lines)


class CollectError(Exception):
    """Bad input for a collection run: one clear message, the session untouched."""
