"""`persd study ...` (reviewer studies) and `persd ablate` (which data teaches most)."""

from __future__ import annotations

import click

from persd.cli.common import UserError, sessions_dir_option
from persd.execution.option import executor_option
from persd.store import QueueFilters, SessionStore, StoreError
from persd.store.study_records import CHOICES, REVIEW_DECISIONS
from persd.student import StudentLoadError
from persd.studies import StudyError, agreement, create_study, progress, study_ratings
from persd.studies.ablate import AblateConfig, AblationError, run_ablation
from persd.studies.report import export_judgments, item_outcomes, judgments_frame, win_rates
from persd.tables import text_table
from persd.tasks import TaskFileError


def _errors():
    return (StoreError, StudyError, ValueError)


def _open(sessions_dir: str, session: str, study: str | None = None):
    store = SessionStore.open(sessions_dir, session)
    return store, (store.studies.get(study) if study else None)


def _names(text: str) -> list[str]:
    return [name.strip() for name in (text or "").split(",") if name.strip()]


@click.group("study")
def study() -> None:
    """Reviewer studies: blind pairwise comparisons and shared review queues."""


@study.command("create")
@click.option("--session", required=True)
@click.option("--name", required=True, help="The study's name (unique in the session).")
@click.option("--kind", type=click.Choice(["pairwise", "review"]), default="pairwise",
              show_default=True, help="pairwise: two candidates per failed attempt; review: "
              "approve/reject the session's refinements.")
@click.option("--a", "source_a", default="persd", show_default=True,
              help="Source of candidate a: METHOD[@ROUND][:TEACHER].")
@click.option("--b", "source_b", default="stand", show_default=True,
              help="Source of candidate b (stand: the teacher's direct solution).")
@click.option("--reviewers", required=True, help="Comma-separated reviewer names.")
@click.option("--overlap", default=1, show_default=True, type=click.IntRange(min=1),
              help="Reviewers per item (k).")
@click.option("--owner", required=True, help="Who may reassign and adjudicate.")
@click.option("--limit", type=click.IntRange(min=1), help="At most N items.")
@click.option("--round", "round_", type=int, help="review: only this round's refinements.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seeds the sides shown.")
@sessions_dir_option
def create(session, name, kind, source_a, source_b, reviewers, overlap, owner, limit, round_,
           seed, sessions_dir) -> None:
    """Create a study and deal its items to the reviewers."""
    try:
        store, _ = _open(sessions_dir, session)
        with store:
            made = create_study(store, name, owner=owner, reviewers=_names(reviewers),
                                overlap=overlap, kind=kind, sources=(source_a, source_b),
                                filters=QueueFilters(round=round_), limit=limit, seed=seed)
            items = len(store.studies.items(made.id))
            loads = ", ".join(f"{p.reviewer} {p.assigned}" for p in progress(store, made))
    except _errors() as error:
        raise UserError(str(error)) from error
    click.echo(f"study {name!r}: {items} items, {overlap} reviewer(s) each ({loads})")


@study.command("status")
@click.option("--session", required=True)
@click.option("--study", "name", required=True)
@sessions_dir_option
def status(session, name, sessions_dir) -> None:
    """Progress per reviewer, agreement, and the disagreements to adjudicate."""
    try:
        store, found = _open(sessions_dir, session, name)
        with store:
            click.echo(status_text(found, progress(store, found),
                                   agreement(study_ratings(store, found))))
    except _errors() as error:
        raise UserError(str(error)) from error


def status_text(found, progress, summary) -> str:
    def number(value):
        return "-" if value is None else f"{value:.3f}"

    lines = [text_table(["reviewer", "assigned", "done", "left"],
                        [[p.reviewer, str(p.assigned), str(p.done), str(p.left)] for p in progress])]
    lines.append(f"agreement over {summary.items} items: Krippendorff's alpha "
                 f"{number(summary.alpha)}, Fleiss' kappa {number(summary.fleiss)} "
                 f"({summary.fleiss_items} items)")
    lines += [f"  Cohen's kappa {x} / {y}: {number(k)}" for (x, y), k in summary.cohen.items()]
    lines.append(text_table(
        ["reviewer", "decisions", "median s", "agrees with majority"],
        [[f.reviewer, str(f.decisions), "-" if f.median_s is None else f"{f.median_s:g}",
          "-" if f.agree_with_majority is None else
          f"{f.agree_with_majority:.0%} of {f.with_others}"] for f in summary.reviewers]))
    lines.append("disagreements to adjudicate: "
                 + (", ".join(map(str, summary.disagreements)) or "none"))
    return "\n".join(lines)


@study.command("adjudicate")
@click.option("--session", required=True)
@click.option("--study", "name", required=True)
@click.option("--item", "item_id", required=True, type=int)
@click.option("--decision", required=True,
              help="pairwise: a, b or tie; review: approved or rejected.")
@click.option("--by", "who", required=True, help="The study's owner.")
@click.option("--reason")
@sessions_dir_option
def adjudicate(session, name, item_id, decision, who, reason, sessions_dir) -> None:
    """Record the owner's decision on an item (kept apart from the reviewers')."""
    try:
        store, found = _open(sessions_dir, session, name)
        with store:
            allowed = CHOICES if found.kind == "pairwise" else REVIEW_DECISIONS
            if decision not in allowed:
                raise UserError(f"--decision must be one of {', '.join(allowed)}")
            if store.studies.item(item_id).study_id != found.id:
                raise UserError(f"item {item_id} is not in study {name!r}")
            store.studies.adjudicate(item_id, decision, adjudicator=who, reason=reason)
    except _errors() as error:
        raise UserError(str(error)) from error
    click.echo(f"item {item_id}: {decision} (adjudicated by {who})")


@study.command("reassign")
@click.option("--session", required=True)
@click.option("--study", "name", required=True)
@click.option("--from", "from_reviewer", required=True)
@click.option("--to", "to_reviewer", required=True)
@click.option("--by", "who", required=True, help="The study's owner.")
@sessions_dir_option
def reassign(session, name, from_reviewer, to_reviewer, who, sessions_dir) -> None:
    """Move a reviewer's undecided items to another reviewer."""
    try:
        store, found = _open(sessions_dir, session, name)
        with store:
            moved, kept = store.studies.reassign(found.id, from_reviewer, to_reviewer, by=who)
    except _errors() as error:
        raise UserError(str(error)) from error
    click.echo(f"moved {len(moved)} item(s) from {from_reviewer} to {to_reviewer}"
               + (f"; {len(kept)} kept ({to_reviewer} already has them)" if kept else ""))


@study.command("report")
@click.option("--session", required=True)
@click.option("--study", "name", required=True)
@click.option("--export", "export_path", type=click.Path(dir_okay=False),
              help="Write every judgment to this .csv or .parquet file.")
@click.option("--force", is_flag=True, help="Overwrite an existing export.")
@sessions_dir_option
def report(session, name, export_path, force, sessions_dir) -> None:
    """Win rates with Wilson intervals, overall, by error type and by diff size."""
    try:
        store, found = _open(sessions_dir, session, name)
        with store:
            if found.kind != "pairwise":
                raise UserError(f"study {name!r} is a review study: see `persd study status`")
            frame = judgments_frame(store, found)
            items = item_outcomes(frame, store.studies.adjudications(found.id))
            for by in ("all", "error_type", "diff_size"):
                click.echo(win_rates(items, found, by).to_string(
                    index=False, float_format=lambda v: f"{v:.3f}"))
            if export_path:
                path = export_judgments(frame, export_path, force=force)
                click.echo(f"wrote {len(frame)} judgments to {path}")
    except _errors() as error:
        raise UserError(str(error)) from error


@click.command("ablate")
@click.option("--by", type=click.Choice(["error-type", "data-source"]), default="error-type",
              show_default=True)
@click.option("--session", required=True, help="The student's session (runs are recorded there).")
@click.option("--student", required=True, help="Base model: Hugging Face id or local folder.")
@click.option("--eval-tasks", required=True, help="Tasks every adapter is evaluated on.")
@click.option("--eval-limit", type=click.IntRange(min=1), help="Only the first N eval tasks.")
@click.option("--steps", required=True, type=click.IntRange(min=1), help="Steps per adapter.")
@click.option("--per-type", required=True, type=click.IntRange(min=1),
              help="Examples per group (K).")
@click.option("--data-from-session", help="Train on this session's data (personalised for "
              "another student); with --by data-source, set beside the session's own.")
@click.option("--selection", type=click.Choice(["approved", "validated", "auto", "all"]),
              default="approved", show_default=True)
@click.option("--output", "output_dir", required=True, type=click.Path(file_okay=False))
@click.option("--samples", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--max-new-tokens", default=128, show_default=True, type=int)
@click.option("--seed", default=0, show_default=True, type=int)
@sessions_dir_option
@executor_option
def ablate(by, session, student, eval_tasks, eval_limit, steps, per_type, data_from_session,
           selection, output_dir, samples, max_new_tokens, seed, sessions_dir) -> None:
    """Train one adapter per group of the data (error type, or data source) and compare them."""
    try:
        config = AblateConfig(
            session=session, student=student, eval_tasks=eval_tasks, output_dir=output_dir,
            steps=steps, per_type=per_type, by=by, data_from_session=data_from_session,
            selection=selection, eval_limit=eval_limit, samples=samples,
            max_new_tokens=max_new_tokens, seed=seed)
        result = run_ablation(config, sessions_dir=sessions_dir,
                              echo=lambda text: click.echo(text, err=True))
    except (AblationError, StoreError, StudentLoadError, TaskFileError) as error:
        raise UserError(str(error)) from error
    click.echo(result.table())
    click.echo(f"figure: {output_dir}/ablation.html; runs recorded in session {session} "
               "(persd eval-compare shows their data source)")
