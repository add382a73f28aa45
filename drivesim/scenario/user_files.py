"""A user's input file opened or read with one rule: any `OSError` (not found, a directory, no permission, a
name too long for the file system, ...) becomes a `ScenarioError` naming the path, cut to a readable length.

The YAML loader, the trajectory reader and the OpenSCENARIO / OpenDRIVE reader open files through here.

    raw = read_user_file(path, MAX_SCENARIO_BYTES, "a scenario file", "pass a .yaml file")
    with open_user_file(path, "a trajectory file", "pass a .jsonl file", text=True) as f: ...
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import IO, Any, Union

from drivesim.errors import ScenarioError
from drivesim.scenario.issues import ScenarioIssue

PathLike = Union[str, "os.PathLike[str]"]
MAX_SHOWN_PATH_CHARS = 160  # a longer path is shown as its start, "...", its end


def shown_path(path: PathLike) -> str:
    """The path as errors show it: whole up to MAX_SHOWN_PATH_CHARS characters, else its start and end."""
    name = os.fspath(path)
    if len(name) <= MAX_SHOWN_PATH_CHARS:
        return name
    keep = MAX_SHOWN_PATH_CHARS // 2 - 10
    return f"{name[:keep]}...({len(name)} characters)...{name[-keep:]}"


def file_issue(path: PathLike, message: str, hint: str = "") -> ScenarioError:
    """A ScenarioError about a file as a whole, its path shown cut (`shown_path`)."""
    return ScenarioError([ScenarioIssue(shown_path(path), None, None, "", message, hint)])


def os_problem(err: OSError) -> str:
    """What an OSError from opening or reading a file means, in words."""
    if isinstance(err, FileNotFoundError):
        return "file not found"
    if isinstance(err, IsADirectoryError):
        return "is a directory, not a file"
    if isinstance(err, PermissionError):
        return "permission denied"
    if err.errno == errno.ENAMETOOLONG:
        return "the file name is too long for the file system"
    return f"cannot read the file: {err.strerror or err}"


def open_user_file(path: PathLike, what: str, hint: str, text: bool = False) -> IO[Any]:
    """The file opened for reading (binary, or UTF-8 text tolerating a byte-order mark, lines ending only
    at \\n or \\r\\n); a ScenarioError naming the path and saying why when it cannot be."""
    try:
        if Path(path).is_dir():
            raise file_issue(path, f"is a directory, not {what}", hint)
        if text:
            return open(path, encoding="utf-8-sig", newline="")
        return open(path, "rb")
    except OSError as err:
        raise file_issue(path, os_problem(err), "check the file's permissions" if isinstance(err, PermissionError)
                         else hint) from None


def read_user_file(path: PathLike, max_bytes: int, what: str, hint: str) -> bytes:
    """At most `max_bytes` of the file (more is an error naming the limit); errors as `open_user_file`.
    Reads one byte past the cap rather than trust `stat`: /dev/zero, a pipe or a file still growing has no
    size that limits what a whole read would pull into memory."""
    with open_user_file(path, what, hint) as f:
        try:
            raw = f.read(max_bytes + 1)
        except OSError as err:
            raise file_issue(path, os_problem(err), hint) from None
    if len(raw) > max_bytes:
        raise file_issue(path, f"file is larger than {max_bytes} bytes, the limit of {what}", hint)
    return raw


def is_directory(path: PathLike) -> bool:
    """Whether `path` is a directory; False for a path the system cannot even look at (too long, ...)."""
    try:
        return Path(path).is_dir()
    except OSError:
        return False
