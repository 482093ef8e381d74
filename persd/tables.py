"""Plain-text tables for the CLI's summaries: one printer for every command."""

from __future__ import annotations

from collections.abc import Sequence


def text_table(header: Sequence[str], rows: Sequence[Sequence[object]], *,
               align: str = "left") -> str:
    """`a | b` columns padded to their widest cell, a `-+-` rule under the header.
    `align` is "left" or "right" for every column."""
    cells = [[str(c) for c in header], *([str(c) for c in row] for row in rows)]
    count = max(len(row) for row in cells)
    cells = [row + [""] * (count - len(row)) for row in cells]
    widths = [max(len(row[i]) for row in cells) for i in range(count)]
    pad = str.rjust if align == "right" else str.ljust
    lines = [" | ".join(pad(c, w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)
