"""The program's side: runs one program and answers the judge's calls.

The program's process (spawner.py starts it, then `serve`) execs the program, reports
the names it defined, then answers calls until the judge hangs up: each call carries only its arguments (builtin
copies, objects of the task's own classes as their attributes), each answer is a strict
builtin copy of the value (values.encode), or the exception it raised. It never sees the
test. Standard library only.

Messages (wire.py frames), judge -> program: {"code", "classes"} first, then
{"call": target, "a": [args], "k": {kwargs}}, {"calls": [call, ...]} (answered one by
one), {"get": [names]} or {"attr": [handle, name]} (with "v": a value, to set it);
target is a name, or ["h", handle, method] for a method of an object the program made.
Program -> judge: {"names": {name: kind}}, {"ok": value}, {"h": handle, "type": name},
{"method": true}, {"raise": facts}, {"refused": why}, and {"end": facts} when it stops
(timeout, memory, exit...).
"""

from __future__ import annotations

import builtins
import sys
import types

import values
import wire

PROGRAM_FILE = "program.py"
TEXT_LIMIT = 300  # characters kept of one message, as LiveCodeBench does
MESSAGE_LIMIT = 64 * 1024 * 1024
ANSWER_LIMIT = 15 * 1024 * 1024  # under what the judge reads of one answer (link.ANSWER_LIMIT)
_name_of = type.__dict__["__name__"].__get__
_instance_dict = object.__getattribute__


class Timeout(BaseException):
    """Raised by the soft timers; a BaseException so `except Exception` cannot swallow it."""


class Stop(Exception):
    """The program's process must end with these facts."""

    def __init__(self, facts: dict) -> None:
        super().__init__(facts.get("outcome"))
        self.facts = facts


def _clip(text: str, limit: int = TEXT_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def frames(tb, source_lines: list[str]) -> list[dict]:
    """The traceback frames of the program's own code, innermost last (all of them: the
    judge keeps the innermost FRAME_LIMIT and counts the rest)."""
    found = []
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == PROGRAM_FILE:
            line = tb.tb_lineno
            text = source_lines[line - 1].strip() if 0 < line <= len(source_lines) else ""
            found.append({"file": PROGRAM_FILE, "line": line, "function": code.co_name, "source": _clip(text)})
        tb = tb.tb_next
    return found


def _safe_str(error: BaseException) -> str:
    try:
        return _clip(str(error))
    except BaseException:
        return ""


def ending(error: BaseException, lines: list[str]) -> dict | None:
    """The facts that end the run for `error`, or None when the test may catch it."""
    if isinstance(error, Timeout):
        return {"outcome": "timeout", "frames": frames(error.__traceback__, lines)}
    if isinstance(error, MemoryError):
        return {"outcome": "memory", "frames": frames(error.__traceback__, lines)}
    if isinstance(error, OSError) and error.errno == 27:  # EFBIG: RLIMIT_FSIZE on the output
        return {"outcome": "output_limit"}
    if isinstance(error, SystemExit):
        return {"outcome": "exit", "exc_message": _clip(repr(error.code) if not isinstance(error.code, (int, type(None))) else str(error.code))}
    return None


def raised(error: BaseException, lines: list[str]) -> dict:
    cls = type(error)
    return {"type": _clip(_name_of(cls), 100), "message": _safe_str(error),
            "builtin": getattr(builtins, _name_of(cls), None) is cls,
            "frames": frames(error.__traceback__, lines)}


class Program:
    """One program's module namespace and the objects it handed out."""

    def __init__(self, code: str, classes: list[str]) -> None:
        self.lines = code.splitlines()
        self.code = code
        self.classes = set(classes)
        main = types.ModuleType("__main__")  # what `python program.py` would give it
        main.__builtins__ = builtins
        sys.modules["__main__"] = main
        self.namespace: dict = main.__dict__
        self.handles: dict[int, object] = {}
        self._placeholders: dict[str, type] = {}

    def start(self) -> dict:
        exec(compile(self.code, PROGRAM_FILE, "exec"), self.namespace)
        return {"names": self.kinds()}

    def kinds(self) -> dict[str, str]:
        kinds = {}
        for name, value in list(self.namespace.items())[:10_000]:
            if type(name) is not str or name.startswith("__"):
                continue
            if type(value) is type(sys):
                kinds[name] = "m:" + _clip(str(getattr(value, "__name__", "")), 200)
            elif isinstance(value, type):
                kinds[name] = "c"
            elif callable(value):
                kinds[name] = "f"
            else:
                kinds[name] = "v"
        return kinds

    # ---- values in and out

    def _class_for(self, name: str) -> type:
        found = self.namespace.get(name)
        if isinstance(found, type):
            return found
        if name not in self._placeholders:
            self._placeholders[name] = type(name, (), {})
        return self._placeholders[name]

    def _decode_hook(self, tag: str, body):
        if tag == "fn":
            return self.namespace[body]
        if tag == "h":
            return self.handles[body]
        name, attributes = body
        attributes = values.decode(attributes, self._decode_hook)
        try:
            made = object.__new__(self._class_for(name))
            _instance_dict(made, "__dict__").update(attributes)
        except (TypeError, AttributeError):
            made = object.__new__(self._placeholders.setdefault(name, type(name, (), {})))
            made.__dict__.update(attributes)
        return made

    def _encode_hook(self, value, depth: int, budget: list):
        cls = type(value)
        if _name_of(cls) in self.classes:
            attributes = _instance_dict(value, "__dict__")
            if type(attributes) is dict:
                return {"o": [_name_of(cls), values.encode(dict(attributes), self._encode_hook, depth + 1, budget)]}
        return None

    def decode(self, data):
        return values.decode(data, self._decode_hook)

    def answer(self, value, made_by_class: bool) -> dict:
        try:
            return {"ok": values.encode(value, self._encode_hook)}
        except values.NotBuiltin as why:
            if made_by_class and not isinstance(value, type):
                handle = len(self.handles) + 1
                self.handles[handle] = value
                return {"h": handle, "type": _clip(_name_of(type(value)), 100)}
            return {"refused": _clip(str(why))}

    # ---- calls

    def call(self, message: dict) -> dict:
        target = message.get("call")
        if type(target) is list and len(target) == 3 and target[0] == "h":
            function = getattr(self.handles[target[1]], target[2])
        else:
            function = self.namespace[target]
        args = [self.decode(a) for a in message.get("a", ())]
        kwargs = {k: self.decode(v) for k, v in message.get("k", {}).items()}
        try:
            value = function(*args, **kwargs)
        except BaseException as error:
            facts = ending(error, self.lines)
            if facts is not None:
                raise Stop(facts) from None
            return {"raise": raised(error, self.lines)}
        return self.answer(value, isinstance(function, type))

    def attribute(self, message: dict) -> dict:
        """Reads (or, with "v", sets) an attribute of an object the program made."""
        handle, name = message["attr"]
        target = self.handles[handle]
        if "v" in message:
            setattr(target, name, self.decode(message["v"]))
            return {"ok": None}
        try:
            value = getattr(target, name)
        except BaseException as error:
            facts = ending(error, self.lines)
            if facts is not None:
                raise Stop(facts) from None
            return {"raise": raised(error, self.lines)}
        return {"method": True} if callable(value) and not isinstance(value, type) else self.answer(value, True)

    def get(self, names: list) -> dict:
        answers = {}
        for name in names:
            if type(name) is str and name in self.namespace:
                answers[name] = self.answer(self.namespace[name], False)
        return {"values": answers}


def _too_large(size: int) -> dict:
    return {"refused": f"returned a value of {size / 1e6:.0f} MB as data, too large to check"}


def _answer(program: Program, message) -> dict:
    """The answer to one call or fetch; raises Stop when the program's process must end."""
    try:
        if "get" in message:
            return program.get(message["get"])
        return program.attribute(message) if "attr" in message else program.call(message)
    except Stop:
        raise
    except BaseException as error:  # a malformed call, or the timer between calls
        facts = ending(error, program.lines)
        if facts is not None:
            raise Stop(facts) from None
        return {"refused": _clip(f"the call could not be made: {type(error).__name__}: {_safe_str(error)}")}


def serve(calls_fd: int, answers_fd: int) -> None:
    """Runs the program the judge sends, then answers its calls until it hangs up."""
    calls = wire.Reader(calls_fd, MESSAGE_LIMIT)
    try:
        setup = calls.receive()
    except wire.Closed:
        return
    program = Program(setup["code"], setup.get("classes") or [])
    try:
        try:
            wire.send(answers_fd, program.start())
        except Stop:
            raise
        except SyntaxError as error:
            line = error.lineno or 0
            text = program.lines[line - 1].strip() if 0 < line <= len(program.lines) else ""
            raise Stop({"outcome": "exception", "stage": "program", "exc_type": type(error).__name__,
                        "exc_message": _clip(error.msg or ""),
                        "frames": [{"file": PROGRAM_FILE, "line": line, "function": "<module>", "source": _clip(text)}]})
        except BaseException as error:
            facts = ending(error, program.lines)
            if facts is None:
                facts = {"outcome": "exception", "exc_type": raised(error, program.lines)["type"],
                         "exc_message": _safe_str(error), "frames": frames(error.__traceback__, program.lines)}
            facts["stage"] = "program"
            raise Stop(facts) from None
        while True:
            try:
                message = calls.receive()
            except wire.Closed:
                return
            batch = message.get("calls") if type(message) is dict else None
            for one in batch if type(batch) is list else [message]:
                wire.send(answers_fd, _answer(program, one), ANSWER_LIMIT, _too_large)
    except Stop as stop:
        facts = stop.facts
        facts.setdefault("stage", "test")
        try:
            wire.send(answers_fd, {"end": facts})
        except BaseException:
            pass
