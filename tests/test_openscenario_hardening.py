"""Bad OpenSCENARIO / OpenDRIVE input gives a located DrivesimError, never a raw exception or a silently wrong
result: each case mutates a shipped example (scenarios/openscenario, scenarios/roads) into tmp_path.

    python -m pytest tests/test_openscenario_hardening.py -q
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from drivesim.cli import main
from drivesim.errors import DrivesimError, ScenarioError
from drivesim.sources import read_scenario
from drivesim.standards.openscenario.params import MAX_EXPRESSION_DEPTH

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "scenarios" / "openscenario"
CUT_IN = (EXAMPLES / "cut_in.xosc").read_text()


def _examples(tmp_path: Path) -> Path:
    """A copy of scenarios/openscenario (its catalogs and roads beside the files) to write bad files into."""
    folder = tmp_path / "xosc"
    if not folder.exists():
        shutil.copytree(EXAMPLES, folder)
    return folder


def _cut_in(tmp_path: Path, *replacements: tuple[str, str], name: str = "bad.xosc") -> Path:
    """cut_in.xosc with each (old, new) replaced once (each old must be there), next to the examples."""
    text = CUT_IN
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = _examples(tmp_path) / name
    path.write_text(text)
    return path


def _param(value: str) -> tuple[str, str]:
    """HeadwayCutIn's declaration given `value`."""
    return ('name="HeadwayCutIn" parameterType="double" value="0.5"',
            f'name="HeadwayCutIn" parameterType="double" value="{value}"')


def _refused(path: Path, *words: str, line_of: str | None = None) -> ScenarioError:
    """Reading fails with a ScenarioError naming the file (and the line holding `line_of`) and every word."""
    with pytest.raises(ScenarioError) as caught:
        read_scenario(path)
    text = str(caught.value)
    for word in words:
        assert word in text, text
    issue = caught.value.issues[0]
    if line_of is not None:
        lines = Path(issue.file).read_text().splitlines()
        assert line_of in lines[issue.line - 1], (text, lines[issue.line - 1])
    return caught.value


def _validate(path: Path, capsys) -> str:
    """`drivesim validate PATH` exits 1 without a traceback; what it printed."""
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr()
    assert "Traceback" not in out.out + out.err
    return out.err


# --- 1, 2: expressions --------------------------------------------------------------------------

@pytest.mark.parametrize("expression", ["${pow(10, 400)}", "${round(1e308*10)}", "${1e308 * 10}", "${-1e999}",
                                        "${sqrt(1e308 * 1e308)}", "${(1e308 * 10) or true}"])
def test_expressions_that_overflow_name_the_parameter_and_the_expression(tmp_path, expression):
    path = _cut_in(tmp_path, _param(expression))
    err = _refused(path, "parameter HeadwayCutIn", expression, line_of='name="HeadwayCutIn"')
    assert isinstance(err, DrivesimError)


@pytest.mark.parametrize("value", ["nan", "inf", "-Infinity"])
def test_numeric_parameters_are_finite(tmp_path, value):
    _refused(_cut_in(tmp_path, _param(value)), "parameter HeadwayCutIn", value, "not a finite number",
             line_of='name="HeadwayCutIn"')


def test_a_numeric_constraint_on_a_word_is_an_error(tmp_path):
    decl = ('name="HeadwayCutIn" parameterType="double" value="0.5"/>',
            'name="HeadwayCutIn" parameterType="double" value="0.5"><ConstraintGroup>'
            '<ValueConstraint rule="lessThan" value="abc"/></ConstraintGroup></ParameterDeclaration>')
    _refused(_cut_in(tmp_path, decl), "cannot compare", "'abc'", line_of="ValueConstraint")


@pytest.mark.parametrize("nest", [lambda n: "(" * n + "1" + ")" * n, lambda n: "-" * n + "1",
                                  lambda n: "not " * n + "true", lambda n: "abs(" * n + "1" + ")" * n])
def test_expression_nesting_is_capped(tmp_path, nest):
    _refused(_cut_in(tmp_path, _param("${" + nest(50_000) + "}")), "parameter HeadwayCutIn",
             f"nested more than {MAX_EXPRESSION_DEPTH} levels deep", line_of='name="HeadwayCutIn"')
    # as deep as the cap allows still reads
    read_scenario(_cut_in(tmp_path, _param("${0.5 * (" + nest(MAX_EXPRESSION_DEPTH - 1) + ")}")))


def test_validate_prints_an_overflow_without_a_traceback(tmp_path, capsys):
    err = _validate(_cut_in(tmp_path, _param("${pow(10, 400)}")), capsys)
    assert "pow(10, 400)" in err and "bad.xosc:" in err
