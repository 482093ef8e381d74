"""The Hugging Face student: a transformers causal LM (plus an optional peft adapter),
generating in batches with left padding.

    from persd.student.hf import HFStudent, StudentConfig
    student = HFStudent(StudentConfig(model="models/tiny", batch_size=8))
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from persd.settings import Sampling, flat_dict, settings_from_dict, with_sampling
from persd.student.base import STOP_SEQUENCES, StudentLoadError, finish, resolve_sampling
from persd.student.chat import PROMPT_FORMATS, chat_messages, reply_completion, resolve_format

_DTYPES = ("auto", "float32", "bfloat16", "float16")

@with_sampling
@dataclass
class StudentConfig:
    """Settings of a Hugging Face student.

    Parameters:
        model (`str`):
            A Hugging Face model id or a local folder. Loaded offline when `HF_HUB_OFFLINE=1`.
        adapter (`str` or `None`, defaults to `None`):
            A peft adapter folder (e.g. the output of `persd train`) applied on top of `model`.
        device (`str`, defaults to `"auto"`):
            `"auto"` picks cuda, then mps, then cpu; or any torch device string (`"cuda:1"`).
        dtype (`str`, defaults to `"auto"`):
            `"auto"` is bfloat16 on a GPU that supports it and float32 otherwise; or one of
            `"float32"`, `"bfloat16"`, `"float16"`.
        sampling (`Sampling`, defaults to `Sampling()`: temperature 0.3, top_p 0.95,
            max_new_tokens 512): The default of every `complete` call (which may override
            it); `temperature=`, `top_p=` and `max_new_tokens=` are accepted as keywords too.
            top_p is ignored when greedy; most completions stop before max_new_tokens, at a
            stop sequence or EOS.
        n (`int`, defaults to `1`):
            Completions per prompt when `complete` is called without `n`.
        batch_size (`int`, defaults to `8`):
            Prompts per `generate` call; each prompt yields `n` sequences, so a batch holds
            `batch_size * n` sequences. Lower it when memory runs out.
        seed (`int` or `None`, defaults to `None`):
            With a seed, a fresh student given the same calls returns the same samples.
        prompt_format (`str`, defaults to `"completion"`):
            `"completion"` continues the prompt as text (a base model); `"chat"` sends it as a
            user message through the tokenizer's chat template and lays the reply's code out
            after the prompt as training rows are (`persd.student.chat`); `"auto"` is chat
            for an instruct model with a chat template. The student's `prompt_format` says
            which one it resolved to.
    """

    model: str
    adapter: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    sampling: Sampling = field(default_factory=Sampling)
    n: int = 1
    batch_size: int = 8
    seed: int | None = None
    prompt_format: str = "completion"

    def __post_init__(self) -> None:
        if self.prompt_format not in PROMPT_FORMATS:
            raise ValueError(f"prompt_format must be one of {', '.join(PROMPT_FORMATS)} "
                             f"(got {self.prompt_format!r})")
        if self.n < 1 or self.batch_size < 1:
            raise ValueError(f"n and batch_size must be >= 1 (got {self.n}, {self.batch_size})")
        if self.dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(_DTYPES)} (got {self.dtype!r})")

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> StudentConfig:
        """Build a config from a mapping (e.g. a session's stored settings); unknown keys fail."""
        return settings_from_dict(cls, values, "student")

    def to_dict(self) -> dict[str, Any]:
        return flat_dict(self)


class HFStudent:
    """A Hugging Face transformers causal LM (plus an optional peft adapter) as a student.

        student = HFStudent(StudentConfig(model="Qwen/Qwen2.5-Coder-0.5B", temperature=0))
        student.complete(["def add(a, b):\\n"])   # [["    return a + b\\n"]]

    Loads on construction (raises `StudentLoadError`); torch and transformers are imported
    only here.
    """

    def __init__(self, config: StudentConfig):
        self.config = config
        self.name = config.model if not config.adapter else f"{config.model}+{config.adapter}"
        self._calls = 0
        self.device = _pick_device(config.device)
        self.dtype = _pick_dtype(config.dtype, self.device)
        self.tokenizer = _load_tokenizer(config.model)
        self.model = _load_model(config.model, config.adapter, self.device, self.dtype)
        self.prompt_format = resolve_format(config.prompt_format, self.tokenizer, config.model,
                                            self.model.config)

    def complete(
        self, prompts: list[str], n: int | None = None, **sampling: Any
    ) -> list[list[str]]:
        n, settings = resolve_sampling(self.config, n, sampling)
        self._seed()
        # Similar lengths batched together waste less compute on padding.
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        results: list[list[str]] = [[] for _ in prompts]
        size = self.config.batch_size
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            # Generate from prompt.rstrip(), as training splits there (persd.train.rows):
            # a BPE tokenizer merges a trailing "\n" with the next line's indentation, so
            # the stripped prompt is what the model saw during fine-tuning.
            outputs = self._generate([self._model_input(prompts[i]) for i in batch], n, **settings)
            for i, texts in zip(batch, outputs):
                results[i] = [self._keep(prompts[i], text) for text in texts]
        return results

    def _model_input(self, prompt: str) -> str:
        if self.prompt_format == "chat":
            return self.tokenizer.apply_chat_template(chat_messages(prompt), tokenize=False,
                                                      add_generation_prompt=True)
        return prompt.rstrip()

    def _keep(self, prompt: str, text: str) -> str:
        """The completion of `prompt` in the generated `text`."""
        if self.prompt_format == "chat":
            return reply_completion(prompt, text)
        return _after(prompt, finish(prompt.rstrip(), text))

    def _generate(
        self, prompts: list[str], n: int, temperature: float, top_p: float, max_new_tokens: int
    ) -> list[list[str]]:
        import torch

        # A chat template writes its own special tokens (BOS, turn markers).
        encoded = self.tokenizer(prompts, return_tensors="pt", padding=True,
                                 add_special_tokens=self.prompt_format != "chat")
        inputs = {key: encoded[key].to(self.device) for key in ("input_ids", "attention_mask")}
        prompt_length = inputs["input_ids"].shape[1]
        if temperature > 0:
            # top_k=0: only temperature and top_p, whatever the model's generation_config says.
            sampling = {"do_sample": True, "temperature": temperature, "top_p": top_p, "top_k": 0}
            copies, n = 1, n
        else:  # greedy: the n completions are identical, so generate one and copy it
            sampling = {"do_sample": False}
            copies, n = n, 1
        with torch.inference_mode():
            output = self.model.generate(
                **inputs,
                **sampling,
                max_new_tokens=max_new_tokens,
                num_return_sequences=n,
                pad_token_id=self.tokenizer.pad_token_id,
                stopping_criteria=_stop_criteria(self.tokenizer, prompt_length),
            )
        anchors = inputs["input_ids"][:, -1:].repeat_interleave(n, dim=0)
        texts = _decode_new(self.tokenizer, anchors, output[:, prompt_length:])
        return [texts[i * n : (i + 1) * n] * copies for i in range(len(prompts))]

    def _seed(self) -> None:
        if self.config.seed is None:
            return
        from transformers import set_seed

        # Per call, so that calls differ from each other but a rerun repeats them all.
        set_seed(self.config.seed + self._calls)
        self._calls += 1


def _after(prompt: str, generated: str) -> str:
    """The completion of `prompt`, given text generated after `prompt.rstrip()`."""
    trailing = prompt[len(prompt.rstrip()):]
    return generated[len(trailing):] if generated.startswith(trailing) else generated


def _decode_new(tokenizer, anchors, new_ids) -> list[str]:
    """Decode generated ids without the prompt, keeping a leading space intact.

    SentencePiece tokenizers drop the leading space of a decoded sequence, which would
    eat the first line's indentation; decoding the last prompt token with the new ones and
    removing its text avoids that.
    """
    import torch

    options = {"skip_special_tokens": True, "clean_up_tokenization_spaces": False}
    anchor_texts = tokenizer.batch_decode(anchors, **options)
    joined = tokenizer.batch_decode(torch.cat([anchors, new_ids], dim=1), **options)
    plain = tokenizer.batch_decode(new_ids, **options)
    return [
        text[len(anchor):] if anchor and text.startswith(anchor) else alone
        for anchor, text, alone in zip(anchor_texts, joined, plain)
    ]


def _stop_criteria(tokenizer, prompt_length: int):
    """Stops a sequence once its completion (never the prompt) holds a stop sequence."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    # A stop sequence that just appeared ends within its last len(stop) tokens (each token
    # is at least one character), so decoding a short tail each step is enough.
    tail = max(len(stop) for stop in STOP_SEQUENCES) + 1

    class StopAtSequences(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            new = input_ids[:, prompt_length:][:, -tail:]
            texts = tokenizer.batch_decode(new, skip_special_tokens=True)
            done = [any(stop in text for stop in STOP_SEQUENCES) for text in texts]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([StopAtSequences()])


def _load_tokenizer(model: str):
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(model)
    except Exception as error:  # transformers raises OSError, ValueError, KeyError, ...
        raise StudentLoadError(_load_message(model, error)) from error
    tokenizer.padding_side = "left"  # generation continues each row from its last token
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _load_model(model: str, adapter: str | None, device: str, dtype):
    from transformers import AutoModelForCausalLM

    try:
        network = AutoModelForCausalLM.from_pretrained(model, dtype=dtype)
    except Exception as error:
        raise StudentLoadError(_load_message(model, error)) from error
    if adapter:
        network = _apply_adapter(network, adapter)
    return network.to(device).eval()


def _apply_adapter(network, adapter: str):
    if not Path(adapter).is_dir():
        raise StudentLoadError(f"no adapter at {adapter}")
    try:
        from peft import PeftModel

        network = PeftModel.from_pretrained(network, adapter)
    except Exception as error:
        raise StudentLoadError(f"cannot load adapter {adapter}: {error}") from error
    try:  # merged weights generate as fast as the base model
        return network.merge_and_unload()
    except (AttributeError, NotImplementedError, ValueError):  # e.g. prompt tuning: no merge
        return network


def _load_message(model: str, error: Exception) -> str:
    path = Path(model).expanduser()
    looks_local = model.startswith((".", "/", "~")) or model.count("/") > 1
    not_a_model = path.is_dir() and not (path / "config.json").exists()
    if (looks_local and not path.exists()) or not_a_model:
        return f"no model at {model}"
    if not Path(model).exists() and os.environ.get("HF_HUB_OFFLINE"):
        return (
            f"cannot load {model}: not a local folder and not in the Hugging Face cache "
            "(HF_HUB_OFFLINE is set)"
        )
    reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    return f"cannot load {model}: {reason}"


def _pick_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def _pick_dtype(dtype: str, device: str):
    import torch

    if dtype == "auto":
        on_cuda = device.startswith("cuda")
        return torch.bfloat16 if on_cuda and torch.cuda.is_bf16_supported() else torch.float32
    return getattr(torch, dtype)
