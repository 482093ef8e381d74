"""The whole PERsD loop on the tiny model, offline: collect, train, evaluate, round 2.

The tiny model is random, so its pass@1 starts at 0; after training on the validated
refinements of the same tasks it must reproduce them (memorisation is fine here: it
proves the loop is wired end to end, prompt/completion split included).
"""

from __future__ import annotations

import pytest

from persd.collect import CollectConfig, collect
from persd.data import build_examples
from persd.evaluate import EvalConfig, evaluate
from persd.execution import Executor
from persd.store import SessionStore
from persd.student import HFStudent, StudentConfig
from persd.tasks import load_tasks
from persd.train import TrainConfig, train
from tests.openai_server import OpenAITestServer

pytestmark = pytest.mark.slow


class RecordingStudent:
    """Wraps a real student and keeps every prompt it is given."""

    def __init__(self, student) -> None:
        self.student, self.prompts = student, []

    def complete(self, prompts, n=None, **sampling):
        self.prompts.extend(prompts)
        return self.student.complete(prompts, n=n, **sampling)


@pytest.fixture(scope="module")
def short_tasks():
    tasks = [t for t in load_tasks("humaneval") if t.visible_test]
    return sorted(tasks, key=lambda t: len(t.solution))[:6]


def _hidden_asserts(task) -> list[str]:
    visible = set(task.visible_test.splitlines())
    return [line.strip() for line in task.test.splitlines()
            if line.strip().startswith("assert") and line not in visible]


def test_collect_train_evaluate_raises_pass_at_1(tmp_path, tiny_model_dir, short_tasks, monkeypatch):
    with OpenAITestServer(tasks=short_tasks) as teacher:
        monkeypatch.setenv("OPENAI_BASE_URL", teacher.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        summary = collect(CollectConfig(session="loop", teacher_model="test-teacher", student=tiny_model_dir,
                                        max_new_tokens=32, sessions_dir=str(tmp_path)),
                          tasks=short_tasks, progress=False)
    assert summary.validated == summary.failed == len(short_tasks)

    with SessionStore.open(tmp_path, "loop") as store:
        rows = build_examples(store, "persd")
    assert len(rows) == len(short_tasks)
    adapter = tmp_path / "adapter"
    result = train(TrainConfig(student=tiny_model_dir, output_dir=str(adapter), variant="persd",
                               learning_rate=5e-3, lr_scheduler="constant", max_steps=60, batch_size=6), rows)
    assert result.status == "finished"

    settings = EvalConfig(samples=1, temperature=0.0, max_new_tokens=200, refine_steps=1)
    with Executor(workers=2) as executor:
        base = evaluate(HFStudent(StudentConfig(model=tiny_model_dir)), short_tasks, settings, executor)
        tuned_student = RecordingStudent(HFStudent(StudentConfig(model=tiny_model_dir, adapter=str(adapter))))
        tuned = evaluate(tuned_student, short_tasks, settings, executor)

    assert base.pass_at(1, step=0) == 0.0
    assert tuned.pass_at(1, step=0) >= 0.5, tuned.summary_table()
    assert len(tuned.steps) == 2  # one-step and one repair step ran
    prompts = "\n".join(tuned_student.prompts)
    for task in short_tasks:  # repair prompts carry visible feedback only
        for line in _hidden_asserts(task):
            assert line not in prompts, f"hidden test of {task.task_id} reached a prompt"


def test_round_two_collects_with_the_adapter_apart_from_round_one(tmp_path, tiny_model_dir, short_tasks,
                                                                   monkeypatch):
    with OpenAITestServer(tasks=short_tasks) as teacher:
        monkeypatch.setenv("OPENAI_BASE_URL", teacher.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test")
        config = dict(session="rounds", teacher_model="t", student=tiny_model_dir, max_new_tokens=32,
                      sessions_dir=str(tmp_path))
        collect(CollectConfig(**config), tasks=short_tasks, progress=False)
        with SessionStore.open(tmp_path, "rounds") as store:
            rows = build_examples(store, "persd", round=1)
        adapter = tmp_path / "adapter"
        train(TrainConfig(student=tiny_model_dir, output_dir=str(adapter), learning_rate=5e-3,
                          lr_scheduler="constant", max_steps=60, batch_size=6), rows)
        second = collect(CollectConfig(**config, round=2, adapter=str(adapter)), tasks=short_tasks, progress=False)
    assert second.round == 2 and second.passed >= len(short_tasks) // 2
    with SessionStore.open(tmp_path, "rounds") as store:
        assert len(store.attempts.list(round=1)) == len(store.attempts.list(round=2)) == len(short_tasks)
        assert all(a.model.endswith(str(adapter)) for a in store.attempts.list(round=2))
