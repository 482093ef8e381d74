"""Text cut to size: a string clipped to a limit, the end of a child process's log."""

from __future__ import annotations

from pathlib import Path

TRUNCATED = "\n... (truncated)"


def clip(text: str, limit: int, marker: str = TRUNCATED) -> str:
    """`text` cut to at most `limit` characters, ending with `marker` when it was cut."""
    return text if len(text) <= limit else text[: limit - len(marker)].rstrip() + marker


def log_tail(path: str | Path | None, size: int = 6000) -> str:
    """The last `size` bytes of a log file as text ("" when there is none), starting at a
    whole line; progress bars that redraw with carriage returns show their last state."""
    log = Path(path) if path else None
    if log is None or not log.is_file():
        return ""
    with log.open("rb") as file:
        file.seek(max(0, log.stat().st_size - size))
        text = file.read().decode("utf-8", errors="replace")
    if log.stat().st_size > size:
        text = text.split("\n", 1)[-1]  # the first line was cut
    return "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n"))
