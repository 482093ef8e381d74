"""Builds and launches the persd app: a session picker above the tabs of `persd_app.tabs`.

    from persd_app.app import launch, parse_auth
    launch("sessions", session="demo", host="127.0.0.1", port=7860,
           auth=parse_auth("ana:secret"))          # blocks until Ctrl-C
    running = launch("sessions", block=False)     # tests: running.url, running.close()

It binds 127.0.0.1 unless told otherwise, refuses another address without logins unless
the operator insists, and never opens a share link; `persd_app.guard` checks Host headers (no
logins) or throttles failed logins. With auth on, the reviewer is the login name; without,
a name typed in the page ("local" if none). Teacher endpoints and their keys follow
`persd_app.endpoints`; training output goes only under `runs_dir`. A form field that names a
file or folder (task files, models, adapters) is read only inside the data folders
(`data_folders`: the sessions, runs and models folders, the shipped task files and every
`--data-dir`; see `persd.data_dirs`). When the sessions folder is
empty the page offers to build the simulated demo session. A simulated session is marked
SIMULATED above every tab.
"""

# No `from __future__ import annotations` here: Gradio finds the gr.Request parameter of
# the handlers below by evaluating their annotations, and gradio is imported inside build().
import gc
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from persd.data_dirs import DataDirs
from persd.demo import DEMO_SESSION, build_demo_session
from persd.store import StoreError
from persd_app.client import parse_proxies, uvicorn_believes_nobody
from persd_app.endpoints import TeacherEndpoints
from persd_app.roles import ROLES
from persd_app.guard import LOCKOUT_NOTE, check_exposure, is_loopback, middleware
from persd_app.tabs import LOCAL_REVIEWER, AppContext, SharedExecutor, Stores, available_tabs
from persd_app.tabs.review_render import esc
from persd_app.theme import ASSETS, launch_options

SIMULATED_BANNER = (
    '<div class="persd-sim-banner" data-testid="simulated-banner">SIMULATED session: the '
    "student and the teacher are offline simulations (persd.demo.sim), not models. Every program "
    "was judged by the real sandbox.</div>"
)


# The buttons that change a session, greyed out (and unclickable) while a read-only one is
# shown; a key press that still reaches one is refused by the store (StoreError).
WRITE_ACTIONS = ("persd-approve", "persd-edit", "persd-save", "persd-reject", "persd-skip",
                 "persd-undo", "persd-bulk-approve", "persd-bulk-reject", "persd-confirm",
                 "persd-col-run", "persd-col-confirm", "persd-ev-start", "persd-ev-abort",
                 "persd-ev-reject-signature", "persd-train-start", "persd-train-abort",
                 "persd-loop-stop", "persd-study-actions", "persd-study-owner",
                 "persd-q-approve", "persd-q-reject", "persd-q-only-new", "persd-q-overwrite",
                 "persd-q-assign", "persd-q-guidelines-save")


def read_only_banner(path: Path) -> str:
    """Why the session's actions are off, and the style that turns them off."""
    buttons = ", ".join(f"#{elem_id}" for elem_id in WRITE_ACTIONS)
    return (f"<style>{buttons} {{ pointer-events: none; opacity: 0.45; }}</style>"
            '<div class="persd-msg persd-msg-warn" data-testid="read-only-banner">READ-ONLY '
            f"session: this process cannot write <code>{_esc(path)}</code> or its folder, so "
            "it opens for viewing only; reviewing, collecting, training and evaluating into it "
            "are off. Make it writable (or copy it to a writable --sessions-dir) and reload."
            "</div>")


@dataclass(frozen=True)
class Login:
    user: str
    password: str
    role: str = "operator"  # a line without a role: everything, as before roles


def read_logins(value: str | None, where: str = "--auth",
                file: bool = False) -> list[Login] | None:
    """Logins from USER:PASS[:ROLE] lines (ROLE: operator, the default, or reviewer), or
    from a file of such lines ('#' starts a comment). `value` is a file path when it names
    a file or holds no ':' (always with `file`). A password ending in ":reviewer" or ":operator" needs its role
    after it. ValueError naming the line when one is malformed."""
    if not value:
        return None
    path = Path(value)
    if file or ":" not in value or path.is_file():
        if not path.is_file():
            raise ValueError(f"{where} {value!r}: " + ("no such file" if file else
                                                     "give USER:PASS or a file of USER:PASS lines"))
        lines = [(f"{path}:{n}", line.strip()) for n, line in
                 enumerate(path.read_text(encoding="utf-8").splitlines(), 1)]
    else:
        lines = [(f"{where} line {n}", line.strip())
                 for n, line in enumerate(value.splitlines(), 1)]
    logins = []
    for place, line in lines:
        if not line or line.startswith("#"):
            continue
        user, sep, password = line.partition(":")
        role = "operator"
        head, colon, tail = password.rpartition(":")
        if colon and tail.strip() in ROLES:
            password, role = head, tail.strip()
        if not sep or not user.strip() or not password:
            raise ValueError(f"{place}: expected USER:PASS[:ROLE] with a non-empty user and "
                             "password")
        logins.append(Login(user.strip(), password, role))
    if not logins:
        raise ValueError(f"{where}: no USER:PASS line found")
    return logins


def parse_auth(value: str | None) -> list[tuple[str, str]] | None:
    """Gradio's (user, password) pairs of `read_logins(value)`."""
    logins = read_logins(value)
    return [(login.user, login.password) for login in logins] if logins else None


def data_folders(sessions_dir: str | Path, runs_dir: str | Path = "runs",
                 models_dir: str | Path = "models", extra: Sequence[str | Path] = ()) -> DataDirs:
    """The folders the app's forms may name: its own, the shipped task files, `extra`.
    ValueError for an extra one that is not a folder (a typo would refuse every file)."""
    for folder in extra:
        if not Path(folder).expanduser().is_dir():
            raise ValueError(f"--data-dir {folder}: not a folder")
    return DataDirs.of([sessions_dir, runs_dir, models_dir, ASSETS / "tasks", *extra])


def pick_session(stores: Stores, wanted: str | None) -> tuple[list[str], str | None, str]:
    """(choices, chosen, problem): `wanted` if it exists, else the latest-modified one."""
    names = stores.names()
    if wanted and wanted in names:
        return names, wanted, ""
    latest = max(names, key=lambda n: (stores.sessions_dir / f"{n}.sqlite").stat().st_mtime,
                 default=None)
    problem = ""
    if wanted:
        problem = (f"No session {wanted!r} in {stores.sessions_dir} "
                   f"(existing: {', '.join(names) or 'none yet'}).")
    return names, latest, problem


def build(sessions_dir: str | Path, session: str | None = None, reviewer: str | None = None, *,
          auth: bool = False, stores: Stores | None = None,
          executor: SharedExecutor | None = None, demo_limit: int | None = None,
          runs_dir: str | Path = "runs", endpoints: TeacherEndpoints | None = None,
          models_dir: str | Path = "models", roles: dict[str, str] | None = None,
          data_dirs: DataDirs | None = None):
    """The page (a gr.Blocks). `roles`: login -> "operator" | "reviewer" (with `auth`; a
    login missing from it may not start operator work, see `persd_app.roles`). `session`: the session shown first (a `?session=NAME` in
    the URL wins); `reviewer`: the default name in the reviewer box (without auth);
    `runs_dir`: where the Train tab writes; `endpoints`: the teacher endpoints allowed
    (default: the server's own, see `TeacherEndpoints.from_options`); `data_dirs`: the
    folders form fields may name (default: `data_folders` of the app's own)."""
    import gradio as gr  # noqa: PLC0415  heavy: gradio


    stores = stores or Stores(sessions_dir)
    executor = executor or SharedExecutor()
    with gr.Blocks(title="persd") as page:
        # First in the page: Gradio finds a component by walking the page from the top.
        sink = gr.HTML(elem_id="persd-progress-sink", elem_classes=["persd-offscreen"])
        with gr.Row(elem_id="persd-topbar", equal_height=True):
            gr.HTML('<div class="persd-brand">persd<span>personalised distillation</span>'
                    '</div>', elem_id="persd-title")
            picker = gr.Dropdown(choices=stores.names(), value=None, label="Session",
                                 elem_id="persd-session", scale=2, min_width=200)
            typed = gr.Textbox(value=reviewer or LOCAL_REVIEWER, label="Reviewer",
                               elem_id="persd-reviewer", visible=not auth, scale=1,
                               min_width=140)
            who = gr.HTML(elem_id="persd-who", visible=auth)
        banner = gr.HTML(elem_id="persd-banner")

        def show_banner(name: str | None):
            return _banner_html(stores, name, "")

        # The picker's first event (the queue takes them in order): a picked session says at
        # once whether it is simulated, not after every tab has loaded it.
        picker.change(show_banner, [picker], [banner], show_progress="hidden")
        with gr.Column(visible=False, elem_id="persd-no-session") as empty:
            gr.HTML(f'<div class="persd-empty-panel">No session yet in '
                    f'<code>{_esc(os.path.abspath(sessions_dir))}</code>. Collect one with '
                    '<code>persd collect</code>, or build the offline demo: HumanEval with a '
                    'simulated student and teacher, judged by the real sandbox (seconds).</div>')
            demo = gr.Button("Build the demo session (simulated)", variant="primary",
                             elem_id="persd-build-demo")
            demo_note = gr.HTML()
        ctx = AppContext(sessions_dir=Path(sessions_dir), page=page, session=picker,
                         reviewer=typed, stores=stores, executor=executor, auth=auth,
                         runs_dir=Path(runs_dir).resolve(), models_dir=Path(models_dir),
                         endpoints=endpoints or TeacherEndpoints.from_options(),
                         roles=dict(roles or {}),
                         data_dirs=data_dirs or data_folders(sessions_dir, runs_dir, models_dir))
        modules, tabs = available_tabs(), []
        ctx = replace(ctx, shown=gr.State(modules[0][0] if modules else None))
        with gr.Tabs(elem_id="persd-tabs"):
            for index, (name, module) in enumerate(modules):
                with gr.Tab(module.TITLE, id=name, elem_id=f"persd-tab-{name}") as tab:
                    module.build(replace(ctx, tab=tab, shown_first=index == 0))
                tabs.append(tab)
        for tab in tabs:
            tab.select(_shown(tab, ctx.timers), outputs=[ctx.shown, *(t for _, t in ctx.timers)],
                       show_progress="hidden")

        def on_load(request: gr.Request):
            wanted = request.query_params.get("session") or session
            names, chosen, problem = pick_session(stores, wanted)
            login = getattr(request, "username", None)
            return (gr.update(choices=names, value=chosen),
                    _banner_html(stores, chosen, problem), gr.update(visible=not names),
                    f"Signed in as <b>{_esc(login)}</b> ({_esc(ctx.roles.get(login, 'no role'))})"
                    if login else "")

        def on_demo(progress=gr.Progress()):
            progress(0.05, desc="Building the demo session")
            try:
                build_demo_session(sessions_dir, limit=demo_limit,
                                   progress=lambda text: progress(0.5, desc=text))
            except (StoreError, OSError) as error:
                return gr.update(), gr.update(), f"Could not build the demo: {_esc(error)}"
            return (gr.update(choices=stores.names(), value=DEMO_SESSION),
                    gr.update(visible=False), "")

        page.load(on_load, outputs=[picker, banner, empty, who], show_progress="hidden")
        _quiet_progress(page, sink)
        demo.click(on_demo, outputs=[picker, empty, demo_note])
    page.queue(default_concurrency_limit=4)
    return page


def _quiet_progress(page: Any, sink: Any) -> None:
    """Where events keep their loading state: on `sink` alone when they show no progress,
    on their first output when they do. Gradio's page otherwise keeps one for every output
    of every event and updates all of them, each with a deep copy of its value and of its
    children's (plots, tables, code), on every message of any event: that cost each review
    key press about 50 ms."""
    for fn in page.fns.values():
        if fn.show_progress_on is None and fn.outputs:
            fn.show_progress_on = [sink] if fn.show_progress == "hidden" else fn.outputs[:1]


def _shown(shown: Any, timers: list) -> Callable[[], list]:
    """The tab-select handler: remember the tab shown; its timers tick, every other stops."""
    import gradio as gr  # noqa: PLC0415  heavy: gradio

    return lambda: [shown.id, *(gr.Timer(active=tab is shown) for tab, _ in timers)]


def _esc(text: Any) -> str:
    return esc(text)


def _banner_html(stores: Stores, name: str | None, problem: str) -> str:
    if problem:
        return f'<div class="persd-msg persd-msg-error">{_esc(problem)}</div>'
    if not name:
        return ""
    try:
        store = stores.get(name)
        return (read_only_banner(store.path) if store.readonly else "") + \
            (SIMULATED_BANNER if store.simulated else "")
    except StoreError as error:
        return f'<div class="persd-msg persd-msg-error">{_esc(error)}</div>'


@dataclass
class Running:
    page: Any
    url: str
    stores: Stores
    executor: SharedExecutor

    def close(self) -> None:
        self.page.close()
        self.executor.close()
        self.stores.close()


def launch(sessions_dir: str | Path, session: str | None = None, host: str = "127.0.0.1",
           port: int = 7860, auth: Sequence[tuple[str, str] | Login] | None = None, *,
           reviewer: str | None = None, open_browser: bool = False, block: bool = True,
           demo_limit: int | None = None, quiet: bool = False, runs_dir: str | Path = "runs",
           teacher_endpoints: Sequence[str] = (), allow_custom_endpoints: bool = False,
           insecure_no_auth_on_network: bool = False,
           models_dir: str | Path = "models", trusted_proxies: Sequence[str] = (),
           data_dirs: Sequence[str | Path] = ()) -> Running:
    """Serve the app. With `block` (the CLI) it returns after Ctrl-C, resources closed.
    `auth`: logins, (user, password) pairs (operators) or `Login`s from `read_logins`.
    `trusted_proxies`: addresses or networks whose forwarded headers name the client.
    `data_dirs`: folders besides the app's own that form fields may name (`data_folders`).
    ValueError (ExposureError, a malformed endpoint or proxy, a data folder that is not
    one) before anything is served."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

    check_exposure(host, bool(auth), insecure_no_auth_on_network)
    endpoints = TeacherEndpoints.from_options(teacher_endpoints, allow_custom_endpoints)
    proxies = parse_proxies(trusted_proxies)
    folders = data_folders(sessions_dir, runs_dir, models_dir, data_dirs)
    logins = [a if isinstance(a, Login) else Login(a[0], a[1]) for a in auth or ()]
    auth = [(login.user, login.password) for login in logins] or None
    if not auth and not is_loopback(host):
        print(f"persd: WARNING: serving on {host} without --auth "
              "(--insecure-no-auth-on-network): anyone who can reach this address can review "
              "and run code in the sandbox.", file=sys.stderr)
    stores, executor = Stores(sessions_dir), SharedExecutor()
    page = build(sessions_dir, session, reviewer, auth=bool(auth), stores=stores,
                 executor=executor, demo_limit=demo_limit, runs_dir=runs_dir,
                 endpoints=endpoints, models_dir=models_dir,
                 roles={login.user: login.role for login in logins}, data_dirs=folders)
    running = Running(page, "", stores, executor)
    try:
        # Never a share link: sessions hold code and API spend that stay on this machine.
        # Gradio's own banner is silenced because it suggests share=True.
        with uvicorn_believes_nobody():
            _, url, _ = page.launch(
                server_name=host, server_port=port, share=False, auth=auth,
                auth_message=f"persd review: sign in with your reviewer login. {LOCKOUT_NOTE}"
                if auth else None,
                inbrowser=open_browser, prevent_thread_lock=True, quiet=True,
                app_kwargs={"middleware": middleware(bool(auth), insecure_no_auth_on_network,
                                                     proxies=proxies)},
                **launch_options())
        running.url = url
        # Everything built so far (gradio, torch, the page, the server) lives as long as
        # the app: moved out of the collector's reach, a full collection no longer walks
        # it. Those walks (100-300 ms on 2 cores) stalled key presses on the review screen.
        gc.collect()
        gc.freeze()
        if not quiet:
            logins = f", {len(auth)} login(s)" if auth else ", no login (--auth to add one)"
            print(f"persd: the app is at {url} (bound to {host}{logins}); Ctrl-C stops it.",
                  flush=True)
        if block:
            page.block_thread()
    finally:
        if block:
            running.close()
    return running
