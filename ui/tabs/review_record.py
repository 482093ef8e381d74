"""One record of the review queue as the review tab shows it: the widgets' values for
record `rid`, the editor's drafts (kept in the browser's `drafts`) and the sandbox runs of
drafts this server remembers. The collaborator that `persd_app.tabs.review_handlers` and
`persd_app.tabs.review_session` draw with.

    screen = RecordScreen(Stores("sessions"))
    out = screen.show(i, i.state, rid, render.message("ok", "Approved."))
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace
from typing import Any

import gradio as gr

from persd.analysis.signatures import refinement_signatures
from persd.code.diffing import code_similarity, diff_size, side_by_side
from persd.review import review_view
from persd_app.tabs import Stores
from persd_app.tabs import review_render as render
from persd_app.tabs.review_query import SIGNATURE_PREFIX, Inputs, describe, editor_key, write_query

_RUNS_KEPT = 512


class RecordScreen:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        # (session, record, program) -> its stored sandbox run: a draft run while typing is
        # not run again on saving. Kept here, not in the browser's state: the run finishes
        # after the reviewer may have moved on, and must not write a stale state back.
        self._runs: OrderedDict[tuple[str, int, str], int] = OrderedDict()
        self._runs_lock = threading.Lock()

    def run_of(self, session: str | None, rid: int, code: str) -> int | None:
        with self._runs_lock:
            return self._runs.get((session or "", rid, code))

    def remember_run(self, session: str | None, rid: int, code: str, execution_id: int) -> None:
        with self._runs_lock:
            self._runs[(session or "", rid, code)] = execution_id
            while len(self._runs) > _RUNS_KEPT:
                self._runs.popitem(last=False)

    def store(self, i: Inputs):
        return self.stores.get(i.session)

    def key(self, i: Inputs, rid: int | None = None) -> str:
        return editor_key(i.session, i.state.get("id") if rid is None else rid)

    def stash(self, i: Inputs) -> None:
        """Keep the editor's text as the shown record's draft (or forget a draft that went
        back to the stored program)."""
        if i.code is None or i.state.get("id") is None or i.state.get("session") != i.session:
            return
        if not i.code.strip() or i.code.rstrip() == (i.state.get("base") or "").rstrip():
            i.drafts.pop(self.key(i), None)  # a blank editor is no draft to keep
        else:
            i.drafts[self.key(i)] = i.code

    def drop_draft(self, i: Inputs, rid: int | None = None) -> None:
        i.drafts.pop(self.key(i, rid), None)

    def after(self, i: Inputs, rid: int | None) -> int | None:
        """The next record after an action took `rid` out of the way (wrapping: records
        before it may still be left)."""
        store = self.store(i)
        rows = store.queue.list(i.filters, after_id=rid, limit=1) if rid is not None else []
        rows = rows or store.queue.list(i.filters, limit=1)
        return rows[0].refinement_id if rows else None

    def counts(self, i: Inputs, store) -> str:
        return render.counts(store.queue.counts(), store.queue.count(i.filters),
                             describe(i.filters), store.simulated)

    def empty(self, state: dict[str, Any], note: str, empty: str = "") -> dict:
        return {"state": state, "counts": "", "header": render.header(None, False, empty),
                "message": note, "reason": "", "failure": "", "run": "", "task": "",
                "editor": "", "editor_of": "", "metrics": "", "diff": "",
                "reference_diff": gr.update(value="", visible=False),
                "confirm_text": ""}

    def show(self, i: Inputs, state: dict[str, Any], rid: int | None, note: str, *,
              keep_editor: bool = False, run_draft: bool = True) -> dict:
        """Render record `rid` (None: the view is empty) and the counts. Moving to another
        record clears the reject reason: it belonged to the last one."""
        store = self.store(i)
        view = review_view(store, rid, with_reference=i.show_reference) if rid else None
        same = rid == i.state.get("id") and i.session == i.state.get("session")
        key = self.key(i, rid)
        if view is None:
            code = ""
        elif same and keep_editor and i.code is not None:
            code = i.code
        else:
            code = i.drafts.get(key) or view.current_program  # a blank one kept earlier: none
        draft = view is not None and code.rstrip() != view.current_program.rstrip()
        state = {**state, "session": i.session, "id": rid, "filters": dict(i.raw_filters),
                 "version": view.version if view else 0,
                 "base": view.current_program if view else "",
                 "event": max(state.get("event") or 0, store.reviews.last_event_id())}
        query = write_query(i.session, rid, i.raw_filters)
        out = {"state": state, "drafts": dict(i.drafts), "counts": self.counts(i, store),
               "header": render.header(view, store.simulated, self._no_match(i, store, view),
                                       draft=draft, query=query,
                                       source=store.imports.source(rid) if rid else None),
               "message": note, "confirm_text": ""}
        if not same:
            out["reason"] = ""
        if view is None:
            blank = dict.fromkeys(("failure", "run", "task", "editor", "editor_of", "metrics", "diff"), "")
            return {**out, **blank, "reference_diff": gr.update(value="", visible=False)}
        if not (same and keep_editor):
            out["editor"], out["editor_of"] = code, key
        right = ("Your draft (unsaved)" if draft else "Edited refinement"
                 if view.current_program != view.refinement_program else view.refinement_label)
        shown = replace(view, similarity=code_similarity(view.attempt_program, code,
                                                         view.description),
                        diff_size=diff_size(view.attempt_program, code)) if draft else view
        out.update(
            failure=render.failure(view), task=view.description, metrics=render.metrics(shown),
            diff=render.diff_html(side_by_side(view.attempt_program, code), "Student attempt",
                                  right, hide_blank=i.hide_blank))
        if i.show_reference:  # else it stays hidden (`refresh` hides it when unticked)
            out["reference_diff"] = gr.update(value=view.reference_diff_html or "", visible=True)
        if run_draft or not draft:
            out["run"] = self._run_html(i, store, view, code, draft)
        else:
            out["run"] = render.message("info", "Your draft: running the hidden tests…")
        return out

    def _run_html(self, i: Inputs, store, view, code: str, draft: bool) -> str:
        if draft:
            known = self.run_of(i.session, view.refinement_id, code)
            if known:
                return render.run_panel("Your draft", store.executions.get(known))
            return render.message("info", "Your draft has not been run yet: pause typing, or "
                                  "Ctrl+S saves it (it is run first).")
        if view.edit_execution is not None:
            return render.run_panel("Saved edit", view.edit_execution)
        return render.run_panel(view.refinement_label, view.refinement_run, view.validated,
                                view.validation_feedback)

    def _no_match(self, i: Inputs, store, view) -> str:
        """Why a `sig:` search shows nothing, with the signatures there are."""
        search = str(i.raw_filters.get("f_search") or "").strip()
        return "" if view is not None or not search.lower().startswith(SIGNATURE_PREFIX) else \
            render.signature_miss(search[len(SIGNATURE_PREFIX):], refinement_signatures(store))
