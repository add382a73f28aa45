"""Every problem a road or network is built with is a DrivesimError naming the road, the record, the s
where it happens and how to fix it.

    python -m pytest tests/test_road_checks.py -q
"""

from __future__ import annotations

import math

import pytest

from drivesim.errors import DrivesimError
from drivesim.road import (UNSUPPORTED, Connection, Elevation, Junction, JunctionLaneLink, Lane, LaneOffset,
                           LaneSection, LaneWidth, Line, ParamPoly3, Poly3, Projector, ReferenceLine, Road, RoadLink,
                           RoadMark, RoadNetwork, Spiral, straight_road)


def _section(s: float = 0.0, **lane_kwargs) -> LaneSection:
    return LaneSection(s, right=(Lane(-1, widths=(LaneWidth(0.0, 3.5),), **lane_kwargs),))


def _road(pieces=None, sections=None, length=100.0, road_id="r7", **kwargs) -> Road:
    pieces = pieces or (Line(0.0, 0.0, 0.0, 0.0, length),)
    return Road(road_id, length, ReferenceLine(tuple(pieces)), tuple(sections or (_section(),)), **kwargs)


def _raises(match: str, build) -> str:
    with pytest.raises(DrivesimError, match=match) as caught:
        build()
    assert "Fix: " in str(caught.value)
    return str(caught.value)


@pytest.mark.parametrize("length", [-5.0, math.nan, math.inf])
def test_a_bad_road_length(length):
    _raises(r"road 'r7', <road>: length is", lambda: _road(length=length))


def test_a_negative_or_nan_piece_length():
    _raises(r"road 'r7', <geometry><line> at s=0: length is -5",
            lambda: _road([Line(0.0, 0.0, 0.0, 0.0, -5.0)], length=5.0))
    _raises(r"road 'r7', <geometry><spiral> at s=0: length is nan. Fix: give length a finite number",
            lambda: _road([Spiral(0.0, 0.0, 0.0, 0.0, math.nan, 0.0, 0.1)], length=5.0))


def test_a_spiral_of_length_zero():
    message = _raises(r"road 'r7', <geometry><spiral> at s=20: length is 0",
                      lambda: _road([Line(0.0, 0.0, 0.0, 0.0, 20.0), Spiral(20.0, 20.0, 0.0, 0.0, 0.0, 0.0, 0.1)],
                                    length=20.0))
    assert "give the spiral a positive length, or drop the record" in message


def test_non_finite_coefficients():
    _raises(r"road 'r7', <geometry><poly3> at s=0: c is inf",
            lambda: _road([Poly3(0.0, 0.0, 0.0, 0.0, 100.0, 0.0, 0.0, math.inf, 0.0)]))
    _raises(r"road 'r7', <geometry><line> at s=0: hdg is nan", lambda: _road([Line(0.0, 0.0, 0.0, math.nan, 100.0)]))
    _raises(r"road 'r7', <elevation> at s=10: b is nan",
            lambda: _road(elevationProfile=(Elevation(10.0, 0.0, math.nan),)))
    _raises(r"road 'r7', <laneOffset> at s=0: d is -inf",
            lambda: _road(laneOffset=(LaneOffset(0.0, 0.0, 0, 0, -math.inf),)))
    _raises(r"road 'r7', <laneSection> lane -1 <width> at s=0: a is nan",
            lambda: _road(sections=[LaneSection(0.0, right=(Lane(-1, widths=(LaneWidth(0.0, math.nan),)),))]))
    _raises(r"road 'r7', <laneSection> lane -1 <roadMark> at s=0: width is inf",
            lambda: _road(sections=[_section(road_marks=(RoadMark(0.0, "solid", width=math.inf),))]))


def test_a_lane_width_that_goes_negative():
    # 1 - 0.2 ds + 0.005 ds^2 is lowest (-1) at ds = 20, in the section from s = 30
    widths = (LaneWidth(0.0, 1.0, -0.2, 0.005),)
    sections = [_section(), LaneSection(30.0, right=(Lane(-1, widths=widths),))]
    message = _raises(r"road 'r7', <laneSection> lane -1 <width sOffset=0> at s=50: the width goes negative \(-1 m\)",
                      lambda: _road(sections=sections))
    assert "stays >= 0" in message


def test_lanes_without_width_gaps_in_ids_and_unknown_types():
    _raises(r"road 'r7', <laneSection> lane -1 at s=0: it has no <width>",
            lambda: _road(sections=[LaneSection(0.0, right=(Lane(-1),))]))
    _raises(r"road 'r7', <laneSection><right> at s=0: its lane ids are \[-3, -1\]",
            lambda: _road(sections=[LaneSection(0.0, right=(Lane(-1, widths=(LaneWidth(0.0, 3.0),)),
                                                            Lane(-3, widths=(LaneWidth(0.0, 3.0),))))]))
    _raises(r"road 'r7', <laneSection> lane -1 at s=0: type 'highway' is not an OpenDRIVE lane type",
            lambda: _road(sections=[LaneSection(0.0, right=(Lane(-1, "highway", widths=(LaneWidth(0.0, 3.0),)),))]))
    _raises(r"road 'r7', <laneSection> lane -1 <roadMark> at s=5: type 'dotted' is not an OpenDRIVE road mark type",
            lambda: _road(sections=[_section(road_marks=(RoadMark(5.0, "dotted"),))]))


def test_unknown_lane_ids_in_links():
    # between lane sections of one road
    _raises(r"road 'r7', <laneSection> lane -1 at s=0: it links to lane -2, which the lane section at s=40 does not "
            r"have \(lanes \[-1, 0\]\)", lambda: _road(sections=[_section(successor=-2), _section(40.0)]))
    # across road ends
    a = _road(road_id="a", successor=RoadLink("road", "b", "start"), sections=[_section(successor=-3)])
    b = _road(road_id="b", predecessor=RoadLink("road", "a", "end"))
    _raises(r"road 'a', <laneSection> lane -1 <link><successor> at s=0: it names lane -3, but road 'b' has lanes "
            r"\[-1, 0\] at its start", lambda: RoadNetwork.of([a, b]))
    # through a junction
    a = _road(road_id="a", successor=RoadLink("junction", "J"))
    c = _road(road_id="c", junction="J", predecessor=RoadLink("road", "a", "end"))
    bad = Junction("J", (Connection("0", "a", "c", "start", (JunctionLaneLink(-1, -4),)),))
    _raises(r"road 'c', <junction id=J><connection id=0><laneLink from=-1 to=-4> at s=0: road 'c' has no lane -4",
            lambda: RoadNetwork.of([a, c], [bad]))


def test_links_to_missing_roads_and_junctions():
    _raises(r"road 'a', <link><successor>: it names road 'zz'",
            lambda: RoadNetwork.of([_road(road_id="a", successor=RoadLink("road", "zz", "start"))]))
    _raises(r"road 'a', <road>: it lies in junction '9'", lambda: RoadNetwork.of([_road(road_id="a", junction="9")]))
    _raises(r"road 'a', <link><successor>: elementType 'road', contactPoint None",
            lambda: _road(road_id="a", successor=RoadLink("road", "b")))


def test_plan_view_gaps_and_length_mismatch():
    _raises(r"road 'r7', <geometry><line> at s=12: it starts at s=12, but the pieces before it end at s=10",
            lambda: _road([Line(0.0, 0.0, 0.0, 0.0, 10.0), Line(12.0, 12.0, 0.0, 0.0, 88.0)]))
    _raises(r"road 'r7', <planView> at s=90: the pieces end at s=90, the road is 100 m long",
            lambda: _road([Line(0.0, 0.0, 0.0, 0.0, 90.0)]))


def test_a_param_poly3_that_stops():
    # u = p - p^2 stands still at p = 0.5 while v = 0: no heading there
    stops = ParamPoly3(0.0, 0.0, 0.0, 0.0, 10.0, 0.0, 1.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, pRange="normalized")
    _raises(r"road 'r7', <geometry><paramPoly3> at s=5: the curve stops", lambda: _road([stops], length=10.0))


def test_the_straight_road_builder_passes_and_unsupported_features_say_why():
    assert straight_road(50.0, [3.0], oncoming_lane_widths=[3.0, 2.5]).laneSections[0].lanes[2].type == "driving"
    assert "road/lateralProfile/superelevation" in UNSUPPORTED
    assert all(reason for reason in UNSUPPORTED.values())


def test_non_finite_positions_are_refused():
    road = straight_road(50.0, [3.5])
    _raises(r"road '0', lane -1: the position s=nan, offset=0.0 is not finite",
            lambda: road.lane_to_world(-1, math.nan))
    _raises(r"cannot place the world point \(1.0, inf\) on a road",
            lambda: Projector(RoadNetwork.of([road])).project(1.0, math.inf))


def test_a_spiral_too_short_for_its_change_of_curvature():
    # found by tests/test_fuzz_doors.py: 5e-324 m for a change of 0.005 1/m makes an infinite curvature rate (an
    # inline road's clothoid of that length was a ZeroDivisionError)
    message = _raises(r"road 'r7', <geometry><spiral> at s=20: its curvature changes from 0 to 0.005 over 4\.9\d*e-324",
                      lambda: _road([Line(0.0, 0.0, 0.0, 0.0, 20.0), Spiral(20.0, 20.0, 0.0, 0.0, 5e-324, 0.0, 0.005)],
                                    length=20.0))
    assert "give the spiral a length its change of curvature fits in" in message
