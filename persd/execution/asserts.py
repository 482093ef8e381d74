"""The asserts of a test, as the host describes them in feedback.

    plan = plan_test(test_source)    # raises SyntaxError for a bad test
    plan.sites                       # one Site per assert, in source order
    plan.test_lines                  # the test as written: tracebacks show these lines

The sandbox's judge numbers the asserts with the same function (jail/instrument.py) and
evaluates them itself (jail/judge.py); the host only parses the test to name each assert
in the feedback. It never evaluates any of it.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

from persd.execution.jail.instrument import instrument


@dataclass(frozen=True)
class Site:
    """One assert of the test."""

    number: int
    line: int
    end_line: int
    source: str                       # the assert as written, on one line
    sides: tuple[str, str] | None     # sources of `actual == expected` when that is its shape
    message: str                      # a constant assert message, else ""


@dataclass(frozen=True)
class Plan:
    sites: tuple[Site, ...]
    test_lines: tuple[str, ...]


@functools.lru_cache(maxsize=256)
def plan_test(test: str) -> Plan:
    """The asserts of `test`, numbered as the judge numbers them."""
    with warnings.catch_warnings():  # an invalid escape in a test is the test's business
        warnings.simplefilter("ignore")
        found, _tree = instrument(test)
    sites = tuple(Site(number, s["line"], s["end_line"], s["source"],
                       tuple(s["sides"]) if s["sides"] else None, s["message"])
                  for number, s in enumerate(found))
    return Plan(sites, tuple(test.splitlines()))
