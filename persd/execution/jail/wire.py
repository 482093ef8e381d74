"""Frames over pipes: an 8-byte big-endian length, then that many bytes of JSON. Standard library only."""

from __future__ import annotations

import json
import os
import struct

_pack, _unpack, _dumps, _loads = struct.pack, struct.unpack, json.dumps, json.loads
_write, _read = os.write, os.read


class Closed(Exception):
    """The other end is gone, or sent something that is not a frame."""


def send(fd: int, message) -> None:
    data = _dumps(message).encode()
    data = memoryview(_pack(">Q", len(data)) + data)
    while data:
        data = data[_write(fd, data):]


def _exactly(fd: int, size: int) -> bytes:
    parts, left = [], size
    while left:
        chunk = _read(fd, min(left, 1 << 20))
        if not chunk:
            raise Closed("end of file")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def receive(fd: int, limit: int):
    """The next message; raises Closed at end of file, on a frame over `limit` bytes, or on bad JSON."""
    size = _unpack(">Q", _exactly(fd, 8))[0]
    if size > limit:
        raise Closed(f"a message of {size} bytes")
    try:
        return _loads(_exactly(fd, size))
    except (ValueError, RecursionError) as error:
        raise Closed(f"not a message: {error}") from None
