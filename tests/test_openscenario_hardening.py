"""Bad OpenSCENARIO / OpenDRIVE input gives a located DrivesimError, never a raw exception or a silently wrong
result: each case mutates a shipped example (scenarios/openscenario, scenarios/roads) into tmp_path.

    python -m pytest tests/test_openscenario_hardening.py -q
"""

from __future__ import annotations

import math
import re
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
HEADER = CUT_IN[CUT_IN.index("<FileHeader"):CUT_IN.index("/>", CUT_IN.index("<FileHeader")) + 2]


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
    read_scenario(_cut_in(tmp_path, _param("${0.5 + 0 * (" + nest(MAX_EXPRESSION_DEPTH - 1) + ")}")))


def test_validate_prints_an_overflow_without_a_traceback(tmp_path, capsys):
    err = _validate(_cut_in(tmp_path, _param("${pow(10, 400)}")), capsys)
    assert "pow(10, 400)" in err and "bad.xosc:" in err


# --- 3: encodings ----------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["x-nope", "rot13", "Shift_JIS"])
def test_an_encoding_that_cannot_be_read_names_the_file_and_the_encodings_that_work(tmp_path, encoding):
    path = _cut_in(tmp_path, ('encoding="UTF-8"', f'encoding="{encoding}"'))
    _refused(path, f"{path}:1:", repr(encoding), "UTF-8", "ISO-8859-1")


def test_a_single_byte_encoding_is_read(tmp_path):
    read_scenario(_cut_in(tmp_path, ('encoding="UTF-8"', 'encoding="windows-1252"')))


# --- 4: paths the system cannot open -------------------------------------------------------------

LONG = "a" * 5000


def _short_message(err: ScenarioError, *words: str) -> None:
    text = str(err)
    assert len(text) < 700, text  # the path is cut for display
    assert "characters)..." in text, text
    for word in words:
        assert word in text, text


@pytest.mark.parametrize("suffix", [".xosc", ".yaml"])
def test_a_scenario_file_name_too_long_for_the_file_system(tmp_path, suffix):
    for source in (tmp_path / (LONG + suffix), str(tmp_path / (LONG + suffix))):
        with pytest.raises(ScenarioError) as caught:
            read_scenario(source)
        _short_message(caught.value, "too long")


def test_a_directory_named_like_a_scenario_file(tmp_path):
    folder = tmp_path / "folder.xosc"
    folder.mkdir()
    with pytest.raises(ScenarioError, match="is a directory"):
        read_scenario(folder)


def test_a_logic_file_name_too_long(tmp_path):
    path = _cut_in(tmp_path, ('filepath="straight_highway.xodr"', f'filepath="{LONG}.xodr"'))
    _short_message(_refused(path, "OpenDRIVE file", "too long", line_of="<LogicFile"))


def test_a_catalog_directory_name_too_long(tmp_path):
    path = _cut_in(tmp_path, ('Directory path="catalogs"', f'Directory path="{LONG}"'))
    _short_message(_refused(path, "catalog directory", "too long", line_of="<Directory"))


def test_a_trajectory_file_name_too_long(tmp_path, capsys):
    from drivesim.scenario.trajectory import read_trajectory

    with pytest.raises(ScenarioError) as caught:
        read_trajectory(tmp_path / (LONG + ".jsonl"))
    _short_message(caught.value, "too long")
    header = ROOT / "scenarios" / "minimal.yaml"
    assert main(["plan", str(header), "--trajectory", str(tmp_path / (LONG + ".jsonl")),
                 "-o", str(tmp_path / "labels.jsonl")]) == 1
    out = capsys.readouterr()
    assert "too long" in out.err and "Traceback" not in out.out + out.err


def test_validate_a_file_name_too_long_in_a_new_process(tmp_path):
    """The command itself, as a user runs it: exit status 1, one message, no traceback."""
    done = subprocess.run([sys.executable, "-m", "drivesim.cli", "validate", str(tmp_path / (LONG + ".xosc"))],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert "too long" in done.stderr and "Traceback" not in done.stderr + done.stdout
    assert LONG not in done.stderr  # the summary line, like the error, shows the path cut


# --- 8: catalogs, on demand and capped ------------------------------------------------------------

def _catalog_file(path: Path, name: str, entries: int = 1) -> Path:
    vehicle = ('<Vehicle name="v{i}" vehicleCategory="car"><BoundingBox><Center x="1" y="0" z="0.7"/>'
               '<Dimensions width="1.9" length="4.6" height="1.5"/></BoundingBox></Vehicle>\n')
    body = "".join(vehicle.format(i=i) for i in range(entries))
    path.write_text(f'<?xml version="1.0" encoding="UTF-8"?>\n<OpenSCENARIO><FileHeader revMajor="1" revMinor="1" '
                    f'date="2026-11-01T10:00:00" description="c" author="t"/><Catalog name="{name}">\n{body}'
                    f'</Catalog></OpenSCENARIO>\n')
    return path


def test_catalog_files_are_read_only_as_far_as_a_reference_needs(tmp_path):
    import tracemalloc

    catalogs = _examples(tmp_path) / "catalogs"
    big = _catalog_file(catalogs / "aaa_other.xosc", "OtherCatalog", entries=100_000)  # looked at first
    assert big.stat().st_size > 14 * 1024 * 1024
    (catalogs / "zzz_broken.xosc").write_text("<OpenSCENARIO><Catalog")  # after the one needed: never read
    path = _cut_in(tmp_path)
    tracemalloc.start()
    try:
        read_scenario(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024, peak  # the other catalog's 15 MiB are not parsed into a tree


def test_a_catalog_directory_with_too_many_files(tmp_path, monkeypatch):
    from drivesim.standards.openscenario import catalogs as module

    monkeypatch.setattr(module, "MAX_CATALOG_FILES", 2)  # the examples' folder holds routes and vehicles
    _catalog_file(_examples(tmp_path) / "catalogs" / "more.xosc", "More")
    _refused(_cut_in(tmp_path), "catalog directory", "more than 2 .xosc files", line_of="<Directory")


def test_a_catalog_file_over_the_file_size_cap(tmp_path, monkeypatch):
    from drivesim.standards.openscenario import xmltree

    monkeypatch.setattr(xmltree, "MAX_XML_BYTES", 20_000)  # the scenario and its road are smaller
    big = _catalog_file(_examples(tmp_path) / "catalogs" / "aaa.xosc", "VehicleCatalog", entries=200)
    _refused(_cut_in(tmp_path), "aaa.xosc", "larger than 20000 bytes")
    assert big.stat().st_size > 20_000


def test_catalogs_read_in_all_are_capped(tmp_path, monkeypatch):
    from drivesim.standards.openscenario import catalogs as module

    monkeypatch.setattr(module, "MAX_CATALOG_BYTES", 3000)  # routes.xosc (~1 kB) then vehicles.xosc (~2.6 kB)
    _refused(_cut_in(tmp_path), "exceed 3000 bytes", "vehicles.xosc", line_of="<CatalogReference")


def test_a_file_of_millions_of_tiny_elements_is_refused_at_the_budget(tmp_path, monkeypatch):
    from drivesim.standards.openscenario import xmltree

    monkeypatch.setattr(xmltree, "MAX_XML_COST", 5000)  # the example, its catalog and its road cost ~370
    path = _cut_in(tmp_path, (HEADER, HEADER[:-2] + ">" + "<a/>" * 6000 + "</FileHeader>"))
    error = _refused(path, "more than 5000 element units", "bad.xosc", "remove what the scenario does not use",
                     line_of="<FileHeader")
    assert error.issues[0].key_path == "a"
    assert xmltree.Element.__slots__  # no __dict__ per element: a tree of a large map stays small


@pytest.mark.parametrize("padding", [
    ("/><a " + " ".join(f'a{i}=""' for i in range(900))) * 20 + "/></FileHeader",  # 20 elements of 900 attributes
    'comment="' + "x" * 400_000 + '"/',  # one long text: up to 4 bytes a character in memory
    '><a b="1" c="2" d="3" e="4" f="5" g="6" h="7" k="8"/' * 2000 + "></FileHeader",  # 2,000 elements
], ids=["attributes", "text", "elements-with-attributes"])
def test_attributes_and_their_text_count_against_the_budget(tmp_path, monkeypatch, padding):
    from drivesim.standards.openscenario import xmltree

    monkeypatch.setattr(xmltree, "MAX_XML_COST", 5000)  # under 2,100 elements: the old element cap read these
    path = _cut_in(tmp_path, (HEADER, HEADER[:-2] + " " + padding + ">"))
    _refused(path, "more than 5000 element units", "an attribute 0.3", line_of="<FileHeader")


@pytest.mark.parametrize("encoding", ["UTF-8", "UTF-16"])
def test_an_element_of_too_many_attributes_is_refused_before_it_is_read(tmp_path, monkeypatch, encoding):
    # one element of 1.5 million attributes held 300 MB: expat hands them over at once, so they are
    # counted in the bytes first (in the characters for UTF-16, whose `<` is two bytes)
    from drivesim.standards.openscenario import xmltree

    read, element = [], xmltree.Element
    monkeypatch.setattr(xmltree, "Element", lambda *args: read.append(args) or element(*args))
    attributes = " ".join(f'a{i}=""' for i in range(xmltree.MAX_XML_ATTRIBUTES + 1))
    text = CUT_IN.replace('encoding="UTF-8"', f'encoding="{encoding}"').replace(HEADER, HEADER[:-2] + " " + attributes + "/>")
    path = _examples(tmp_path) / "bad.xosc"
    path.write_bytes(text.encode(encoding))
    error = _refused(path, f"more than {xmltree.MAX_XML_ATTRIBUTES} attributes")
    assert error.issues[0].line == CUT_IN[:CUT_IN.index(HEADER)].count("\n") + 1 and read == []  # none built
    fine = " ".join(f'a{i}=""' for i in range(xmltree.MAX_XML_ATTRIBUTES - HEADER.count("=")))
    comment = "<!-- " + "=" * 10 * xmltree.MAX_XML_ATTRIBUTES + " -->"  # not an element's: not counted
    path.write_text(CUT_IN.replace(HEADER, comment + HEADER[:-2] + " " + fine + "/>"))
    assert read_scenario(path).agents


def _costs(*paths: Path) -> list[float]:
    """What each file costs against the budget, read alone."""
    from drivesim.standards.openscenario import xmltree

    costs = []
    for path in paths:
        budget = xmltree.XmlBudget(limit=float("inf"))
        xmltree.parse_xml(path.read_bytes(), str(path), budget)
        costs.append(budget.spent)
    return costs


def _three_catalogs(tmp_path: Path) -> tuple[Path, list[Path]]:
    """cut_in.xosc with entities X0..X2 from catalogs Cat0..Cat2 (catalogs/cat0..2.xosc: car_red and 40 unused
    copies of it each)."""
    folder = _examples(tmp_path)
    vehicles = (folder / "catalogs" / "vehicles.xosc").read_text()
    start = vehicles.index('<Vehicle name="car_red"')
    entry = vehicles[start:vehicles.index("</Vehicle>", start) + len("</Vehicle>")]
    spare = "".join(entry.replace('"car_red"', f'"spare{i}"') for i in range(40))
    catalogs = []
    for k in range(3):
        path = folder / "catalogs" / f"cat{k}.xosc"
        path.write_text(vehicles.replace('<Catalog name="VehicleCatalog">', f'<Catalog name="Cat{k}">' + spare))
        catalogs.append(path)
    entities = "".join(f'<ScenarioObject name="X{k}"><CatalogReference catalogName="Cat{k}" entryName="car_red"/>'
                       "</ScenarioObject>" for k in range(3))
    places = "".join(f'<Private entityRef="X{k}"><PrivateAction><TeleportAction><Position><LanePosition roadId="1" '
                     f'laneId="-3" offset="0" s="{100 + 20 * k}"/></Position></TeleportAction></PrivateAction>'
                     "</Private>" for k in range(3))
    return _cut_in(tmp_path, ("</Entities>", entities + "</Entities>"), ("</Actions>", places + "</Actions>")), catalogs


def test_the_catalogs_share_the_scenarios_budget(tmp_path, monkeypatch):
    # three catalog files of 15 MiB, each within the limits, were all read and kept: 1.15 GB
    from drivesim.standards.openscenario import xmltree

    path, catalogs = _three_catalogs(tmp_path)
    folder = path.parent
    assert read_scenario(path).agents  # within the budget: read
    scenario, vehicles, *cat = _costs(path, folder / "catalogs" / "vehicles.xosc", *catalogs)
    limit = scenario + vehicles + cat[0] + cat[1] + cat[2] / 2  # the catalogs are read in entity order
    assert max(scenario, vehicles, *cat) < limit / 2  # each file alone is well within it
    monkeypatch.setattr(xmltree, "MAX_XML_COST", limit)
    error = _refused(path, f"more than {limit:g} element units", "files read for this scenario",
                     "split a large catalog", "keep only the entries the scenario references")
    assert error.issues[0].file == str(catalogs[2])
    reached = str(error).split("this file reached", 1)[1]
    assert "cat0.xosc" in reached and "cat1.xosc" in reached and "bad.xosc" in reached, reached


def test_the_road_shares_the_budget_and_is_refused_by_name(tmp_path, monkeypatch):
    from drivesim.standards.openscenario import xmltree

    folder = _examples(tmp_path)
    path = _cut_in(tmp_path)
    costs = _costs(path, folder / "catalogs" / "vehicles.xosc", folder / "straight_highway.xodr")
    monkeypatch.setattr(xmltree, "MAX_XML_COST", sum(costs) - costs[2] / 2)  # the road is read last
    error = _refused(path, "straight_highway.xodr", "cut the road network to the roads the scenario drives on")
    assert error.issues[0].file.endswith("straight_highway.xodr")
    monkeypatch.setattr(xmltree, "MAX_XML_COST", sum(costs) + 1)
    assert read_scenario(path).agents


@pytest.mark.parametrize("example", ["cut_in.xosc", "left_turn_across.xosc", "curve_cut_in.xosc"])
def test_each_file_of_a_scenario_is_parsed_once(monkeypatch, example):
    # the road was parsed two or three times (its ids, the straight road, then the network), and the
    # first tree could still be held when the network runner read it again
    from drivesim.standards.openscenario import xmltree

    calls: dict[str, int] = {}
    parse = xmltree.parse_xml

    def counted(raw: bytes, name: str, budget=None):
        calls[Path(name).name] = calls.get(Path(name).name, 0) + 1
        return parse(raw, name, budget)

    monkeypatch.setattr(xmltree, "parse_xml", counted)
    assert read_scenario(EXAMPLES / example).agents
    assert calls and set(calls.values()) == {1}, calls
    assert any(name.endswith(".xodr") for name in calls) and any(name in calls for name in ("vehicles.xosc",)), calls


# --- 5, 6: numbers out of range ------------------------------------------------------------------

SLOW_DOWN = 'dynamicsShape="cubic" dynamicsDimension="time" value="2"'  # the Overtaker's SpeedAction


def test_an_absurd_transition_time_is_refused(tmp_path):
    path = _cut_in(tmp_path, (SLOW_DOWN, 'dynamicsShape="linear" dynamicsDimension="time" value="1e308"'))
    _refused(path, "value: 1e+308 is beyond", line_of=SLOW_DOWN.replace("cubic", "linear")[:40])


def test_a_motion_that_overflows_is_refused_naming_the_actor(tmp_path, monkeypatch):
    """The last guard, with the attributes' bound lifted: NaN never reaches the converted world."""
    from drivesim.standards.openscenario import params

    monkeypatch.setattr(params, "MAX_NUMBER", math.inf)
    path = _cut_in(tmp_path, (SLOW_DOWN, 'dynamicsShape="linear" dynamicsDimension="time" value="1e308"'))
    _refused(path, "Overtaker's", "not a finite number", line_of='<ScenarioObject name="Overtaker">')


@pytest.mark.parametrize("count", ["0", "-1", "1.5"])
def test_maximum_execution_count_is_at_least_one(tmp_path, count):
    path = _cut_in(tmp_path, ('maximumExecutionCount="1"', f'maximumExecutionCount="{count}"'))
    words = "expected a whole number" if count == "1.5" else "must be >= 1"
    _refused(path, "maximumExecutionCount", words, line_of="<ManeuverGroup")


def test_an_event_s_maximum_execution_count_is_at_least_one(tmp_path):
    path = _cut_in(tmp_path, ('<Event name="CutIn" priority="override">',
                              '<Event name="CutIn" priority="override" maximumExecutionCount="0">'))
    _refused(path, "maximumExecutionCount", "must be >= 1", line_of='<Event name="CutIn"')


@pytest.mark.parametrize("dimension", ["time", "distance"])
def test_negative_transition_times_and_distances_are_refused(tmp_path, dimension):
    path = _cut_in(tmp_path, (SLOW_DOWN, f'dynamicsShape="linear" dynamicsDimension="{dimension}" value="-2"'))
    _refused(path, f"must be >= 0 for dynamicsDimension {dimension}", line_of="<SpeedActionDynamics")


def test_a_negative_rate_is_read_as_its_size_with_a_warning(tmp_path):
    """Not silently: OpenSCENARIO's rate is >= 0, but esmini's own cut-in.xosc brakes at rate -4 (esmini reads
    its size), so the file is read as esmini reads it and the warning says what to write."""
    from drivesim.standards.openscenario import import_openscenario

    negative = import_openscenario(_cut_in(tmp_path, (SLOW_DOWN, SLOW_DOWN.replace('"time" value="2"',
                                                                                    '"rate" value="-2"'))))
    positive = import_openscenario(_cut_in(tmp_path, (SLOW_DOWN, SLOW_DOWN.replace('"time" value="2"',
                                                                                    '"rate" value="2"'))))
    assert negative.scenario == positive.scenario
    warned = [w for w in negative.warnings if "rate is >= 0" in w]
    assert len(warned) == 1 and 'write value="2"' in warned[0] and "bad.xosc:" in warned[0]


@pytest.mark.parametrize("old, new, line", [
    ('delay="1"', 'delay="-1"', 'name="AfterCutIn"'),
    ('<TimeHeadwayCondition entityRef="Overtaker" value="$HeadwayCutIn"',
     '<TimeHeadwayCondition entityRef="Overtaker" value="-0.5"', "<TimeHeadwayCondition"),
])
def test_negative_durations_and_distances_are_refused(tmp_path, old, new, line):
    _refused(_cut_in(tmp_path, (old, new)), "must be >= 0", line_of=line)


def test_negative_performance_and_box_sizes_are_refused(tmp_path):
    catalog = _examples(tmp_path) / "catalogs" / "vehicles.xosc"
    text = catalog.read_text()
    catalog.write_text(text.replace('maxSpeed="${250 / 3.6}"', 'maxSpeed="${-250 / 3.6}"', 1))
    _refused(_cut_in(tmp_path), "maxSpeed: must be >= 0", line_of="<Performance")
    catalog.write_text(text.replace('length="4.6"', 'length="-5"', 1))
    _refused(_cut_in(tmp_path), "dimensions must be > 0")


def test_validate_says_ok_for_none_of_these(tmp_path, capsys):
    path = _cut_in(tmp_path, (SLOW_DOWN, 'dynamicsShape="linear" dynamicsDimension="distance" value="-2"'))
    assert "must be >= 0" in _validate(path, capsys)
    path = _cut_in(tmp_path, ('maximumExecutionCount="1"', 'maximumExecutionCount="0"'))
    assert "maximumExecutionCount: must be >= 1" in _validate(path, capsys)


# --- 7: OpenDRIVE lane widths and numbers --------------------------------------------------------

ROADS = ROOT / "scenarios" / "roads"
FIRST_WIDTH = re.compile(r'<width sOffset="[^"]*" a="[^"]*"')


def _road_with_first_width(tmp_path: Path, road: Path, replace_a: str) -> Path:
    text = road.read_text()
    found = FIRST_WIDTH.search(text)
    assert found, road
    record = re.sub(r'a="[^"]*"', replace_a, found.group(0))
    path = tmp_path / road.name
    path.write_text(text[:found.start()] + record + text[found.end():])
    return path


@pytest.mark.parametrize("road", sorted(ROADS.glob("*.xodr")) + [EXAMPLES / "straight_highway.xodr"],
                         ids=lambda p: p.name)
def test_a_negative_lane_width_is_refused(tmp_path, road):
    from drivesim.standards.opendrive import read_network

    path = _road_with_first_width(tmp_path, road, 'a="-3.5"')
    with pytest.raises(ScenarioError, match=r"width goes negative \(-3.5 m at road s="):
        read_network(path)


def test_a_negative_lane_width_under_an_openscenario_file_is_refused(tmp_path):
    _road_with_first_width(_examples(tmp_path), EXAMPLES / "straight_highway.xodr", 'a="-3.5"')
    _refused(_cut_in(tmp_path), "straight_highway.xodr:", "width goes negative")


@pytest.mark.parametrize("coefficients", ['a="3.5" b="1e308" c="1e308" d="1e308"', 'a="1e308" b="0" c="0" d="0"'])
def test_opendrive_numbers_too_large_for_the_road_s_arithmetic_are_refused(tmp_path, coefficients):
    """A width of 1e308 made NaN of the road (accepted), b = c = d = 1e308 a raw LinAlgError."""
    from drivesim.standards.opendrive.attributes import MAX_NUMBER

    folder = _examples(tmp_path)
    road = folder / "straight_highway.xodr"
    road.write_text(road.read_text().replace('a="3.5" b="0.0" c="0.0" d="0.0"', coefficients))
    _refused(_cut_in(tmp_path), "straight_highway.xodr:", f"beyond +-{MAX_NUMBER:g}", line_of="<width")


# --- the docs state the limits as the code defines them -------------------------------------------

def test_the_docs_state_the_limits():
    from drivesim.scenario.user_files import MAX_SHOWN_PATH_CHARS
    from drivesim.standards.opendrive import attributes
    from drivesim.standards.openscenario import catalogs, params, xmltree

    def stated(number: float) -> str:
        return f"{number:.0e}".replace("e+", "e") if isinstance(number, float) else str(number)  # 1e12

    scenario = (ROOT / "docs" / "openscenario.md").read_text()
    for value in (xmltree.MAX_XML_BYTES, xmltree.MAX_XML_COST, xmltree.MAX_XML_DEPTH, xmltree.MAX_XML_ATTRIBUTES,
                  params.MAX_NUMBER, params.MAX_EXPRESSION_DEPTH, catalogs.MAX_CATALOG_FILES, catalogs.MAX_CATALOG_BYTES,
                  MAX_SHOWN_PATH_CHARS):
        assert stated(value) in scenario, value
    for size in (xmltree.MAX_XML_BYTES, catalogs.MAX_CATALOG_BYTES):
        assert f"{size // 2**20} MiB ({size} bytes)" in scenario, size
    costs = (f"an element counts 1, an attribute {xmltree.ATTRIBUTE_COST:g} plus 1/{1 / xmltree.CHARACTER_COST:g} "
             f"per character of its value, a name new to the file {xmltree.NAME_COST:g}")
    assert costs in " ".join(scenario.split()), costs
    road = (ROOT / "docs" / "opendrive.md").read_text()
    for value in (xmltree.MAX_XML_BYTES, xmltree.MAX_XML_COST, xmltree.MAX_XML_DEPTH, xmltree.MAX_XML_ATTRIBUTES,
                  attributes.MAX_NUMBER, MAX_SHOWN_PATH_CHARS):
        assert stated(value) in road, value
