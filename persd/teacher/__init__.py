"""Teacher backends: a strong model that repairs the student's failed code.

    from persd.teacher import OpenAITeacher, TeacherConfig, MemoryCache
    teacher = OpenAITeacher(TeacherConfig(model="gpt-4o-mini"), cache=MemoryCache())
    await teacher.check()                                   # fail fast: key, URL, model
    validate = lambda program: executor.run(program, task.test, task.prompt)
    result = await teacher.refine(task, attempt_code, feedback, validate)
    result.validated, result.program, result.reason, result.cost_usd

Modules: `base` (the `Teacher` protocol, its records and errors), `config` (settings and
prices), `cache` (the response cache), `openai` (any OpenAI-compatible chat endpoint),
`batch` (the Batch API), `ledger` (where batch submissions are recorded).
"""

from persd.teacher.base import (
    Teacher, TeacherAuthError, TeacherCall, TeacherError, TeacherModelNotFound, TeacherResult,
    TeacherUnavailable, Validate,
)
from persd.teacher.batch import BatchTeacher
from persd.teacher.cache import MemoryCache, ResponseCache, cache_key
from persd.teacher.config import TeacherConfig
from persd.teacher.openai import OpenAITeacher

__all__ = [
    "BatchTeacher", "MemoryCache", "OpenAITeacher", "ResponseCache", "Teacher",
    "TeacherAuthError", "TeacherCall", "TeacherConfig", "TeacherError", "TeacherModelNotFound",
    "TeacherResult", "TeacherUnavailable", "Validate", "cache_key",
]
