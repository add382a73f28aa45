"""Located problems of a scenario input: what `ScenarioError` carries, whoever found them.

The YAML loader, the engine's checks of a scenario built in code, the trajectory reader and the
OpenSCENARIO import all report `ScenarioIssue`s; they live here, not in the loader, so that none of
them has to import the loader (and what it imports) to say where a problem is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

KeyPath = tuple[Union[str, int], ...]

MAX_ISSUES = 100  # issues reported per file (the rest are counted): bounds the memory of a bad file


@dataclass(frozen=True)
class ScenarioIssue:
    """One located problem in a scenario file. `line` and `column` are 1-based."""

    file: str
    line: int | None
    column: int | None
    key_path: str  # e.g. "agents[0].lane"; "" for the file as a whole
    message: str
    hint: str = ""

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        text = ": ".join(p for p in (where, self.key_path, self.message) if p)
        return f"{text} -- {self.hint}" if self.hint else text


def cap_issues(issues: list[ScenarioIssue], filename: str, limit: int = MAX_ISSUES) -> list[ScenarioIssue]:
    """The first `limit` issues, plus one that counts the rest (a file full of errors stays cheap)."""
    if len(issues) <= limit:
        return issues
    rest = len(issues) - limit
    return issues[:limit] + [ScenarioIssue(filename, None, None, "", f"... and {rest} more issue(s)",
                                           "fix the ones above first")]


def format_key_path(path: KeyPath) -> str:
    """("agents", 0, "lane") -> "agents[0].lane"."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
