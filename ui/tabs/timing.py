"""Elapsed time, rate and ETA of long work, as one line for a status message.

    timing(120.0, done=15, total=30, unit="steps")   # "2m 00s elapsed · 0.12 steps/s · about 2m 00s left"
    timing(8.0, done=0, total=12, unit="samples")    # "8s elapsed · no samples scored yet"
"""

from __future__ import annotations


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def timing(elapsed_s: float, done: int, total: int | None, unit: str) -> str:
    """What the work has taken, how fast it goes and (with a total) how long is left."""
    parts = [f"{duration(elapsed_s)} elapsed"]
    if done <= 0 or elapsed_s <= 0:
        return " · ".join([*parts, f"no {unit} done yet"])
    rate = done / elapsed_s
    parts.append(f"{rate:.2f} {unit}/s" if rate < 10 else f"{rate:.0f} {unit}/s")
    if total and total > done:
        parts.append(f"about {duration((total - done) / rate)} left")
    return " · ".join(parts)
