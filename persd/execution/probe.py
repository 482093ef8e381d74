"""Run a trusted reference program on untrusted inputs in the sandbox and read the results.

    from persd.execution.probe import probe_calls
    outcome = probe_calls(executor, reference_code, ["f(1)", "f([])"], call_timeout_s=1.0)
    outcome.values       # {0: "2"}: call index -> repr of the result, a Python literal
    outcome.failures     # {1: "raised IndexError"}: call index -> why it gave no value
    outcome.reference_error   # the sandbox's feedback when the program itself fails, else None

All calls run in one sandboxed program: the reference, then a driver (appended to the
program, so it runs in the program's own process; the test is empty) that evaluates each
call with its own CPU budget (a virtual-time timer), its prints swallowed, and writes one
line per call: the repr if it reads back (`ast.literal_eval`) as an equal value, else why
not. The sandbox returns only the tail of the output (~1000 characters), so the driver
stops once its lines fill a budget and the next run starts where it stopped; a call that
kills the whole run (os._exit, a hang in C code, a sleep) is marked dead and the run
restarts after it. The calls must be plain call expressions checked by the caller
(`persd.testgen.parse_calls`); they are evaluated inside the sandbox only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from persd.execution import Executor

MAX_REPR = 300       # longer results make unreadable asserts; dropped as "long"
OUTPUT_BUDGET = 800  # bytes of result lines per run, under the sandbox's output tail
BEGIN, LINE, END = "@@persd-begin", "@@persd ", "@@persd-end "

_DRIVER = r'''
def _persd_probe(calls, start, budget, cpu_s, max_repr):
    import ast, contextlib, io, signal, sys
    out = sys.__stdout__ or sys.stdout

    class CallTimeout(BaseException):  # not an Exception: the reference cannot swallow it
        pass

    def alarm(signum, frame):
        raise CallTimeout()

    signal.signal(signal.SIGVTALRM, alarm)
    print(BEGIN, file=out, flush=True)
    used = 0
    for i in range(start, len(calls)):
        sink = io.StringIO()
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                signal.setitimer(signal.ITIMER_VIRTUAL, cpu_s)
                try:
                    value = eval(calls[i], globals())
                    text = repr(value)
                    try:
                        same = "\n" not in text and ast.literal_eval(text) == value
                    except Exception:
                        same = False
                finally:
                    signal.setitimer(signal.ITIMER_VIRTUAL, 0)
            if len(text) > max_repr:
                result = "long " + str(len(text))
            elif same is True:
                result = "ok " + text
            else:
                result = "unrepresentable " + type(value).__name__
        except CallTimeout:
            result = "timeout"
        except (Exception, SystemExit) as error:
            result = "raised " + type(error).__name__
        line = LINE + str(i) + " " + result
        size = len(line.encode("utf-8", "backslashreplace")) + 1
        if used + size > budget and i > start:
            print(END + str(i), file=out, flush=True)
            return
        print(line, file=out, flush=True)
        used += size
    print(END + str(len(calls)), file=out, flush=True)
'''


@dataclass
class ProbeOutcome:
    values: dict[int, str] = field(default_factory=dict)      # call index -> literal repr
    failures: dict[int, str] = field(default_factory=dict)    # call index -> reason
    reference_error: str | None = None                        # the program itself fails
    runs: int = 0


def driver_source(calls: list[str], start: int, call_timeout_s: float) -> str:
    """The source appended to the reference program that probes calls[start:]."""
    return (f"BEGIN, LINE, END = {BEGIN!r}, {LINE!r}, {END!r}\n{_DRIVER}\n"
            f"_persd_probe({calls!r}, {start}, {OUTPUT_BUDGET}, {call_timeout_s!r}, {MAX_REPR})\n")


def probe_calls(executor: Executor, code: str, calls: list[str],
                call_timeout_s: float = 1.0) -> ProbeOutcome:
    """Evaluate each call after `code` in the sandbox; see the module docstring."""
    outcome = ProbeOutcome()
    start = 0
    while start < len(calls):
        result = executor.run(f"{code}\n\n{driver_source(calls, start, call_timeout_s)}", "")
        outcome.runs += 1
        begun, lines, end = _parse(result.output)
        if not begun and start == 0 and not result.passed:
            outcome.reference_error = result.feedback or result.status
            return outcome
        for i, text in lines.items():
            if i >= start:
                kind, _, rest = text.partition(" ")
                if kind == "ok":
                    outcome.values[i] = rest
                else:
                    outcome.failures[i] = kind
        if end is not None and end > start:
            start = end
        else:  # the run died inside call `dead` (or its output was lost): skip that call
            dead = max([i + 1 for i in lines if i >= start], default=start)
            if dead < len(calls):
                outcome.failures[dead] = f"died ({result.status})"
            start = dead + 1
    return outcome


def _parse(output: str) -> tuple[bool, dict[int, str], int | None]:
    begun, lines, end = False, {}, None
    for line in output.splitlines():
        if line == BEGIN:
            begun, lines, end = True, {}, None  # a later begin marker wins
        elif line.startswith(END) and line[len(END):].isdigit():
            end = int(line[len(END):])
        elif line.startswith(LINE):
            index, _, text = line[len(LINE):].partition(" ")
            if index.isdigit() and text:
                lines[int(index)] = text
    return begun, lines, end
