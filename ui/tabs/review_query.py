"""The review view's filters (from the filter widgets, to and from the page's URL), and what
one of its events is given (`Inputs`) with the per-browser state it starts from (`new_state`).

    filters = filters_from(status="pending", search="HumanEval/3")   # exact task id
    filters_from(search="HumanEval/3*")                              # task id prefix
    filters_from(search="text:sorted")                               # words of the prompt
    filters_from(search="sig:IndexError: list index out of range",  # teacher code failing so
                 signature_ids=lambda sig: [3, 7])                   # (persd.analysis.signatures)
    write_query("demo", 12, {"f_status": "any"})     # "session=demo&record=12&status=any"
    read_query("?session=demo&record=12", "demo")    # Wanted(record=12, filters=..., raw=...)

The URL is how a reload keeps the view and how a link opens a record; the page's script
copies `write_query` (carried on the record header) into the address bar.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, urlencode

from persd.store import QueueFilters
from persd.store.records import REVIEW_STATUSES

ANY = "any"
TEXT_PREFIX = "text:"
SIGNATURE_PREFIX = "sig:"
MINE = "mine"                     # the search that keeps the records assigned to me
# widget name -> (URL key, default value)
_FIELDS = {"f_status": ("status", "pending"), "f_error": ("error", ANY),
           "f_validated": ("validated", ANY), "f_round": ("round", ""), "f_search": ("q", ""),
           "f_maxdiff": ("maxdiff", "")}
FILTER_NAMES = tuple(_FIELDS)
DEFAULT_FILTERS = {name: default for name, (_, default) in _FIELDS.items()}


def filters_from(status: str | None = "pending", error_type: str | None = ANY,
                 validated: str | None = ANY, round_: str | int | None = None,
                 search: str | None = "", max_diff: str | int | None = None,
                 signature_ids: Callable[[str], list[int]] | None = None,
                 reviewer: str | None = None) -> QueueFilters:
    """QueueFilters from the filter widgets' values ("any" and empty mean no filter);
    ValueError with a readable message for a number that is not one. `search` is a task
    id (exact; a trailing * makes it a prefix), "text:words" to search the prompts, or
    "sig:SIGNATURE" for the refinements whose teacher code still fails with that failure
    signature (`signature_ids` finds them), or "mine" for those assigned to `reviewer`."""
    text = (search or "").strip()
    if text.lower() == MINE and reviewer:
        plain = filters_from(status, error_type, validated, round_, "", max_diff)
        return replace(plain, assigned_to=reviewer)
    if text.lower().startswith(SIGNATURE_PREFIX) and signature_ids is not None:
        ids = tuple(signature_ids(text[len(SIGNATURE_PREFIX):].strip()))
        plain = filters_from(status, error_type, validated, round_, "", max_diff)
        return replace(plain, refinement_ids=ids)
    words = text[len(TEXT_PREFIX):].strip() if text.lower().startswith(TEXT_PREFIX) else None
    return QueueFilters(
        status=None if status in (None, "", ANY) else status,
        error_type=None if error_type in (None, "", ANY) else error_type,
        validated={"yes": True, "no": False}.get(validated or ANY),
        round=_whole(round_, "Round"),
        search=words or None,
        task_id=None if words is not None or not text else text,
        max_diff_lines=_whole(max_diff, "Max diff lines"),
    )


def _whole(value: str | int | None, name: str) -> int | None:
    text = str(value if value is not None else "").strip()
    if text in ("", ANY):
        return None
    if not text.isdigit():
        raise ValueError(f"{name}: expected a whole number or nothing, not {text!r}")
    return int(text)


def describe(filters: QueueFilters) -> str:
    """The filters in a few words, for the counts line."""
    parts = [f"status {filters.status}" if filters.status else "any status"]
    for label, value in (("attempt error", filters.error_type), ("round", filters.round),
                         ("task", filters.task_id), ("text", filters.search),
                         ("my queue:", filters.assigned_to),
                         ("diff ≤", filters.max_diff_lines)):
        if value is not None:
            parts.append(f"{label} {value}")
    if filters.validated is not None:
        parts.append("teacher code passes" if filters.validated else "teacher code fails")
    if filters.refinement_ids is not None:
        parts.append(f"failure signature ({len(filters.refinement_ids)} records)")
    return ", ".join(parts)


def write_query(session: str | None, record: int | None, raw: dict[str, Any]) -> str:
    values: list[tuple[str, str]] = [("session", session)] if session else []
    if record is not None:
        values.append(("record", str(record)))
    for name, (key, default) in _FIELDS.items():
        value = raw.get(name)
        if value is not None and str(value) != default:
            values.append((key, str(value)))
    return urlencode(values)


@dataclass
class Wanted:
    record: int | None
    filters: QueueFilters
    raw: dict[str, Any]            # widget name -> value, to set the widgets


def read_query(query: str, session: str | None,
               signature_ids: Callable[[str], list[int]] | None = None,
               reviewer: str | None = None) -> Wanted | None:
    """What the URL asks for, if it names `session` (None otherwise, or if it asks for
    nothing but the session). A malformed value falls back to the default."""
    params = {k: v[-1] for k, v in parse_qs((query or "").lstrip("?")).items()}
    if not session or params.get("session") != session:
        return None
    raw = {name: params.get(key, default) for name, (key, default) in _FIELDS.items()}
    record = params.get("record", "")
    try:
        if raw["f_status"] not in (ANY, *REVIEW_STATUSES) or \
                raw["f_validated"] not in (ANY, "yes", "no"):
            raise ValueError("not a choice of the filter")
        filters = filters_from(raw["f_status"], raw["f_error"], raw["f_validated"],
                               raw["f_round"], raw["f_search"], raw["f_maxdiff"], signature_ids,
                               reviewer)
    except ValueError:
        raw = {name: default for name, (_, default) in _FIELDS.items()}
        filters = filters_from()
    return Wanted(int(record) if record.isdigit() else None, filters, raw)


def new_state() -> dict[str, Any]:
    return {"session": None, "id": None, "version": 0, "base": "", "bulk": None, "event": 0}


@dataclass
class Inputs:
    session: str | None
    reviewer: str
    state: dict[str, Any]
    filters: QueueFilters = field(default_factory=lambda: filters_from())
    raw_filters: dict[str, Any] = field(default_factory=dict)  # widget values, for the URL
    show_reference: bool = False
    hide_blank: bool = True
    code: str | None = None        # the editor's text (None: not sent)
    override: bool = False
    reason: str = ""
    reason_kind: str | None = None  # a label of persd.review_reasons.REASON_KINDS
    drafts: dict[str, str] = field(default_factory=dict)
    url: str = ""                  # the page's query string (only `open_from_url` reads it)
    # `editor_key` of the record the editor's text belongs to, sent by the page with it
    # (None: not sent). The state lives on the server and may already show the next record
    # while the page still sent the last one's text: such text is not this record's.
    editor_of: str | None = None

    def __post_init__(self) -> None:
        if self.editor_of is not None and \
                self.editor_of != editor_key(self.session, self.state.get("id")):
            self.code = None  # issue 25: it became a phantom draft of the record shown


def editor_key(session: str | None, refinement_id: int | None) -> str:
    """Which record an editor's text (or a draft) belongs to."""
    return f"{session}:{refinement_id}"
