"""Find training tasks that overlap an evaluation set, so that distilling on them cannot
inflate the evaluation.

    from persd.tasks.decontaminate import overlaps, contamination_warning
    found = overlaps(train_tasks, load_tasks("humaneval"), ngram=13)
    for o in found:
        print(o.train_id, o.eval_id, o.reason, o.score)
    message = contamination_warning(train_tasks, "humaneval,mbpp:mbpp.jsonl")  # str | None

Two tests, either one flags a pair:
  ngram      the training task shares word n-grams (default 13, as in the GPT-3 paper) with
             the evaluation task; text = prompt (description + header) + reference code,
             lower-cased, split into runs of letters, digits and underscores, so formatting
             and punctuation edits do not hide a copy. score = the share of the training
             task's n-grams found in the evaluation task; flagged at `min_score` or more.
  signature  the same function name with the same parameter names (types, defaults and
             formatting ignored); score 1.0.
"""

from __future__ import annotations

import ast
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from persd.tasks import SHAPES, Task, load_tasks
from persd.tasks.sources import read_rows

__all__ = ["Overlap", "contamination_warning", "eval_tasks", "overlaps", "report", "write_clean"]

DEFAULT_NGRAM = 13
# A lone shared 13-gram between unrelated tasks is usually a common idiom
# ("for i in range len ..."); a copy, even reworded, shares far more than 5%.
DEFAULT_MIN_SCORE = 0.05
_WORD = re.compile(r"[a-z0-9_]+")


@dataclass(frozen=True)
class Overlap:
    """One training task that overlaps one evaluation task."""

    train_id: str
    eval_id: str
    reason: str          # "ngram", "signature" or "ngram+signature"
    score: float         # share of the training task's n-grams in the eval task (1.0: signature)
    shared: int          # n-grams in common
    example: str = ""    # one shared n-gram, as words, for the report

    def to_dict(self) -> dict:
        return {"train_id": self.train_id, "eval_id": self.eval_id, "reason": self.reason,
                "score": round(self.score, 4), "shared_ngrams": self.shared,
                "example": self.example}


def words(text: str) -> list[str]:
    """Normalised words: lower case, runs of letters, digits and underscores."""
    return _WORD.findall(text.lower())


def ngrams(task: Task, n: int = DEFAULT_NGRAM) -> set[tuple[str, ...]]:
    """Word n-grams of the task's description, header and reference code, its function's
    name replaced by a placeholder (a short task yields its whole text as one n-gram)."""
    name = task.entry_point.lower()  # a renamed copy is still a copy
    tokens = ["<f>" if w == name else w for w in words(task.prompt + "\n" + task.solution)]
    if len(tokens) < n:
        return {tuple(tokens)} if tokens else set()
    return {tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)}


def signature(task: Task) -> tuple[str, tuple[str, ...]] | None:
    """(function name, parameter names) of the entry point, or None if it cannot be found."""
    for source in (task.solution, task.prompt + "\n    pass\n"):
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                    and node.name == task.entry_point:
                a = node.args
                params = [p.arg for p in a.posonlyargs + a.args + a.kwonlyargs]
                params += [f"*{a.vararg.arg}"] if a.vararg else []
                params += [f"**{a.kwarg.arg}"] if a.kwarg else []
                return node.name, tuple(params)
    return None


def overlaps(train_tasks: Sequence[Task], eval_tasks: Sequence[Task], ngram: int = DEFAULT_NGRAM,
             min_score: float = DEFAULT_MIN_SCORE) -> list[Overlap]:
    """Every (training task, evaluation task) pair that overlaps, highest score first."""
    if ngram < 1:
        raise ValueError(f"ngram must be >= 1, got {ngram}")
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    by_signature: dict[tuple, list[int]] = defaultdict(list)
    for i, task in enumerate(eval_tasks):
        for gram in ngrams(task, ngram):
            index[gram].append(i)
        sig = signature(task)
        if sig is not None:
            by_signature[sig].append(i)
    found = []
    for task in train_tasks:
        grams = ngrams(task, ngram)
        shared: dict[int, list[tuple[str, ...]]] = defaultdict(list)
        for gram in grams:
            for i in index.get(gram, ()):
                shared[i].append(gram)
        sig = signature(task)
        same_sig = set(by_signature.get(sig, ())) if sig is not None else set()
        for i in sorted(set(shared) | same_sig):
            score = len(shared.get(i, ())) / max(1, len(grams))
            reasons = (["ngram"] if i in shared and score >= min_score else []) + \
                      (["signature"] if i in same_sig else [])
            if reasons:
                example = " ".join(min(shared[i])) if i in shared else ""
                found.append(Overlap(task.task_id, eval_tasks[i].task_id, "+".join(reasons),
                                     1.0 if i in same_sig else score, len(shared.get(i, ())),
                                     example))
    return sorted(found, key=lambda o: (-o.score, o.train_id, o.eval_id))


def eval_tasks(spec: str) -> list[Task]:
    """The tasks of a comma-separated list of evaluation specs ("humaneval,mbpp:PATH")."""
    specs = [s.strip() for s in spec.split(",") if s.strip()]
    if not specs:
        raise ValueError("no evaluation set named")
    return [task for one in specs for task in load_tasks(one)]


def contaminated_ids(found: Iterable[Overlap]) -> set[str]:
    return {o.train_id for o in found}


def contamination_warning(train_tasks: Sequence[Task], eval_spec: str,
                          ngram: int = DEFAULT_NGRAM) -> str | None:
    """A one-paragraph warning when training tasks overlap `eval_spec`, else None."""
    found = overlaps(train_tasks, eval_tasks(eval_spec), ngram)
    if not found:
        return None
    ids = contaminated_ids(found)
    top = found[0]
    return (f"{len(ids)} of {len(train_tasks)} training tasks overlap the evaluation set "
            f"{eval_spec} (e.g. {top.train_id} ~ {top.eval_id}: {top.reason}, score "
            f"{top.score:.2f}); results on it would be inflated. See `persd decontaminate "
            f"--tasks ... --against {eval_spec} --drop CLEAN.jsonl`.")


def report(found: Sequence[Overlap], train_count: int, eval_spec: str, limit: int = 50) -> str:
    """The text `persd decontaminate` prints."""
    ids = contaminated_ids(found)
    lines = [f"{len(ids)} of {train_count} training tasks overlap {eval_spec} "
             f"({len(found)} pairs)."]
    for o in found[:limit]:
        why = ", ".join(([f"{o.shared} shared n-grams"] if "ngram" in o.reason else []) +
                        (["same name and parameters"] if "signature" in o.reason else []))
        lines.append(f"  {o.train_id} ~ {o.eval_id}  score {o.score:.2f}  ({why})")
    if len(found) > limit:
        lines.append(f"  ... and {len(found) - limit} more pairs")
    return "\n".join(lines)


def write_clean(tasks_spec: str, train_tasks: Sequence[Task], drop_ids: set[str],
                output: str | Path) -> int:
    """Write the source rows of `tasks_spec` minus the tasks in `drop_ids` as JSONL
    (columns mapped, shape kept); returns the rows written."""
    prefix, sep, rest = tasks_spec.partition(":")
    rows = read_rows(rest if sep and prefix in SHAPES else tasks_spec)
    if len(rows) != len(train_tasks):  # load_tasks builds one task per row, in order
        raise ValueError(f"{tasks_spec}: {len(rows)} rows but {len(train_tasks)} tasks")
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    kept = [row for (_, row), task in zip(rows, train_tasks) if task.task_id not in drop_ids]
    with output.open("w", encoding="utf-8") as file:
        for row in kept:
            file.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    return len(kept)
