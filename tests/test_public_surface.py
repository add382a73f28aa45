"""The public surface cannot move silently: every command and flag of the recorded surface
(`tests/data/public_surface.json`, written from the command line before the package moves) is still
there with its arguments' shape, choices and defaults; the names users import still import; every
`from drivesim... import ...` shown in README, docs and examples resolves.

    python -m pytest tests/test_public_surface.py -q

New commands and flags may be added; to drop or change one on purpose, edit the JSON with the change.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import tomllib
from pathlib import Path

import pytest

from drivesim.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
RECORDED = json.loads((REPO / "tests" / "data" / "public_surface.json").read_text())["commands"]


def _flags(parser: argparse.ArgumentParser) -> dict[str, dict]:
    out = {}
    for a in parser._actions:
        if isinstance(a, argparse._HelpAction):
            continue
        if isinstance(a, argparse._SubParsersAction):
            out["<subcommands>"] = {"choices": sorted(a.choices)}
            continue
        out[" ".join(a.option_strings) or a.dest] = {
            "nargs": repr(a.nargs), "choices": sorted(map(str, a.choices)) if a.choices else None,
            "default": repr(a.default), "required": a.required}
    return out


def _surface() -> dict[str, dict]:
    commands = {}
    top = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in top.choices.items():
        commands[name] = _flags(parser)
        for inner in (a for a in parser._actions if isinstance(a, argparse._SubParsersAction)):
            for name2, parser2 in inner.choices.items():
                commands[f"{name} {name2}"] = _flags(parser2)
    return commands


def test_every_recorded_command_and_flag_is_unchanged():
    now = _surface()
    missing = sorted(set(RECORDED) - set(now))
    assert not missing, f"commands dropped: {missing}"
    for command, flags in RECORDED.items():
        for flag, shape in flags.items():
            assert flag in now[command], f"`drivesim {command}` lost {flag}"
            if flag == "<subcommands>":
                assert set(shape["choices"]) <= set(now[command][flag]["choices"]), command
            else:  # a new choice may be added (e.g. an export format); nothing recorded may change or go
                current = dict(now[command][flag])
                if shape["choices"] is not None and current["choices"] is not None:
                    assert set(shape["choices"]) <= set(current["choices"]), f"`drivesim {command} {flag}` lost a choice"
                    current["choices"] = shape["choices"]
                assert current == shape, f"`drivesim {command} {flag}` changed"


@pytest.mark.parametrize("command", sorted(RECORDED))
def test_every_command_answers_help(command, capsys):
    from drivesim.cli import main

    with pytest.raises(SystemExit) as exit_:
        main([*command.split(), "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: drivesim " + command)
    for flag in RECORDED[command]:
        if flag.startswith("-"):
            assert flag.split()[-1] in out, f"{command} --help does not show {flag}"


def test_public_names_import():
    import drivesim

    assert drivesim.DriveSimPipeline.__name__ == "DriveSimPipeline"
    for method in ("from_pretrained", "__call__", "stream", "session", "set_progress_bar_config"):
        assert callable(getattr(drivesim.DriveSimPipeline, method)), method
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["drivesim"].partition(":")
    assert callable(getattr(importlib.import_module(module), function))


def _shown_imports() -> list[tuple[str, str, str]]:
    files = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "examples").rglob("*.py")),
             *sorted((REPO / "checkpoints").glob("*/README.md"))]
    found = []
    for path in files:
        for module, names in re.findall(r"^\s*from (drivesim[\w.]*) import ([\w, ]+)", path.read_text(), re.M):
            found += [(path.relative_to(REPO).as_posix(), module, n.strip()) for n in names.split(",") if n.strip()]
    return found


def test_imports_shown_in_docs_resolve():
    shown = _shown_imports()
    assert len(shown) > 20  # README, docs and examples show the Python API
    broken = [f"{where}: from {module} import {name}" for where, module, name in shown
              if not hasattr(importlib.import_module(module), name)]
    assert not broken, broken


def test_every_command_that_runs_the_networks_takes_precision():
    """--precision in the help of every command whose pixels come from the networks (its value is recorded
    in manifests and GetInfo: the same seed gives the same frames only at the same precision)."""
    now = _surface()
    for command in ("generate", "eval", "export", "serve", "bench"):
        assert "--precision" in now[command], command
        assert now[command]["--precision"]["default"] == "'auto'"
