"""Training examples per variant, built from a session, and their export.

    from persd.data import build_examples, export
    rows = build_examples(store, "persd")      # [{"prompt", "completion", "task_id", ...}]
    export(rows, "persd.jsonl", "jsonl")       # or "parquet", or "hf" (datasets.save_to_disk)

Variants (PAPER.md), T = the task prompt (description + header):
  stand           T -> the teacher's own solution, every task ("stand" collection)
  inpd            T -> the teacher's own solution, tasks the student failed ("inpd")
  persd           T -> the teacher's refinement of the student's attempt
  persd-refine    refine prompt (T + attempt + feedback) -> the refinement
  persd-combined  persd-refine and persd examples together
The refine prompt is `persd.prompts.student_refine_prompt`, the same template the student
sees at inference. Rows are in trl's prompt-completion format, split at `prompt.rstrip()`,
so that for "persd" and "stand" `prompt + completion` is the complete program that passed.

Which teacher results count ("selection"): "auto" takes the reviewers' verdicts once any
record has been reviewed (approved and edited records, edits as the reviewer left them)
and the validated results before that; "validated", "approved" and "all" force one rule.
A task with a refinement rejected as "test is wrong" gives no rows under any selection.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from persd import private
from persd.code.indent import match_indent
from persd.code.splice import end_completion, split_program
from persd.paper_style import paper_refine_example, paper_task_prompt
from persd.prompts import PROMPT_STYLES, student_refine_prompt
from persd.review_reasons import tasks_with_wrong_tests
from persd.train.rows import split_at_rstrip

VARIANTS = ("persd", "persd-refine", "persd-combined", "stand", "inpd")
SELECTIONS = ("auto", "validated", "approved", "all")
FORMATS = ("jsonl", "parquet", "hf")
_METHOD_OF = {"persd": "persd", "persd-refine": "persd", "persd-combined": "persd",
              "stand": "stand", "inpd": "inpd"}


class DataError(ValueError):
    """A variant, selection or format that cannot be built; the message says why."""


def build_examples(store, variant: str, *, round: int | None = None,
                   selection: str = "auto", prompt_style: str = "persd") -> list[dict[str, Any]]:
    """The variant's rows from `store` (every round unless `round` is given), in persd's
    prompts or, with `prompt_style="paper"`, the release's (persd.paper_style: rows split
    where the release splits them)."""
    if prompt_style not in PROMPT_STYLES:
        raise DataError(f"unknown prompt style {prompt_style!r}; one of {', '.join(PROMPT_STYLES)}")
    if variant not in VARIANTS:
        raise DataError(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
    if selection not in SELECTIONS:
        raise DataError(f"unknown selection {selection!r}; one of {', '.join(SELECTIONS)}")
    chosen = _chosen_results(store, _METHOD_OF[variant], round, selection)
    tasks = {task.task_id: task for task in store.tasks.list()}
    rows = []
    for refinement, program in chosen:
        task = tasks[refinement.task_id]
        completion = _completion(task, program)
        if completion is None:
            continue
        provenance = {"task_id": task.task_id, "round": refinement.round, "refinement_id": refinement.id,
                      "teacher_model": refinement.teacher_model}
        if prompt_style != "persd":
            provenance["prompt_style"] = prompt_style
        if variant in ("persd-refine", "persd-combined"):
            attempt = store.attempts.get(refinement.attempt_id)
            if prompt_style == "paper":
                prompt, body = paper_refine_example(task, attempt, refinement, program, completion,
                                                    store.imports.source(refinement.id))
                rows.append({"prompt": prompt, "completion": body, "variant": "persd-refine",
                             **provenance})
            else:
                feedback = attempt.execution.result.feedback if attempt.execution else ""
                prompt = student_refine_prompt(task, attempt.program, feedback)
                rows.append(_row(prompt, completion, variant="persd-refine", **provenance))
        if variant != "persd-refine":
            prompt = paper_task_prompt(task) if prompt_style == "paper" else task.prompt
            rows.append(_row(prompt, completion, variant=_METHOD_OF[variant], **provenance))
    return rows


def _chosen_results(store, method: str, round: int | None, selection: str):
    """(refinement, program to train on) for the results the selection keeps; tasks whose
    test a reviewer rejected as wrong (`persd.review_reasons`) are left out."""
    results = store.refinements.list(round=round, method=method)
    wrong_tests = tasks_with_wrong_tests(store)
    reviews = store.reviews.by_refinement(round)
    reviewed = any(review.status != "pending" for review in reviews.values())
    if selection == "auto":
        selection = "approved" if reviewed else "validated"
    chosen = []
    for refinement in results:
        if refinement.program is None or refinement.task_id in wrong_tests:
            continue
        review = reviews.get(refinement.id)
        if selection == "approved":
            if review is not None and review.status in ("approved", "edited"):
                chosen.append((refinement, review.edited_program or refinement.program))
        elif selection == "validated":
            if refinement.validated:
                chosen.append((refinement, refinement.program))
        else:
            chosen.append((refinement, refinement.program))
    return chosen


def _completion(task, program: str) -> str | None:
    """What follows the task prompt in `program`, in the shape the student's output is cut
    to at inference (`end_completion`). An edit that rewrote the whole function, or left
    test code after it, is split the way a teacher reply is. Its indentation is the
    prompt's (`match_indent`), as the student's output is made at inference."""
    rest = program[len(task.prompt):] if program.startswith(task.prompt) else None
    rest = match_indent(task.prompt, rest) if rest is not None else None
    if rest is not None and end_completion(task.prompt, rest) == rest:
        return rest
    split = split_program(task, program)
    return split[1] if split else None


def _row(prompt: str, completion: str, **provenance: Any) -> dict[str, Any]:
    prompt, completion = split_at_rstrip(prompt, completion)
    return {"prompt": prompt, "completion": completion, **provenance}


def export(rows: list[dict[str, Any]], output: str | Path, fmt: str, *,
           force: bool = False) -> Path:
    """Writes rows as JSONL, Parquet, or a `datasets` folder (`load_from_disk`).

    The data goes to a temporary file (folder, for "hf") beside `output` and is renamed
    into place once complete, so a full disk or a crash never leaves a truncated export
    or destroys the previous one. An existing `output` is kept unless `force`."""
    if fmt not in FORMATS:
        raise DataError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if not rows:
        raise DataError("there are no examples to export (no results pass the selection)")
    output = Path(output)
    _check_output(output, fmt, force)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "hf":
            _write_folder(rows, output)
        else:
            _write_file(rows, output, fmt)
    except OSError as error:
        raise DataError(_write_error(output, error)) from error
    return output


def _check_output(output: Path, fmt: str, force: bool) -> None:
    for parent in output.parents:
        if parent.exists() and not parent.is_dir():
            raise DataError(f"cannot write {output}: {parent} is a file, not a folder; "
                            "choose another --output")
    if fmt != "hf" and output.is_dir():
        raise DataError(f"{output} is a folder; --format {fmt} writes one file: give a file "
                        f"path such as {output / ('examples.' + fmt)}")
    if fmt == "hf" and output.exists() and not output.is_dir():
        raise DataError(f"{output} is a file; --format hf writes a folder: give a folder path")
    if output.exists() and not force:
        raise DataError(f"{output} already exists; pass --force to overwrite it")


def _write_file(rows: list[dict[str, Any]], output: Path, fmt: str) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    temporary = Path(name)
    try:
        with open(fd, "wb") as file:
            if fmt == "jsonl":
                for row in rows:
                    file.write((json.dumps(row, ensure_ascii=False) + "\n").encode())
            else:
                import pandas

                pandas.DataFrame(rows).to_parquet(file, index=False)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, private.FILE_MODE)  # as the session it comes from
        os.replace(temporary, output)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _write_folder(rows: list[dict[str, Any]], output: Path) -> None:
    import datasets

    temporary = Path(tempfile.mkdtemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent))
    try:
        datasets.Dataset.from_list(rows).save_to_disk(str(temporary))
        private.make_tree_private(temporary)  # as the session it comes from
        if output.exists():  # a folder cannot be renamed over a non-empty one: swap it aside
            old = output.with_name(temporary.name + ".old")
            os.rename(output, old)
            os.rename(temporary, output)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(temporary, output)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise


def _write_error(output: Path, error: OSError) -> str:
    kept = " (the previous file is unchanged)" if output.exists() else ""
    if error.errno == errno.ENOSPC:
        return (f"cannot write {output}: the disk is full{kept}; free some space or choose "
                "another --output")
    if error.errno in (errno.EACCES, errno.EPERM):
        return (f"cannot write {output}: permission denied in {output.parent}{kept}; choose "
                "another --output or fix the folder's permissions")
    if error.errno == errno.EROFS:
        return f"cannot write {output}: {output.parent} is on a read-only file system{kept}"
    return f"cannot write {output}: {error.strerror or error}{kept}"
