"""A student on vLLM's offline engine: `vllm.LLM.generate`, LoRA adapters, tensor parallelism.

    pip install 'persd[vllm]'          # needs a CUDA GPU
    from persd.student.vllm import VLLMStudent, VLLMStudentConfig
    student = VLLMStudent(VLLMStudentConfig(model="Qwen/Qwen2.5-Coder-1.5B",
                                            adapter="out/round1", tensor_parallel_size=2))
    student.complete(prompts, n=20)    # [[body, ...], ...], as HFStudent returns them

vLLM schedules its own batches (continuous batching over all prompts at once), so there is
no batch size. An adapter written by `persd train` (peft LoRA) is served through vLLM's LoRA
support (`enable_lora`, `LoRARequest`), with `max_lora_rank` read from the adapter. vLLM is
imported only when a `VLLMStudent` is built; without it, or without a CUDA GPU, building one
raises `StudentLoadError` saying what is missing.

A local folder (`persd models get smollm2-135m` writes `models/smollm2-135m`) is handed to
vLLM as its absolute path, so the weights and the tokenizer are read from that folder
wherever vLLM's processes run and no model hub is asked: vLLM takes a name that is not an
existing folder for a hub id. With HF_HUB_OFFLINE=1 a hub id fails instead of downloading.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from persd.settings import Sampling, flat_dict, with_sampling
from persd.student.base import STOP_SEQUENCES, StudentLoadError, finish, resolve_sampling

INSTALL_HINT = "vLLM is not installed: pip install 'persd[vllm]' (on a machine with a CUDA GPU)"
GPU_HINT = ("vLLM needs a CUDA GPU and none is visible (torch.cuda.is_available() is False); "
            "use --student-backend hf on this machine")
_LORA_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # the max_lora_rank values vLLM accepts


@with_sampling
@dataclass
class VLLMStudentConfig:
    """Settings of a vLLM student.

    Parameters:
        model (`str`): a Hugging Face id or local folder.
        adapter (`str | None`, default `None`): a peft LoRA folder (e.g. `persd train` output).
        sampling (`Sampling`, default `Sampling()`), n (`int`, default `1`): as in
            `persd.student.StudentConfig`.
        tensor_parallel_size (`int`, default `1`): GPUs one model is split across.
        gpu_memory_utilization (`float`, default `0.9`): share of each GPU vLLM may take
            (weights plus KV cache); lower it to share a GPU with training.
        dtype (`str`, default `"auto"`): passed to vLLM.
        max_model_len (`int | None`, default `None`): context length cap (saves KV memory).
        seed (`int | None`, default `None`): the engine's seed.
    """

    model: str
    adapter: str | None = None
    sampling: Sampling = field(default_factory=Sampling)
    n: int = 1
    tensor_parallel_size: int = 1
    gpu_memory_utilization: float = 0.9
    dtype: str = "auto"
    max_model_len: int | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        if not self.model:
            raise ValueError("VLLMStudentConfig.model is required")
        if self.n < 1 or self.tensor_parallel_size < 1:
            raise ValueError("n and tensor_parallel_size must be >= 1")
        if not 0 < self.gpu_memory_utilization <= 1:
            raise ValueError("gpu_memory_utilization must be in (0, 1]")

    def to_dict(self) -> dict[str, Any]:
        return flat_dict(self)


def require_vllm() -> None:
    """Raises StudentLoadError unless vLLM is installed and a CUDA GPU is visible."""
    if importlib.util.find_spec("vllm") is None:
        raise StudentLoadError(INSTALL_HINT)
    import torch

    if not torch.cuda.is_available():
        raise StudentLoadError(GPU_HINT)


class VLLMStudent:
    """The `Student` protocol on `vllm.LLM`; see the module docstring."""

    def __init__(self, config: VLLMStudentConfig):
        require_vllm()
        from vllm import LLM

        self.config = config
        self.name = config.model if not config.adapter else f"{config.model}+{config.adapter}"
        self._calls = 0
        source = model_source(config.model)
        options: dict[str, Any] = {
            "model": source, "tensor_parallel_size": config.tensor_parallel_size,
            "gpu_memory_utilization": config.gpu_memory_utilization, "dtype": config.dtype,
        }
        if config.max_model_len is not None:
            options["max_model_len"] = config.max_model_len
        if config.seed is not None:
            options["seed"] = config.seed
        self._lora = None
        if config.adapter:
            options.update(enable_lora=True, max_lora_rank=_max_lora_rank(config.adapter))
            from vllm.lora.request import LoRARequest

            self._lora = LoRARequest("persd-adapter", 1, str(Path(config.adapter).resolve()))
        try:
            self.llm = LLM(**options)
        except Exception as error:  # vLLM raises many types; the message is what matters
            raise StudentLoadError(f"vLLM cannot load {config.model!r}: {error}") from error

    def complete(self, prompts: list[str], n: int | None = None, **sampling: Any) -> list[list[str]]:
        from vllm import SamplingParams

        n, settings = resolve_sampling(self.config, n, sampling)
        greedy = settings["temperature"] == 0
        params = SamplingParams(
            n=1 if greedy else n, temperature=settings["temperature"],
            top_p=1.0 if greedy else settings["top_p"], max_tokens=settings["max_new_tokens"],
            stop=list(STOP_SEQUENCES), seed=self._next_seed(),
        )
        outputs = self.llm.generate(prompts, params, lora_request=self._lora, use_tqdm=False)
        results = []
        for prompt, output in zip(prompts, outputs):  # vLLM returns them in prompt order
            texts = [finish(prompt, sample.text) for sample in output.outputs]
            results.append(texts * n if greedy else texts)
        return results

    def _next_seed(self) -> int | None:
        """Per call, so that calls differ but a rerun repeats them all (as HFStudent does)."""
        if self.config.seed is None:
            return None
        self._calls += 1
        return self.config.seed + self._calls - 1


def model_source(model: str) -> str:
    """What vLLM is given for `model`: a local folder as its absolute path, else the hub id."""
    folder = Path(model).expanduser()
    return str(folder.resolve()) if folder.is_dir() else model


def _max_lora_rank(adapter: str) -> int:
    """The smallest rank vLLM accepts that holds the adapter's `r`."""
    path = Path(adapter) / "adapter_config.json"
    try:
        rank = int(json.loads(path.read_text())["r"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise StudentLoadError(f"{path}: not a peft LoRA adapter ({error})") from error
    for allowed in _LORA_RANKS:
        if rank <= allowed:
            return allowed
    raise StudentLoadError(f"{path}: LoRA rank {rank} is above what vLLM supports ({_LORA_RANKS[-1]})")
