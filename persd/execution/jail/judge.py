"""The judge: runs the test itself, and asks the program's process only for calls. Standard library only.

The judge's process (judge_process.py) compiles the test with its asserts rewritten
(instrument.py) and, for each run, under its own uid where possible, without
capabilities, under RLIMIT_AS/RLIMIT_CPU and a wall-clock deadline:

1. runs the task's own code (its prompt: helpers such as HumanEval/32's `poly`, classes
   such as MBPP/601's `Pair`), leaving out the functions the program is to write (a
   header with only a docstring, `pass` or `...`);
2. sends the program's process its code and learns the names it defined;
3. runs the test in a namespace of its own: builtins, modules and the task's code are
   always the judge's own; a name the test uses that only the program defines becomes a
   proxy whose calls are requests carrying builtin copies of the arguments, answered by
   strict builtin copies (values.py); a class the program defines gives handles to its
   objects, whose methods are requests too; a plain value is fetched once, as a copy;
4. evaluates every assert, both sides, in its own process (`same` for `==`), goes on
   after a failing one, and writes its findings for the harness (findings.py).

The calls the test is certain to make first (prefetch.py) are sent in one message.
The program's process never receives the test, the plan or any expected value, and it
can neither signal nor trace the judge (another uid, not dumpable). Before each assert
the judge writes its number to a page shared with the harness, so when a test's own
expected side overruns the judge's limits (`9**9**9**9`), the harness knows which.
"""

from __future__ import annotations

import builtins
import collections
import importlib
import json
import os
import struct
import sys

import values
from findings import FRAME_LIMIT, NAME_LIMIT, checked_facts, clip, shown as _shown
from link import Channel, Handle, ProgramEnded, Refused, Remote, RemoteClass

_BUILTIN_NAMES = frozenset(dir(builtins))
# Modules the judge imports for a module the program imported under a name the test uses.
_STANDARD_MODULES = frozenset(sys.stdlib_module_names) - {"antigravity", "this", "idlelib", "tkinter", "turtle",
                                                          "turtledemo", "webbrowser", "pydoc"}
_ARGUMENT_LIMIT = 60


class Judge:
    def __init__(self, request: dict, channel: Channel, out_fd: int, page) -> None:
        self.request, self.channel, self.out_fd, self.page = request, channel, out_fd, page
        self.approx = bool(request.get("approx"))
        self.results: dict[int, str] = {}
        self.last_call: dict[int, tuple[str, object]] = {}
        self.stack: list[int] = []
        self.names: dict[str, str] = {}
        self.task_classes: dict[str, type] = {}
        self.remotes: dict[str, Remote] = {}
        self.prefetched: collections.deque = collections.deque()  # (target, args, kwargs) answered in order
        self._buffer: list[bytes] = []

    # ---- findings

    def emit(self, message: dict, flush: bool = False) -> None:
        if message:
            self._buffer.append((json.dumps(message) + "\n").encode())
        if flush:
            data = memoryview(b"".join(self._buffer))
            self._buffer.clear()
            while data:
                data = data[os.write(self.out_fd, data):]

    def record(self, site: int, status: str, returned: str = "", expected: str = "", error: str = "",
               call: str = "") -> None:
        if self.results.get(site, "passed") != "passed":
            return
        if site not in self.results or status != "passed":
            self.results[site] = status
            # A failure is written at once: it must survive the judge dying on a later assert.
            self.emit({"o": [site, status, returned, expected, clip(error), clip(call)]}, flush=status != "passed")

    def _enter(self, site: int) -> None:
        self.stack.append(site)
        struct.pack_into(">q", self.page, 0, site)

    def _leave(self) -> None:
        self.stack.pop()
        struct.pack_into(">q", self.page, 0, self.stack[-1] if self.stack else -1)

    # ---- the asserts (instrument.py rewrites `assert` into these)

    def _returned(self, site: int, fallback) -> tuple[str, str]:
        if site in self.last_call:
            label, message, data = self.last_call[site]
            call = self.call_text(label, message)
            try:
                return _shown(self._decode(data)), call
            except Exception:
                return "", call
        return _shown(fallback), ""

    def check_equal(self, site: int, actual, expected) -> None:
        self._evaluate(site, lambda: (actual(), expected()), equality=True)

    def check_holds(self, site: int, condition) -> None:
        self._evaluate(site, lambda: (condition(), None), equality=False)

    def _evaluate(self, site: int, sides, equality: bool) -> None:
        self._enter(site)
        self.last_call.pop(site, None)
        try:
            actual, expected = sides()
            held = values.same(actual, expected, self.approx) if equality else bool(actual)
        except Refused as refused:
            self.record(site, "failed", error=refused.why, call=refused.call)
            return
        except ProgramEnded:
            raise
        except Exception as error:
            if hasattr(error, "__program__"):
                raise  # the program raised: the test stops there, as it would have
            message = str(error)
            self.record(site, "error", error=f"{type(error).__name__}: {message}" if message else type(error).__name__,
                        call=self._returned(site, None)[1])
            return
        finally:
            self._leave()
        if held:
            if site not in self.results:  # the first time: what it returned, for the record
                returned, call = self._returned(site, actual) if equality or site in self.last_call else ("", "")
                self.record(site, "passed", returned, call=call)
            return
        returned, call = self._returned(site, actual)
        self.record(site, "failed", returned, _shown(expected) if equality else "", call=call)

    # ---- calls to the program

    def call(self, label: str, target, args: tuple, kwargs: dict):
        try:
            message = {"call": target, "a": [values.encode(a, self._encode_hook) for a in args],
                       "k": {str(k): values.encode(v, self._encode_hook) for k, v in kwargs.items()}}
        except values.NotBuiltin as why:
            raise TypeError(f"the test passes {label}() a value the program's process cannot receive: {why}") from None
        return self._reply(label, message, self._answer(message))

    def _reply(self, label: str, message: dict, reply: dict):
        site = self.stack[-1] if self.stack else -1
        if "ok" in reply:
            try:
                value = self._decode(reply["ok"])
            except Exception:
                raise Refused(self.call_text(label, message), "the program's answer could not be read") from None
            if site >= 0:
                self.last_call[site] = (label, message, reply["ok"])
            return value
        if "h" in reply and type(reply["h"]) is int:
            return Handle(self, reply["h"], clip(str(reply.get("type", "object")), NAME_LIMIT))
        if "raise" in reply and type(reply["raise"]) is dict:
            raise self._exception(reply["raise"], label)
        why = reply.get("refused", "the program's answer could not be read")
        raise Refused(self.call_text(label, message), clip(str(why)))

    def attribute(self, handle: Handle, name: str, value: tuple = ()):
        """Reads an attribute of an object the program made (or sets it to value[0])."""
        label = f"{handle._type}.{name}"
        message = {"attr": [handle._id, name]}
        if value:
            try:
                message["v"] = values.encode(value[0], self._encode_hook)
            except values.NotBuiltin as why:
                raise TypeError(f"the test sets {label} to a value the program's process cannot receive: {why}") from None
        reply = self._answer(message)
        if reply.get("method") is True:
            target = ["h", handle._id, name]
            return lambda *args, **kwargs: self.call(label, target, args, kwargs)
        return self._reply(label, message, reply)

    def _answer(self, message: dict) -> dict:
        """The program's answer: the next prefetched one when this is the call expected next."""
        if self.prefetched:
            if self.prefetched[0] == (message.get("call"), message.get("a"), message.get("k")):
                self.prefetched.popleft()
                return self.channel.receive()
            while self.prefetched:  # the test went another way: drop the answers not asked for
                self.prefetched.popleft()
                self.channel.receive()
        return self.channel.request(message)

    def prefetch(self, namespace: dict, calls: list) -> None:
        """Sends the calls the test is certain to make first (prefetch.py) in one message."""
        batch = []
        for name, args, kwargs in calls:
            if type(namespace.get(name)) is not Remote:
                break
            try:
                batch.append({"call": name, "a": [values.encode(a) for a in args],
                              "k": {k: values.encode(v) for k, v in kwargs.items()}})
            except values.NotBuiltin:
                break
        if len(batch) > 1:
            self.channel.send({"calls": batch})
            self.prefetched.extend((c["call"], c["a"], c["k"]) for c in batch)

    def call_text(self, label: str, message: dict) -> str:
        """`name(arguments)` as the feedback shows a call (`Type.name` for an attribute)."""
        if "call" not in message:
            return label
        try:
            shown = [_shown(self._decode(a), _ARGUMENT_LIMIT) for a in message["a"]]
            shown += [f"{k}={_shown(self._decode(v), _ARGUMENT_LIMIT)}" for k, v in message["k"].items()]
        except Exception:
            shown = ["..."]
        return f"{label}({', '.join(shown)})"

    def _exception(self, facts: dict, call: str) -> BaseException:
        name = facts.get("type") if type(facts.get("type")) is str else "Exception"
        message = facts.get("message") if type(facts.get("message")) is str else ""
        found = getattr(builtins, name, None)
        if not (facts.get("builtin") is True and isinstance(found, type) and issubclass(found, Exception)):
            found = type(name if name.isidentifier() else "Exception", (Exception,), {})
        try:
            error = found(message)
        except Exception:
            error = Exception(message)
        error.__program__ = {"frames": facts.get("frames"), "type": name, "message": message}
        return error

    def _encode_hook(self, value, depth: int, budget: list):
        if type(value) in (Remote, RemoteClass):
            return {"fn": value._name}
        if type(value) is Handle:
            return {"h": value._id}
        cls = type(value)
        if self.task_classes.get(cls.__name__) is cls:
            return {"o": [cls.__name__, values.encode(dict(vars(value)), self._encode_hook, depth + 1, budget)]}
        return None

    def _decode_hook(self, tag: str, body):
        if tag == "o":
            name, attributes = body
            made = object.__new__(self.task_classes[name])
            made.__dict__.update(self._decode(attributes))
            return made
        if tag == "fn":
            return self.remotes[body]
        raise ValueError(f"unexpected tag {tag!r}")

    def _decode(self, data):
        return values.decode(data, self._decode_hook)

    def learn_aliases(self, remote: Remote, frame) -> None:
        for scope in (frame.f_locals, frame.f_globals):
            for alias, value in list(scope.items()):
                if value is remote and alias != remote._name and type(alias) is str:
                    self.names[alias] = remote._name

    # ---- the run

    def own(self, context) -> dict:
        """The task's own definitions (its prompt run by the judge), less the stubs."""
        owned: dict = {}
        if context is not None:
            code, stubs = context
            task = {"__name__": "__main__", "__builtins__": builtins}
            try:
                exec(code, task)
            except Exception:
                pass  # a prompt that does not run alone gives the judge nothing of its own
            owned = {k: v for k, v in task.items() if k not in stubs and not k.startswith("__")}
        self.task_classes = {k: v for k, v in owned.items() if isinstance(v, type) and v.__name__ == k}
        return owned

    def namespace(self, owned: dict, stubs: frozenset, used: frozenset, kinds: dict) -> dict:
        """The test's globals: the judge's builtins and modules, the task's own code, and
        proxies for what only the program defines."""
        namespace = {"__name__": "__main__", "__builtins__": builtins, **owned}
        fetch = []
        for name in sorted(used):
            kind = kinds.get(name)
            if name in owned or type(kind) is not str or (name in _BUILTIN_NAMES and name not in stubs):
                continue
            if kind == "f":
                namespace[name] = self.remotes[name] = Remote(self, name)
            elif kind == "c":
                namespace[name] = self.remotes[name] = RemoteClass(self, name)
            elif kind.startswith("m:"):
                module = kind[2:]
                if module.split(".")[0] in _STANDARD_MODULES:  # the judge's own copy of the module
                    try:
                        namespace[name] = importlib.import_module(module)
                    except Exception:
                        pass
            else:
                fetch.append(name)
        if fetch:
            answers = self.channel.request({"get": fetch}).get("values")
            for name, answer in (answers.items() if type(answers) is dict else ()):
                if name in fetch and type(answer) is dict and "ok" in answer:
                    try:
                        namespace[name] = self._decode(answer["ok"])
                    except Exception:
                        pass
        namespace["__assert_equal__"] = self.check_equal
        namespace["__assert_holds__"] = self.check_holds
        return namespace

    def run(self, test, context, used: frozenset, calls: list) -> dict:
        """Runs one test (`context`: the task's compiled code and its stub names, or None);
        returns the facts of how it ended."""
        owned = self.own(context)
        try:
            reply = self.channel.request({"code": self.request["code"], "classes": sorted(self.task_classes)})
        except ProgramEnded:
            return dict(self.channel.ended or {"outcome": "no_reply"}, stage="program")
        kinds = reply.get("names") if type(reply.get("names")) is dict else {}
        stubs = context[1] if context is not None else frozenset()
        try:
            namespace = self.namespace(owned, stubs, used, kinds)
            self.prefetch(namespace, calls)
            exec(test, namespace)
        except ProgramEnded as ended:
            return self._ended(ended)
        except Refused as refused:
            return {"outcome": "refused", "stage": "test", "exc_message": clip(refused.why),
                    "call": clip(refused.call), "frames": _test_frames(refused.__traceback__, self.request)}
        except BaseException as error:
            return self._raised(error)
        return {"outcome": "completed", "stage": "test"}

    def _ended(self, ended: ProgramEnded) -> dict:
        facts = dict(self.channel.ended or {"outcome": "no_reply"})
        facts["frames"] = (_test_frames(ended.__traceback__, self.request) + facts.get("frames", []))[-FRAME_LIMIT:]
        facts.setdefault("stage", "test")
        return facts

    def _raised(self, error: BaseException) -> dict:
        frames = _test_frames(error.__traceback__, self.request)
        program = getattr(error, "__program__", None)
        if type(program) is dict:
            inner = checked_facts({"frames": program.get("frames") or []})
            return {"outcome": "exception", "stage": "test", "exc_type": clip(program["type"], NAME_LIMIT),
                    "exc_message": clip(program["message"]), "frames": frames + inner.get("frames", []),
                    "frames_dropped": inner.get("frames_dropped", 0)}
        message = ""
        try:
            message = str(error)
        except Exception:
            pass
        return {"outcome": "exception", "stage": "test", "exc_type": type(error).__name__,
                "exc_message": clip(message), "frames": frames}


def _test_frames(tb, request: dict) -> list[dict]:
    """The test's own frames (the host fills in each line's source from the test as written)."""
    found = []
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename == "test.py":
            line = tb.tb_lineno
            found.append({"file": "test.py", "line": line, "function": code.co_name, "source": ""})
        tb = tb.tb_next
    return [f for f in found if f["function"] != "<lambda>"][-FRAME_LIMIT:]


def judge(request: dict, prepared, calls_fd: int, answers_fd: int, out_fd: int, page) -> bytes:
    """One run, in the judge's process (its findings not yet written are returned) (`prepared`: the compiled test, the task's compiled
    code and stub names or None, the names the test uses, the calls it makes first)."""
    test, context, used, calls = prepared
    judge_ = Judge(request, Channel(calls_fd, answers_fd), out_fd, page)
    facts = judge_.run(test, context, used, calls)
    judge_.emit({"n": judge_.names})
    judge_.emit({"e": facts})
    return b"".join(judge_._buffer)
