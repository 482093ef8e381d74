"""Student backends behind one small protocol, and the helpers the loops call.

    from persd.student import HFStudent, StudentConfig, attempt, refine, build_student
    student = HFStudent(StudentConfig(model="models/tiny", batch_size=8))
    programs = attempt(student, tasks)                 # [[task.prompt + body, ...], ...]
    fixed = refine(student, [(task, code, feedback)])  # [task.prompt + body, ...]

A backend implements `Student.complete(prompts, n=None, **sampling)`: for each prompt, n
completions cut at the end of the function (`STOP_SEQUENCES`). `HFStudent` runs a
Hugging Face causal LM (optionally with a peft adapter) in batches with left padding.
vLLM (`persd.student.vllm`) and an OpenAI-compatible server (`persd.student.openai`) are
classes with the same `complete` method; `build_student` picks one by name.
"""

from persd.student.backends import BACKENDS, build_student
from persd.student.base import (
    SAMPLING_KEYS, STOP_SEQUENCES, Student, StudentLoadError, attempt, cut_at_stop, refine,
    resolve_sampling,
)
from persd.student.hf import HFStudent, StudentConfig

__all__ = [
    "BACKENDS", "SAMPLING_KEYS", "STOP_SEQUENCES", "HFStudent", "Student", "StudentConfig",
    "StudentLoadError", "attempt", "build_student", "cut_at_stop", "refine", "resolve_sampling",
]
