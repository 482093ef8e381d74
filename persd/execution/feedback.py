"""Turns the harness's facts about a run into a result and the feedback text.

The same text goes to the student (multi-step repair) and to the teacher (refinement):
the failing assert with the value the function actually returned; for an exception, its
type, message and the traceback lines of the program's own code; for a timeout, the line
it was stuck on. Capped in size.
"""

from __future__ import annotations

import signal

from persd.execution.asserts import Plan
from persd.execution.result import ExceptionInfo, ExecutionResult, Frame, TestOutcome
from persd.execution.verdicts import Judged, judge
from persd.text import clip as clip_text

FEEDBACK_LIMIT = 2000


def clip(text: str, limit: int = FEEDBACK_LIMIT) -> str:
    """Feedback cut to at most `limit` characters, saying so at the end when it was cut."""
    return clip_text(text, limit)


def _traceback(frames: list[dict]) -> list[str]:
    lines = []
    for frame in frames:
        lines.append(f'  File "{frame["file"]}", line {frame["line"]}, in {frame["function"]}')
        if frame["source"]:
            lines.append(f"    {frame['source']}")
    return lines


def _stuck_at(frames: list[dict]) -> str:
    program = [frame for frame in frames if frame["file"] == "program.py"]
    if program:
        frame = program[-1]
        return f" while running line {frame['line']} in {frame['function']}: {frame['source']}"
    return ""


def _running_test(frames: list[dict]) -> str:
    tests = [frame for frame in frames if frame["file"] == "test.py"]
    return f"\nThe test being run: {tests[-1]['source']}" if tests else ""


def _assertion(judged: Judged) -> tuple[str, str, str]:
    """(status, error_type, text) of the first assert that did not hold."""
    failure = judged.first_failure
    lines = [f"Test failed: {failure.source}"]
    call = judged.first_call or "the value"
    if failure.status == "error":
        status, error_type = "error", failure.error.split(":", 1)[0]
        lines.append(f"  evaluating it raised {failure.error}")
    elif failure.error:  # a value that is not builtin data
        status, error_type = "failed", "NonBuiltinValue"
        lines.append(f"  {call} {failure.error}")
    else:
        status, error_type = "failed", "AssertionError"
        if failure.returned and judged.first_call:
            lines.append(f"  {call} returned {failure.returned}")
    passed = sum(o.status == "passed" for o in judged.outcomes)
    if passed:
        lines.append(f"({passed} of {len(judged.outcomes)} tests passed)")
    return status, error_type, "\n".join(lines)


def _unseen(judged: Judged, reply: dict) -> tuple[str, str, str]:
    missing = [o.source for o in judged.outcomes if o.status == "not_run"]
    why = " (it sent more reports than the harness keeps)" if reply.get("reports_cut") else ""
    text = "The program ended without the harness seeing every test run" + why + ": " + "; ".join(missing[:3])
    return "killed", "TestsNotSeen", text


def _exception(reply: dict) -> tuple[str, str]:
    frames = reply.get("frames", [])
    lines = ["Traceback (most recent call last):", *_traceback(frames)] if frames else []
    message = reply.get("exc_message", "")
    lines.append(f"{reply['exc_type']}: {message}" if message else reply["exc_type"])
    return "error", "\n".join(lines)


def _signal_name(exit_code: int) -> str:
    try:
        return signal.Signals(-exit_code).name
    except ValueError:
        return f"signal {-exit_code}"


def _no_reply(reply: dict) -> tuple[str, str]:
    code = reply.get("exit_code")
    if code is None:
        return "killed", "The program ended before its tests completed."
    if code < 0:
        if -code == signal.SIGXCPU:
            return "timeout", "Timed out: the program used up its CPU time limit."
        return "killed", f"The program was killed by {_signal_name(code)} before its tests completed."
    return "killed", f"The program exited (exit code {code}) before its tests completed."


def describe(reply: dict, limits: dict, judged: Judged) -> tuple[str, str, str]:
    """(status, error_type, feedback) for one harness reply and its judged asserts.

    A failed assert decides, whatever happened after it; a pass needs the run to have
    completed and every assert to have been seen holding."""
    if judged.first_failure is not None:
        return _assertion(judged)
    if reply.get("judge_error"):
        return "error", "JudgeLimit", f"Judging the test's asserts {reply['judge_error']}; the run does not count as passed."
    outcome = reply["outcome"]
    if outcome == "completed":
        return ("passed", "", "") if judged.all_seen else _unseen(judged, reply)
    if outcome == "exception":
        status, text = _exception(reply)
        return status, reply["exc_type"], text
    if outcome in ("timeout", "hard_timeout"):
        frames = reply.get("frames", [])
        text = f"Timed out after {limits['cpu_s']:g} s{_stuck_at(frames)}{_running_test(frames)}"
        return "timeout", "Timeout", text
    if outcome == "memory":
        frames = reply.get("frames", [])
        text = f"MemoryError: the program exceeded the {limits['memory_mb']} MB memory limit{_stuck_at(frames)}"
        return "memory", "MemoryError", text
    if outcome == "output_limit":
        return "killed", "OutputLimitExceeded", f"The program printed more than {limits['output_bytes'] // 1024} KiB of output and was stopped."
    if outcome == "exit":
        where = "before its tests ran" if reply.get("stage") == "program" else "before its tests completed"
        return "error", "SystemExit", f"The program called exit({reply.get('exc_message', '')}) {where}."
    if outcome == "refused":  # a value that is not builtin data, outside any assert
        call = reply.get("call") or "the program"
        return "failed", "NonBuiltinValue", f"{call} {reply.get('exc_message', '')}".strip()
    if outcome == "sandbox_lost":
        return "killed", "Killed", ("The program killed its sandbox (on two fresh sandboxes in a row) or stopped it "
                                    "answering; its tests did not complete.")
    if outcome == "bad_test":
        return "error", "TestSyntaxError", f"The test does not parse: {reply['exc_message']}"
    status, text = _no_reply(reply)
    return status, ("Timeout" if status == "timeout" else "Killed"), text


def _frames_of(reply: dict) -> tuple[Frame, ...]:
    return tuple(Frame(str(f["file"]), int(f["line"]), str(f["function"]), str(f["source"] or ""))
                 for f in reply.get("frames", []))


def _outcomes(reply: dict, status: str, error_type: str, judged: Judged) -> tuple[TestOutcome, ...]:
    """Every assert's outcome; the one a run stopped inside gets the run's status."""
    outcomes = list(judged.outcomes)
    running = [f for f in _frames_of(reply) if f.file == "test.py"]
    if running and status not in ("passed", "failed") and judged.first_failure is None:
        line = running[-1].line
        inside = [i for i, site in enumerate(judged.sites) if site.line <= line <= site.end_line]
        if inside and outcomes[inside[-1]].status == "not_run":
            message = reply.get("exc_message", "")
            error = f"{error_type}: {message}" if status == "error" and message else ""
            outcomes[inside[-1]] = TestOutcome(outcomes[inside[-1]].source, status, error=error)
    return tuple(outcomes)


def _exception_of(reply: dict, error_type: str) -> ExceptionInfo | None:
    if reply["outcome"] in ("completed", "refused") or error_type in ("AssertionError", "NonBuiltinValue", "TestsNotSeen",
                                                         "JudgeLimit"):
        return None
    omitted = reply.get("frames_dropped", 0)
    return ExceptionInfo(error_type, reply.get("exc_message", ""), _frames_of(reply),
                         omitted if type(omitted) is int else 0)


def to_result(reply: dict, limits: dict, isolation: str, plan: Plan) -> ExecutionResult:
    judged = judge(plan, reply)
    for frame in reply.get("frames") or ():  # the sandbox ran the rewritten test: show the test as written
        if frame.get("file") == "test.py" and 0 < frame.get("line", 0) <= len(plan.test_lines):
            frame["source"] = plan.test_lines[frame["line"] - 1].strip()
    status, error_type, text = describe(reply, limits, judged)
    failure = judged.first_failure
    return ExecutionResult(
        status=status,
        feedback=clip(text),
        duration_s=round(float(reply.get("duration_s", 0.0)), 4),
        tests_passed=sum(o.status == "passed" for o in judged.outcomes),
        tests_total=len(judged.outcomes),
        error_type=error_type,
        failed_test=failure.source if failure else "",
        actual=failure.returned if failure else "",
        output=reply.get("output_tail", "")[-1000:],
        isolation=isolation,
        test_outcomes=_outcomes(reply, status, error_type, judged),
        exception=_exception_of(reply, error_type),
    )


def rejected(message: str, error_type: str = "InvalidInput") -> ExecutionResult:
    """A result for input that was never run (not UTF-8, too large...)."""
    return ExecutionResult(status="error", feedback=message, duration_s=0.0, error_type=error_type)
