"""The session schema as an append-only list of numbered migrations.

    apply_migrations(conn, path)           # on every open: applies what is missing
    apply_migrations(conn, path, upto=2)   # tests: build an old-version database

Each migration is a name and a list of steps (SQL strings or functions of the
connection); applied ones are recorded in `_migrations`. Never edit or reorder a
migration that has shipped: add a new one at the end.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from persd.store import assignments, derived
from persd.store.db import NOW_SQL, check_is_session
from persd.store.errors import StoreError

Step = str | Callable[[sqlite3.Connection], None]

_NOW = f"TEXT NOT NULL DEFAULT ({NOW_SQL})"

MIGRATIONS: list[tuple[str, list[Step]]] = [
    ("m001_session_and_tasks", [
        f"""CREATE TABLE session (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            config TEXT,
            created_at {_NOW}
        )""",
        "INSERT INTO session (id) VALUES (1)",
        f"""CREATE TABLE tasks (
            task_id TEXT PRIMARY KEY,
            prompt TEXT NOT NULL,
            entry_point TEXT NOT NULL,
            test TEXT NOT NULL,
            visible_test TEXT NOT NULL,
            solution TEXT NOT NULL,
            source TEXT NOT NULL,
            added_at {_NOW}
        )""",
    ]),
    ("m002_attempts_and_executions", [
        f"""CREATE TABLE attempts (
            id INTEGER PRIMARY KEY,
            task_id TEXT NOT NULL REFERENCES tasks (task_id),
            round INTEGER NOT NULL CHECK (round >= 0),
            sample_index INTEGER NOT NULL CHECK (sample_index >= 0),
            model TEXT NOT NULL,
            sampling TEXT NOT NULL,
            prompt TEXT NOT NULL,
            completion TEXT NOT NULL,
            program TEXT NOT NULL,
            created_at {_NOW},
            UNIQUE (task_id, round, sample_index)
        )""",
        "CREATE INDEX attempts_round ON attempts (round)",
        f"""CREATE TABLE executions (
            id INTEGER PRIMARY KEY,
            subject_kind TEXT NOT NULL
                CHECK (subject_kind IN ('attempt', 'refinement', 'review_edit', 'eval_sample')),
            subject_id INTEGER NOT NULL,
            tests TEXT NOT NULL CHECK (tests IN ('hidden', 'visible')),
            status TEXT NOT NULL
                CHECK (status IN ('passed', 'failed', 'error', 'timeout', 'memory', 'killed')),
            passed INTEGER NOT NULL,
            feedback TEXT NOT NULL,
            duration_s REAL,
            tests_passed INTEGER,
            tests_total INTEGER,
            error_type TEXT NOT NULL,
            created_at {_NOW}
        )""",
        # One run per subject and test kind, except review edits (each edit is re-run).
        """CREATE UNIQUE INDEX executions_subject ON executions (subject_kind, subject_id, tests)
            WHERE subject_kind <> 'review_edit'""",
        # The planner cannot use the partial index above for `subject_kind = 'attempt'`.
        "CREATE INDEX executions_lookup ON executions (subject_kind, subject_id, tests)",
    ]),
    ("m003_refinements_and_teacher", [
        f"""CREATE TABLE refinements (
            id INTEGER PRIMARY KEY,
            method TEXT NOT NULL CHECK (method IN ('persd', 'stand', 'inpd')),
            task_id TEXT NOT NULL REFERENCES tasks (task_id),
            round INTEGER NOT NULL,
            attempt_id INTEGER REFERENCES attempts (id),
            teacher_model TEXT NOT NULL,
            program TEXT,
            completion TEXT,
            validated INTEGER NOT NULL,
            reason TEXT NOT NULL,
            tries INTEGER NOT NULL,
            error TEXT,
            created_at {_NOW},
            updated_at {_NOW},
            CHECK ((method = 'persd') = (attempt_id IS NOT NULL))
        )""",
        """CREATE UNIQUE INDEX refinements_attempt ON refinements (attempt_id, method)
            WHERE attempt_id IS NOT NULL""",
        """CREATE UNIQUE INDEX refinements_task ON refinements (task_id, round, method)
            WHERE attempt_id IS NULL""",
        "CREATE INDEX refinements_round ON refinements (round)",
        f"""CREATE TABLE teacher_calls (
            id INTEGER PRIMARY KEY,
            refinement_id INTEGER REFERENCES refinements (id),
            attempt_id INTEGER REFERENCES attempts (id),
            task_id TEXT,
            round INTEGER,
            purpose TEXT NOT NULL,
            model TEXT NOT NULL,
            messages TEXT NOT NULL,
            raw_reply TEXT,
            prompt_tokens INTEGER NOT NULL,
            completion_tokens INTEGER NOT NULL,
            cost_usd REAL NOT NULL,
            cached INTEGER NOT NULL,
            error TEXT,
            duration_s REAL,
            created_at {_NOW}
        )""",
        "CREATE INDEX teacher_calls_task ON teacher_calls (task_id, round)",
        "CREATE INDEX teacher_calls_refinement ON teacher_calls (refinement_id)",
        f"""CREATE TABLE teacher_cache (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            created_at {_NOW}
        )""",
    ]),
    ("m004_reviews", [
        """CREATE TABLE reviews (
            refinement_id INTEGER PRIMARY KEY REFERENCES refinements (id),
            status TEXT NOT NULL
                CHECK (status IN ('pending', 'approved', 'edited', 'rejected', 'skipped')),
            edited_program TEXT,
            edit_execution_id INTEGER REFERENCES executions (id),
            reason TEXT,
            reviewer TEXT NOT NULL,
            version INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX reviews_status ON reviews (status)",
        f"""CREATE TABLE review_events (
            id INTEGER PRIMARY KEY,
            refinement_id INTEGER NOT NULL REFERENCES refinements (id),
            kind TEXT NOT NULL CHECK (kind IN ('action', 'undo')),
            batch TEXT,
            undoes INTEGER REFERENCES review_events (id),
            old_status TEXT NOT NULL,
            new_status TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            version INTEGER NOT NULL,
            at {_NOW},
            payload TEXT NOT NULL
        )""",
        "CREATE INDEX review_events_reviewer ON review_events (reviewer, kind, id)",
        "CREATE INDEX review_events_refinement ON review_events (refinement_id, id)",
        "CREATE INDEX review_events_batch ON review_events (batch) WHERE batch IS NOT NULL",
        # An action is undone at most once.
        """CREATE UNIQUE INDEX review_events_undoes ON review_events (undoes)
            WHERE undoes IS NOT NULL""",
        """CREATE TRIGGER review_events_no_update BEFORE UPDATE ON review_events
            BEGIN SELECT RAISE(ABORT, 'review_events is append-only'); END""",
        """CREATE TRIGGER review_events_no_delete BEFORE DELETE ON review_events
            BEGIN SELECT RAISE(ABORT, 'review_events is append-only'); END""",
    ]),
    ("m005_runs_and_eval_samples", [
        f"""CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('train', 'eval', 'collect')),
            status TEXT NOT NULL
                CHECK (status IN ('queued', 'running', 'finished', 'failed', 'stopped')),
            config TEXT NOT NULL,
            result TEXT,
            metrics_path TEXT,
            output TEXT,
            pid INTEGER,
            created_at {_NOW},
            updated_at {_NOW}
        )""",
        "CREATE INDEX runs_kind ON runs (kind, status)",
        f"""CREATE TABLE eval_samples (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES runs (id),
            task_id TEXT NOT NULL,
            sample_index INTEGER NOT NULL,
            step INTEGER NOT NULL,
            program TEXT NOT NULL,
            created_at {_NOW},
            UNIQUE (run_id, task_id, sample_index, step)
        )""",
    ]),
    ("m006_review_queue", [
        # Computed by the caller (persd.code.diffing); filters the review queue by diff size.
        "ALTER TABLE refinements ADD COLUMN diff_lines INTEGER",
        "CREATE INDEX refinements_diff_lines ON refinements (diff_lines)",
    ]),
    ("m007_teacher_batches", [
        # Batch API submissions of the teacher (persd.teacher.batch): a rerun resumes polling
        # the recorded batch instead of paying for a second one. `id` is ours and is written
        # before the batch is created; `batch_id` is the API's, once it exists.
        f"""CREATE TABLE teacher_batches (
            id TEXT PRIMARY KEY,
            round INTEGER NOT NULL,
            model TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('creating', 'submitted', 'done')),
            batch_id TEXT UNIQUE,
            input_file_id TEXT,
            remote_status TEXT,
            custom_ids TEXT NOT NULL,
            request_counts TEXT,
            results TEXT,
            error TEXT,
            created_at {_NOW},
            updated_at {_NOW}
        )""",
        "CREATE INDEX teacher_batches_round ON teacher_batches (round, state)",
    ]),
    ("m008_teacher_calls_batch_id", [
        # The Batch API job that answered a call (teacher_batches.batch_id); NULL for live
        # calls and cache hits. Calls logged before this migration were all live or cached.
        "ALTER TABLE teacher_calls ADD COLUMN batch_id TEXT",
    ]),
    ("m009_run_process", [
        # The start time of the run's process (field 22 of /proc/<pid>/stat, clock ticks
        # since boot), so that a pid reused by another process is not taken for the run's.
        # NULL for runs recorded before this migration or off Linux.
        "ALTER TABLE runs ADD COLUMN process_start INTEGER",
    ]),
    ("m010_execution_detail", [
        # The failing tests and the exception of a run as JSON (ExecutionResult.detail());
        # NULL for runs stored before: they read as "no structured detail".
        "ALTER TABLE executions ADD COLUMN detail TEXT",
    ]),
    ("m011_imports", [
        # `persd import`: one row per imported file, one per imported record. `digest` is a
        # hash of the record's content, so importing the same rows again adds nothing.
        # `rerun` is 1 when the attempt and refinement were run here, in the sandbox, against
        # the session's task; 0 when the feedback is the file's own and nothing was validated.
        f"""CREATE TABLE imports (
            id INTEGER PRIMARY KEY,
            file TEXT NOT NULL,
            format TEXT NOT NULL,
            tasks TEXT,
            counts TEXT NOT NULL,
            created_at {_NOW}
        )""",
        f"""CREATE TABLE import_records (
            digest TEXT PRIMARY KEY,
            import_id INTEGER NOT NULL REFERENCES imports (id),
            line INTEGER NOT NULL,
            task_id TEXT NOT NULL REFERENCES tasks (task_id),
            attempt_id INTEGER REFERENCES attempts (id),
            refinement_id INTEGER NOT NULL REFERENCES refinements (id),
            feedback TEXT NOT NULL,
            rerun INTEGER NOT NULL,
            created_at {_NOW}
        )""",
        "CREATE INDEX import_records_refinement ON import_records (refinement_id)",
    ]),
    ("m014_studies", [
        # Reviewer studies (persd.studies): blind pairwise comparisons of two candidates for
        # one failed attempt, or a review queue, split among reviewers with overlap k.
        f"""CREATE TABLE studies (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL CHECK (kind IN ('pairwise', 'review')),
            owner TEXT NOT NULL,
            overlap INTEGER NOT NULL CHECK (overlap >= 1),
            config TEXT NOT NULL,
            created_at {_NOW}
        )""",
        # A pairwise item holds candidates a and b; a review item only a (the refinement).
        """CREATE TABLE study_items (
            id INTEGER PRIMARY KEY,
            study_id INTEGER NOT NULL REFERENCES studies (id),
            task_id TEXT NOT NULL REFERENCES tasks (task_id),
            attempt_id INTEGER REFERENCES attempts (id),
            candidate_a INTEGER NOT NULL REFERENCES refinements (id),
            candidate_b INTEGER REFERENCES refinements (id)
        )""",
        """CREATE UNIQUE INDEX study_items_key
            ON study_items (study_id, candidate_a, COALESCE(candidate_b, 0))""",
        f"""CREATE TABLE study_assignments (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES study_items (id),
            reviewer TEXT NOT NULL,
            assigned_by TEXT NOT NULL,
            at {_NOW},
            UNIQUE (item_id, reviewer)
        )""",
        "CREATE INDEX study_assignments_reviewer ON study_assignments (reviewer, item_id)",
        # choice: the candidate judged more helpful, by its hidden slot; left: the slot this
        # reviewer saw on the left (sides are randomised per reviewer and item).
        f"""CREATE TABLE study_judgments (
            id INTEGER PRIMARY KEY,
            item_id INTEGER NOT NULL REFERENCES study_items (id),
            reviewer TEXT NOT NULL,
            choice TEXT NOT NULL CHECK (choice IN ('a', 'b', 'tie')),
            left_slot TEXT NOT NULL CHECK (left_slot IN ('a', 'b')),
            reason TEXT,
            duration_s REAL,
            at {_NOW},
            UNIQUE (item_id, reviewer)
        )""",
        # The owner's decision on an item reviewers disagreed on, kept apart from theirs.
        f"""CREATE TABLE study_adjudications (
            item_id INTEGER PRIMARY KEY REFERENCES study_items (id),
            decision TEXT NOT NULL,
            adjudicator TEXT NOT NULL,
            reason TEXT,
            at {_NOW}
        )""",
    ]),
    ("m015_loop", [
        # `persd loop` records itself as a run of kind 'loop'. SQLite cannot alter a CHECK
        # constraint, and rebuilding `runs` would trip eval_samples' foreign key, so the
        # table's stored definition is widened in place (SQLite's documented procedure for
        # loosening a constraint: every existing row still satisfies it).
        lambda conn: _widen_run_kinds(conn, "'train', 'eval', 'collect'",
                                      "'train', 'eval', 'collect', 'loop'"),
    ]),
    assignments.MIGRATION,
    derived.MIGRATION,
    ("m018_import_origin", [
        # Where an imported refinement came from ("gold refinement": the dataset's own code;
        # "teacher refinement"; "imported": the file does not say) and the protocol its
        # rows were judged under (NULL: not run here). Rows imported before say "imported".
        "ALTER TABLE import_records ADD COLUMN origin TEXT NOT NULL DEFAULT 'imported'",
        "ALTER TABLE imports ADD COLUMN protocol TEXT",
        # A release row's pieces as its file held them (JSON: task, code, error, header,
        # completion), so `--prompt-style paper` rebuilds the row character for character.
        "ALTER TABLE import_records ADD COLUMN paper_parts TEXT",
    ]),
    derived.CLAIMS_MIGRATION,
]


def _widen_run_kinds(conn: sqlite3.Connection, old: str, new: str) -> None:
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'runs'").fetchone()[0]
    if f"kind IN ({new})" in sql:
        return
    if f"kind IN ({old})" not in sql:
        raise StoreError("the runs table has an unexpected definition; cannot add the 'loop' kind")
    version = conn.execute("PRAGMA schema_version").fetchone()[0]
    conn.execute("PRAGMA writable_schema = ON")
    try:
        conn.execute("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'runs'",
                     (sql.replace(f"kind IN ({old})", f"kind IN ({new})"),))
        conn.execute(f"PRAGMA schema_version = {version + 1}")
    finally:
        conn.execute("PRAGMA writable_schema = OFF")


def apply_migrations(conn: sqlite3.Connection, path: Path, upto: int | None = None) -> int:
    """Apply the missing migrations (the first `upto` only, if given); returns the version."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        check_is_session(conn, path)
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at {_NOW})"
        )
        applied = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
        known = [name for name, _ in MIGRATIONS]
        unknown = sorted(applied - set(known))
        if unknown:
            raise StoreError(
                f"{path} has a newer schema than this version of persd knows "
                f"(unknown migrations: {', '.join(unknown)}); upgrade persd to open it"
            )
        for name, steps in MIGRATIONS[:upto]:
            if name in applied:
                continue
            for step in steps:
                conn.execute(step) if isinstance(step, str) else step(conn)
            conn.execute("INSERT INTO _migrations (name) VALUES (?)", (name,))
        version = conn.execute("SELECT COUNT(*) FROM _migrations").fetchone()[0]
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return version
