"""Risk flags: the refinements a person should look at first, read from stored results.

    from persd.analysis.risk import risk_flags, risk_score
    flags = risk_flags(store)              # refinement id -> [RiskFlag(kind, label, why)]
    risk_score(flags[12])                  # 0 for none; higher reads sooner ("risk first")

No model is called and no code is run: programs are read with `ast`, results from the
stored executions (structured test outcomes, `persd.execution.result.TestOutcome`).

  hard_codes_tests   the refinement holds, as new code, a literal equal to a failing or
                     visible assert's expected value, or branches on one of its inputs
                     (`if n == 7: ...`); trivial values (0, 1, "", [], True, None) never count
  not_personalised   the refinement is little like the attempt (a rewrite, not its fix)
  visible_only       the refinement passes the visible tests but fails hidden ones
  many_tries         the teacher needed several tries
  test_looks_wrong   many attempts at the task fail one assert the same way, or the
                     teacher's code fails an assert returning what the student's did
  reference_fails    a stored program of the task (an attempt, or the teacher's code) is
                     the task's reference solution (the same function, docstring and
                     layout aside) and failed the hidden tests: the reference fails them.
                     The reference is not run here (that would execute code): the flag is
                     read from such a stored run, so a task no record copies stays unflagged.
"""

from __future__ import annotations

import ast
import functools
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from persd.code.diffing import code_similarity
from persd.code.functions import same_function
from persd.store.records import result_of

# kind -> (label shown to reviewers, weight in the "risk first" order)
FLAG_KINDS = {
    "hard_codes_tests": ("hard-codes the tests", 8),
    "visible_only": ("passes visible, fails hidden", 5),
    "reference_fails": ("reference fails its tests", 6),
    "test_looks_wrong": ("test looks wrong", 4),
    "not_personalised": ("not personalised", 3),
    "many_tries": ("teacher needed several tries", 1),
}
MIN_SIMILARITY = 0.5     # below: a rewrite rather than a fix of the student's code
MANY_TRIES = 3           # teacher tries from which a result reads as hard-won
SAME_FAILURE_MIN = 3     # attempts failing one assert alike before the test is suspected
_TRIVIAL = (0, 1, -1, "", (), [], {}, None, True, False)


@dataclass(frozen=True)
class RiskFlag:
    kind: str             # one of FLAG_KINDS
    why: str              # one sentence a reviewer can check

    @property
    def label(self) -> str:
        return FLAG_KINDS[self.kind][0]


def risk_score(flags: Iterable[RiskFlag]) -> int:
    return sum(FLAG_KINDS[flag.kind][1] for flag in flags)


def risk_flags(store: Any, round: int | None = None) -> dict[int, list[RiskFlag]]:
    """Flags of every refinement with a result (none: an empty list), by refinement id."""
    tasks = {task.task_id: task for task in store.tasks.list()}
    attempts = {attempt.id: attempt for attempt in store.attempts.list(round=round)}
    visible_runs = {run.subject_id: run for run in store.executions.list("refinement")
                    if run.tests == "visible"}
    suspects = suspect_asserts(attempts.values())
    refinements = store.refinements.list(round=round)
    failing_references = reference_failures(tasks, [*attempts.values(), *refinements])
    found = {}
    for refinement in refinements:
        attempt = attempts.get(refinement.attempt_id)
        found[refinement.id] = flags_of(
            refinement, tasks[refinement.task_id], attempt,
            visible_runs.get(refinement.id), suspects.get(refinement.task_id, {}),
            failing_references.get(refinement.task_id))
    return found


def flags_of(refinement: Any, task: Any, attempt: Any, visible_run: Any = None,
             suspects: dict[tuple[str, str], int] | None = None,
             reference_fails: str | None = None) -> list[RiskFlag]:
    """The flags of one refinement (a RefinementRecord with its hidden-test run);
    `reference_fails` says why its task's reference fails (`reference_failures`)."""
    if refinement.program is None:
        return []
    flags = []
    attempt_program = attempt.program if attempt is not None else task.prompt
    failing = _failing(result_of(attempt.execution)) if attempt is not None else []
    why = hard_coded(refinement.program, attempt_program, task.visible_test, failing)
    if why:
        flags.append(RiskFlag("hard_codes_tests", why))
    if attempt is not None:
        alike = code_similarity(attempt.program, refinement.program, task.prompt)
        if alike < MIN_SIMILARITY:
            flags.append(RiskFlag("not_personalised", f"its code below the task prompt is only "
                                  f"{alike:.0%} like the attempt's: a rewrite rather than a "
                                  "fix of the student's code"))
    why = _visible_only(result_of(refinement.execution), result_of(visible_run),
                        task.visible_test)
    if why:
        flags.append(RiskFlag("visible_only", why))
    if refinement.tries >= MANY_TRIES:
        flags.append(RiskFlag("many_tries", f"the teacher needed {refinement.tries} tries"))
    why = _test_suspect(result_of(refinement.execution), failing, suspects or {})
    if why:
        flags.append(RiskFlag("test_looks_wrong", why))
    if reference_fails:
        flags.append(RiskFlag("reference_fails", reference_fails))
    return flags


# ---------------------------------------------------------------- hard-coded tests

def hard_coded(program: str, attempt_program: str, visible_test: str,
               failing: list[Any]) -> str | None:
    """Why `program` looks fitted to the tests (None when it does not): a literal equal to
    an expected value, or a comparison with a test input, that the attempt did not have."""
    tree = _parse(program)
    if tree is None:
        return None
    expected, inputs = (list(values) for values in _visible_values(visible_test))
    for outcome in failing:
        assert_expected, assert_inputs = _assert_values(outcome.source)
        expected += assert_expected
        inputs += assert_inputs
        if outcome.expected:
            expected.append(_literal_text(outcome.expected))
    branches, held = _code_literals(tree)
    candidates = [(value, "input") for value in branches if _nontrivial(value) and value in inputs]
    candidates += [(value, "expected") for value in held if _nontrivial(value) and value in expected]
    if not candidates:
        return None  # the attempt is read only when the refinement has a suspect literal
    before = _code_literals(_parse(attempt_program))[1]
    for value, kind in candidates:
        if value not in before:
            return (f"branches on the test input {value!r}, which the attempt never compared with"
                    if kind == "input" else
                    f"returns or holds the expected value {value!r} of a test as a literal")
    return None


def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(code or "")
    except (SyntaxError, ValueError):
        return None


@functools.lru_cache(maxsize=8192)
def _assert_values(source: str) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """(expected values, inputs) of one assert's source; a task's records fail the same
    few asserts, so each is read once."""
    tree = _parse(source)
    node = tree.body[0] if tree is not None and tree.body else None
    if not isinstance(node, ast.Assert):
        return (), ()
    expected, inputs = _expected_and_inputs([node])
    return tuple(expected), tuple(inputs)


@functools.lru_cache(maxsize=1024)
def _asserts_of(test: str) -> tuple[ast.Assert, ...]:
    """The asserts of a task's test code (read once per task, not per record)."""
    return tuple(node for node in ast.walk(_parse(test) or ast.Module([], []))
                 if isinstance(node, ast.Assert))


def _literal(node: ast.AST) -> Any:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _MISSING
    return _hashable(value)


@functools.lru_cache(maxsize=8192)
def _literal_text(text: str) -> Any:
    try:
        return _hashable(ast.literal_eval(text))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _MISSING


def _hashable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((repr(k), _hashable(v)) for k, v in value.items()))
    if isinstance(value, set):
        return tuple(sorted(map(repr, value)))
    return value


_MISSING = object()


def _expected_and_inputs(asserts: list[ast.Assert]) -> tuple[list[Any], list[Any]]:
    """Expected values (the literal side of `==`) and call arguments of the asserts."""
    expected, inputs = [], []
    for node in asserts:
        test = node.test
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and \
                isinstance(test.ops[0], ast.Eq):
            expected += [_literal(side) for side in (test.left, test.comparators[0])]
        for call in (n for n in ast.walk(test) if isinstance(n, ast.Call)):
            inputs += [_literal(arg) for arg in call.args]
            if len(call.args) > 1:
                inputs.append(_literal(ast.Tuple(call.args, ast.Load())))
    return [v for v in expected if v is not _MISSING], [v for v in inputs if v is not _MISSING]


@functools.lru_cache(maxsize=1024)
def _visible_values(visible_test: str) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    """(expected values, inputs) of a task's visible asserts (read once per task)."""
    expected, inputs = _expected_and_inputs(list(_asserts_of(visible_test)))
    return tuple(expected), tuple(inputs)


def _code_literals(tree: ast.Module | None) -> tuple[list[Any], list[Any]]:
    """(literal values compared with something in an `if` or a conditional expression,
    every literal value written in the code), docstrings left out; one walk of the tree."""
    if tree is None:
        return [], []
    docstrings, tests, nodes = set(), [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            docstrings.add(id(node.value))
        elif isinstance(node, (ast.If, ast.IfExp)):
            tests.append(node.test)
        elif isinstance(node, _LITERAL_NODES):
            nodes.append(node)
    compared = [side for test in tests for compare in ast.walk(test)
                if isinstance(compare, ast.Compare)
                for side in (compare.left, *compare.comparators)]
    return _literals_of(compared, docstrings), _literals_of(nodes, docstrings)


_LITERAL_NODES = (ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set)


def _literals_of(nodes: list[ast.AST], docstrings: set[int]) -> list[Any]:
    values = (_literal(node) for node in nodes if id(node) not in docstrings)
    return [value for value in values if value is not _MISSING]


def _nontrivial(value: Any) -> bool:
    try:
        return not any(value == small and type(value) is type(small) for small in _TRIVIAL)
    except Exception:  # noqa: BLE001  a literal whose comparison raises counts as non-trivial
        return True


# ---------------------------------------------------------------- runs

def _failing(execution: Any) -> list[Any]:
    if execution is None:
        return []
    return [o for o in execution.test_outcomes if o.status not in ("passed", "not_run")]


@functools.lru_cache(maxsize=8192)
def _normal(source: str) -> str:
    tree = _parse(source)
    return ast.unparse(tree) if tree is not None else source.strip()


def _visible_only(hidden_run: Any, visible_run: Any, visible_test: str) -> str | None:
    if hidden_run is None or hidden_run.passed or not visible_test.strip():
        return None
    if visible_run is not None:
        return ("passes its visible tests but fails the hidden ones"
                if visible_run.passed else None)
    if not hidden_run.has_detail:
        return None
    visible = {_normal(ast.unparse(node)) for node in _asserts_of(visible_test)}
    outcomes = {_normal(o.source): o.status for o in hidden_run.test_outcomes}
    shared = [source for source in visible if source in outcomes]
    failed = [o for o in hidden_run.test_outcomes if o.status != "passed"]
    if shared and failed and all(outcomes[s] == "passed" for s in shared):
        return (f"passes the {len(shared)} visible asserts but fails {len(failed)} hidden: "
                f"{failed[0].source.strip()[:120]}")
    return None


def suspect_asserts(attempts: Iterable[Any]) -> dict[str, dict[tuple[str, str], int]]:
    """task id -> {(assert, returned): attempts failing it so}, for failures shared by at
    least SAME_FAILURE_MIN attempts and at least half of the task's attempts."""
    per_task: dict[str, Counter] = defaultdict(Counter)
    totals: Counter = Counter()
    for attempt in attempts:
        totals[attempt.task_id] += 1
        keys = {(_normal(o.source), o.returned) for o in _failing(result_of(attempt.execution))
                if o.status == "failed" and o.returned}
        per_task[attempt.task_id].update(keys)
    return {task: {key: n for key, n in counts.items()
                   if n >= SAME_FAILURE_MIN and 2 * n >= totals[task]}
            for task, counts in per_task.items()}


def _test_suspect(hidden_run: Any, attempt_failing: list[Any],
                  suspects: dict[tuple[str, str], int]) -> str | None:
    for (source, returned), count in suspects.items():
        return (f"{count} attempts fail `{source[:100]}` the same way (returning "
                f"{returned[:40]}): the test may be wrong")
    student = {(_normal(o.source), o.returned) for o in attempt_failing if o.returned}
    for outcome in _failing(hidden_run):
        if outcome.returned and (_normal(outcome.source), outcome.returned) in student:
            return (f"the teacher's code fails `{outcome.source.strip()[:100]}` returning "
                    f"{outcome.returned[:40]}, as the student's did: the test may be wrong")
    return None


def reference_failures(tasks: dict[str, Any], records: Iterable[Any]) -> dict[str, str]:
    """task id -> why its reference solution fails its hidden tests, for the tasks where
    one of `records` (attempts or refinements with their hidden-test run) is the reference's
    function and failed. Only failed runs are parsed, and only those holding the
    reference's last line of code."""
    found: dict[str, str] = {}
    for record in records:
        task, run = tasks.get(record.task_id), result_of(record.execution)
        if record.task_id in found or task is None or not task.solution or run is None \
                or run.passed or not record.program:
            continue
        if _last_code_line(task.solution) not in "".join(record.program.split()):
            continue
        if same_function(record.program, task.solution, task.entry_point):
            what = f"the teacher's code of record #{record.id}" \
                if hasattr(record, "attempt_id") else f"the student's attempt {record.id}"
            failed = _failing(run)
            detail = f"`{failed[0].source.strip()[:100]}`" if failed else f"them ({run.status})"
            found[record.task_id] = (
                f"{what} is the task's reference solution "
                f"({task.entry_point}, docstring and layout aside) and fails {detail}: "
                "the reference or the tests are wrong")
    return found


@functools.lru_cache(maxsize=1024)
def _last_code_line(program: str) -> str:
    """The program's last line of code without its spaces (a cheap test before parsing)."""
    lines = ["".join(line.split()) for line in program.splitlines()
             if line.strip() and not line.strip().startswith("#")]
    return lines[-1] if lines else ""
