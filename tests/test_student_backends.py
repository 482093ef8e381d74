"""Student backends other than transformers: a served student (`transformers serve`), vLLM.

The openai backend runs against a real `transformers serve` with the tiny model; the vLLM
backend needs vLLM and a CUDA GPU, and its tests skip with that reason elsewhere.
"""

from __future__ import annotations

import importlib.util

import pytest
from click.testing import CliRunner

from persd.cli import cli
from persd.collect import CollectConfig, collect
from persd.store import SessionStore
from persd.student import STOP_SEQUENCES, StudentLoadError, cut_at_stop
from persd.student.backends import build_student
from persd.student.vllm import GPU_HINT, INSTALL_HINT, model_source
from persd.tasks import load_tasks
from tests.fixtures_serve import transformers_serve  # noqa: F401  (fixture)
from tests.openai_server import OpenAITestServer

PROMPTS = ["def add(a, b):\n", "def is_even(n):\n    \"\"\"True when n is even.\"\"\"\n"]


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


HAS_VLLM = importlib.util.find_spec("vllm") is not None


def _vllm_missing() -> str:
    """Why vLLM cannot run here ('' when it can)."""
    missing = [hint for hint, absent in ((INSTALL_HINT, not HAS_VLLM), (GPU_HINT, not _has_cuda())) if absent]
    return "; ".join(missing)


@pytest.mark.slow
def test_openai_student_samples_from_transformers_serve(transformers_serve):
    student = build_student("openai", model=transformers_serve.model,
                            base_url=transformers_serve.base_url, max_new_tokens=12, seed=1)
    results = student.complete(PROMPTS, n=2)
    assert [len(samples) for samples in results] == [2, 2]
    for sample in (s for samples in results for s in samples):
        assert isinstance(sample, str) and cut_at_stop(sample) == sample
        assert not any(stop in sample for stop in STOP_SEQUENCES)
    # transformers serve ignores `n` (one choice per request): the student asks again.
    assert student.usage["requests"] == 4
    assert 0 < student.usage["completion_tokens"] <= 4 * 12


@pytest.mark.slow
def test_openai_student_greedy_asks_once_per_prompt(transformers_serve):
    student = build_student("openai", model=transformers_serve.model,
                            base_url=transformers_serve.base_url, max_new_tokens=8, temperature=0.0)
    results = student.complete(PROMPTS, n=3)
    assert all(len(set(samples)) == 1 and len(samples) == 3 for samples in results)
    assert student.usage["requests"] == 2
    assert student.complete(PROMPTS, n=1) == [samples[:1] for samples in results]  # greedy repeats


@pytest.mark.slow
def test_openai_student_rejects_a_model_the_server_does_not_serve(transformers_serve):
    with pytest.raises(StudentLoadError) as error:
        build_student("openai", model="no-such-model", base_url=transformers_serve.base_url)
    message = str(error.value)
    assert transformers_serve.base_url in message and "no-such-model" in message
    assert transformers_serve.model in message  # what it does serve


def test_openai_student_unreachable_endpoint_is_a_load_error():
    with pytest.raises(StudentLoadError, match="127.0.0.1:9/v1"):
        build_student("openai", model="m", base_url="http://127.0.0.1:9/v1")


def test_build_student_rejects_bad_settings(monkeypatch):
    monkeypatch.delenv("PERSD_STUDENT_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="unknown student backend 'tgi'"):
        build_student("tgi", model="m")
    with pytest.raises(ValueError, match="hf student backend has no setting.*base_url"):
        build_student("hf", model="m", base_url="http://127.0.0.1:1/v1")
    with pytest.raises(ValueError, match="cannot apply an adapter.*lora-modules"):
        build_student("openai", model="m", adapter="out/a", base_url="http://127.0.0.1:1/v1")
    with pytest.raises(ValueError, match="needs a base URL"):
        build_student("openai", model="m")
    with pytest.raises(ValueError, match="vllm student backend has no setting.*concurrency"):
        build_student("vllm", model="m", concurrency=4)


@pytest.mark.slow
def test_collect_with_a_served_student(transformers_serve, tmp_path, monkeypatch):
    tasks = load_tasks("humaneval")[:3]
    with OpenAITestServer(tasks=tasks) as teacher:
        monkeypatch.setenv("OPENAI_BASE_URL", teacher.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        config = CollectConfig(
            session="served", teacher_model="test-teacher", student=transformers_serve.model,
            student_backend="openai", student_base_url=transformers_serve.base_url,
            max_new_tokens=12, sessions_dir=str(tmp_path), workers=1)
        summary = collect(config, progress=False, tasks=tasks)
    assert summary.complete and summary.attempts == 3
    assert summary.failed == summary.refined == summary.validated == 3  # noise fails; teacher fixes
    with SessionStore.open(tmp_path, "served") as store:
        assert all(a.model == transformers_serve.model for a in store.attempts.list(round=1))


@pytest.mark.skipif(HAS_VLLM, reason="vLLM is installed here")
def test_vllm_backend_without_vllm_says_what_to_install():
    with pytest.raises(StudentLoadError) as error:
        build_student("vllm", model="m")
    assert str(error.value) == INSTALL_HINT and "pip install 'persd[vllm]'" in INSTALL_HINT


@pytest.mark.skipif(_has_cuda(), reason="a CUDA GPU is visible here")
def test_vllm_backend_without_a_gpu_says_so(monkeypatch):
    real = importlib.util.find_spec
    # vLLM may be missing too; pretend it is installed to reach the GPU check.
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *rest: object() if name == "vllm" else real(name, *rest))
    with pytest.raises(StudentLoadError, match="vLLM needs a CUDA GPU"):
        build_student("vllm", model="m")
    assert "--student-backend hf" in GPU_HINT


def test_cli_collect_with_vllm_backend_fails_cleanly(tmp_path, monkeypatch):
    expected = INSTALL_HINT if not HAS_VLLM else GPU_HINT
    if HAS_VLLM and _has_cuda():
        pytest.skip("vLLM and a CUDA GPU are available here")
    tasks = load_tasks("humaneval")[:2]
    with OpenAITestServer(tasks=tasks) as teacher:
        monkeypatch.setenv("OPENAI_BASE_URL", teacher.base_url)
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        result = CliRunner().invoke(cli, [
            "collect", "--session", "v", "--student", "some/model", "--teacher-model", "t",
            "--limit", "2", "--student-backend", "vllm", "--sessions-dir", str(tmp_path)])
    assert result.exit_code == 1 and expected in result.output
    assert not list(tmp_path.iterdir())  # the session was not created


def test_vllm_is_given_a_local_folder_as_its_absolute_path(tmp_path, monkeypatch):
    (tmp_path / "models" / "smollm2-135m").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    assert model_source("models/smollm2-135m") == str(tmp_path / "models" / "smollm2-135m")
    assert model_source("HuggingFaceTB/SmolLM2-135M-Instruct") == "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.mark.slow
@pytest.mark.skipif(bool(_vllm_missing()), reason="vLLM cannot run here, so neither the tiny model nor the "
                    f"SmolLM2-135M folder of `persd models get smollm2-135m` is loaded: {_vllm_missing()}")
@pytest.mark.parametrize("folder", ["tiny_model_dir", "smollm2_dir"], ids=["tiny", "smollm2-135m"])
def test_vllm_student_generates_from_a_local_folder_offline(folder, request, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the folder only: a hub lookup would fail
    real = folder == "smollm2_dir"
    student = build_student("vllm", model=request.getfixturevalue(folder), max_new_tokens=48 if real else 12,
                            seed=0, gpu_memory_utilization=0.3)
    results = student.complete(PROMPTS, n=3)
    assert [len(samples) for samples in results] == [3, 3]
    assert all(cut_at_stop(s) == s for samples in results for s in samples)
    greedy = student.complete(PROMPTS, n=2, temperature=0.0)
    assert all(len(set(samples)) == 1 for samples in greedy)
    assert not real or all(samples[0].strip() for samples in greedy)  # a real model writes code
