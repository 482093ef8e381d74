"""An import: another tool's attempts and refinements into a session, the session created
for it and removed again when nothing was imported.

    from persd.runs import import_file
    report = import_file("sessions", "mine", "refinements.csv", fmt="table",
                         columns={"attempt": "student_code"}, tasks="tasks.jsonl")
    print(report.text())

What `persd import` runs; the rows' reading, matching and checking are persd.importing's.
Raises what persd.importing.import_file raises (ImportFailed for bad rows, TaskFileError,
ValueError) and StoreError for a session it cannot open.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from persd.importing import ImportReport
from persd.importing import import_file as import_rows
from persd.store import SessionStore, list_sessions, remove_session_files


def import_file(sessions_dir: str | Path, session: str, file: str | Path,
                **options: Any) -> ImportReport:
    """Import `file` into `session` (created if missing); `options` are
    persd.importing.import_file's (fmt, columns, tasks, skip_bad, round, teacher_model,
    match, protocol, origin)."""
    existed = session in list_sessions(sessions_dir)
    report = None
    try:
        with SessionStore.open(sessions_dir, session, create=True) as store:
            report = import_rows(store, file, **options)
    finally:
        if not existed and (report is None or not report.imported):
            remove_session_files(sessions_dir, session)  # nothing imported: nothing created
    return report
