"""The package's shape: no import cycle among persd's modules or packages, nor among the
app's (ui/), imports inside functions counted too; modules a newcomer can read."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "persd"
APP = PACKAGE.parent / "ui"   # installed as persd_app (pyproject's package-dir)
NAMES = {PACKAGE: "persd", APP: "persd_app"}
MAX_LINES = 400


def _module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = (NAMES[package], *path.relative_to(package).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules(package: Path = PACKAGE) -> dict[str, Path]:
    return {_module_name(path, package): path for path in sorted(package.rglob("*.py"))}


def _type_checking_only(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def _imports(path: Path, modules: dict[str, Path]) -> set[str]:
    """persd modules `path` imports when it runs (TYPE_CHECKING blocks never run)."""
    tree = ast.parse(path.read_text())
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # `from pkg import submodule` depends on the submodule; a name, on the module.
            names = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules
                     else node.module for alias in node.names]
        else:
            continue
        if _type_checking_only(node, parents):
            continue
        found |= {name for name in names if name in modules}
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = _modules(package)
    return {name: _imports(path, modules) - {name} for name, path in modules.items()}


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The module graph seen a level up: `persd.train.config` is in `persd.train`, a
    top-level module (`persd.settings`) is a package of its own."""
    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    packages: dict[str, set[str]] = {}
    for module, imported in graph.items():
        packages.setdefault(package(module), set()).update(
            package(name) for name in imported if package(name) != package(module))
    return packages


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_no_import_cycle_among_persd_modules():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_import_cycle_among_persd_packages():
    cycle = find_cycle(package_graph(import_graph()))
    assert cycle is None, "import cycle between packages: " + " -> ".join(cycle)


def test_no_import_cycle_among_the_apps_modules_or_packages():
    graph = import_graph(APP)
    assert "persd_app.tabs.review_handlers" in graph and "persd_app.app" in graph
    for level in (graph, package_graph(graph)):
        cycle = find_cycle(level)
        assert cycle is None, "import cycle in the app: " + " -> ".join(cycle)


def test_the_package_graph_keeps_the_edges_between_packages():
    packages = package_graph(import_graph())
    assert {"persd.train", "persd.data", "persd.collect"} <= packages["persd.runs"]
    assert "persd.runs" in packages["persd.jobs"]  # the app's jobs run runs, not the reverse
    assert "persd.jobs" not in packages["persd.runs"]
    assert "persd.runs" in packages["persd.loop"]  # imported inside a function
    assert not {"persd.jobs", "persd.data", "persd.runs"} & packages["persd.train"]
    found = find_cycle(package_graph({"p.a.x": {"p.b.y"}, "p.b.y": set(), "p.b.z": {"p.a.w"},
                                      "p.a.w": set()}))
    assert found == ["p.a", "p.b", "p.a"]


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_graph_sees_function_level_imports():
    graph = import_graph()
    assert "persd.demo.tiny_model" in graph["persd.cli.app"]  # imported inside a command


def test_every_module_is_under_the_size_limit():
    long = {name: n for package in (PACKAGE, APP) for name, path in _modules(package).items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines: {long}"


MAX_OWN_IMPORTS_IN_FUNCTIONS = 30


def _own_imports_in_functions() -> list[tuple[str, int, str]]:
    """(file, line, source line) of each import of persd's or the app's own modules made
    inside a function."""
    found = []
    for package in (PACKAGE, APP):
        for path in sorted(package.rglob("*.py")):
            lines = path.read_text().splitlines()
            tree = ast.parse("\n".join(lines))
            for function in ast.walk(tree):
                if not isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                for node in ast.walk(function):
                    module = (node.module if isinstance(node, ast.ImportFrom) and not node.level
                              else node.names[0].name if isinstance(node, ast.Import) else None)
                    if module and module.split(".")[0] in ("persd", "persd_app"):
                        found.append((str(path.relative_to(PACKAGE.parent)), node.lineno,
                                      lines[node.lineno - 1]))
    return sorted(set(found))


def test_imports_of_our_own_modules_sit_at_the_top_but_for_a_few_that_say_why():
    found = _own_imports_in_functions()
    assert len(found) <= MAX_OWN_IMPORTS_IN_FUNCTIONS, "\n".join(f"{f}:{n}" for f, n, _ in found)
    unexplained = [f"{f}:{n}: {line.strip()}" for f, n, line in found
                   if not re.search(r"# noqa: PLC0415 +\S", line)]
    assert not unexplained, "imports inside functions without a reason:\n" + "\n".join(unexplained)


def test_ruff_passes():
    """The lint configured in pyproject.toml: pyflakes, and imports at the top of a module
    except for the heavy packages (TID253) or with a reason."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed (pip install -e '.[dev]')")
    done = subprocess.run([ruff, "check", "--no-cache", "--output-format", "concise", "persd",
                           "ui", "tests", "benchmarks"], cwd=PACKAGE.parent, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_core_library_never_imports_gradio():
    for name, path in _modules().items():
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "gradio" for a in node.names), name
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] != "gradio", name
