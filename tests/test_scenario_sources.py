"""Where scenarios come from: the loader's format registry, the one `read_scenario` every entry point
uses, the scenario layer's independence from the standards, and the one road type (`drivesim.road.Road`)
that the OpenDRIVE reader and the highway-env bridge build, with drivesim's `RoadFrame` on it.

    python -m pytest tests/test_scenario_sources.py -q
"""

from __future__ import annotations

import ast
import math
import subprocess
import sys
from pathlib import Path

import pytest

from drivesim.errors import DrivesimError, ScenarioError
from drivesim.scenario import file_formats
from drivesim.scenario.format import Scenario
from drivesim.scenario.loader import load_scenario, parse_scenario, register_format
from drivesim.road import Lane, LaneSection, LaneWidth, Line, ReferenceLine, Road
from drivesim.scenario.road import RoadFrame, road_st
from drivesim.sources import read_scenario

REPO = Path(__file__).resolve().parent.parent
YAML = REPO / "scenarios" / "lead_brake.yaml"
XOSC = REPO / "scenarios" / "openscenario" / "cut_in.xosc"
XODR = REPO / "scenarios" / "openscenario" / "straight_highway.xodr"
TEXT = "name: probe\nduration_s: 2\n"


# --- the registry -----------------------------------------------------------------------------

def test_an_unregistered_suffix_is_a_clear_error_naming_it_and_the_fix(tmp_path):
    path = tmp_path / "drive.json"
    path.write_text("{}")
    with pytest.raises(DrivesimError) as err:
        load_scenario(path)
    assert isinstance(err.value, ScenarioError) and err.value.issues[0].file == str(path)  # `validate` lists it
    message = str(err.value)
    assert "no reader for '.json' files is registered" in message
    assert ".yaml, .yml, .xosc" in message  # what is read
    assert "register_format('.json', read)" in message and "save a YAML scenario as .yaml" in message  # the fix


def test_xosc_unregistered_says_so_and_registered_runs(monkeypatch):
    assert load_scenario(XOSC).name == "cut_in"  # `import drivesim` registered it
    monkeypatch.delitem(file_formats._READERS, ".xosc")
    with pytest.raises(ScenarioError, match=r"no reader for '\.xosc' files"):
        load_scenario(XOSC)


def test_a_registered_reader_gets_the_path(monkeypatch, tmp_path):
    monkeypatch.setattr(file_formats, "_READERS", dict(file_formats._READERS))
    seen = []
    register_format(".Drive", lambda path: seen.append(path) or parse_scenario(TEXT))
    path = tmp_path / "a.DRIVE"  # suffixes match in any case
    assert load_scenario(path).name == "probe" and seen == [path]
    assert ".drive" in file_formats.scenario_suffixes()
    for bad in ("yaml", ".yaml", ".", ""):
        with pytest.raises(ValueError):
            register_format(bad, lambda path: None)


def test_yaml_needs_no_suffix(tmp_path):
    path = tmp_path / "scenario"
    path.write_text(TEXT)
    assert load_scenario(path).name == "probe"


def test_the_command_line_path_reads_xosc_in_a_fresh_interpreter():
    """The CLI imports only the loader: `import drivesim` (which it cannot avoid) registers .xosc."""
    code = ("import sys; from drivesim.scenario.loader import load_scenario; "
            f"print(load_scenario({str(XOSC)!r}).name); "
            "print('pydantic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["cut_in", "True"]
    light = subprocess.run([sys.executable, "-c", "import sys, drivesim; print(sorted(m for m in sys.modules "
                            "if m in ('yaml', 'pydantic', 'numpy', 'torch')))"],
                           capture_output=True, text=True, cwd=REPO, timeout=120)
    assert light.stdout.strip() == "[]", light.stdout + light.stderr  # registering loads nothing heavy


def test_the_scenario_layer_never_imports_the_standards():
    offenders = []
    for path in sorted((REPO / "drivesim" / "scenario").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):  # functions and TYPE_CHECKING blocks too
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}:{node.lineno} {n}" for n in names if n.startswith("drivesim.standards")]
    assert not offenders, offenders


# --- read_scenario: one rule for every entry point ------------------------------------------------

def test_read_scenario_takes_every_form_of_a_scenario(tmp_path):
    scenario = load_scenario(YAML)
    assert read_scenario(YAML) == read_scenario(str(YAML)) == scenario  # Path and str paths
    assert read_scenario(scenario) is scenario  # a Scenario as it is
    assert read_scenario(TEXT).name == "probe"  # YAML text
    assert read_scenario("{name: one_line, duration_s: 2}").name == "one_line"  # one-line YAML text
    imported = read_scenario(XOSC)
    assert isinstance(imported, Scenario) and imported == read_scenario(str(XOSC)) == load_scenario(XOSC)
    colon = tmp_path / "a:b.yaml"  # a path with a colon is still a path
    colon.write_text(TEXT)
    assert read_scenario(str(colon)).name == "probe"


def test_read_scenario_errors_say_what_went_wrong(tmp_path):
    with pytest.raises(ScenarioError, match="file not found"):
        read_scenario(str(tmp_path / "missing.yaml"))
    with pytest.raises(ScenarioError) as err:
        read_scenario("name: x\n", "my header")
    assert err.value.issues[0].file == "my header" and "duration_s" in str(err.value)
    with pytest.raises(DrivesimError, match="Scenario, a YAML file path or YAML text"):
        read_scenario(42)


def test_entry_points_share_read_scenario():
    from drivesim import api
    from drivesim.bridges import replay, world_camera

    assert api.as_scenario is read_scenario  # the API's old name
    assert world_camera.read_scenario is read_scenario
    for module in ("drivesim/bridges/highway_env.py", "drivesim/bridges/replay.py", "drivesim/api.py",
                   "drivesim/export/dataset.py", "drivesim/output/folder.py", "drivesim/data/clips.py"):
        source = (REPO / module).read_text()
        assert "read_scenario(" in source and "load_scenario(" not in source, module
    assert replay.load_replay  # (imported above: the bridge's module loads without a simulator)


# --- one road type ------------------------------------------------------------------------------

def test_the_road_frame_maps_world_points_and_headings():
    road = Road("r", 100.0, ReferenceLine((Line(0.0, 10.0, 5.0, 0.5, 100.0),)),
                (LaneSection(0.0, left=(Lane(1, widths=(LaneWidth(0.0, 3.5),)),),
                             right=(Lane(-1, widths=(LaneWidth(0.0, 3.5),)),)),))
    ahead = RoadFrame(road, 1, (-1,), 3.5, 0.0)
    c, s = math.cos(0.5), math.sin(0.5)
    x, y = 10.0 + 20.0 * c + 1.0 * s, 5.0 + 20.0 * s - 1.0 * c  # 20 m along, 1 m right of the line
    assert road_st(road, x, y) == pytest.approx((20.0, -1.0))
    assert road.planView.to_world(20.0, -1.0) == pytest.approx((x, y))  # the model's own inverse
    assert ahead.locate(x, y) == pytest.approx((20.0, 1.0))
    assert ahead.yaw(0.5) == pytest.approx(0.0) and ahead.yaw(0.4) == pytest.approx(0.1)  # + yawing right
    assert ahead.yaw(0.5 + math.pi) == ahead.yaw(0.5 - math.pi) == pytest.approx(math.pi)  # (-pi, pi]
    back = RoadFrame(road, -1, (1,), 3.5, 0.0)  # the left lane, driven towards -s
    assert back.locate(x, y) == pytest.approx((-20.0, -1.0)) and back.yaw(0.5 + math.pi) == pytest.approx(0.0)
    assert [ahead.lane_of(v) for v in (-2.0, 1.0, 3.6, 99.0)] == [0, 0, 0, 0] and ahead.index(-1) == 0


def test_opendrive_reads_into_the_road_model():
    from drivesim.standards import opendrive

    road, element = opendrive.read_road(XODR, "1", where=None)
    assert type(road) is Road and element.tag == "road"
    assert not [name for name, value in vars(opendrive).items()  # no road class of its own
                if isinstance(value, type) and value.__module__ == opendrive.__name__]
    assert road.direction(-1) == 1 and road.lane_at(0.0, -1.0) == -1
    frame = opendrive.road_frame(road, element, -1, 1, where=None)
    assert type(frame) is RoadFrame and frame.lane_ids == (-1, -2, -3) and frame.width_m == 3.5
    assert frame.locate(30.0, -1.75) == pytest.approx((30.0, 1.75))  # lane -1's centre: drivesim lane 0


def test_highway_env_reads_into_the_same_road_model():
    pytest.importorskip("highway_env")
    import gymnasium

    from drivesim.bridges import highway_env as bridge

    assert not [name for name, value in vars(bridge).items()
                if isinstance(value, type) and "Road" in name and value.__module__ == bridge.__name__]
    env = gymnasium.make("highway-fast-v0")
    try:
        env.reset(seed=0)
        frame = bridge.env_road(env.unwrapped.road.network, "highway-fast-v0")
    finally:
        env.close()
    assert type(frame) is RoadFrame and type(frame.road) is Road
    assert frame.lane_ids == (-1, -2, -3) and frame.width_m == 4.0 and frame.road.rule == "RHT"
    # highway-env's lane k centre is at y = 4 k (y to the right): drivesim lane k, lateral (k + 0.5) * 4
    for k in range(3):
        forward, lateral = frame.locate(50.0, -4.0 * k)  # the bridge mirrors y into the road's world
        assert lateral == pytest.approx((k + 0.5) * 4.0) and frame.lane_of(lateral) == k
        assert frame.road.lane_at(50.0, -(k + 0.5) * 4.0) == -(k + 1)


def test_the_client_sends_a_yaml_file_as_written_and_an_xosc_as_the_scenario_it_becomes(tmp_path):
    """`drivesim client FILE.xosc`: the server parses YAML only, so an OpenSCENARIO file is run here and
    sent as the drivesim scenario it becomes; a YAML file goes as written (its errors keep their lines)."""
    from drivesim.sources import scenario_yaml_text

    yaml_file = tmp_path / "drive.yaml"
    yaml_file.write_text("# a comment the server sees\nname: d\nduration_s: 1\n")
    assert scenario_yaml_text(yaml_file) == yaml_file.read_text()
    xosc = Path(__file__).resolve().parent.parent / "scenarios" / "openscenario" / "cut_in.xosc"
    sent = scenario_yaml_text(xosc)
    assert not sent.lstrip().startswith("<")
    assert parse_scenario(sent, "sent") == read_scenario(xosc)


def test_road_files_are_read_by_their_registered_reader(monkeypatch, tmp_path):
    from drivesim.road import RoadNetwork, straight_road

    monkeypatch.setattr(file_formats, "_ROAD_READERS", {})
    with pytest.raises(ScenarioError, match=r"no reader for '\.net' road files"):
        file_formats.read_road_network(tmp_path / "a.net")
    network = RoadNetwork.of([straight_road(100.0, [3.5])], [])
    file_formats.register_road_format(".NET", lambda path: network)
    assert file_formats.read_road_network(tmp_path / "a.net") is network
    with pytest.raises(ValueError, match="looks like"):
        file_formats.register_road_format("net", lambda path: network)
