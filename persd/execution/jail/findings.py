"""What the judge writes for the harness, and how the harness reads it. Standard library only.

The judge writes JSON lines, a failure at once (it must survive the judge dying on a
later assert) and the rest at the end of the run:

    {"o": [site, status, returned, expected, error, call]}   a site's outcome, when it changes
    {"n": {alias: real name}}     names the test gave the program's functions
    {"e": facts}                  how the run ended (outcome, stage, exc_type, frames...)
    {"done": true}                the run is judged (or "last": the judge then ends)

`assemble` (in the harness) turns them into the reply's verdict part.
"""

from __future__ import annotations

import json

TEXT_LIMIT = 300
FRAME_LIMIT = 50          # traceback frames kept (the innermost ones)
NAME_LIMIT = 100
STATUSES = ("passed", "failed", "error")
FINDINGS_LIMIT = 4 * 1024 * 1024  # bytes of findings the harness reads from one run
DONE, LAST = b'{"done": true}\n', b'{"done": "last"}\n'
_FACT_TEXTS = ("outcome", "stage", "exc_type", "exc_message")


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def shown(value, limit: int = TEXT_LIMIT) -> str:
    try:
        if type(value).__name__.endswith("iterator"):
            return f"an iterator over {clip(repr(list(value)), limit)}"
        return clip(repr(value), limit)
    except ValueError:  # an int past sys.get_int_max_str_digits
        return "<a value too large to show>"
    except Exception as error:
        return f"<a value whose repr raised {type(error).__name__}>"


def checked_facts(facts) -> dict:
    """The end facts the program's process wrote, as small, well-typed data."""
    if type(facts) is not dict:
        return {"outcome": "no_reply"}
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
        earlier = facts.get("frames_dropped") if type(facts.get("frames_dropped")) is int else 0
        checked["frames_dropped"] = max(0, len(frames) - FRAME_LIMIT) + max(0, earlier)  # the outermost ones
    return checked


def assemble(lines: list[bytes], site_count: int, pending: int, death: str) -> dict:
    """The judged run, from the judge's lines (in the harness): the end facts, plus
    "tests" (one [status, returned, expected, error, call] per site), "first_failure" (the
    site that failed first in the order run, or None), "names", and "judge_error" when the
    judge ended without finishing, `death` saying how."""
    reply: dict = {"outcome": "no_reply"}
    tests = [["not_run", "", "", "", ""] for _ in range(site_count)]
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
            if not 0 <= number < site_count:
                continue
            tests[number] = [status, *texts]
            if status != "passed" and first_failure is None:
                first_failure = number
        elif "n" in message:
            names = message["n"]
        elif "done" in message:
            done = True
    if not done:
        if 0 <= pending < site_count:
            tests[pending] = ["error", "", "", f"JudgeLimit: its evaluation {death}", ""]
            if first_failure is None:
                first_failure = pending
        reply["judge_error"] = death
    reply.update(tests=tests, first_failure=first_failure, names=names)
    return reply
