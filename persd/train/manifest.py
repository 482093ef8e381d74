"""What persd wrote in an output folder: `.persd-run.json`, the run's manifest.

    record(out, ["checkpoint-40"])        # before writing it (write-ahead)
    listed(out)                           # {"train_config.json", "checkpoint-40", ...}
    foreign = colliding(out)              # entries a run would write that no manifest lists
    remove_listed(out)                    # --overwrite: delete what earlier runs wrote

A training run lists each top-level entry it creates, before creating it where the name is
known in advance (request files, checkpoints, the final outputs) and right after otherwise,
so even a run killed mid-way leaves a manifest that covers what it wrote. `--overwrite`
deletes only entries that a manifest lists *and* that carry a name persd writes, so neither
a user's own `merged/` nor a forged manifest can make persd delete something it did not
write; a user's entry under such a name is refused by name instead (`colliding`).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable
from pathlib import Path

from persd.train.rows import atomic_write

MANIFEST_FILE = ".persd-run.json"
# Top-level names a persd run writes (itself, the Trainer, peft and the tokenizer).
WRITTEN_NAMES = frozenset({
    "train_config.json", "train_rows.jsonl", "metrics.jsonl", "train.log", "train_job.json",
    ".checkpoint-staging",
    ".train_config.json.tmp", ".train_rows.jsonl.tmp", MANIFEST_FILE, ".persd-run.lock",
    "adapter_config.json", "adapter_model.safetensors", "adapter_model.bin", "config.json",
    "generation_config.json", "README.md", "train_summary.json", "training_args.bin", "merged",
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "vocab.json", "vocab.txt", "merges.txt", "tokenizer.model", "chat_template.jinja",
    "chat_template.json",
})
_WRITTEN_PATTERN = re.compile(
    r"^(checkpoint-\d+|model(-\d+-of-\d+)?\.safetensors|model\.safetensors\.index\.json"
    r"|pytorch_model(-\d+-of-\d+)?\.bin|pytorch_model\.bin\.index\.json)$"
)
# The final outputs whose names are known before they are written.
FINAL_OUTPUTS = ("adapter_config.json", "adapter_model.safetensors", "model.safetensors",
                 "config.json", "generation_config.json", "README.md", "train_summary.json",
                 "training_args.bin", "merged", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json", "chat_template.jinja")


def persd_name(name: str) -> bool:
    """Whether a persd run writes a top-level entry of this name."""
    return name in WRITTEN_NAMES or bool(_WRITTEN_PATTERN.match(name))


def listed(output_dir: str | Path) -> set[str]:
    """The entries earlier runs' manifests list (empty without a readable manifest)."""
    try:
        names = json.loads((Path(output_dir) / MANIFEST_FILE).read_text()).get("created", [])
    except (OSError, ValueError, AttributeError):
        return set()
    return {n for n in names if isinstance(n, str) and n and "/" not in n and n not in (".", "..")}


def record(output_dir: str | Path, names: Iterable[str], reset: bool = False) -> None:
    """Add `names` to the manifest (with `reset`, start a new one)."""
    out = Path(output_dir)
    created = set(names) | {MANIFEST_FILE} | (set() if reset else listed(out))
    atomic_write(out / MANIFEST_FILE, json.dumps({"created": sorted(created)}, indent=1) + "\n")


def settle(output_dir: str | Path, before: set[str]) -> None:
    """After writing outputs: list what appeared since `before`, drop listed names that were
    planned but never written (or were deleted since, like old checkpoints)."""
    out = Path(output_dir)
    now = {p.name for p in out.iterdir()}
    created = (listed(out) & now) | (now - before) | {MANIFEST_FILE}
    atomic_write(out / MANIFEST_FILE, json.dumps({"created": sorted(created)}, indent=1) + "\n")


def colliding(output_dir: str | Path) -> list[str]:
    """Entries carrying a name a persd run writes that no manifest lists: not persd's."""
    out = Path(output_dir)
    if not out.is_dir():
        return []
    mine = listed(out)
    return sorted(p.name for p in out.iterdir() if persd_name(p.name) and p.name not in mine)


def remove_listed(output_dir: str | Path, keep: Iterable[str]) -> None:
    """Delete what the manifest lists under a persd name, except `keep` (files the new run
    rewrites, or writes already); the manifest starts over with those."""
    out = Path(output_dir)
    keep = set(keep) | {MANIFEST_FILE}
    for name in sorted(listed(out) - keep):
        path = out / name
        if not persd_name(name):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    record(out, keep & listed(out), reset=True)
