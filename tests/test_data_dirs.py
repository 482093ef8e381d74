"""Host files through the app's form fields: every path a form names is checked against the
data folders before anything opens it, a refusal names the field and not the content, and
the loaders' own errors never echo a file's content (issue 22, item 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from persd.data_dirs import DataDirs, PathRefused
from persd.store import SessionStore
from persd.tasks import TaskFileError, load_tasks
from persd_app.app import data_folders
from persd_app.endpoints import TeacherEndpoints
from persd_app.tabs import SharedExecutor, Stores
from persd_app.tabs.collect_handlers import CollectForm, CollectHandlers
from persd_app.tabs.evaluate_handlers import EvaluateHandlers
from persd_app.tabs.live_demo_handlers import LiveForm, LiveHandlers
from persd_app.tabs.train_handlers import TrainForm, TrainHandlers
from tests.test_tasks import HE

SECRET = "sk-live-9f8e7d6c5b4a-secret"
OUTSIDE = "is outside the data folders"


@pytest.fixture
def host(tmp_path: Path):
    """A data folder the operator declared, a private folder beside it holding secrets, and
    the app's check for that layout."""
    data, private = tmp_path / "data", tmp_path / "private"
    data.mkdir()
    private.mkdir()
    for folder in (data, private):
        (folder / "secret.jsonl").write_text(json.dumps({**HE, "api_key": SECRET}) + "\n")
        (folder / "secret.csv").write_text(f"{SECRET},x\n1,{SECRET}\n")
        (folder / "notes").mkdir()
        (folder / "notes" / "keys.txt").write_text(f"{SECRET}\n")
    return data, private, DataDirs.of([data])


def _no_secret(answer):
    """`answer`, once it is known not to hold the secret anywhere."""
    assert SECRET not in str(answer) and "sk-live" not in str(answer)
    return answer


def test_a_path_inside_passes_and_one_outside_is_refused_alike_whether_it_exists(host):
    data, private, dirs = host
    assert dirs.path("Eval tasks", str(data / "secret.jsonl")) == data / "secret.jsonl"
    refusals = []
    for missing_or_not in (private / "secret.jsonl", private / "nothing-here.jsonl"):
        with pytest.raises(PathRefused) as refused:
            dirs.path("Eval tasks", str(missing_or_not))
        refusals.append(str(refused.value).replace(missing_or_not.name, "NAME"))
    assert refusals[0] == refusals[1]  # existence is not revealed
    assert refusals[0].startswith("Eval tasks: ") and OUTSIDE in refusals[0]


def test_symlinks_and_dot_dots_are_resolved_before_the_check(host):
    data, private, dirs = host
    (data / "link.jsonl").symlink_to(private / "secret.jsonl")
    (data / "linked-folder").symlink_to(private)
    for sneaky in (data / "link.jsonl", data / "linked-folder" / "secret.jsonl",
                   f"{data}/../private/secret.jsonl"):
        with pytest.raises(PathRefused, match=OUTSIDE):
            dirs.task_spec("Tasks", str(sneaky))


def test_task_specs_named_sources_and_hub_ids(host):
    data, private, dirs = host
    for named in ("humaneval", "hf:openai/openai_humaneval", "hf:mbpp:sanitized:test",
                  f"mbpp:{data}/x.jsonl", f"{data}/secret.jsonl?task_id=api_key",
                  f"hf:{data}/saved:test"):
        assert dirs.task_spec("Tasks", named) == named
    for spec in (f"{private}/secret.jsonl?entry_point=api_key", f"humaneval:{private}/x.jsonl",
                 f"hf:{private}/notes", f"hf:{private}/secret.csv:train", "/etc/passwd",
                 "hf:/etc", "hf:../private"):
        with pytest.raises(PathRefused, match=OUTSIDE):
            dirs.task_spec("Tasks", spec)
    assert dirs.model("Student model", "Qwen/Qwen2.5-0.5B") == "Qwen/Qwen2.5-0.5B"
    for model in (str(private), "~/.ssh", "../private", "/"):
        with pytest.raises(PathRefused, match="Student model: .*" + OUTSIDE):
            dirs.model("Student model", model)


def test_the_app_default_folders_and_a_data_dir_that_is_not_one(tmp_path):
    dirs = data_folders(tmp_path / "sessions", tmp_path / "runs", tmp_path / "models")
    dirs.path("Adapter", str(tmp_path / "runs" / "s1-persd"))
    dirs.path("Student model", str(tmp_path / "models" / "tiny"))
    assert load_tasks(dirs.task_spec("Tasks", str(Path("assets/tasks/example_pool.jsonl"))))
    with pytest.raises(PathRefused):
        dirs.path("Tasks", str(tmp_path / "elsewhere.jsonl"))
    with pytest.raises(ValueError, match="--data-dir .*: not a folder"):
        data_folders(tmp_path, extra=[tmp_path / "typo"])


# ---------------------------------------------------------------- the loaders' own errors

@pytest.mark.parametrize("spec, says", [
    ("secret.jsonl?entry_point=api_key", r"field 'entry_point': is not a Python identifier"),
    ("secret.jsonl?prompt=api_key&task_id=api_key", r"field 'prompt'"),
    ("secret.csv", r"secret\.csv:2: unknown task shape: the record has 2 field\(s\)"),
    ("secret.csv?text=nope", r"field 'text': no column 'nope' to map to this field$"),
    ("hf:{data}/notes", r"not saved with save_to_disk"),
])
def test_loader_errors_name_file_line_and_field_never_content(host, spec, says):
    data, _, _ = host
    spec = spec.format(data=data) if spec.startswith("hf:") else f"{data}/{spec}"
    with pytest.raises(TaskFileError, match=says) as error:
        load_tasks(spec)
    _no_secret(error.value)


def test_a_local_file_through_hf_leaves_no_copy_in_the_datasets_cache(tmp_path, monkeypatch):
    import datasets

    cache = tmp_path / "hf-cache"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", cache)
    rows = tmp_path / "rows.jsonl"
    rows.write_text(json.dumps(HE) + "\n")
    assert [t.task_id for t in load_tasks(f"hf:{rows}")] == [HE["task_id"]]
    assert not cache.exists() or not any(cache.rglob("*"))


# ---------------------------------------------------------------- through the tabs' handlers

@pytest.fixture
def stores(tmp_path: Path):
    folder = tmp_path / "sessions"
    with SessionStore.open(folder, "s", create=True):
        pass
    stores = Stores(folder)
    yield stores
    stores.close()


def test_evaluate_refuses_eval_tasks_outside_by_name(host, stores, tmp_path):
    data, private, dirs = host
    handlers = EvaluateHandlers(stores, stores.sessions_dir, tmp_path / "runs", data_dirs=dirs)
    for spec in (f"{private}/secret.jsonl?entry_point=api_key", f"{private}/secret.csv",
                 f"hf:{private}/notes"):
        shown = _no_secret(handlers.contamination("s", spec, None))["contamination"]
        assert "Eval tasks: " in shown and OUTSIDE in shown
        started = _no_secret(handlers.start("s", "m", "", 0, "paper", 1, 0.0, 1.0, 0, 64,
                                            spec, None))
        assert OUTSIDE in started["notice"]
    inside = _no_secret(handlers.contamination("s", f"{data}/secret.jsonl?entry_point=api_key",
                                               None))["contamination"]
    assert "entry_point&#x27;: is not a Python identifier" in inside
    started = _no_secret(handlers.start("s", "m", "", 0, "paper", 1, 0.0, 1.0, 0, 64,
                                        f"{data}/secret.csv", None))["notice"]
    assert "Cannot start: Eval tasks: " in started and "secret.csv:2: unknown task shape" in started
    adapter = _no_secret(handlers.start("s", "m", str(private), 0, "paper", 1, 0.0, 1.0, 0, 64,
                                        "humaneval", None))
    assert "Adapter: " in adapter["notice"] and OUTSIDE in adapter["notice"]


def test_collect_refuses_tasks_student_and_adapter_outside(host, stores):
    _, private, dirs = host
    handlers = CollectHandlers(stores, SharedExecutor(workers=1),
                               TeacherEndpoints.from_options(env={}), data_dirs=dirs)
    base = dict(backend="real", session="c", student="org/model", teacher_model="t")
    for field, value, label in (("tasks", f"{private}/secret.jsonl?entry_point=api_key",
                                 "Tasks"),
                                ("student", str(private), "Student model"),
                                ("adapter", f"{private}/notes", "Adapter")):
        answers = list(handlers.run(CollectForm(**{**base, field: value}), None))
        shown = _no_secret(answers[-1]["progress"])
        assert f"{label}: " in shown and OUTSIDE in shown


def test_train_and_live_demo_refuse_a_model_folder_outside(host, stores, tmp_path):
    _, private, dirs = host
    train = TrainHandlers(stores, runs_dir=tmp_path / "runs", models_dir=tmp_path / "models",
                          data_dirs=dirs)
    notice = train.start(TrainForm(session="s", student=str(private)))["notice"]
    assert "Student model: " in notice and OUTSIDE in notice
    live = LiveHandlers(stores, SharedExecutor(workers=1), data_dirs=dirs)
    note = live.begin(LiveForm(session="s", kind="model", model=str(private),
                               source="typed"))["note"]
    assert "Model: " in note and OUTSIDE in note


# ---------------------------------------------------------------- through HTTP

def test_the_served_app_refuses_host_files_by_name(host, tmp_path):
    """As a script would send them: gradio_client against the real server on 127.0.0.1."""
    from gradio_client import Client

    from persd_app.app import launch
    from tests.ports import free_port

    data, private, _ = host
    running = launch(tmp_path / "sessions", port=free_port(), block=False, quiet=True,
                     runs_dir=tmp_path / "runs", models_dir=tmp_path / "models",
                     data_dirs=[data])
    try:
        client = Client(running.url, verbose=False)
        collect = client.predict("real", "c1", f"{private}/secret.jsonl?entry_point=api_key", 0,
                                 "org/model", "", "persd", None, "", "t", 1, 1, 1, 1, 64, None,
                                 api_name="/run")
        live = client.predict(None, "model", f"{private}/notes", "", 3, "typed", None, "d",
                              "def f():", "assert True", "def f(): pass", api_name="/begin")
        inside = client.predict("real", "c2", f"{data}/secret.csv", 0, "org/model", "",
                                "persd", None, "", "t", 1, 1, 1, 1, 64, None, api_name="/run")
    finally:
        running.close()
    assert "Tasks: " in str(_no_secret(collect)) and OUTSIDE in str(collect)
    assert "Model: " in str(_no_secret(live)) and OUTSIDE in str(live)
    # Inside the data folders the file is read, and its error keeps the header and cell unsaid.
    assert "secret.csv:2: unknown task shape" in str(_no_secret(inside))


def test_the_command_line_takes_data_dirs_and_refuses_a_missing_one(tmp_path):
    from click.testing import CliRunner

    from persd.cli import cli

    result = CliRunner().invoke(cli, ["app", "--sessions-dir", str(tmp_path),
                                      "--data-dir", str(tmp_path / "typo")])
    assert result.exit_code == 2 and "--data-dir" in result.output
    assert "does not exist" in result.output
    shown = CliRunner().invoke(cli, ["demo", "--help"]).output
    assert "--data-dir DIR" in shown
