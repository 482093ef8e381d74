"""The Evaluate tab's event logic, testable without a browser.

Each method returns a dict keyed by component name (the names in `persd_app.tabs.evaluate`),
which the tab wires with `persd_app.tabs.keyed.Keyed`. Work goes to `persd`: `persd.jobs.evaluate`
runs the eval job file in a child process (`persd.runs.child`), `persd.analysis` builds the frames and figures,
`persd.tasks.decontaminate` checks the eval tasks against the session's (training) tasks.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from persd.analysis import eval_figures, evals
from persd.analysis.signatures import (
    SIGNATURE_COLUMNS,
    eval_signatures,
    refinement_signatures,
)
from persd.evaluate import EvalConfig
from persd.evaluate.config import PRESETS
from persd.jobs.evaluate import EvalJob, EvalJobs, EvalRequest, JobError, command_line, eval_command
from persd.runs.ended import age_s
from persd.store import RunBusy, StoreError
from persd.data_dirs import EVERYWHERE, DataDirs, PathRefused
from persd.tasks import TaskFileError, load_tasks
from persd.tasks.decontaminate import contaminated_ids, overlaps
from persd_app.tabs.eval_render import eval_name, sample_html
from persd_app.tabs.evaluate_rejects import SignatureRejects
from persd_app.tabs.review_render import esc, message
from persd_app.tabs.shown import for_people, natural_task_order
from persd_app.tabs.timing import timing

PRESET = "paper (" + ", ".join(f"{k}={v}" for k, v in PRESETS["paper"].items()) + ")"
CUSTOM = "custom"
ANY = "any"
SAMPLE_COLUMNS = {"sample_id": "sample", "task_id": "task", "sample_index": "n", "step": "step",
                  "passed": "passed", "error_type": "error type", "signature": "signature"}
SIG_COLUMNS = ["count", "signature", "tasks", "example_task", "error_type"]
# The columns each drill-down table shows, in order (a row click gives its values).
TABLE_COLUMNS = {"changes": evals.CHANGE_COLUMNS,
                 "mix": [c for c in evals.MIX_COLUMNS if c != "run"],
                 "repair": [c for c in evals.REPAIR_COLUMNS if c != "run"],
                 "eval_sig": SIG_COLUMNS, "ref_sig": SIG_COLUMNS}
POLL_S, IDLE_POLL_S = 1.0, 3.0  # the status poll while a job runs, and otherwise
STATUS_KIND = {"running": "info", "queued": "info", "finished": "ok", "stopped": "warn",
               "failed": "error"}


def _given(**fields: tuple[Any, type]) -> dict[str, Any]:
    """The form's filled fields, each as its type; a blank one (None, "") is left out, so
    that the config's default fills it."""
    return {name: kind(value) for name, (value, kind) in fields.items()
            if value is not None and str(value).strip() != ""}


class EvaluateHandlers:
    def __init__(self, stores, sessions_dir: Path, runs_dir: Path, jobs: EvalJobs | None = None,
                 data_dirs: DataDirs | None = None):
        self.stores, self.sessions_dir, self.runs_dir = stores, sessions_dir, runs_dir
        self.data_dirs = data_dirs or EVERYWHERE  # the folders Eval tasks, Student and Adapter may name
        self.jobs = jobs or EvalJobs()
        self.rejects = SignatureRejects(stores)  # the refinements failing with a signature

    # -- the form -----------------------------------------------------------------------

    def adapters(self, session: str) -> list[tuple[str, str]]:
        """("base (no adapter)", "") and one choice per finished train run's adapter."""
        choices = [("base (no adapter)", "")]
        store = self.stores.get(session)
        for run in store.runs.list(kind="train", status="finished"):
            if run.output and (Path(run.output) / "adapter_config.json").is_file():
                choices.append((f"train run {run.id}: {Path(run.output).name}", run.output))
        return choices

    def fitting_form(self, session: str, values: dict[str, Any]) -> dict[str, Any]:
        """Remembered form values without an adapter that is no longer a finished run's."""
        if values.get("adapter") and values["adapter"] not in dict(
                (value, label) for label, value in self.adapters(session)):
            values = {k: v for k, v in values.items() if k not in ("adapter", "round")}
        return values

    def request(self, session, student, adapter, round_, preset, samples, temperature, top_p,
                refine_steps, max_new_tokens, tasks, limit, prompt_format: str | None = None,
                prompt_style: str | None = None) -> EvalRequest:
        """The form as an EvalRequest; ValueError with a message for bad values."""
        # A blank field is the setting's default, alike for every field (0 is a value).
        settings = _given(refine_steps=(refine_steps, int), max_new_tokens=(max_new_tokens, int),
                          prompt_style=(prompt_style, str))
        if preset == CUSTOM:
            settings.update(_given(samples=(samples, int), temperature=(temperature, float),
                                   top_p=(top_p, float)))
            config = EvalConfig.from_dict(settings)
        else:
            config = EvalConfig.preset("paper", **settings)
        return EvalRequest(student=self.data_dirs.model("Student model", student),
                           adapter=self.data_dirs.model("Adapter", adapter) or None,
                           tasks=self.data_dirs.task_spec("Eval tasks",
                                                          (tasks or "").strip() or "humaneval"),
                           limit=int(limit) if limit else None,
                           round=None if round_ is None else int(round_), config=config,
                           preset=None if preset == CUSTOM else "paper",
                           prompt_format=prompt_format or EvalRequest.prompt_format)

    def preview(self, session, *form) -> dict[str, Any]:
        if not (form[0] or "").strip():
            return {"command": "# give the student model above to see the command"}
        try:
            request = self.request(session, *form)
        except (ValueError, TypeError) as error:
            return {"command": f"# {error}"}
        return {"command": command_line(eval_command(request, session, str(self.sessions_dir)))}

    def contamination(self, session, tasks_spec, limit) -> dict[str, Any]:
        """A warning when the eval tasks overlap the session's tasks (its training tasks)."""
        if not session:
            return {"contamination": ""}
        spec = (tasks_spec or "").strip() or "humaneval"
        try:
            eval_tasks = load_tasks(self.data_dirs.task_spec("Eval tasks", spec))[
                : int(limit) if limit else None]
        except PathRefused as error:
            return {"contamination": message("error", str(error))}
        except (TaskFileError, ValueError, OSError) as error:
            return {"contamination": message("error", f"Eval tasks: {error}")}
        train = self.stores.get(session).tasks.list()
        found = overlaps(train, eval_tasks) if train else []
        if not found:
            return {"contamination": message("ok", f"{len(eval_tasks)} eval tasks; none "
                                                   "overlaps this session's training tasks.")}
        ids = contaminated_ids(found)
        text = (f"Contamination: {len(ids)} of this session's {len(train)} training tasks "
                f"overlap the {len(eval_tasks)} eval tasks ({spec}), e.g. {found[0].train_id} "
                f"~ {found[0].eval_id}. A trained student has seen them: its pass@1 here is "
                "inflated. Evaluate on held-out tasks (persd decontaminate).")
        return {"contamination": f'<div class="persd-msg persd-msg-warn" '
                                 f'data-testid="contamination">{esc(text)}</div>'}

    def attach(self, session) -> dict[str, Any]:
        """On page load / session pick: adapters, defaults and the running job, if any."""
        if not session:
            return {**self.live(None, ""), "adapter": gr.update(choices=[("base (no adapter)", "")], value="")}
        store = self.stores.get(session)
        student = "" if store.simulated else str(store.config().get("student") or "")
        out = {**self.live(self.jobs.refresh(store), "", store), "round": 0,
               "adapter": gr.update(choices=self.adapters(session), value="")}
        # No empty value: it can land after the user typed a model, and would wipe it.
        return {**out, "student": student} if student else out

    def pick_adapter(self, session, adapter) -> dict[str, Any]:
        """An adapter's base model and round (its place among the finished train runs)."""
        if not session:
            return {}
        if not adapter:
            return {"round": 0}
        runs = self.stores.get(session).runs.list(kind="train", status="finished")
        for number, run in enumerate(runs, start=1):
            if run.output == adapter:
                return {"round": number, "student": run.config.get("student") or ""}
        return {}

    # -- the job ------------------------------------------------------------------------

    def live(self, job: EvalJob | None, note: str | None = None, store=None) -> dict[str, Any]:
        out: dict[str, Any] = {} if note is None else {"notice": note}
        if job is None:
            return {**out, "status": message("info", "No evaluation running in this "
                                                     "session."), "watched": None,
                    "timer": gr.Timer(IDLE_POLL_S)}
        bar = ""
        if job.active and job.samples_total:
            bar = (f'<progress value="{job.samples_done}" max="{job.samples_total}" '
                   f'style="width:100%"></progress>')
        said = job.describe(eval_name(store, job.run.id) if store is not None else None)
        if job.active:  # issue 25: "step 0: sampling 12 tasks x 1" alone for 70 s
            said += " · " + timing(age_s(job.run.created_at), job.samples_done,
                                   job.samples_total, "samples")
        html = (f'<div class="persd-msg persd-msg-{STATUS_KIND[job.status]}" '
                f'data-testid="eval-status" data-status="{esc(job.status)}" '
                f'data-run="{job.run.id}">{esc(said)}{bar}</div>')
        return {**out, "status": html, "watched": job.run.id if job.active else None,
                "timer": gr.Timer(POLL_S if job.active else IDLE_POLL_S), "log": job.log_tail}

    def start(self, session, *form) -> dict[str, Any]:
        if not session:
            return {"notice": message("error", "Pick a session first.")}
        store = self.stores.get(session)
        try:
            request = self.request(session, *form)
            count = len(load_tasks(request.tasks)[:request.limit])
            folder = self.runs_dir / f"eval-{session}-{time.strftime('%Y%m%d-%H%M%S')}"
            job = self.jobs.start(store, request, sessions_dir=self.sessions_dir,
                                  output_dir=folder, task_count=count)
        except RunBusy:
            running = self.jobs.refresh(store)
            return {"notice": message("error", "An evaluation is already running in this "
                                      f"session (run {running.run.id if running else '?'}): "
                                      "one at a time. Watch it or abort it first.")}
        except TaskFileError as error:  # the form field, then the file, line and field
            return {"notice": message("error", f"Cannot start: Eval tasks: {error}")}
        except (JobError, ValueError, TypeError, StoreError, OSError) as error:
            return {"notice": message("error", f"Cannot start: {error}")}
        name = eval_name(store, job.run.id)
        return self.live(job, message("ok", f"Started {name[0].lower()}{name[1:]}."), store)

    def tick(self, session, run_id) -> dict[str, Any]:
        if not session:
            return {}
        store = self.stores.get(session)
        job = self.jobs.refresh(store, run_id) if run_id is not None else self.jobs.refresh(store)
        if job is None:
            return {}
        out = self.live(job, None, store)
        if run_id is not None and not job.active:  # it just ended: show its results, once
            out.update(self.results(session))
        return out

    def stop(self, session, run_id) -> dict[str, Any]:
        store = self.stores.get(session) if session else None
        active = store.runs.active("eval") if store is not None else None
        if active is None and run_id is None:
            return {"notice": message("info", "No running evaluation to abort.")}
        job = self.jobs.abort(store, run_id if run_id is not None else active.id)
        note = message("warn", "Abort requested: the evaluation stops; the samples scored "
                               "so far are kept.")
        return self.live(job, note, store)

    # -- results and drill-down ---------------------------------------------------------

    def results(self, session) -> dict[str, Any]:
        """Figures and tables of the session's eval runs, and the sample browser's choices."""
        if not session:
            return {}
        store = self.stores.get(session)
        samples = evals.eval_samples_frame(store)
        runs = evals.finished_eval_runs(store)
        changes, mix = evals.task_changes(samples), evals.error_mix(samples)
        repair = evals.repair_effect(samples)
        latest = runs[-1].id if runs else None
        eval_sigs = eval_signatures(store, latest) if latest else \
            pd.DataFrame(columns=SIGNATURE_COLUMNS)
        ref_sigs = refinement_signatures(store)
        tag = " (SIMULATED)" if runs and all(evals.is_simulated_run(r) for r in runs) else ""
        note = ""
        if runs and store.simulated and not tag:
            note = message("info", "These are a real model's results; the session's tasks "
                                   "come from a SIMULATED session.")
        run_choices = [(evals.run_label(r), r.id) for r in reversed(runs)]
        return {
            "results_note": note,
            "changes_plot": eval_figures.task_changes(changes, tag),
            "mix_plot": eval_figures.error_mix(mix, tag),
            "repair_plot": eval_figures.repair_effect(repair, tag),
            "eval_sig_plot": eval_figures.signatures(
                eval_sigs, "Why the latest run's samples fail"
                + (f" ({eval_name(store, latest).lower()})" if latest else ""), tag),
            "changes_table": for_people(changes, sort_tasks=True),
            "mix_table": for_people(mix.drop(columns=["run"])),
            "repair_table": for_people(repair.drop(columns=["run"])),
            "eval_sig_table": for_people(eval_sigs[SIG_COLUMNS]),
            "ref_sig_table": for_people(ref_sigs[SIG_COLUMNS]),
            "f_run": gr.update(choices=run_choices, value=latest),
            "f_error": gr.update(choices=[ANY, *sorted(set(samples["error_type"]))], value=ANY),
            "f_signature": gr.update(choices=[ANY, *sorted(set(samples["signature"]) - {""})], value=ANY),
            **self.samples(session, latest, ANY, ANY, ANY, ANY, ""),
        }

    def samples(self, session, run_id, step, outcome, error_type, signature, task,
                open_first: bool = True) -> dict[str, Any]:
        """The sample browser's table (filtered) and the first sample's detail."""
        if not session or run_id is None:
            return {"samples_table": pd.DataFrame(columns=list(SAMPLE_COLUMNS.values())),
                    "sample_detail": sample_html([], {}, ""), "f_step": ANY}
        frame = evals.eval_samples_frame(self.stores.get(session), [int(run_id)])
        chosen = frame
        if step not in (None, ANY):
            chosen = chosen[chosen["step"] == int(step)]
        if outcome in ("passed", "failed"):
            chosen = chosen[chosen["passed"] == (outcome == "passed")]
        if error_type not in (None, ANY):
            chosen = chosen[chosen["error_type"] == error_type]
        if signature not in (None, ANY):
            chosen = chosen[chosen["signature"] == signature]
        if task:
            chosen = chosen[chosen["task_id"].str.contains(task.strip(), regex=False)]
        chosen = natural_task_order(chosen, "task_id")
        table = chosen[list(SAMPLE_COLUMNS)].rename(columns=SAMPLE_COLUMNS)
        steps = [ANY, *(str(s) for s in sorted(frame["step"].unique()))]
        out = {"samples_table": table, "f_step": gr.update(
                   choices=steps, value=ANY if step in (None, ANY) else str(step)),
               "browser_count": message("info", f"{len(table)} of {len(frame)} samples of "
                                                f"run {run_id} match.")}
        if open_first:
            first = int(chosen["sample_id"].iloc[0]) if len(chosen) else None
            out["sample_detail"] = self.open_sample(session, first)["sample_detail"]
        return out

    def open_sample(self, session, sample_id) -> dict[str, Any]:
        if not session or sample_id is None:
            return {"sample_detail": sample_html([], {}, "")}
        store = self.stores.get(session)
        sample = store.eval_samples.get(int(sample_id))
        steps = [s for s in store.eval_samples.list(sample.run_id)
                 if s.task_id == sample.task_id and s.sample_index == sample.sample_index]
        visible = {s.id: store.executions.latest_of("eval_sample", s.id, tests="visible")
                   for s in steps}
        label = evals.run_label(store.runs.get(sample.run_id))
        return {"sample_detail": sample_html(steps, {k: v for k, v in visible.items() if v},
                                             label)}

    def drill(self, session, table: str, row: dict[str, Any], run_id) -> dict[str, Any]:
        """A click on a row of a table beside a figure: the browser filtered to the
        samples behind it (run, step, error type, signature or task)."""
        filters = {"run": run_id, "step": ANY, "outcome": ANY, "error": ANY,
                   "signature": ANY, "task": ""}
        if table == "changes":
            filters.update(run=row["to_run"], step="0", task=row["task_id"])
        elif table in ("mix", "repair"):
            filters.update(run=row["run_id"], step="0", error=row["error_type"])
            if table == "repair":
                filters["outcome"] = "failed"
        elif table == "eval_sig":
            filters.update(signature=row["signature"], outcome="failed")
        filters["run"] = int(filters["run"]) if filters["run"] is not None else None
        out = self.samples(session, filters["run"], filters["step"], filters["outcome"],
                           filters["error"], filters["signature"], filters["task"])
        out.update({"f_run": filters["run"], "f_outcome": filters["outcome"],
                    "f_error": filters["error"], "f_signature": filters["signature"],
                    "f_task": filters["task"]})
        return out
