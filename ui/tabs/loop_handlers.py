"""The Loop tab's event logic, testable without a browser: values keyed by component name.

    handlers = LoopHandlers(stores, endpoints=endpoints, runs_dir=Path("runs"))
    handlers.refresh("s1")  # {"status": html, "progress": float | None, "rounds": DataFrame,
                            #  "curve": DataFrame, "can_stop": bool}
    handlers.view("s1")     # the same as the tab's components show it
    handlers.start(LoopForm(session="s1", student="models/tiny", ...))  # {"note": html, ...}
    handlers.stop("s1")     # {"note": ...}: asks the running loop to stop

`start` builds the LoopConfig `persd loop` would from the same settings and hands it to
`persd.jobs.loop.start_loop` (a child process); the view then reads the run it records.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from persd.cli.equivalent import command_for
from persd.cli.loop import loop as loop_command
from persd.collect import CollectConfig
from persd.data_dirs import EVERYWHERE, DataDirs, PathRefused
from persd.jobs.loop import JobError, start_loop
from persd.loop import LoopConfig, LoopError, loop_state, request_stop
from persd.loop.config import loop_eval
from persd.settings import default_of
from persd.store import StoreError, session_path
from persd_app.tabs.review_render import message

ROUND_COLUMNS = ["round", "approved", "train steps", "pass@1 one-step", "pass@1 multi-step"]
STEP_NAMES = {"collect": "collecting", "gate": "review gate", "train": "training",
              "eval": "evaluating", "done": "done"}


@dataclass
class LoopForm:
    """The Loop tab's start form: the essential `persd loop` settings (blank: the default)."""

    session: str = ""
    student: str = ""
    tasks: str = default_of(CollectConfig, "tasks")
    limit: int | float | None = None
    eval_tasks: str = ""
    eval_limit: int | float | None = None
    base_url: str | None = None
    api_key: str = ""
    teacher_model: str = ""
    rounds: int | float | None = default_of(LoopConfig, "rounds")
    gate: str = default_of(LoopConfig, "gate")
    temperature: str = ""                 # blank: collecting's and evaluating's own
    top_p: float | None = default_of(CollectConfig, "top_p")
    max_new_tokens: int | float | None = default_of(CollectConfig, "max_new_tokens")
    train_steps: int | float | None = None
    prompt_format: str = default_of(CollectConfig, "prompt_format")
    prompt_style: str = default_of(CollectConfig, "prompt_style")


class LoopHandlers:
    def __init__(self, stores: Any, endpoints: Any = None, runs_dir: Path = Path("runs"),
                 data_dirs: DataDirs | None = None) -> None:
        self.stores, self.endpoints, self.runs_dir = stores, endpoints, Path(runs_dir)
        self.data_dirs = data_dirs or EVERYWHERE  # the folders the form's paths may name

    def prefill(self, session: str | None) -> dict[str, Any]:
        """The picked session's name, its student, tasks and teacher when it has them, and
        the start form's panel, folded while the session has a loop."""
        config: dict[str, Any] = {}
        has_loop = False
        try:
            store = self.stores.get(session) if session else None
            if store is not None:
                config = {} if store.simulated else store.config()
                has_loop = loop_state(store) is not None
        except StoreError:
            pass
        known = {name: config[name] for name in ("student", "tasks", "teacher_model",
                                                  "eval_tasks") if config.get(name)}
        return {"session": session or "", "panel": gr.update(open=not has_loop), **known}

    def config(self, form: LoopForm) -> LoopConfig:
        """The form as `persd loop`'s settings; ValueError (or LoopError) saying what is wrong."""
        name = (form.session or "").strip()
        session_path(self.stores.sessions_dir, name)  # SessionNameError for a bad name
        for label, value in (("the student model", form.student), ("the held-out eval tasks",
                             form.eval_tasks), ("the teacher model's name", form.teacher_model)):
            if not (value or "").strip():
                raise ValueError(f"give {label}")
        sampling = {"top_p": float(form.top_p if form.top_p is not None else LoopForm.top_p),
                    "max_new_tokens": int(form.max_new_tokens or LoopForm.max_new_tokens)}
        if str(form.temperature or "").strip():
            sampling["temperature"] = _number("temperature", form.temperature)
        style = form.prompt_style or LoopForm.prompt_style  # one style for every part, as the CLI
        evaluation = loop_eval()
        evaluation = dataclasses.replace(evaluation, prompt_style=style,
                                         sampling=evaluation.sampling.replace(**sampling))
        collect = CollectConfig(
            session=name, student=self.data_dirs.model("Student model", form.student),
            tasks=self.data_dirs.task_spec("Tasks", (form.tasks or "").strip() or LoopForm.tasks),
            eval_tasks=self.data_dirs.task_spec("Eval tasks", form.eval_tasks.strip()),
            limit=int(form.limit) if form.limit else None, teacher_model=form.teacher_model.strip(),
            prompt_format=form.prompt_format or LoopForm.prompt_format, prompt_style=style,
            sessions_dir=str(self.stores.sessions_dir), **sampling)
        train = {"max_steps": int(form.train_steps)} if form.train_steps else {}
        train["prompt_style"] = style
        return LoopConfig(collect=collect, eval=evaluation, train=train,
                          output_dir=str(self.runs_dir / f"loop-{name}"),
                          rounds=int(form.rounds or LoopForm.rounds), gate=form.gate or "auto",
                          eval_limit=int(form.eval_limit) if form.eval_limit else None)

    def command(self, form: LoopForm) -> dict[str, Any]:
        """The `persd loop` line that starts what Start would, to paste into a shell or a
        job script; the API key stays out of it (OPENAI_API_KEY)."""
        try:
            config = self.config(form)
            url, _ = self.endpoints.resolve(form.base_url, form.api_key)
        except (ValueError, LoopError) as error:
            return {"command": f"# {error}"}
        collect = config.collect
        values = dict(session=collect.session, tasks=collect.tasks, limit=collect.limit,
                      eval_tasks=collect.eval_tasks, eval_limit=config.eval_limit,
                      student=collect.student, teacher_model=collect.teacher_model,
                      output_dir=str(Path(config.output_dir).resolve()), rounds=config.rounds,
                      gate=config.gate, top_p=collect.sampling.top_p,
                      max_new_tokens=collect.sampling.max_new_tokens,
                      prompt_format=collect.prompt_format,  # the style is in config.train
                      sessions_dir=str(Path(collect.sessions_dir).resolve()), **config.train)
        if str(form.temperature or "").strip():  # blank: each part keeps its own
            values["temperature"] = collect.sampling.temperature
        return {"command": command_for(loop_command, values, env={"OPENAI_BASE_URL": url})}

    def start(self, form: LoopForm) -> dict[str, Any]:
        """Start the loop in a child process (or continue the unfinished one with these
        settings); the picker moves to its session, whose view then shows it running."""
        try:
            config = self.config(form)
            if self._simulated(config.session):
                raise ValueError(f"session {config.session!r} is SIMULATED: the loop writes "
                                 "real results; give a new session name")
            url, key = self.endpoints.resolve(form.base_url, form.api_key)
            env = {"OPENAI_BASE_URL": url, **({"OPENAI_API_KEY": key} if key else {})}
            started = start_loop(config, env=env)
        except (ValueError, LoopError, PathRefused, JobError, StoreError) as error:
            return {"note": message("error", f"Cannot start the loop: {error}")}
        return {"note": message("ok", f"Started loop run {started.run_id} (process "
                                      f"{started.pid}) in session {config.session}; "
                                      f"its log: {started.log}."),
                "picker": gr.update(choices=self.stores.names(), value=config.session)}

    def _simulated(self, name: str) -> bool:
        if name not in self.stores.names():
            return False
        return self.stores.get(name).simulated

    def refresh(self, session: str | None) -> dict[str, Any]:
        state = loop_state(self.stores.get(session)) if session else None
        if state is None:
            return {"status": "No loop in this session. Start one with the form below, or "
                              f"`persd loop --session {session or 'NAME'} ...` (see the README).",
                    "progress": None, "rounds": pd.DataFrame(columns=ROUND_COLUMNS),
                    "curve": pd.DataFrame(columns=["round", "pass@1", "inference"]),
                    "can_stop": False}
        step = STEP_NAMES.get(state.step, state.step)
        line = f"Loop run {state.run_id}: **{state.status}**, round {state.round}, {step}"
        if state.detail.get("waiting"):
            line += f" (waiting for reviewers: {state.detail['waiting']}; decide records in Review)"
        if state.progress is not None and state.status == "running":
            line += f", {state.progress:.0%} of the step"
        if state.reason:
            line += f". {state.reason[:1].upper()}{state.reason[1:]}"
        if state.status == "running" and not state.alive:
            line += ". Its process is gone: run the same `persd loop` command to continue."
        return {"status": line, "progress": state.progress,
                "rounds": pd.DataFrame(state.table(), columns=ROUND_COLUMNS),
                "curve": _curve(state.rounds), "can_stop": state.alive}

    def view(self, session: str | None) -> dict[str, Any]:
        """`refresh` as the tab's components take it: the chart only once it has points
        (an empty one collapsed, issue 25), the progress only while it is known."""
        state = self.refresh(session)
        drawn = not state["curve"].empty
        return {"status": state["status"], "rounds": state["rounds"],
                "curve": gr.update(value=state["curve"], visible=drawn),
                "no_curve": gr.update(visible=not drawn),
                "progress": gr.update(value=state["progress"] or 0,
                                      visible=state["progress"] is not None),
                "stop": gr.update(interactive=state["can_stop"])}

    def stop(self, session: str | None) -> dict[str, Any]:
        if not session:
            return {"note": "Pick a session first."}
        if request_stop(self.stores.get(session)):
            return {"note": "Stop requested: the loop ends its current step cleanly (training "
                            "saves a checkpoint)."}
        return {"note": "No loop is running in this session."}


def _number(name: str, text: Any) -> float:
    try:
        return float(str(text).strip())
    except ValueError:
        raise ValueError(f"{name} {text!r} is not a number") from None


def _curve(rounds: list[dict[str, Any]]) -> pd.DataFrame:
    points = [{"round": r["round"], "pass@1": r[key], "inference": name}
              for r in rounds for key, name in (("pass1_one_step", "one-step"),
                                                ("pass1_multi_step", "multi-step"))
              if r.get(key) is not None]
    return pd.DataFrame(points, columns=["round", "pass@1", "inference"])
