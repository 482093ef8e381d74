"""Command-line options that several benchmarks share, with their own defaults."""

from __future__ import annotations

import argparse
import os


def sandbox_options(doc: str) -> argparse.ArgumentParser:
    """The parser of a sandbox benchmark: --workers (sandboxes) and --repeats (timed passes)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    parser.add_argument("--repeats", type=int, default=3)
    return parser


def student_options(doc: str, *, model: str | None, max_new_tokens: int, batch_size: int,
                    threads_help: str) -> argparse.ArgumentParser:
    """The parser of a student benchmark: --model, --max-new-tokens, --batch-size, --threads."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--model", default=model,
                        help=None if model else "a model folder (default: a fresh tiny model)")
    parser.add_argument("--max-new-tokens", type=int, default=max_new_tokens)
    parser.add_argument("--batch-size", type=int, default=batch_size)
    parser.add_argument("--threads", type=int, help=threads_help)
    return parser


def use_threads(threads: int | None) -> int:
    """torch's CPU threads set to `threads` (None: torch's own default); returns how many it uses."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    return torch.get_num_threads()
