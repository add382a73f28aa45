"""Bad command-line values end in one clear line and exit status 1, never a traceback.

    python -m pytest tests/test_cli_inputs.py -x -q
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from drivesim.cli import main

REPO = Path(__file__).resolve().parents[1]
MINIMAL = str(REPO / "scenarios" / "minimal.yaml")


@pytest.mark.parametrize("argv, message", [
    (["plan", MINIMAL, "-o", "{tmp}/l.jsonl", "--seed", "-1"], "--seed must be in 0..2147483647, got -1"),
    (["preview", MINIMAL, "-o", "{tmp}/p.png", "--seed", "-1"], "--seed must be in 0..2147483647, got -1"),
    (["generate", MINIMAL, "-o", "{tmp}/g", "--seed", "-1"], "--seed must be in 0..2147483647, got -1"),
    (["client", MINIMAL, "-o", "{tmp}/c", "--seed", "2147483648"], "--seed must be in 0..2147483647"),
    (["plan", MINIMAL, "-o", "{tmp}/l.jsonl", "--seed", "seven"], "--seed expects a whole number, got 'seven'"),
    (["serve", "--backend", "schematic", "--port", "99999"], "--port must be in 0..65535, got 99999"),
    (["serve", "--backend", "schematic", "--max-duration-s", "-5"], "--max-duration-s must be a finite number > 0"),
    (["serve", "--backend", "schematic", "--max-duration-s", "nan"], "--max-duration-s must be a finite number > 0"),
    (["serve", "--backend", "schematic", "--grace-s", "-1"], "--grace-s must be a finite number >= 0"),
], ids=["plan_seed", "preview_seed", "generate_seed", "client_seed", "seed_text", "port", "max_duration",
        "max_duration_nan", "grace"])
def test_out_of_range_options_are_refused(tmp_path, capsys, argv, message):
    # Refused while parsing: nothing is loaded, served or written.
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 1
    err = capsys.readouterr().err
    assert f"error: {message}" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_closed_stdout_ends_quietly():
    """`drivesim info BUNDLE | head`: the reader leaves before the output is written."""
    proc = subprocess.Popen([sys.executable, "-m", "drivesim.cli", "info", str(REPO / "checkpoints" / "default")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    proc.stdout.close()  # long before the interpreter has started: every write hits a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert "BrokenPipe" not in err and "Traceback" not in err and "Exception ignored" not in err
