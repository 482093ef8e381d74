"""Reads the verdicts the sandbox's judge returned: a verdict the program cannot forge.

    judged = judge(plan, reply)
    judged.outcomes        # one TestOutcome per assert, in source order
    judged.first_failure   # the outcome that failed first (in the order run), or None
    judged.all_seen        # every assert was reached and held

The judge, a process in the jail the program cannot reach, runs the test itself and asks
the program's process only for calls, whose answers are strict builtin copies
(jail/judge.py, jail/values.py); here the host only reads its small, clipped findings.
The host never evaluates any part of a test, so a test typed by a person
(`assert f(1) == 9**9**9**9`) costs its sandbox a few seconds, never the host. `==` at
the top of an assert compares with `same`: Python's == on builtins, NaN equal to NaN,
and under the paper protocol floats within pytest.approx's default tolerance.

Protocols (`--protocol`):
  strict  every test of a task (MBPP: test_list and challenge_test_list), exact comparison
  paper   the MBPP release's protocol: test_list only, approximate float comparison
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from persd.execution.asserts import Plan, Site
from persd.execution.jail.findings import STATUSES, clip
from persd.execution.result import TestOutcome
from persd.tasks.formats import CHALLENGE_MARKER

PROTOCOLS = ("strict", "paper")


def check_protocol(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    return protocol


def tests_for(protocol: str, test: str) -> str:
    """The part of a task's test the protocol runs."""
    if check_protocol(protocol) == "paper" and CHALLENGE_MARKER in test:
        return test[: test.index(CHALLENGE_MARKER)]
    return test


@dataclass(frozen=True)
class Judged:
    outcomes: tuple[TestOutcome, ...]
    first_failure: TestOutcome | None
    first_call: str              # the call shown as "returned" in that failure, or ""
    all_seen: bool
    names: dict[str, str]        # test aliases -> the program's real function names
    sites: tuple[Site, ...]


def _outcome(site: Site, test) -> TestOutcome:
    """One site's outcome from the judge's [status, returned, expected, error, call]."""
    if (type(test) is not list or len(test) != 5 or test[0] not in STATUSES
            or not all(type(text) is str for text in test)):
        return TestOutcome(site.source, "not_run")
    return TestOutcome(site.source, test[0], *(clip(text) for text in test[1:4]))


def _call(test) -> str:
    return clip(test[4], 200) if type(test) is list and len(test) == 5 and type(test[4]) is str else ""


def judge(plan: Plan, reply: dict) -> Judged:
    """The judged asserts of one run; anything missing or malformed is never a pass."""
    tests = reply.get("tests")
    if type(tests) is not list or len(tests) != len(plan.sites):
        tests = [None] * len(plan.sites)
    raw_names = reply.get("names")
    names = {k: clip(v, 100) for k, v in raw_names.items() if type(k) is str and k.isidentifier()
             and type(v) is str and v.isidentifier()} if type(raw_names) is dict else {}
    outcomes = tuple(_renamed(_outcome(site, test), names) for site, test in zip(plan.sites, tests))
    all_seen = all(o.status == "passed" for o in outcomes)
    number = reply.get("first_failure")
    first_failure, first_call = None, ""
    if type(number) is int and 0 <= number < len(outcomes) and outcomes[number].status != "passed":
        first_failure, first_call = outcomes[number], _call(tests[number])
    elif not all_seen:
        failures = [o for o in outcomes if o.status not in ("passed", "not_run")]
        first_failure = failures[0] if failures else None
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
