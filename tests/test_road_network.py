"""Roads linked end to end and through a 4-way junction built here: successor lanes, routes across the
junction (straight on and turning left on an arc), projection telling overlapping connecting roads apart.

    python -m pytest tests/test_road_network.py -q
"""

from __future__ import annotations

import math

import pytest

from drivesim.errors import DrivesimError
from drivesim.road import (Arc, Connection, Junction, JunctionLaneLink, Lane, LaneRef, LaneSection, LaneWidth, Line,
                           Projector, ReferenceLine, Road, RoadLink, RoadNetwork, route)

W = 3.5  # every lane


def _lanes(*ids: int, links: dict[int, tuple[int | None, int | None]] | None = None) -> tuple[Lane, ...]:
    links = links or {}
    return tuple(Lane(i, widths=(LaneWidth(0.0, W),), predecessor=links.get(i, (i, i))[0],
                      successor=links.get(i, (i, i))[1]) for i in ids)


def _road(road_id, piece, predecessor=None, successor=None, junction="-1", left=(1,), right=(-1,), links=None) -> Road:
    return Road(road_id, piece.length, ReferenceLine((piece,)),
                (LaneSection(0.0, left=_lanes(*left, links=links), right=_lanes(*right, links=links)),),
                junction=junction, predecessor=predecessor, successor=successor)


def _junction_network() -> RoadNetwork:
    """Junction J in the box |x|, |y| <= 10: roads W (from x = -110, eastwards) and S (from y = -110,
    northwards) end at it, E and N start at it. Connecting roads: WE straight (both ways), SN straight
    north, SW a quarter circle of radius 10 about (-10, -10) turning left from S onto W's westbound lane."""
    to_j, from_j = RoadLink("junction", "J"), RoadLink("junction", "J")
    roads = [
        _road("W", Line(0.0, -110.0, 0.0, 0.0, 100.0), successor=to_j),
        _road("E", Line(0.0, 10.0, 0.0, 0.0, 100.0), predecessor=from_j),
        _road("S", Line(0.0, 0.0, -110.0, math.pi / 2, 100.0), successor=to_j),
        _road("N", Line(0.0, 0.0, 10.0, math.pi / 2, 100.0), predecessor=from_j),
        _road("WE", Line(0.0, -10.0, 0.0, 0.0, 20.0), RoadLink("road", "W", "end"), RoadLink("road", "E", "start"),
              "J"),
        _road("SN", Line(0.0, 0.0, -10.0, math.pi / 2, 20.0), RoadLink("road", "S", "end"),
              RoadLink("road", "N", "start"), "J", left=()),
        # lane -1 of S continues as lane -1 of SW, which comes out as lane 1 of W (driven westwards, -s)
        _road("SW", Arc(0.0, 0.0, -10.0, math.pi / 2, 5 * math.pi, 0.1), RoadLink("road", "S", "end"),
              RoadLink("road", "W", "end"), "J", left=(), links={-1: (-1, 1)}),
    ]
    junction = Junction("J", (
        Connection("0", "W", "WE", "start", (JunctionLaneLink(-1, -1),)),
        Connection("1", "E", "WE", "end", (JunctionLaneLink(1, 1),)),
        Connection("2", "S", "SN", "start", (JunctionLaneLink(-1, -1),)),
        Connection("3", "S", "SW", "start", (JunctionLaneLink(-1, -1),)),
    ))
    return RoadNetwork.of(roads, [junction])


def test_the_left_turn_arc_meets_the_roads_it_connects():
    network = _junction_network()
    sw, w = network.roads["SW"], network.roads["W"]
    end = sw.lane_to_world(-1, sw.length)
    into = w.lane_to_world(1, w.length)
    assert (end.x, end.y, end.heading) == pytest.approx((into.x, into.y, into.heading))
    assert (end.x, end.y, end.heading) == pytest.approx((-10.0, W / 2, math.pi))


def test_successors_through_the_junction():
    network = _junction_network()
    north = network.lane_ref("S", -1, 50.0)
    assert north == LaneRef("S", 0, -1, 1)
    assert set(network.successors(north)) == {LaneRef("SN", 0, -1, 1), LaneRef("SW", 0, -1, 1)}
    assert network.successors(LaneRef("SW", 0, -1, 1)) == [LaneRef("W", 0, 1, -1)]
    assert network.successors(LaneRef("W", 0, 1, -1)) == []  # W's start is a dead end
    # westbound from E: E's lane 1 leaves E at s = 0 into WE lane 1 (entered at its end), then W lane 1
    assert network.successors(network.lane_ref("E", 1, 50.0)) == [LaneRef("WE", 0, 1, -1)]
    assert network.successors(LaneRef("WE", 0, 1, -1)) == [LaneRef("W", 0, 1, -1)]


def test_route_across_the_junction():
    network = _junction_network()
    left_turn = route(network, "S", -1, to="W")
    assert [(step.road, step.lane, step.direction) for step in left_turn] == [("S", -1, 1), ("SW", -1, 1), ("W", 1, -1)]
    ranges = [s for step in left_turn for s in (step.s_start, step.s_end)]
    assert ranges == pytest.approx([0, 100, 0, 5 * math.pi, 100, 0])
    straight_on = route(network, "W", -1, to=["E"], s=30.0)
    assert [(step.road, step.s_start, step.s_end) for step in straight_on] == [("W", 30.0, 100.0), ("WE", 0.0, 20.0),
                                                                               ("E", 0.0, 100.0)]
    assert [step.road for step in route(network, "S", -1, to=["S", "N"])] == ["S", "SN", "N"]
    with pytest.raises(DrivesimError, match="no chain of lane links leads from road 'W' lane -1 at s=0 to road 'N'"):
        route(network, "W", -1, to="N")


def test_route_names_the_start_lane_that_would_get_there():
    network = RoadNetwork.of([_road("A", Line(0.0, 0.0, 0.0, 0.0, 50.0), right=(-1, -2), left=(),
                                    links={-1: (None, None)}, successor=RoadLink("road", "B", "start")),
                              _road("B", Line(0.0, 50.0, 0.0, 0.0, 50.0), right=(-1, -2), left=(),
                                    predecessor=RoadLink("road", "A", "end"))])
    with pytest.raises(DrivesimError, match="start in lane -2 of road 'A' instead"):
        route(network, "A", -1, to="B")


def test_successors_across_lane_sections_and_a_reversed_road():
    # A: lane -1, then from s = 25 lanes -1 and -2; its end meets B's END, so A's lane -1 goes on in B's lane 1
    a_sections = (LaneSection(0.0, right=_lanes(-1)),
                  LaneSection(25.0, right=_lanes(-1, -2, links={-1: (-1, 1), -2: (None, None)})))
    a = Road("A", 50.0, ReferenceLine((Line(0.0, 0.0, 0.0, 0.0, 50.0),)), a_sections,
             successor=RoadLink("road", "B", "end"))
    b = _road("B", Line(0.0, 100.0, 0.0, math.pi, 50.0), successor=RoadLink("road", "A", "end"),
              links={1: (1, -1), -1: (-1, -1)})
    network = RoadNetwork.of([a, b])
    assert network.successors(LaneRef("A", 0, -1, 1)) == [LaneRef("A", 1, -1, 1)]
    assert network.successors(LaneRef("A", 1, -1, 1)) == [LaneRef("B", 0, 1, -1)]
    chain = route(network, "A", -1, to="B")
    assert [(s.road, s.lane, s.s_start, s.s_end) for s in chain] == [("A", -1, 0.0, 25.0), ("A", -1, 25.0, 50.0),
                                                                      ("B", 1, 50.0, 0.0)]
    assert b.lane_to_world(1, 50.0).heading == pytest.approx(0.0)  # B's lane 1, driven -s, faces +x like A's


def test_projection_tells_overlapping_connecting_roads_apart_by_heading():
    network = _junction_network()
    projector = Projector(network)
    angle = math.pi / 6  # on SW's lane centre (radius 11.75 about (-10, -10)), which lies inside SN's lane too
    x, y = -10 + 11.75 * math.cos(angle), -10 + 11.75 * math.sin(angle)
    turning = projector.project(x, y, heading=math.pi / 2 + angle)
    assert (turning.road, turning.lane) == ("SW", -1)
    assert (turning.s, turning.offset) == pytest.approx((10 * angle, 0.0), abs=1e-6)
    going_straight = projector.project(x, y, heading=math.pi / 2)
    assert (going_straight.road, going_straight.lane) == ("SN", -1)
    assert going_straight.s == pytest.approx(y + 10)
