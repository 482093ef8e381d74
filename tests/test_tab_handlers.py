"""The app's tabs without a browser: each tab's handler class called with real stores
(a small simulated demo session in SQLite), its outputs checked by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from persd.demo import build_demo_session
from persd.review import approve
from persd.store import SessionStore
from persd_app.endpoints import TeacherEndpoints
from persd_app.tabs import SharedExecutor, Stores
from persd_app.tabs.analysis_handlers import AnalysisHandlers
from persd_app.tabs.collect_handlers import CollectForm, CollectHandlers
from persd_app.tabs.keyed import Keyed
from persd_app.tabs.live_demo_handlers import LiveForm, LiveHandlers
from persd_app.tabs.train_handlers import SMALL, TrainForm, TrainHandlers
from persd_app.tabs.train_models import local_models, model_problem

TASKS = 6


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return build_demo_session(tmp_path_factory.mktemp("template"), limit=TASKS)


@pytest.fixture
def sessions(tmp_path, template) -> Path:
    folder = tmp_path / "sessions"
    folder.mkdir()
    (folder / "demo.sqlite").write_bytes(template.read_bytes())
    return folder


@pytest.fixture
def stores(sessions):
    stores = Stores(sessions)
    yield stores
    stores.close()


@pytest.fixture(scope="module")
def executor():
    shared = SharedExecutor()
    yield shared
    shared.close()


def visible(update) -> bool:
    return update["visible"]


# -- keyed outputs ----------------------------------------------------------------------

def test_keyed_maps_names_to_positions_and_skips_the_rest():
    out = Keyed(a="A", b="B", c="C")
    values = out.values({"b": 2})
    assert values[1] == 2 and values[0] == values[2] == {"__type__": "update"}
    assert Keyed(a="A").values({"a": 1}) == 1   # Gradio wants one output unwrapped
    with pytest.raises(KeyError, match="no output named z"):
        out.values({"z": 1})
    def stream():
        yield {"a": 1}
    skip = {"__type__": "update"}
    assert list(out.wire(stream)()) == [[1, skip, skip]]  # generators wired the same way


# -- analysis -----------------------------------------------------------------------------

def test_analysis_shows_the_session_by_name(stores):
    out = AnalysisHandlers(stores).show("demo")
    assert f"<b>{TASKS}</b> tasks" in out["summary"] and "SIMULATED" in out["summary"]
    assert "No evaluation runs" in out["notes"]
    assert not visible(out["eval_row"])  # no eval run: the pass@1 charts stay hidden
    assert out["error_taxonomy"] is not None and len(out["tasks"]) == TASKS
    assert "eval pass@1 (1-step)" not in out["tasks"].columns


def test_analysis_without_a_session_or_with_a_missing_one(stores):
    assert "Pick a session" in AnalysisHandlers(stores).show(None)["notes"]
    out = AnalysisHandlers(stores).show("gone")
    assert set(out) == {"summary", "notes"} and "gone" in out["notes"]  # the rest kept


# -- live demo -----------------------------------------------------------------------------

def test_live_demo_runs_its_own_typed_example_with_the_default_student(stores, executor):
    handlers = LiveHandlers(stores, executor)
    out = handlers.begin(LiveForm(session="demo", source="typed"))  # defaults: the example
    assert "persd-msg-error" not in out["note"], out["note"]
    assert 'data-step="0"' in out["steps"] and "second_largest" in out["program"]
    out = handlers.advance(out["state"], "sim")
    assert "the visible tests pass after 1 repair step" in out["note"]


def test_live_demo_clears_the_last_task_on_a_new_run_and_on_an_error(stores, executor):
    handlers = LiveHandlers(stores, executor)
    first = handlers.begin(LiveForm(session="demo", task_id="HumanEval/0"))
    assert "has_close_elements" in first["program"] and 'data-step="0"' in first["steps"]
    failed = handlers.begin(LiveForm(session="demo", source="typed", header="no def here"))
    assert "persd-msg-error" in failed["note"] and "def name" in failed["note"]
    assert failed["state"] is None
    assert failed["steps"] == failed["program"] == failed["prompt"] == ""
    other = handlers.begin(LiveForm(session="demo", task_id="HumanEval/1"))
    assert "HumanEval/1" in other["steps"] and "has_close_elements" not in other["steps"]


def test_live_demo_typed_task_without_a_reference_says_what_to_do(stores, executor):
    out = LiveHandlers(stores, executor).begin(
        LiveForm(session="demo", source="typed", solution=""))
    assert "reference solution" in out["note"] and out["steps"] == ""


def test_live_demo_asks_a_model_in_the_prompt_style_picked(stores, executor, tiny_model_dir):
    from persd.student.base import task_prompt

    handlers = LiveHandlers(stores, executor)
    form = LiveForm(session="demo", kind="model", model=tiny_model_dir, task_id="HumanEval/0",
                    max_steps=1, prompt_style="paper")
    paper = handlers.begin(form)
    assert "persd-msg-error" not in paper["note"], paper["note"]
    task = stores.get("demo").tasks.get("HumanEval/0")
    assert paper["state"].backend.prompt_style == "paper"
    # The prompt pane shows what the student was given: the release's task prompt, and
    # so does its preview before Start.
    assert paper["prompt"] == task_prompt(task, "paper") != task_prompt(task, "persd")
    preview = handlers.preview("demo", "session", "HumanEval/0", "model", "paper")
    assert preview == {"prompt": task_prompt(task, "paper")}
    assert handlers.preview("demo", "session", "HumanEval/0", "sim", "paper") == \
        {"prompt": task_prompt(task, "persd")}  # the simulated student is asked nothing
    # Another style is another run, not a next step of the paper-style one.
    persd = handlers.next_step(LiveForm(**{**form.__dict__, "prompt_style": "persd"}),
                               paper["state"])
    assert persd["state"] is not paper["state"] and persd["prompt"] == task_prompt(task, "persd")
    bad = handlers.begin(LiveForm(**{**form.__dict__, "prompt_style": "theirs"}))
    assert "prompt style must be one of persd, paper" in bad["note"] and bad["state"] is None


# -- collect -----------------------------------------------------------------------------

def collect_handlers(stores, executor) -> CollectHandlers:
    return CollectHandlers(stores, executor, TeacherEndpoints.from_options(env={}))


def real_session(sessions: Path, name: str = "real1") -> str:
    from persd.tasks import load_tasks

    with SessionStore.open(sessions, name, create=True) as store:
        store.set_config({"tasks": "humaneval", "method": "inpd", "student": "models/x",
                          "teacher_model": "gpt-test"})
        (task,) = load_tasks("humaneval")[:1]
        store.tasks.add([task])
        store.attempts.add(task.task_id, 2, model="m", prompt=task.prompt, completion="",
                          program=task.prompt)
    return name


def test_collect_defaults_follow_the_picked_session(stores, sessions, executor):
    handlers = collect_handlers(stores, executor)
    out = handlers.prefill("demo")
    assert out["backend"] == "sim" and out["session"] == "demo"
    assert "Simulated" in out["mode_note"] and not visible(out["real"])
    assert "PAPER.md" not in out["mode_note"]
    out = handlers.prefill(real_session(sessions))
    assert out["backend"] == "real" and "Real models" in out["mode_note"]
    assert (out["method"], out["round"], out["teacher_model"]) == ("inpd", 2, "gpt-test")


def test_collect_real_mode_proposes_a_new_session_instead_of_a_simulated_one(stores, executor):
    handlers = collect_handlers(stores, executor)
    out = handlers.switch_mode("real", "demo")
    assert out["session"] not in ("demo", "") and "Real models" in out["mode_note"]
    assert visible(out["real"]) and "Simulated" not in out["mode_note"]
    assert "session" not in handlers.switch_mode("real", "a-new-one")  # a new name stays


def test_collect_real_run_into_a_simulated_session_waits_for_a_confirm(stores, executor):
    handlers = collect_handlers(stores, executor)
    form = CollectForm(backend="real", session="demo", student="models/x",
                       teacher_model="gpt-test", api_key="sk-test", limit=1)
    (out,) = list(handlers.run(form, picked="demo"))
    assert visible(out["confirm_row"]) and "SIMULATED session" in out["confirm_text"]
    assert stores.get("demo").runs.list(kind="collect") == []   # nothing started


def test_collect_simulated_run_refuses_a_real_session_and_builds_a_new_one(
        stores, sessions, executor):
    handlers = collect_handlers(stores, executor)
    (out,) = list(handlers.run(CollectForm(backend="sim", session=real_session(sessions)),
                               picked=None))
    assert "holds real results" in out["progress"]
    *_, last = handlers.run(CollectForm(backend="sim", session="sim2", limit=3), picked="demo")
    assert 'data-state="done"' in last["progress"] and "3/3 tasks" in last["progress"]
    assert last["picker"]["value"] == "sim2" and "sim2" in last["picker"]["choices"]


# -- train ---------------------------------------------------------------------------------

def train_handlers(stores, tmp_path) -> TrainHandlers:
    return TrainHandlers(stores, runs_dir=tmp_path / "runs", models_dir=tmp_path / "models")


def test_train_warns_when_the_auto_selection_shrinks_after_reviews(stores, tmp_path):
    handlers = train_handlers(stores, tmp_path)
    before = handlers.count("demo", "persd", "auto")["examples"]
    assert "train-small-selection" in before and f"under {SMALL}" in before
    assert "validated results while nothing is reviewed" in before
    store = stores.get("demo")
    validated = [r for r in store.refinements.list() if r.validated]
    for refinement in validated[:2]:
        approve(store, refinement.id, reviewer="ana", expected_version=0)
    after = handlers.count("demo", "persd", "auto")["examples"]
    assert "2 training examples" in after
    assert (f"2 approved or edited; {len(validated) - 2} validated but unreviewed are left "
            "out") in after and "validated by the tests" in after


def test_train_refuses_a_model_folder_that_does_not_exist(stores, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    handlers = train_handlers(stores, tmp_path)
    out = handlers.start(TrainForm(session="demo", student="models/tiny", output="r1"))
    assert "no model folder models/tiny" in out["notice"]
    assert "create the tiny model" in out["notice"]
    assert stores.get("demo").runs.list(kind="train") == [] and not (tmp_path / "runs").exists()


def test_train_refuses_an_uncached_hub_id_offline(stores, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = train_handlers(stores, tmp_path).start(
        TrainForm(session="demo", student="nobody-here/no-such-model", output="r1"))
    assert "not in the local Hugging Face cache" in out["notice"]
    assert model_problem("nobody-here/no-such-model", offline=False) is None


def test_train_lists_local_model_folders(tmp_path, tiny_model_dir):
    for folder in ("models/a", "runs/r1/full", "models/empty"):
        (tmp_path / folder).mkdir(parents=True)
    for folder in ("models/a", "runs/r1/full"):
        (tmp_path / folder / "config.json").write_text("{}")
    found = local_models([tmp_path / "models", tmp_path / "runs", tmp_path / "none"])
    assert found == [str(tmp_path / "models/a"), str(tmp_path / "runs/r1/full")]
    assert "holds no config.json" in model_problem(str(tmp_path / "models/empty"))
    assert model_problem(tiny_model_dir) is None


def test_train_creates_the_tiny_model_and_selects_it(stores, tmp_path):
    handlers = train_handlers(stores, tmp_path)
    out = handlers.create_tiny_model()
    tiny = tmp_path / "models" / "tiny"
    assert (tiny / "config.json").is_file() and "Created the tiny model" in out["notice"]
    assert out["student"]["value"] == str(tiny) and str(tiny) in out["student"]["choices"]
    assert "already" in handlers.create_tiny_model()["notice"]   # a second click reuses it


@pytest.mark.parametrize("fmt", ["jsonl", "hf"])
def test_train_exports_the_curated_examples_for_download(stores, tmp_path, fmt):
    out = train_handlers(stores, tmp_path).export("demo", "persd", "validated", fmt)
    offered = Path(out["export_file"]["value"])
    assert visible(out["export_file"]) and offered.is_file()
    assert offered.parent == tmp_path / "runs" / "exports" and offered.name.startswith("demo-")
    rows = len(stores.get("demo").refinements.list())  # every demo refinement is validated
    if fmt == "jsonl":
        lines = offered.read_text().splitlines()
        assert json.loads(lines[0])["prompt"] and len(lines) <= rows
    else:
        assert offered.suffix == ".zip"
        assert (offered.with_suffix("") / "dataset_info.json").exists()
    assert "Exported" in out["notice"]


# -- loop -------------------------------------------------------------------------------

def loop_handlers(stores, tmp_path):
    from persd_app.tabs.loop_handlers import LoopHandlers

    endpoints = TeacherEndpoints(listed=("http://127.0.0.1:9/v1",), allow_custom=False)
    return LoopHandlers(stores, endpoints, tmp_path / "runs")


def test_loop_form_gives_the_settings_persd_loop_would(stores, tmp_path):
    from persd_app.tabs.loop_handlers import LoopForm

    handlers = loop_handlers(stores, tmp_path)
    config = handlers.config(LoopForm(session="new", student="models/tiny", limit=3, eval_limit=0,
                                      eval_tasks="heldout.jsonl", teacher_model="t", rounds=2,
                                      gate="wait", top_p=0.9, train_steps=5,
                                      prompt_format="chat"))
    # the prompt style for training too, as `persd loop` gives it
    assert (config.session, config.rounds, config.gate, config.train) == (
        "new", 2, "wait", {"max_steps": 5, "prompt_style": "persd"})
    assert config.collect.prompt_format == "chat" and config.collect.limit == 3
    assert config.eval_limit is None  # 0: all
    assert config.collect.top_p == config.eval.top_p == 0.9  # both parts, as --top-p
    assert config.collect.temperature == 0.3 and config.eval.refine_steps == 1  # the CLI's
    assert config.output_dir == str(tmp_path / "runs" / "loop-new")
    with pytest.raises(ValueError, match="held-out eval tasks"):
        handlers.config(LoopForm(session="new", student="m", teacher_model="t"))


def test_loop_start_refuses_a_simulated_session_and_bad_settings_saying_why(stores, tmp_path):
    from persd_app.tabs.loop_handlers import LoopForm

    handlers = loop_handlers(stores, tmp_path)
    form = LoopForm(session="demo", student="m", eval_tasks="humaneval", teacher_model="t")
    out = handlers.start(form)
    assert "persd-msg-error" in out["note"] and "SIMULATED" in out["note"] and "picker" not in out
    out = handlers.start(LoopForm(session="x", student="m", eval_tasks="humaneval",
                                  teacher_model="t", temperature="9"))
    assert "temperature" in out["note"] and not (tmp_path / "runs").exists()
    # Simulated: nothing to suggest; no loop yet: the form is open.
    assert handlers.prefill("demo") == {"session": "demo", "panel": {"open": True,
                                                                      "__type__": "update"}}
    view = handlers.view("demo")
    assert "No loop in this session" in view["status"] and not view["stop"]["interactive"]
    assert not view["curve"]["visible"] and view["no_curve"]["visible"]
    assert handlers.stop("demo") == {"note": "No loop is running in this session."}
    out = handlers.start(LoopForm(session="x", student="m", eval_tasks="humaneval",
                                  teacher_model="t", temperature="warm"))
    assert "temperature &#x27;warm&#x27; is not a number" in out["note"]
