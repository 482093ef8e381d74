"""Build a student from a backend name and settings: what `--student-backend` selects.

    from persd.student import build_student
    student = build_student("hf", model="models/tiny", temperature=0.3, batch_size=8)
    student = build_student("vllm", model="Qwen/Qwen2.5-Coder-1.5B", adapter="out/round1",
                            tensor_parallel_size=2)
    student = build_student("openai", model="round1", base_url="http://localhost:8000/v1")

Every backend takes the shared settings `model`, `adapter`, `sampling` (a
`persd.settings.Sampling`, or its `temperature`, `top_p`, `max_new_tokens` as keywords),
`n`, `seed` and `batch_size`, plus its own (vLLM: `tensor_parallel_size`, ...;
openai: `base_url`, `concurrency`, ...). `None` means "the backend's default". A setting the
backend does not know raises ValueError; `batch_size` is accepted and ignored by vLLM (it
schedules its own batches) and by openai (requests go one per prompt, `concurrency` at once).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from persd.settings import SAMPLING_FIELDS
from persd.student.hf import HFStudent, StudentConfig
from persd.student.openai import OpenAIStudent, OpenAIStudentConfig
from persd.student.vllm import VLLMStudent, VLLMStudentConfig

BACKENDS = ("hf", "vllm", "openai")
_IGNORED = {"hf": set(), "vllm": {"batch_size"}, "openai": {"batch_size"}}


def build_student(backend: str, **settings: Any):
    """A loaded student; raises ValueError (bad settings) or StudentLoadError (cannot load)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown student backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    chosen = {k: v for k, v in settings.items() if v is not None and k not in _IGNORED[backend]}
    if backend == "openai" and "adapter" in chosen:
        raise ValueError("the openai student backend cannot apply an adapter: serve it at the "
                         "endpoint (vLLM: --enable-lora --lora-modules NAME=DIR) and pass NAME "
                         "as the student model")
    config_class, student_class = _classes(backend)
    known = {field.name for field in dataclasses.fields(config_class)} | set(SAMPLING_FIELDS)
    unknown = sorted(set(chosen) - known)
    if unknown:
        raise ValueError(f"the {backend} student backend has no setting(s) {', '.join(unknown)}; "
                         f"it knows: {', '.join(sorted(known))}")
    return student_class(config_class(**chosen))


def _classes(backend: str) -> tuple[type, type]:
    return {
        "hf": (StudentConfig, HFStudent),
        "vllm": (VLLMStudentConfig, VLLMStudent),
        "openai": (OpenAIStudentConfig, OpenAIStudent),
    }[backend]
