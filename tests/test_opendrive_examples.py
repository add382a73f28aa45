"""The example road files (scenarios/roads/*.xodr) read through the registered reader without errors or
warnings, and hold together: pieces chain, every road meets what it links to (1 cm, 0.5 degree), and
every lane continues into lanes that start where it ends, facing its way.

    python -m pytest tests/test_opendrive_examples.py -q
"""

from __future__ import annotations

import itertools
import math
import warnings

import pytest
from test_opendrive_fixtures import EXAMPLES, ROADS

import drivesim  # noqa: F401 - registers .xodr
from drivesim.road import LaneRef, Road, RoadNetwork
from drivesim.scenario.file_formats import read_road_network
from drivesim.standards.opendrive import OpenDriveWarning

POSITION_M, HEADING_RAD = 0.01, math.radians(0.5)
_INSIDE = 1e-7  # evaluate a lane section just inside its end (the next section starts there)


@pytest.fixture(scope="module", params=EXAMPLES)
def network(request) -> RoadNetwork:
    with warnings.catch_warnings():
        warnings.simplefilter("error", OpenDriveWarning)  # the examples use nothing drivesim does not read
        return read_road_network(ROADS / f"{request.param}.xodr")


def _end_pose(road: Road, contact: str) -> tuple[float, float, float]:
    x, y, hdg = road.planView.pose(0.0 if contact == "start" else road.length)
    return float(x), float(y), float(hdg)


def _meet(a: tuple[float, float, float], b: tuple[float, float, float], opposite: bool, what: str) -> None:
    assert math.hypot(a[0] - b[0], a[1] - b[1]) < POSITION_M, f"{what}: {a[:2]} vs {b[:2]}"
    turn = math.remainder(a[2] - b[2] + (math.pi if opposite else 0.0), 2 * math.pi)
    assert abs(turn) < HEADING_RAD, f"{what}: heading {a[2]:.5f} vs {b[2]:.5f}"


def test_pieces_chain_inside_each_road(network):
    for road in network.roads.values():
        pieces = road.planView.geometries
        for before, after in itertools.pairwise(pieces):
            end = before.end()
            _meet((float(end.x), float(end.y), float(end.hdg)), (after.x, after.y, after.hdg), False,
                  f"road {road.id} at s={after.s:g}")


def test_every_road_meets_the_roads_it_links_to(network):
    links = 0
    for road in network.roads.values():
        for own_end, link in (("start", road.predecessor), ("end", road.successor)):
            if link is None:
                continue
            if link.elementType == "road":
                other = [(network.roads[link.elementId], link.contactPoint)]
            else:  # the junction's connecting roads that this road leads into
                other = [(network.roads[c.connectingRoad], c.contactPoint)
                         for c in network.junctions[link.elementId].connections if c.incomingRoad == road.id]
                assert other, f"road {road.id} links junction {link.elementId}, which has no connection from it"
            for other_road, contact in other:
                # end meets start (or start meets end): same heading; start meets start or end meets end: opposite
                _meet(_end_pose(road, own_end), _end_pose(other_road, contact), own_end == contact,
                      f"road {road.id} {own_end} -> road {other_road.id} {contact}")
                links += 1
    assert links or len(network.roads) == 1


def _lane_pose(road: Road, ref: LaneRef, leaving: bool) -> tuple[float, float, float]:
    """The pose on the lane's centre line, facing its driving direction, where it leaves (or enters) its
    lane section."""
    start, end = road.section_range(ref.section)
    at_far_end = (ref.direction > 0) == leaving
    s = end - _INSIDE if at_far_end and end < road.length else (end if at_far_end else start)
    pose = road.lane_to_world(ref.lane, s)
    return pose.x, pose.y, pose.heading


def test_every_lane_continues_into_lanes_that_start_where_it_ends(network):
    continued = 0
    for road in network.roads.values():
        for index, section in enumerate(road.laneSections):
            for lane_id in section.lanes:
                if lane_id == 0:
                    continue
                ref = LaneRef(road.id, index, lane_id, road.direction(lane_id))
                for after in network.successors(ref):
                    assert after.lane in network.roads[after.road].laneSections[after.section].lanes
                    _meet(_lane_pose(road, ref, leaving=True), _lane_pose(network.roads[after.road], after, False),
                          False, f"{ref} -> {after}")
                    continued += 1
    assert continued or len(network.roads) == 1


def test_the_examples_are_what_their_comments_say():
    with warnings.catch_warnings():
        warnings.simplefilter("error", OpenDriveWarning)
        country = read_road_network(ROADS / "country_road.xodr").roads["1"]
        crossing = read_road_network(ROADS / "crossing.xodr")
        motorway = read_road_network(ROADS / "motorway_parampoly.xodr")
    assert [g.element for g in country.planView.geometries] == ["line", "spiral", "arc", "spiral", "line"]
    assert sorted(country.laneSections[0].lanes) == [-1, 0, 1] and country.length == pytest.approx(400.0)
    assert float(country.elevation(400.0)[0]) == pytest.approx(14.0)
    connecting = [r for r in crossing.roads.values() if r.in_junction]
    assert len(connecting) == 12 and {g.element for r in connecting for g in r.planView.geometries} == {"line", "arc"}
    pieces = motorway.roads["1"].planView.geometries
    assert [(g.element, g.pRange) for g in pieces] == [("paramPoly3", "arcLength"), ("paramPoly3", "normalized"),
                                                        ("paramPoly3", "arcLength"), ("paramPoly3", "normalized")]
    lanes = motorway.roads["1"].laneSections[0].lanes
    assert [lane_id for lane_id, lane in lanes.items() if lane.type == "driving"] == [4, 3, 2, -2, -3, -4]
