"""The command line as a user meets it: help everywhere, and the default checkpoint found from any folder.

    python -m pytest tests/test_cli.py -q
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drivesim.models import checkpoint as ckpt
from drivesim.cli import build_parser, main
from drivesim.errors import BundleError

REPO = Path(__file__).resolve().parent.parent
SHORT = "name: short\nduration_s: 0.5\ncamera: {width: 128, height: 64}\n"  # 5 frames: fast on one core


def _commands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_no_command_prints_the_help(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: drivesim") and "Video Latent Diffusion" in out
    for name in _commands():
        assert name in out


def test_every_argument_has_help_and_every_command_examples():
    for name, command in _commands().items():
        for action in command._actions:
            assert action.help, f"drivesim {name}: {action.option_strings or action.dest} has no help text"
        assert command.description, name
        assert f"drivesim {name}" in command.format_help().split("example")[-1], f"drivesim {name} has no example"


def test_resolver_order_and_where_it_looked(tmp_path, monkeypatch):
    bundle = tmp_path / "mine"
    bundle.mkdir()
    (bundle / "config.yaml").write_text("name: x\n")
    monkeypatch.setenv(ckpt.ENV_VAR, str(bundle))
    assert ckpt.resolve_checkpoint("given") == Path("given")  # --checkpoint wins
    assert ckpt.resolve_checkpoint() == bundle  # then the environment
    monkeypatch.setenv(ckpt.ENV_VAR, str(tmp_path / "nope"))
    with pytest.raises(BundleError, match=f"\\${ckpt.ENV_VAR} is .*nope.* not a bundle folder"):
        ckpt.resolve_checkpoint()
    monkeypatch.delenv(ckpt.ENV_VAR)
    assert ckpt.resolve_checkpoint() == REPO / "checkpoints" / "default"  # the source checkout's bundle
    missing = (tmp_path / "wheel_copy", tmp_path / "checkout")
    monkeypatch.setattr(ckpt, "default_locations", lambda: missing)
    with pytest.raises(BundleError) as err:
        ckpt.resolve_checkpoint()
    for text in (str(missing[0]), str(missing[1]), "--checkpoint", ckpt.ENV_VAR):
        assert text in str(err.value)


def test_generate_with_the_default_checkpoint_from_another_folder(tmp_path):
    (tmp_path / "short.yaml").write_text(SHORT)
    env = {k: v for k, v in os.environ.items() if k != ckpt.ENV_VAR}
    env["OMP_NUM_THREADS"] = "1"
    proc = subprocess.run([sys.executable, "-m", "drivesim.cli", "generate", "short.yaml", "-o", "x",
                           "--steps", "1", "--no-sr", "-q"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((tmp_path / "x" / "manifest.json").read_text())
    assert manifest["frames"] == 5
    assert Path(manifest["checkpoint"]["path"]) == REPO / "checkpoints" / "default"


def test_the_wheel_carries_every_file_of_the_default_bundle():
    # setup.py maps checkpoints/default into the package where resolve_checkpoint looks first; building a
    # wheel here would take long, so check that its file patterns cover the bundle's files.
    import ast
    import fnmatch
    import re

    from drivesim.data.random_scenarios import JUNCTION_ROAD_FILE

    text = (REPO / "setup.py").read_text()
    patterns = ast.literal_eval(re.search(r"package_data=\{BUNDLE_PACKAGE: (\[.*?\])", text).group(1))
    assert re.search(r'BUNDLE_PACKAGE = "drivesim\.(\w+)"', text).group(1) == ckpt.default_locations()[0].name
    assert 'BUNDLE_PACKAGE: "checkpoints/default"' in text
    bundle = REPO / "checkpoints" / "default"
    files = [p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()]  # students/ too
    assert "config.yaml" in files
    assert [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)] == []
    # and the example roads, where the world mix and the eval's junctions find the crossing
    roads = ast.literal_eval(re.search(r"ROADS_PACKAGE: (\[.*?\])", text).group(1))
    assert re.search(r'ROADS_PACKAGE = "drivesim\.(\w+)"', text).group(1) == "example_roads"
    assert 'ROADS_PACKAGE: "scenarios/roads"' in text
    assert JUNCTION_ROAD_FILE.is_file() and JUNCTION_ROAD_FILE.parent == REPO / "scenarios" / "roads"
    assert [p.name for p in JUNCTION_ROAD_FILE.parent.iterdir()
            if p.is_file() and not any(fnmatch.fnmatch(p.name, r) for r in roads)] == []
