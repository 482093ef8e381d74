"""What the Study tab's events do: plain methods from widget values to a dict of updates
keyed by component name (the tab maps names to components), testable without a browser.

    handlers = StudyHandlers(Stores("sessions"))
    out = handlers.open(StudyInputs(session="demo", reviewer="ana", state=new_state()))
    out = handlers.pick(StudyInputs(..., state=out["state"], pick="left", reason="..."))

The per-browser state holds the study, the pair on screen (its PairView: which hidden slot
is on the left, when it was shown) and nothing else; every judgment is checked and stored
by `persd.studies`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gradio as gr

from persd.store import StoreError
from persd.store.study_records import CHOICES, REVIEW_DECISIONS
from persd.studies import (
    StudyError,
    agreement,
    create_study,
    default_sources,
    judge,
    pair_view,
    progress,
    study_ratings,
)
from persd.studies.report import (
    export_judgments,
    focus_slot,
    item_outcomes,
    judgments_frame,
    win_rate_figure,
    win_rates,
)
from persd_app.tabs import Stores
from persd_app.tabs import study_render as render
from persd_app.tabs.shown import for_people

PAIR = ("state", "study", "progress", "header", "task", "feedback", "left_title", "left_diff",
        "right_title", "right_diff", "message", "pair_area", "reason")
OWNER = ("owner_message", "agreement", "study")
REPORT = ("owner_message", "plot_all", "plot_error", "plot_diff", "table", "export_file")


def new_state() -> dict[str, Any]:
    return {"session": None, "study": None, "view": None}


@dataclass
class StudyInputs:
    session: str | None
    reviewer: str
    state: dict[str, Any]
    study: str | None = None
    reason: str = ""
    # owner's forms
    name: str = ""
    kind: str = "pairwise"
    source_a: str = "persd"
    source_b: str = "stand"
    reviewers: str = ""
    overlap: int | float | None = 2
    from_reviewer: str = ""
    to_reviewer: str = ""
    item: int | float | str | None = None
    decision: str = ""


class StudyHandlers:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    # -- the reviewer's queue ------------------------------------------------------------

    def open(self, i: StudyInputs) -> dict[str, Any]:
        """A session or study was picked (or the reviewer changed): show the first open pair."""
        state = {**new_state(), "session": i.session}
        if not i.session:
            return self._empty(state, "", choices=[])
        store = self.stores.get(i.session)
        names = [s.name for s in store.studies.list()]
        chosen = i.study if i.study in names else (names[-1] if names else None)
        state["study"] = chosen
        if chosen is None:
            return self._empty(state, render.message("info", render.NO_STUDY), choices=names)
        return self._show(i, state, self._next(i, state, after=None), "", choices=names)

    def refresh(self, i: StudyInputs) -> dict[str, Any]:
        """The tab was opened: keep the pair on screen (a judgment may be on its way), or
        open the queue when there is none yet."""
        view = i.state.get("view")
        if view is None or i.state.get("session") != i.session or view.reviewer != i.reviewer:
            return self.open(i)
        return {}

    def pick(self, i: StudyInputs, choice: str) -> dict[str, Any]:
        """Store the reviewer's pick ("left", "right", "tie") and move to the next pair."""
        view = i.state.get("view")
        if view is None:
            return self._show(i, i.state, None, render.message("info", "No pair on screen."))
        if view.reviewer != i.reviewer:
            return self._show(i, i.state, view.item_id, render.message(
                "warn", f"The reviewer changed to {i.reviewer}: here is their view of this pair."))
        store = self.stores.get(i.session)
        try:
            judge(store, view, choice, reason=i.reason)
        except (StoreError, StudyError) as error:
            return self._show(i, i.state, view.item_id, render.message("error", str(error)))
        said = {"left": "Candidate 1", "right": "Candidate 2", "tie": "a tie"}[choice]
        return self._show(i, i.state, self._next(i, i.state, after=view.item_id),
                          render.message("ok", f"Saved: {said} for {view.task_id}."))

    def next(self, i: StudyInputs) -> dict[str, Any]:
        view = i.state.get("view")
        return self._show(i, i.state, self._next(i, i.state, view.item_id if view else None), "")

    # -- the owner's tools ---------------------------------------------------------------

    def defaults(self, i: StudyInputs) -> dict[str, Any]:
        """Candidates this session can pair (issue 25: persd vs stand failed on the demo)."""
        a, b = default_sources(self.stores.get(i.session)) if i.session else ("persd", "stand")
        return {"source_a": a, "source_b": b}

    def create(self, i: StudyInputs) -> dict[str, Any]:
        store = self.stores.get(i.session)
        reviewers = [r.strip() for r in i.reviewers.split(",") if r.strip()]
        made = create_study(store, i.name.strip(), owner=i.reviewer, reviewers=reviewers,
                            overlap=int(i.overlap or 1), kind=i.kind,
                            sources=(i.source_a.strip(), i.source_b.strip()))
        count = len(store.studies.items(made.id))
        # The queue of the new study at once (issue 25: "No study yet" until the tab reopened).
        shown = self.open(replace(i, study=made.name))
        return {**shown, "owner_message": render.message(
                    "ok", f"Created {made.name}: {count} items, {made.overlap} reviewer(s) each; "
                          "you own it."),
                "agreement": "", "study": gr.update(choices=[s.name for s in store.studies.list()],
                                                    value=made.name)}

    def agreement(self, i: StudyInputs) -> dict[str, Any]:
        store, study = self._owned(i)
        summary = agreement(study_ratings(store, study))
        tasks = {item: store.studies.item(item).task_id for item in summary.disagreements}
        return {"owner_message": "", "agreement": render.agreement(summary, study.kind, tasks),
                "study": gr.update()}

    def reassign(self, i: StudyInputs) -> dict[str, Any]:
        store, study = self._owned(i)
        moved, kept = store.studies.reassign(study.id, i.from_reviewer.strip(), i.to_reviewer.strip(),
                                     by=i.reviewer)
        text = f"Moved {len(moved)} open item(s) from {i.from_reviewer} to {i.to_reviewer}."
        if kept:
            text += f" {len(kept)} stay: {i.to_reviewer} already has them."
        return {"owner_message": render.message("ok", text), "agreement": "",
                "study": gr.update()}

    def adjudicate(self, i: StudyInputs) -> dict[str, Any]:
        store, study = self._owned(i)
        allowed = CHOICES if study.kind == "pairwise" else REVIEW_DECISIONS
        if i.decision not in allowed:
            raise StudyError(f"a {study.kind} study's decision is one of {', '.join(allowed)}")
        item_id = _whole(i.item, "Item")
        if store.studies.item(item_id).study_id != study.id:
            raise StudyError(f"item {item_id} is not in study {study.name}")
        store.studies.adjudicate(item_id, i.decision, adjudicator=i.reviewer)
        out = self.agreement(i)
        out["owner_message"] = render.message("ok", f"Item {item_id}: {i.decision}, adjudicated.")
        return out

    def report(self, i: StudyInputs) -> dict[str, Any]:
        store, study = self._owned(i)
        if study.kind != "pairwise":
            raise StudyError(f"{study.name} is a review study: its figures are under Agreement")
        frame = judgments_frame(store, study)
        if frame.empty:
            raise StudyError(f"{study.name} has no judgments yet")
        items = item_outcomes(frame, store.studies.adjudications(study.id))
        tables = {by: win_rates(items, study, by) for by in ("all", "error_type", "diff_size")}
        folder = Path(tempfile.mkdtemp(prefix="persd-study-"))
        path = export_judgments(frame, folder / f"{study.name}-judgments.csv")
        import pandas as pd  # noqa: PLC0415  heavy: pandas

        table = pd.concat([tables["all"].assign(by="all"),
                           tables["error_type"].assign(by="error type"),
                           tables["diff_size"].assign(by="diff lines")], ignore_index=True)
        table = for_people(table[["by", *tables["all"].columns]],
                           names={"win_rate": "win rate", "ci_low": "95% low",
                                  "ci_high": "95% high"})
        return {"owner_message": render.message(
                    "ok", f"{len(frame)} judgments of {len(items)} items; CSV ready below."),
                "plot_all": win_rate_figure(tables["all"], study, "all"),
                "plot_error": win_rate_figure(tables["error_type"], study, "error_type"),
                "plot_diff": win_rate_figure(tables["diff_size"], study, "diff_size"),
                "table": gr.update(value=table, label=(
                    f"Win rate of {study.config.get(focus_slot(study))} (ties counted apart), "
                    "95% Wilson interval")),
                "export_file": str(path)}

    # -- helpers ---------------------------------------------------------------------------

    def _owned(self, i: StudyInputs):
        store = self.stores.get(i.session)
        if not i.state.get("study"):
            raise StudyError("pick a study first")
        study = store.studies.get(i.state["study"])
        if study.owner != i.reviewer:
            # The report and the agreement name the sources: reviewers must not see them.
            raise StudyError(f"only the study's owner ({study.owner}) sees its figures and "
                             f"changes it; you are {i.reviewer}")
        return store, study

    def _next(self, i: StudyInputs, state: dict[str, Any], after: int | None) -> int | None:
        """The reviewer's next undecided item after `after` (wrapping), else None."""
        store = self.stores.get(i.session)
        queue = store.studies.reviewer_queue(store.studies.get(state["study"]).id, i.reviewer)
        later = [item for item in queue if after is None or item > after]
        earlier = [item for item in queue if after is not None and item < after]
        return (later or earlier or [None])[0]

    def _show(self, i: StudyInputs, state: dict[str, Any], item_id: int | None, note: str,
              choices: list[str] | None = None) -> dict[str, Any]:
        store = self.stores.get(i.session)
        study = store.studies.get(state["study"])
        rows = progress(store, study)
        out = self._empty({**state, "view": None}, note, choices=choices)
        out["progress"] = render.progress(rows, i.reviewer, study.owner)
        if study.kind == "review":
            queue = store.studies.reviewer_queue(study.id, i.reviewer)
            tasks = [store.studies.item(item).task_id for item in queue]
            out["message"] = note + render.review_queue(study, tasks, i.session)
            return out
        if item_id is None:
            mine = next((p for p in rows if p.reviewer == i.reviewer), None)
            text = (f"All done: you decided your {mine.assigned} pairs of {study.name}. Thank you."
                    if mine else f"{i.reviewer} has no pairs in {study.name} (ask its owner, "
                    f"{study.owner}).")
            out["message"] = note + render.message("ok" if mine else "info", text)
            return out
        view = pair_view(store, study, item_id, i.reviewer)
        queue = store.studies.reviewer_queue(study.id, i.reviewer)
        mine = next((p for p in rows if p.reviewer == i.reviewer), None)
        out.update({
            "state": {**state, "view": view},
            "header": render.pair_header(view, mine.done if mine else 0,
                                         mine.assigned if mine else 0, len(queue)),
            "task": view.prompt, "feedback": render.feedback(view),
            "left_title": render.candidate_title(1, view.left_diff_lines),
            "left_diff": view.left_diff_html,
            "right_title": render.candidate_title(2, view.right_diff_lines),
            "right_diff": view.right_diff_html, "pair_area": gr.update(visible=True),
            # The reason belongs to the pair: cleared when another pair replaces the one on
            # screen; a first draw or a redraw of the same pair (a refresh, the tab opened
            # again) must not lose what the reviewer is typing.
            "reason": "" if _item_of(state) not in (None, item_id) else gr.update()})
        return out

    def _empty(self, state: dict[str, Any], note: str, choices: list[str] | None = None
               ) -> dict[str, Any]:
        study = gr.update() if choices is None else gr.update(choices=choices,
                                                              value=state.get("study"))
        return {"state": state, "study": study, "progress": "", "header": "", "task": "",
                "feedback": "", "left_title": "", "left_diff": "", "right_title": "",
                "right_diff": "", "message": note, "pair_area": gr.update(visible=False),
                "reason": gr.update()}


def _item_of(state: dict[str, Any]) -> int | None:
    view = state.get("view")
    return getattr(view, "item_id", None) if view is not None else None


def _whole(value: Any, name: str) -> int:
    text = str(value if value is not None else "").strip().removesuffix(".0")
    if not text.isdigit():
        raise StudyError(f"{name}: expected a whole number, not {text!r}")
    return int(text)
