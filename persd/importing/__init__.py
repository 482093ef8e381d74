"""Refinement data from elsewhere into a session: `persd import`.

    from persd.importing import import_file
    with SessionStore.open("sessions", "mine", create=True) as store:
        report = import_file(store, "refinements.csv", fmt="table",
                             columns={"attempt": "student_code", "refinement": "fixed_code"},
                             tasks="tasks.jsonl")
    print(report.text())

Formats (persd.importing.formats): attempt/feedback/refinement tables, trl prompt/completion
rows (or `messages`), the paper's released "rectify" rows (persd.importing.rectify), and
persd's own exports. Files: JSONL, JSON arrays, CSV, Parquet, `hf:` (persd.importing.read).
The steps, all or nothing, are in persd.importing.load.
"""

from persd.importing.formats import FORMATS
from persd.importing.load import BadRow, ImportFailed, ImportReport, import_file
from persd.importing.read import read_data

__all__ = ["FORMATS", "BadRow", "ImportFailed", "ImportReport", "import_file", "read_data"]
