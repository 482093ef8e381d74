"""What the Queue tab's events do, testable without a browser.

    handlers = QueueHandlers(Stores("sessions"))
    v = View(session="demo", reviewer="ana", order="risk")       # what the widgets hold
    out = handlers.show(v)             # {"table": DataFrame, "counts": html, ...}
    out = handlers.ask(v, "rejected")  # {"confirm": question naming decided records, ...}
    out = handlers.confirm(v, overwrite=True)

The table is `persd.analysis.queue` (one QueueTable per session, so flags are computed
once per record); at most PAGE rows are drawn, the selection is kept by record id in the
per-browser state and survives sorting and filtering. A bulk action always asks first and
names every decided or edited record it would overwrite (`bulk_plan`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from persd.analysis.queue import ORDERS, BulkPlan, QueueQuery, QueueTable, apply_plan, bulk_plan
from persd.review_reasons import ReasonError, compose
from persd.store import StoreError
from persd_app.tabs import Stores
from persd_app.tabs.review_render import esc, message
from persd_app.tabs.shown import percent

PAGE = 200
ANY = "any"
SHOWN = ["✓", "id", "task", "risk", "flags", "status", "error", "signature", "similarity",
         "passes", "reviewer", "assigned"]
OUTPUTS = ("table", "counts", "opened", "confirm", "state", "guidelines_view")


@dataclass
class View:
    session: str | None
    reviewer: str
    order: str = "risk"
    status: str = ANY
    flag: str = ANY
    text: str = ""
    mine: bool = False
    state: dict[str, Any] = field(default_factory=dict)   # {"selected": [...], "plan": ...}
    reason_kind: str | None = None
    reason: str = ""


class QueueHandlers:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores
        self._tables: dict[str, QueueTable] = {}
        self._lock = threading.Lock()

    def _table(self, session: str) -> QueueTable:
        with self._lock:
            return self._tables.setdefault(session, QueueTable())

    def rows(self, v: View) -> pd.DataFrame:
        """The records the filters keep, in the chosen order (all of them, not one page)."""
        store = self.stores.get(v.session)
        order = next((key for key, label in ORDERS.items() if v.order in (key, label)), v.order)
        query = QueueQuery(order=order, status=None if v.status == ANY else v.status,
                           flag=None if v.flag == ANY else v.flag, text=v.text or "",
                           mine=v.reviewer if v.mine else None)
        return query.apply(self._table(v.session).frame(store), store)

    def show(self, v: View, note: str = "") -> dict[str, Any]:
        """Draw the table (a session picked, a filter or the order changed, Refresh)."""
        if not v.session:
            return {"table": pd.DataFrame(columns=SHOWN), "opened": "",
                    "counts": message("info", "Pick a session to see its records.")}
        try:
            rows = self.rows(v)
        except (StoreError, ValueError) as error:
            return {"counts": message("error", str(error))}
        selected = set(_selected(v.state))
        shown = {"total": len(rows), "flagged": int((rows["risk"] > 0).sum())}
        return {"table": _page(rows, selected), "state": {**v.state, "shown": shown},
                "counts": _counts(shown, selected) + self._computing(v.session) + note,
                "guidelines_view": self._guidelines(v.session)}

    def _computing(self, session: str) -> str:
        """A note while the table's background pass computes records (a large first open)."""
        table = self._table(session)
        if table.error:
            return message("error", f"{_records(table.pending)} could not be computed "
                           f"({table.error}); Refresh tries again.")
        if table.unshown:
            return message("info", f"{_records(table.unshown)} not shown yet: their risk flags, "
                           "signature and similarity are being computed; Refresh shows them "
                           "as they are ready.")
        if table.pending:
            return message("info", f"{_records(table.pending)} being computed again (their "
                           "tasks have new attempts); Refresh shows the new values.")
        return ""

    def pick(self, v: View, table: pd.DataFrame) -> dict[str, Any]:
        """The ✓ column was edited: the drawn rows' ticks replace their part of the selection."""
        table = table[pd.to_numeric(table["id"], errors="coerce").notna()] if len(table) \
            else table  # a row added in the page has no id: it is no record
        shown = {int(i) for i in table["id"]} if len(table) else set()
        ticked = {int(i) for i, tick in zip(table["id"], table["✓"]) if _true(tick)} \
            if len(table) else set()
        selected = (set(_selected(v.state)) - shown) | ticked
        state = {**v.state, "selected": sorted(selected), "plan": None}
        shown_counts = v.state.get("shown") or {"total": len(table), "flagged": 0}
        return {"state": state, "counts": _counts(shown_counts, selected), "confirm": ""}

    def select_shown(self, v: View, on: bool) -> dict[str, Any]:
        """Tick (or untick) every record the filters keep, not only the drawn page."""
        ids = {int(i) for i in self.rows(v)["id"]}
        selected = set(_selected(v.state))
        selected = selected | ids if on else selected - ids
        v.state = {**v.state, "selected": sorted(selected), "plan": None}
        return {**self.show(v), "confirm": ""}

    def open(self, v: View, record_id: int) -> dict[str, Any]:
        """A row was clicked: its flags with why, and a link that opens it in Review."""
        rows = self._table(v.session).frame(self.stores.get(v.session))
        found = rows[rows["id"] == record_id]
        if found.empty:
            return {"opened": message("error", f"record {record_id} is not in this session")}
        row = found.iloc[0]
        # status=any: Review shows the record and its neighbours whatever their status.
        link = f"?session={esc(v.session)}&record={record_id}&status=any"
        why = "".join(f"<li>{esc(part)}</li>" for part in row["why"].split(" · ") if part)
        return {"opened": (
            f'<div class="persd-queue-open" data-testid="queue-opened"><b>{esc(row["task"])}'
            f'</b> (#{record_id}, {esc(row["status"])}) · <a href="{link}" '
            f'data-testid="queue-open-link">Open in Review →</a>'
            + (f"<ul>{why}</ul>" if why else " · no risk flags") + "</div>")}

    def ask(self, v: View, status: str) -> dict[str, Any]:
        """A bulk button: the question to confirm (never acts at once)."""
        ids = _selected(v.state)
        if not ids:
            return {"confirm": message("info", "Tick records in the ✓ column first.")}
        try:
            reason = compose(v.reason_kind, v.reason) if status == "rejected" else None
            plan = bulk_plan(self.stores.get(v.session), ids, status)
        except (ReasonError, ValueError, StoreError) as error:
            return {"confirm": message("error", str(error))}
        state = {**v.state, "plan": {"status": status, "versions": plan.versions,
                                     "overwrites": plan.overwrites, "reason": reason}}
        return {"state": state, "confirm": _question(plan.question(), bool(plan.overwrites))}

    def confirm(self, v: View, overwrite: bool) -> dict[str, Any]:
        """Apply the plan asked about; without `overwrite` decided records are kept."""
        raw = (v.state or {}).get("plan")
        if not raw:
            return {"confirm": ""}
        plan = BulkPlan(raw["status"], {int(k): v_ for k, v_ in raw["versions"].items()},
                        [tuple(o) for o in raw["overwrites"]])
        try:
            changed, skipped = apply_plan(self.stores.get(v.session), plan,
                                          reviewer=v.reviewer, overwrite=overwrite,
                                          reason=raw.get("reason"))
        except StoreError as error:
            return {"confirm": message("error", str(error))}
        v.state = {**v.state, "plan": None, "selected": []}
        kept = f"; {len(skipped)} left as they were" if skipped else ""
        note = message("ok", f"{_records(changed)} set to {plan.status}{kept}. "
                             "Undo (U) in Review reverts the whole action.")
        return {**self.show(v, note), "confirm": ""}

    def cancel(self, v: View) -> dict[str, Any]:
        return {"state": {**v.state, "plan": None}, "confirm": ""}

    def assign(self, v: View, to: str, by: str) -> dict[str, Any]:
        ids = _selected(v.state)
        if not ids or not (to or "").strip():
            return {"confirm": message("info", "Tick records and name a reviewer first.")}
        try:
            added = self.stores.get(v.session).review_assignments.assign(ids, to, by=by)
        except StoreError as error:
            return {"confirm": message("error", str(error))}
        return {**self.show(v, message("ok", f"{_records(added)} assigned to {to.strip()} "
                                             f"({len(ids) - added} already were).")),
                "confirm": ""}

    def save_guidelines(self, session: str | None, text: str, author: str) -> dict[str, Any]:
        if not session:
            return {"confirm": message("info", "Pick a session first.")}
        try:
            self.stores.get(session).guidelines.set(text, author=author)
        except StoreError as error:
            return {"confirm": message("error", str(error))}
        return {"guidelines_view": self._guidelines(session),
                "confirm": message("ok", "Guidelines saved for this session.")}

    def _guidelines(self, session: str) -> str:
        found = self.stores.get(session).guidelines.latest()
        if found is None or not found.text.strip():
            return ("*No review guidelines yet: an operator writes them below (what to "
                    "approve, what to reject and why).*")
        return f"{found.text}\n\n*— {found.author}, {found.at}*"


def _records(count: int) -> str:
    return f"{count} record" + ("" if count == 1 else "s")


def _selected(state: dict[str, Any] | None) -> list[int]:
    return list((state or {}).get("selected") or [])


def _true(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def _page(rows: pd.DataFrame, selected: set[int]) -> pd.DataFrame:
    page = rows.head(PAGE)
    table = page.assign(**{"✓": page["id"].isin(selected),
                           "similarity": page["similarity"].map(percent)})
    return table[SHOWN]


def _counts(shown: dict[str, int], selected: set[int]) -> str:
    total = shown["total"]
    drawn = f" (the first {PAGE} drawn: narrow the filters)" if total > PAGE else ""
    return (f'<div class="persd-counts" data-testid="queue-counts"><span><b>{total}</b> '
            f'record{"" if total == 1 else "s"}{drawn} · <b>{shown["flagged"]}</b> with risk '
            f'flags · <b>{len(selected)}</b> selected</span></div>')


def _question(text: str, overwrites: bool) -> str:
    hint = (" <b>Confirm</b> leaves them as they are; <b>Confirm, overwriting them</b> "
            "changes them too." if overwrites else "")
    marker = " persd-q-overwrites" if overwrites else ""
    return f'<div class="persd-msg persd-msg-warn{marker}" data-testid="queue-question">' \
           f"{esc(text)}{hint}</div>"
