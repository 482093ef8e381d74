"""Judges what a run's asserts reported, on the host: a verdict the program cannot forge.

    judged = judge(plan, reply["reports"], approx=False)
    judged.outcomes        # one TestOutcome per assert, in source order
    judged.first_failure   # the outcome that failed first (in the order run), or None
    judged.all_seen        # every assert was reached and held

The sandbox sends, for each assert it reached, strict builtin copies of the leaves (see
asserts.py and jail/values.py); here they are decoded into real builtin objects and the
assert's template is evaluated on them, with the expected values the sandbox never saw.
`==` at the top of an assert compares with `same`: Python's == on builtins, NaN equal to
NaN, and under the paper protocol floats within pytest.approx's default tolerance.

Protocols (`--protocol`):
  strict  every test of a task (MBPP: test_list and challenge_test_list), exact comparison
  paper   the MBPP release's protocol: test_list only, approximate float comparison
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from persd.execution.asserts import SAFE_FUNCTIONS, SAFE_MODULES, Plan, Site
from persd.execution.jail import values
from persd.execution.result import TestOutcome
from persd.text import clip as clip_text
from persd.tasks.formats import CHALLENGE_MARKER

PROTOCOLS = ("strict", "paper")
REL_TOLERANCE, ABS_TOLERANCE = 1e-6, 1e-12  # pytest.approx's defaults
TEXT_LIMIT = 300


def check_protocol(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    return protocol


def tests_for(protocol: str, test: str) -> str:
    """The part of a task's test the protocol runs."""
    if check_protocol(protocol) == "paper" and CHALLENGE_MARKER in test:
        return test[: test.index(CHALLENGE_MARKER)]
    return test


def same(actual, expected, approx: bool = False) -> bool:
    """Equality of two builtin values (decoded copies, so nothing here is overridden)."""
    numbers = (int, float, complex)
    if type(actual) in numbers + (bool,) and type(expected) in numbers + (bool,):
        if actual != actual and expected != expected:
            return True  # NaN is NaN
        if approx and (type(actual) in (float, complex) or type(expected) in (float, complex)):
            return abs(actual - expected) <= max(REL_TOLERANCE * abs(expected), ABS_TOLERANCE)
        return actual == expected
    if type(actual) is not type(expected) or type(actual) not in (list, tuple, dict):
        return actual == expected
    if type(actual) is dict:
        return actual.keys() == expected.keys() and all(same(actual[k], expected[k], approx) for k in actual)
    return len(actual) == len(expected) and all(same(a, e, approx) for a, e in zip(actual, expected))


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return clip_text(text, limit, "...")


def _shown(data) -> str:
    value = values.decode(data)
    if type(value).__name__.endswith("iterator"):
        return f"an iterator over {clip(repr(list(value)))}"
    return clip(repr(value))


@dataclass(frozen=True)
class Judged:
    outcomes: tuple[TestOutcome, ...]
    first_failure: TestOutcome | None
    first_call: str              # the call shown as "returned" in that failure, or ""
    all_seen: bool
    names: dict[str, str]        # test aliases -> the program's real function names
    sites: tuple[Site, ...]


def _evaluate(site: Site, leaves: list, approx: bool) -> tuple[str, str, str, str]:
    """(status, returned, expected, error) of one report of `site`."""
    refused = [leaf["x"] for leaf in leaves if type(leaf) is dict and set(leaf) == {"x"}]
    if refused:
        return "failed", "", "", clip(str(refused[0]))
    if len(leaves) != len(site.leaves):
        return "failed", "", "", "the report of this test was malformed"
    namespace = {"__builtins__": {}, **SAFE_FUNCTIONS, **SAFE_MODULES}
    namespace.update((f"_v{i}", values.decode(leaf)) for i, leaf in enumerate(leaves))
    returned = _shown(leaves[site.actual_leaf]) if site.actual_leaf is not None else ""
    try:
        if site.sides:
            actual, expected = (eval(code, namespace) for code in site.sides)
            status = "passed" if same(actual, expected, approx) else "failed"
            return status, returned or clip(repr(actual)), clip(repr(expected)), ""
        return ("passed" if eval(site.whole, namespace) else "failed"), returned, "", ""
    except Exception as error:  # the assert raised, as it would have in the sandbox
        return "error", returned, "", clip(f"{type(error).__name__}: {error}")


def judge(plan: Plan, reports: list, approx: bool = False) -> Judged:
    results: dict[int, TestOutcome] = {}
    first_failure, first_site = None, None
    names: dict[str, str] = {}
    for report in reports:
        number, leaves = report.get("r"), report.get("v")
        if type(number) is not int or not 0 <= number < len(plan.sites) or type(leaves) is not list:
            continue  # not a report of this test's asserts: forged or corrupt, never a pass
        site = plan.sites[number]
        if type(report.get("n")) is dict:
            names.update((str(k), str(v)) for k, v in report["n"].items() if k in site.callees)
        if number in results and results[number].status != "passed":
            continue
        try:
            status, returned, expected, error = _evaluate(site, leaves, approx)
        except (ValueError, TypeError, KeyError, RecursionError, MemoryError, OverflowError):
            status, returned, expected, error = "failed", "", "", "the report of this test was malformed"
        outcome = TestOutcome(site.source, status, returned, expected, error)
        if status != "passed" and first_failure is None:
            first_failure, first_site = outcome, site
        if number not in results or status != "passed":
            results[number] = outcome
    outcomes = tuple(_renamed(results.get(site.number) or TestOutcome(site.source, "not_run"), names)
                     for site in plan.sites)
    all_seen = all(o.status == "passed" for o in outcomes)
    first_call = ""
    if first_failure is not None:
        first_failure = _renamed(first_failure, names)
        if first_site.actual_leaf is not None:
            first_call = _renamed(TestOutcome(first_site.leaves[first_site.actual_leaf], ""), names).source
    return Judged(outcomes, first_failure, first_call, all_seen, names, plan.sites)


def _renamed(outcome: TestOutcome, names: dict[str, str]) -> TestOutcome:
    source = outcome.source
    for alias, real in names.items():
        source = _replace_call(source, alias, real)
    return outcome if source == outcome.source else TestOutcome(source, *_rest(outcome))


def _rest(outcome: TestOutcome) -> tuple:
    return outcome.status, outcome.returned, outcome.expected, outcome.error


def _replace_call(text: str, alias: str, real: str) -> str:
    return re.sub(rf"\b{re.escape(alias)}\(", f"{real}(", text)
