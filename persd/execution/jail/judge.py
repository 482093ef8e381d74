"""Judges one run's assert reports inside the jail, in a process the program cannot reach.

The harness forks a judge per program, after the program's child has ended: root like
the harness (the program's uid can neither signal nor trace it), without capabilities,
under RLIMIT_CPU and RLIMIT_AS, with a wall-clock deadline. It parses what the child
wrote (`read_reports`), evaluates each assert's template (asserts.py: constants,
operators, whitelisted builtins, `math.*`) on decoded builtin copies of the leaves, and
streams its findings to the harness as JSON lines:

    {"e": facts}                              the child's end facts, checked and clipped
    {"o": [site, status, returned, expected, error]}   a site's outcome, when it changes
    {"n": {alias: real name}}                 names the test gave the program's functions
    {"done": true}

Before each evaluation it writes the site number to a shared page, so when a template
like `9**9**9**9` or `math.factorial(10**8)` makes it overrun its limits, the harness
knows which assert was being judged (`assemble`). A test typed by a person cannot hang
or exhaust the host this way: the worst it does is cost its sandbox a few seconds.
Standard library only.
"""

from __future__ import annotations

import json
import math
import struct

try:
    import values  # in the jail: this folder is on sys.path
except ImportError:  # on the host, which imports SAFE_FUNCTIONS and `same` from here
    from persd.execution.jail import values

TEXT_LIMIT = 300
FRAME_LIMIT = 50          # traceback frames kept (the innermost ones)
NAME_LIMIT = 100
SAFE_FUNCTIONS = {f.__name__: f for f in (
    abs, all, any, bool, bytes, chr, complex, dict, divmod, enumerate, float, frozenset, int,
    isinstance, len, list, max, min, ord, repr, reversed, round, set, sorted, str, sum, tuple,
    type, zip)}  # not range or pow: asserts.py keeps this list in step with what it leaves here
SAFE_MODULES = {"math": math}
REL_TOLERANCE, ABS_TOLERANCE = 1e-6, 1e-12  # pytest.approx's defaults
STATUSES = ("passed", "failed", "error")
_FACT_TEXTS = ("outcome", "stage", "exc_type", "exc_message")


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


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


def _shown(value) -> str:
    try:
        if type(value).__name__.endswith("iterator"):
            return f"an iterator over {clip(repr(list(value)))}"
        return clip(repr(value))
    except ValueError:  # an int past sys.get_int_max_str_digits
        return "<a value too large to show>"


def read_reports(data: bytes) -> tuple[dict, list]:
    """The child's end facts and the reports it sent before them, from its frames; what
    cannot be parsed ends the stream (the child may have been killed mid-frame)."""
    facts: dict = {"outcome": "no_reply"}
    reports: list = []
    cut = False
    offset = 0
    while offset + 8 <= len(data):
        size = struct.unpack(">Q", data[offset: offset + 8])[0]
        if offset + 8 + size > len(data):
            cut = True
            break
        try:
            message = json.loads(data[offset + 8: offset + 8 + size])
        except (ValueError, RecursionError):
            cut = True
            break
        offset += 8 + size
        if type(message) is dict and type(message.get("e")) is dict:
            facts = message["e"]
        elif type(message) is dict and "r" in message:
            reports.append(message)
    facts = checked_facts(facts)
    if cut:
        facts["reports_cut"] = True
    return facts, reports


def checked_facts(facts: dict) -> dict:
    """The end facts the program's process wrote, as small, well-typed data."""
    checked = {key: clip(facts[key]) for key in _FACT_TEXTS if type(facts.get(key)) is str}
    checked.setdefault("outcome", "no_reply")
    frames = facts.get("frames")
    if type(frames) is list:
        checked["frames"] = [
            {"file": clip(f["file"], NAME_LIMIT), "line": f["line"], "function": clip(f["function"], NAME_LIMIT),
             "source": clip(f["source"])}
            for f in frames[-FRAME_LIMIT:]
            if type(f) is dict and type(f.get("file")) is str and type(f.get("line")) is int
            and type(f.get("function")) is str and type(f.get("source")) is str]
    return checked


def _evaluate(site: dict, leaves: list, approx: bool) -> tuple[str, str, str, str]:
    """(status, returned, expected, error) of one report of `site`."""
    refused = [leaf["x"] for leaf in leaves if type(leaf) is dict and set(leaf) == {"x"}]
    if refused:
        return "failed", "", "", clip(str(refused[0]))
    if len(leaves) != site["leaves"]:
        return "failed", "", "", "the report of this test was malformed"
    namespace = {"__builtins__": {}, **SAFE_FUNCTIONS, **SAFE_MODULES}
    namespace.update((f"_v{i}", values.decode(leaf)) for i, leaf in enumerate(leaves))
    actual_leaf = site["actual"]
    returned = _shown(values.decode(leaves[actual_leaf])) if actual_leaf is not None else ""  # a copy: iterators
    try:
        if site["sides"]:
            actual, expected = (eval(code, namespace) for code in site["sides"])
            status = "passed" if same(actual, expected, approx) else "failed"
            return status, returned or _shown(actual), _shown(expected), ""
        return ("passed" if eval(site["whole"], namespace) else "failed"), returned, "", ""
    except Exception as error:  # the assert raised, as it would have in the sandbox
        message = str(error)
        return "error", returned, "", clip(f"{type(error).__name__}: {message}" if message else type(error).__name__)


def _compiled(sites: list) -> list[dict]:
    def code(source):
        return compile(source, "<assert>", "eval")

    return [{"leaves": s["leaves"], "actual": s["actual"], "whole": s["whole"] and code(s["whole"]),
             "sides": s["sides"] and [code(side) for side in s["sides"]]} for s in sites]


def judge(data: bytes, plan: dict, callees: list, emit, pending) -> None:
    """Runs in the judge process: reads the child's frames, judges each report, `emit`s
    the findings; `pending(site)` marks the assert about to be evaluated."""
    facts, reports = read_reports(data)
    emit({"e": facts})
    sites = _compiled(plan["sites"])
    approx = plan.get("approx", False)
    results: dict[int, str] = {}
    names: dict[str, str] = {}
    for report in reports:
        number, leaves = report.get("r"), report.get("v")
        if type(number) is not int or not 0 <= number < len(sites) or type(leaves) is not list:
            continue  # not a report of this test's asserts: forged or corrupt, never a pass
        if type(report.get("n")) is dict and 0 <= number < len(callees):
            names.update((k, clip(v, NAME_LIMIT)) for k, v in report["n"].items()
                         if k in callees[number] and type(v) is str)
        if results.get(number, "passed") != "passed":
            continue
        pending(number)
        try:
            status, returned, expected, error = _evaluate(sites[number], leaves, approx)
        except (ValueError, TypeError, KeyError, AttributeError, RecursionError, MemoryError, OverflowError):
            status, returned, expected, error = "failed", "", "", "the report of this test was malformed"
        pending(-1)
        if number not in results or status != "passed":
            results[number] = status
            emit({"o": [number, status, returned, expected, error]})
    emit({"n": names})
    emit({"done": True})


def assemble(lines: list[bytes], site_count: int, pending: int, death: str) -> dict:
    """The judged run, from the judge's lines (in the harness): the end facts, plus
    "tests" (one [status, returned, expected, error] per site), "first_failure" (the site
    that failed first in the order run, or None), "names", and "judge_error" when the
    judge ended without finishing, `death` saying how."""
    reply: dict = {"outcome": "no_reply"}
    tests = [["not_run", "", "", ""] for _ in range(site_count)]
    first_failure = None
    names: dict = {}
    done = False
    for line in lines:
        try:
            message = json.loads(line)
        except ValueError:
            break
        if "e" in message:
            reply = message["e"]
        elif "o" in message:
            number, status, *texts = message["o"]
            tests[number] = [status, *texts]
            if status != "passed" and first_failure is None:
                first_failure = number
        elif "n" in message:
            names = message["n"]
        elif message.get("done"):
            done = True
    if not done:
        if 0 <= pending < site_count:
            tests[pending] = ["error", "", "", f"JudgeLimit: its evaluation {death}"]
            if first_failure is None:
                first_failure = pending
        reply["judge_error"] = death
    reply.update(tests=tests, first_failure=first_failure, names=names)
    return reply
