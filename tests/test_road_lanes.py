"""Lanes of drivesim.road against hand-computed values: borders from lane offset and width polynomials,
lane membership, lane coordinates <-> world poses (and back by projection), driving directions under
right- and left-hand traffic, polylines with road marks.

    python -m pytest tests/test_road_lanes.py -q
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from drivesim.road import (Arc, Lane, LaneOffset, LaneSection, LaneWidth, Line, Projector, ReferenceLine, Road,
                           RoadMark, RoadNetwork, Spiral, border_lines, lane_centre_lines, straight_road)


def _lane(lane_id: int, *widths: LaneWidth, kind: str = "driving", mark: str = "broken") -> Lane:
    return Lane(lane_id, kind, widths=widths, road_marks=(RoadMark(0.0, mark),))


def _widening_road() -> Road:
    """Straight 100 m; laneOffset 0.5 + 0.01 s; a section from s = 10 with lane 1 (2.5 m), lane -1 (3 + 0.02 ds)
    and lane -2 (3 m, then from sOffset 20: 3 + 0.001 ds^3)."""
    first = LaneSection(0.0, left=(_lane(1, LaneWidth(0.0, 2.5)),), right=(_lane(-1, LaneWidth(0.0, 3.0)),))
    second = LaneSection(10.0, left=(_lane(1, LaneWidth(0.0, 2.5)),),
                         right=(_lane(-1, LaneWidth(0.0, 3.0, 0.02)),
                                _lane(-2, LaneWidth(0.0, 3.0), LaneWidth(20.0, 3.0, 0.0, 0.0, 0.001), mark="solid")))
    return Road("w", 100.0, ReferenceLine((Line(0.0, 0.0, 0.0, 0.0, 100.0),)), (first, second),
                laneOffset=(LaneOffset(0.0, 0.5, 0.01),))


def test_borders_from_lane_offset_and_width_polynomials():
    road = _widening_road()
    # s = 40: offset 0.5 + 0.4 = 0.9; section ds = 30: w(-1) = 3 + 0.6, w(-2) = 3 + 0.001 * 10^3, w(1) = 2.5
    borders = road.borders(40.0)
    assert borders[0] == pytest.approx((0.9, 0.9))
    assert borders[1] == pytest.approx((0.9, 3.4))
    assert borders[-1] == pytest.approx((0.9, -2.7))
    assert borders[-2] == pytest.approx((-2.7, -6.7))
    t, slope = road.lane_center_t(-2, np.array([40.0]))
    # centre -(2.7 + 6.7) / 2; slope: offset 0.01, w(-1)' 0.02, w(-2)' 3 * 0.001 * 10^2 = 0.3
    assert t.tolist() == pytest.approx([-4.7]) and slope.tolist() == pytest.approx([0.01 - 0.02 - 0.3 / 2])
    assert road.borders(5.0)[-1] == pytest.approx((0.55, -2.45))  # first section: lane -1 only, 3 m


@pytest.mark.parametrize("t, lane", [(-3.0, -2), (0.0, -1), (1.0, 1), (0.9, 1), (3.5, None), (-6.8, None),
                                     (-2.7, -1)])
def test_lane_membership(t, lane):
    assert _widening_road().lane_at(40.0, t) == lane


def _curved_road(rule: str = "RHT") -> Road:
    """line 20 m -> arc R 100 left over 50 m -> spiral to straight over 40 m; lanes 1, -1, -2 (with widening)."""
    arc_end_x, arc_end_y = 20 + 100 * math.sin(0.5), 100 * (1 - math.cos(0.5))
    pieces = (Line(0.0, 0.0, 0.0, 0.0, 20.0), Arc(20.0, 20.0, 0.0, 0.0, 50.0, 0.01),
              Spiral(70.0, arc_end_x, arc_end_y, 0.5, 40.0, 0.01, 0.0))
    section = LaneSection(0.0, left=(_lane(1, LaneWidth(0.0, 3.5)),),
                          right=(_lane(-1, LaneWidth(0.0, 3.5)), _lane(-2, LaneWidth(0.0, 3.0, 0.005))))
    return Road("c", 110.0, ReferenceLine(pieces), (section,), rule=rule)


def test_lane_to_world_on_an_arc_is_the_circle_at_the_lane_radius():
    road = _curved_road()
    angle = 0.3  # round the arc (centre (20, 100)): s = 20 + 100 * angle
    pose = road.lane_to_world(-1, 20 + 100 * angle)  # lane -1 centre: t = -1.75, radius 101.75
    assert (pose.x, pose.y) == pytest.approx((20 + 101.75 * math.sin(angle), 100 - 101.75 * math.cos(angle)))
    assert pose.heading == pytest.approx(angle)
    opposite = road.lane_to_world(1, 20 + 100 * angle, offset=0.5)  # t = 2.25: radius 97.75, driven the other way
    assert (opposite.x, opposite.y) == pytest.approx((20 + 97.75 * math.sin(angle), 100 - 97.75 * math.cos(angle)))
    assert opposite.heading == pytest.approx(angle - math.pi)


def test_heading_follows_a_widening_lane():
    road = _curved_road()
    # on the first (straight) piece lane -2's centre is t = -3.5 - (3 + 0.005 s) / 2: slope -0.0025
    assert road.lane_to_world(-2, 10.0).heading == pytest.approx(math.atan2(-0.0025, 1.0))


@pytest.mark.parametrize("rule", ["RHT", "LHT"])
def test_driving_direction_of_left_and_right_lanes(rule):
    road = _curved_road(rule)
    right, left = road.lane_to_world(-1, 10.0), road.lane_to_world(1, 10.0)
    if rule == "RHT":  # right lanes towards +s, left lanes against s
        assert (road.direction(-1), road.direction(1)) == (1, -1)
        assert (right.heading, abs(left.heading)) == pytest.approx((0.0, math.pi))
    else:
        assert (road.direction(-1), road.direction(1)) == (-1, 1)
        assert (abs(right.heading), left.heading) == pytest.approx((math.pi, 0.0))
    one_way_lht = straight_road(50.0, [3.5], rule="LHT")  # lanes along +x are left lanes under LHT
    assert sorted(one_way_lht.laneSections[0].lanes) == [0, 1]
    assert one_way_lht.lane_to_world(1, 10.0).heading == pytest.approx(0.0)


@pytest.mark.parametrize("lane, s, offset", [(-1, 5.0, 0.0), (-1, 60.0, 0.3), (-2, 95.0, -0.4), (1, 45.0, 0.2),
                                             (-2, 108.0, 0.0)])
def test_lane_coordinates_round_trip_through_world(lane, s, offset):
    road = _curved_road()
    pose = road.lane_to_world(lane, s, offset)
    point = Projector(RoadNetwork.of([road])).project(pose.x, pose.y)
    assert (point.road, point.lane, point.distance) == ("c", lane, 0.0)
    assert (point.s, point.offset) == pytest.approx((s, offset), abs=1e-6)


def test_projection_onto_the_network():
    road = _curved_road()
    projector = Projector(RoadNetwork.of([road, straight_road(30.0, [3.5], road_id="far")]))
    # 2 m right of the arc's reference line, 0.4 rad round: radius 102 from the centre (20, 100)
    angle = 0.4
    point = projector.project(20 + 102 * math.sin(angle), 100 - 102 * math.cos(angle))
    assert (point.road, point.lane) == ("c", -1)
    assert (point.s, point.t) == pytest.approx((20 + 100 * angle, -2.0), abs=1e-6)
    beyond = projector.project(-5.0, -1.0)  # before the start of both roads: nearest is "far"/"c" at s = 0
    assert beyond.lane is None and beyond.s == 0.0 and beyond.distance == pytest.approx(5.0)
    aside = projector.project(10.0, -12.0)  # 12 m right of "c": 12 - 3.5 - 3.05 beyond lane -2
    assert (aside.road, aside.lane, aside.distance) == ("c", None, pytest.approx(12 - 3.5 - 3.05))


def test_polylines_of_centres_and_marked_borders():
    road = _widening_road()
    borders = border_lines(road, step=5.0)
    assert [(b.lane, b.mark) for b in borders if b.points[0, 0] == 10.0] == [
        (1, "broken"), (0, "none"), (-1, "broken"), (-2, "solid")]
    outer = next(b for b in borders if b.lane == -2)
    assert outer.points[:, 0].tolist() == pytest.approx(np.arange(10.0, 101.0, 5.0).tolist())
    ds = np.clip(outer.points[:, 0] - 30.0, 0.0, None)  # lane -2's cubic from sOffset 20 on
    expected_t = 0.5 + 0.01 * outer.points[:, 0] - (3 + 0.02 * (outer.points[:, 0] - 10)) - (3 + 0.001 * ds ** 3)
    assert outer.points[:, 1].tolist() == pytest.approx(expected_t.tolist())
    centres = {(c.lane, c.points[0, 0]): c for c in lane_centre_lines(road, step=5.0)}
    left = centres[(1, 100.0)]  # driven against s: listed from s = 100 back to the section's start
    assert left.points[-1, 0] == 10.0 and left.type == "driving"
    assert left.points[:, 1].tolist() == pytest.approx((0.5 + 0.01 * left.points[:, 0] + 1.25).tolist())
