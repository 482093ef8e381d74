"""The judge's link to the program's process: the pipes, and the stand-ins the test sees
for what the program defines. Standard library only.

`Channel` sends the judge's requests and reads the program's answers (wire.py frames);
`Remote` and `RemoteClass` stand for a function or a class the program defines, `Handle`
for an object it made and keeps. Every use of them is a request through the judge.
"""

from __future__ import annotations

import sys

import wire
from findings import checked_facts

ANSWER_LIMIT = 16 * 1024 * 1024  # bytes of one answer of the program's


class ProgramEnded(BaseException):
    """The program's process stopped (timeout, memory, exit, killed): the test stops too."""


class Refused(BaseException):
    """A call's answer was not builtin data: that assert fails, saying why."""

    def __init__(self, call: str, why: str) -> None:
        super().__init__(why)
        self.call, self.why = call, why


class Channel:
    """The judge's end of the program's pipes."""

    def __init__(self, calls_fd: int, answers_fd: int) -> None:
        self.calls_fd = calls_fd
        self._answers = wire.Reader(answers_fd, ANSWER_LIMIT)
        self.ended: dict | None = None

    def request(self, message: dict) -> dict:
        self.send(message)
        return self.receive()

    def send(self, message: dict) -> None:
        if self.ended is not None:
            raise ProgramEnded()
        try:
            wire.send(self.calls_fd, message)
        except OSError:
            self.ended = {"outcome": "no_reply"}
            raise ProgramEnded() from None

    def receive(self) -> dict:
        if self.ended is not None:
            raise ProgramEnded()
        try:
            reply = self._answers.receive()
        except (OSError, wire.Closed):
            self.ended = {"outcome": "no_reply"}
            raise ProgramEnded() from None
        if type(reply) is not dict:
            self.ended = {"outcome": "no_reply"}
            raise ProgramEnded()
        if "end" in reply:
            self.ended = checked_facts(reply["end"])
            raise ProgramEnded()
        return reply


class Remote:
    """A function the program defines, as the test sees it."""

    __slots__ = ("_judge", "_name", "_aliases_seen")

    def __init__(self, judge, name: str) -> None:
        self._judge, self._name, self._aliases_seen = judge, name, False

    def __call__(self, *args, **kwargs):
        if not self._aliases_seen:
            self._aliases_seen = True
            self._judge.learn_aliases(self, sys._getframe(1))
        return self._judge.call(self._name, self._name, args, kwargs)

    def __repr__(self) -> str:
        return f"<function {self._name}>"


class RemoteClass(Remote):
    """A class the program defines: calling it gives a handle on the object made."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<class {self._name}>"


class Handle:
    """An object the program made and keeps: its attributes and methods are requests to
    the program's process; it is never a value a verdict rests on (no ==, no truth)."""

    __slots__ = ("_judge", "_id", "_type")

    def __init__(self, judge, handle: int, type_name: str) -> None:
        object.__setattr__(self, "_judge", judge)
        object.__setattr__(self, "_id", handle)
        object.__setattr__(self, "_type", type_name)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._judge.attribute(self, name)

    def __setattr__(self, name: str, value) -> None:
        self._judge.attribute(self, name, (value,))

    def __bool__(self) -> bool:
        raise TypeError(f"an object of type {self._type} the program made has no truth value here")

    def __repr__(self) -> str:
        return f"<{self._type} object>"
