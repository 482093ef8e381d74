"""Frames over pipes: an 8-byte big-endian length, then that many bytes of JSON. Standard library only."""

from __future__ import annotations

import json
import os
import struct

_pack, _unpack, _dumps, _loads = struct.pack, struct.unpack, json.dumps, json.loads
_write, _read = os.write, os.read


class Closed(Exception):
    """The other end is gone, or sent something that is not a frame."""


def send(fd: int, message, limit: int = 0, instead=None) -> None:
    """Sends `message`; one over `limit` bytes (when given) is replaced by `instead(size)`."""
    data = _dumps(message).encode()
    if limit and len(data) > limit:
        data = _dumps(instead(len(data))).encode()
    data = memoryview(_pack(">Q", len(data)) + data)
    while data:
        data = data[_write(fd, data):]


class Reader:
    """Reads frames from `fd` through a buffer: one read often brings several frames (the
    answers to a batch of calls), so each costs no system call of its own."""

    def __init__(self, fd: int, limit: int) -> None:
        self.fd, self.limit = fd, limit
        self._buffer = bytearray()

    def _fill(self, size: int) -> None:
        while len(self._buffer) < size:
            chunk = _read(self.fd, max(65536, size - len(self._buffer)))
            if not chunk:
                raise Closed("end of file")
            self._buffer += chunk

    def receive(self):
        """The next message; raises Closed at end of file, on a frame over the limit, or on bad JSON."""
        self._fill(8)
        size = _unpack(">Q", self._buffer[:8])[0]
        if size > self.limit:
            raise Closed(f"a message of {size} bytes")
        self._fill(8 + size)
        data = bytes(self._buffer[8: 8 + size])
        del self._buffer[: 8 + size]
        try:
            return _loads(data)
        except (ValueError, RecursionError) as error:
            raise Closed(f"not a message: {error}") from None
