"""The cells and Markdown tables of report.md and of `drivesim eval`'s output, shared by every section.

    python -c "from drivesim.eval.tables import markdown_table; print(markdown_table(['a', 'b'], [[1, 'x|y']]))"
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = ["markdown_table", "format_number", "verdict"]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table; a "|" inside a cell becomes "/" so it cannot split the row."""
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


def format_number(value: float | None, digits: int = 3) -> str:
    """`value` to `digits` decimals, or a dash where there is nothing to measure."""
    return "—" if value is None else f"{value:.{digits}f}"


def verdict(ok: bool, untrained_note: str | None) -> str:
    """pass / FAIL against a target, or "n/a: why" when the bundle's stages are untrained (a verdict on
    random weights would mean nothing)."""
    return f"n/a: {untrained_note}" if untrained_note else ("pass" if ok else "FAIL")
