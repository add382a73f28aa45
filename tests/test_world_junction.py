"""Routes through a junction, and located errors for positions and routes on a road network.

The network is built in code with drivesim.road and read through the road-format registry, as an
OpenDRIVE file would be: road "in" (100 m along +x) enters junction "J", whose connecting roads go
straight on ("c_straight" to "out_straight") or turn left ("c_left", radius 20 m, to "out_left").

    python -m pytest tests/test_world_junction.py -q
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from drivesim.errors import ScenarioError
from drivesim.road import (Arc, Connection, Junction, JunctionLaneLink, Lane, LaneSection, LaneWidth, Line, Projector,
                           ReferenceLine, Road, RoadLink, RoadNetwork)
from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.file_formats import register_road_format
from drivesim.scenario.loader import parse_scenario, validate_scenario_text

SUFFIX = ".testjunction"


def _road(road_id: str, piece, junction: str = "-1", predecessor=None, successor=None) -> Road:
    lane = Lane(-1, "driving", widths=(LaneWidth(0.0, 3.5),), predecessor=-1, successor=-1)
    return Road(id=road_id, length=piece.length, planView=ReferenceLine((piece,)),
                laneSections=(LaneSection(s=0.0, right=(lane,)),), junction=junction,
                predecessor=predecessor, successor=successor)


def junction_network() -> RoadNetwork:
    turn = 20.0 * math.pi / 2
    roads = [
        dataclasses.replace(_road("in", Line(0.0, 0.0, 0.0, 0.0, 100.0), successor=RoadLink("junction", "J")),
                            laneSections=(LaneSection(s=0.0, right=(Lane(-1, "driving", widths=(LaneWidth(0.0, 3.5),)),)),)),
        _road("c_straight", Line(0.0, 100.0, 0.0, 0.0, 30.0), "J", RoadLink("road", "in", "end"),
              RoadLink("road", "out_straight", "start")),
        _road("c_left", Arc(0.0, 100.0, 0.0, 0.0, turn, 1 / 20.0), "J", RoadLink("road", "in", "end"),
              RoadLink("road", "out_left", "start")),
        _road("out_straight", Line(0.0, 130.0, 0.0, 0.0, 200.0), predecessor=RoadLink("road", "c_straight", "end")),
        _road("out_left", Line(0.0, 120.0, 20.0, math.pi / 2, 200.0), predecessor=RoadLink("road", "c_left", "end")),
    ]
    links = (JunctionLaneLink(-1, -1),)
    junction = Junction("J", (Connection("0", "in", "c_straight", "start", links),
                              Connection("1", "in", "c_left", "start", links)))
    return RoadNetwork.of(roads, [junction])


@pytest.fixture(scope="module")
def road_file(tmp_path_factory):
    register_road_format(SUFFIX, lambda path: junction_network())
    path = tmp_path_factory.mktemp("roads") / f"junction{SUFFIX}"
    path.write_text("built in code\n")
    return path


def scenario_text(road_file, ego: str, agents: str = "") -> str:
    return (f"name: junction\nduration_s: 12\nfps: 5\nroad: {{opendrive: {road_file}}}\n"
            f"ego: {ego}\nagents:\n{agents or '  []'}\n").replace("agents:\n  []", "agents: []")


def _roads_driven(fcs, network: RoadNetwork) -> list[str]:
    projector = Projector(network)
    roads = []
    for fc in fcs:
        p = fc.ego_pose
        point = projector.project(p.x, p.y, p.heading)
        assert point.distance < 0.05 and abs(point.offset) < 0.05, (fc.index, point)
        roads.append(point.road)
    return roads


def test_a_route_turns_left_through_the_junction(road_file):
    scenario = parse_scenario(scenario_text(road_file, "{position: {road: in, lane: -1, s: 50}, speed_mps: 10, "
                                                       "route: [in, out_left]}"), str(road_file.parent / "s.yaml"))
    fcs = list(ScenarioEngine(scenario).frames())
    roads = _roads_driven(fcs, junction_network())
    assert set(roads) == {"in", "c_left", "out_left"}
    assert roads[0] == "in" and roads[-1] == "out_left"
    assert fcs[-1].ego_pose.heading == pytest.approx(math.pi / 2, abs=1e-6)  # now driving north


def test_without_a_route_the_first_connection_is_taken(road_file):
    scenario = parse_scenario(scenario_text(road_file, "{position: {road: in, lane: -1, s: 50}, speed_mps: 10}"))
    roads = _roads_driven(ScenarioEngine(scenario).frames(), junction_network())
    assert set(roads) == {"in", "c_straight", "out_straight"}


def test_an_agent_on_a_route_is_labelled_with_its_world_pose(road_file):
    agents = ("  - {id: turner, type: car, speed_mps: 10, position: {road: in, lane: -1, s: 70}, "
              "route: [in, c_left, out_left]}\n")
    scenario = parse_scenario(scenario_text(road_file, "{position: {road: in, lane: -1, s: 50}, speed_mps: 10, "
                                                       "route: [in, out_left]}", agents))
    projector = Projector(junction_network())
    seen = 0
    for fc in ScenarioEngine(scenario).frames():
        for box in fc.boxes:
            point = projector.project(box.world_pose.x, box.world_pose.y, box.world_pose.heading)
            assert point.road in {"in", "c_left", "out_left"} and abs(point.offset) < 0.05
            seen += 1
    assert seen > 10


@pytest.mark.parametrize("ego, agents, key, message", [
    ("{position: {road: nowhere, lane: -1, s: 5}}", "", "ego.position.road", "there is no road 'nowhere'"),
    ("{position: {road: in, lane: -2, s: 5}}", "", "ego.position.lane", "road 'in' has no lane -2"),
    ("{position: {road: in, lane: -1, s: 150}}", "", "ego.position.s", "s 150 is off road 'in'"),
    ("{position: {road: in, lane: -1, s: 5}, route: [in, out_left, in]}", "", "ego.route", "no chain of lane links"),
    ("{speed_mps: 5}", "", "ego", "the ego needs a position"),
    ("{position: {road: in, lane: -1, s: 5}}", "  - {id: a, type: car, lane: 1, distance_m: 10}\n",
     "agents[0].lane", "lane 1 does not exist"),
    ("{position: {road: in, lane: -1, s: 5}}", "  - {id: a, type: car, lane: 0, distance_m: -20}\n",
     "agents[0].distance_m", "before the start"),
    ("{position: {road: in, lane: -1, s: 5}}",
     "  - {id: a, type: car, lane: 0, distance_m: 5, position: {road: in, lane: -1, s: 9}}\n",
     "agents[0]", "give either position or lane"),
])
def test_bad_positions_and_routes_are_located(road_file, ego, agents, key, message):
    text = scenario_text(road_file, ego, agents)
    issues = validate_scenario_text(text, "bad.yaml")
    assert [i.key_path for i in issues] == [key], issues
    assert message in issues[0].message and issues[0].line is not None and issues[0].column is not None
    with pytest.raises(ScenarioError):
        parse_scenario(text)


def test_a_missing_road_file_is_located(tmp_path):
    issues = validate_scenario_text("name: x\nduration_s: 2\nroad: {opendrive: nothere.xodr}\n",
                                    str(tmp_path / "s.yaml"))
    assert [(i.key_path, i.line) for i in issues] == [("road.opendrive", 3)]
