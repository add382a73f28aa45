"""The README's two set-up commands: CI runs the test command exactly as the README writes it."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_readme_starts_with_a_demo_and_a_test_command():
    demo, test = _readme_commands()[:2]
    assert "drivesim generate" in demo and "pip install torch==2.13.0" in demo
    # the whole suite as the machine picks its arithmetic, then the arithmetic-dependent tests in fp32, so a
    # pass on a CPU with native bf16 cannot hide an fp32 failure (and the other way round)
    assert test.endswith("python -m pytest tests && DRIVESIM_PRECISION=fp32 python -m pytest tests -m precision")


def test_ci_runs_the_readme_test_command_verbatim():
    test = _readme_commands()[1]
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci_lines
