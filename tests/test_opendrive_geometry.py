"""The OpenDRIVE reader against values computed by hand: reference-line pieces (arc, clothoid by Fresnel
integrals, paramPoly3), lane borders from widths and laneOffset, elevation, junction successors.

    python -m pytest tests/test_opendrive_geometry.py -q
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import fresnel
from test_opendrive_fixtures import ROADS, road, write_xodr

from drivesim.road import LaneRef
from drivesim.standards.opendrive import read_network, read_opendrive


def _pose(road_, s):
    x, y, hdg = road_.planView.pose(s)
    return float(x), float(y), float(hdg)


def test_an_arc_ends_where_its_circle_says(tmp_path):
    x0, y0, hdg, length, k = 5.0, -3.0, 0.3, 40.0, 0.02  # radius 50 m, turning 0.8 rad left
    path = write_xodr(tmp_path, road("1", length, f'<geometry s="0" x="{x0}" y="{y0}" hdg="{hdg}" length="{length}">'
                                                  f'<arc curvature="{k}"/></geometry>'))
    arc_road = read_network(path).roads["1"]
    r = 1 / k
    cx, cy = x0 - r * math.sin(hdg), y0 + r * math.cos(hdg)  # the centre, left of the start
    end = hdg + k * length
    assert _pose(arc_road, length) == pytest.approx((cx + r * math.sin(end), cy - r * math.cos(end), end), abs=1e-9)
    # 1.75 m right of the reference line lies on the circle of radius r + 1.75
    x, y, _, _, _ = arc_road.lane_to_world(-1, 20.0)
    assert math.hypot(x - cx, y - cy) == pytest.approx(r + 1.75, abs=1e-9)


def test_the_country_roads_clothoids_follow_the_fresnel_integrals():
    country = read_network(ROADS / "country_road.xodr").roads["1"]
    arc, spiral_out = country.planView.geometries[2:4]
    # spiral_in: curvature 0 -> 1/200 over 50 m from (100, 0) heading 0: x + i y = a (C(L/a) + i S(L/a)),
    # a = sqrt(pi L / k1) (scipy's Fresnel integrals use sin(pi t^2 / 2))
    length, k1 = 50.0, 1 / 200
    a = math.sqrt(math.pi * length / k1)
    s_f, c_f = fresnel(length / a)
    expected = (100.0 + a * c_f, a * s_f, k1 * length / 2)
    assert _pose(country, 150.0) == pytest.approx(expected, abs=1e-9)
    assert (arc.x, arc.y, arc.hdg) == pytest.approx(expected, abs=1e-9)  # the file's next record starts there
    # spiral_out (curvature 1/200 -> 0): its offset by quadrature of the heading
    rate = -k1 / length
    heading = lambda ds: spiral_out.hdg + k1 * ds + rate * ds * ds / 2
    dx = quad(lambda ds: math.cos(heading(ds)), 0, length, epsabs=1e-13)[0]
    dy = quad(lambda ds: math.sin(heading(ds)), 0, length, epsabs=1e-13)[0]
    assert _pose(country, 300.0) == pytest.approx((spiral_out.x + dx, spiral_out.y + dy, 0.75), abs=1e-9)
    assert country.planView.evaluate(275.0).curvature == pytest.approx(k1 / 2)


def test_a_param_poly3_point_is_where_its_cubics_put_it():
    motorway = read_network(ROADS / "motorway_parampoly.xodr").roads["1"]
    shift = motorway.planView.geometries[1]  # normalized: u = 300 p, v = 45 p^2 - 30 p^3 from (200, 0), heading 0
    speed = lambda p: math.hypot(300.0, 90 * p - 90 * p * p)
    total = quad(speed, 0, 1, epsabs=1e-12)[0]
    assert shift.length == pytest.approx(total, abs=1e-6)
    s_half = quad(speed, 0, 0.5, epsabs=1e-12)[0]
    x, y, hdg = _pose(motorway, 200.0 + s_half)
    assert (x, y, hdg) == pytest.approx((200.0 + 150.0, 45 * 0.25 - 30 * 0.125, math.atan2(22.5, 300.0)), abs=1e-6)
    # the arcLength piece: u = p - (2/3) c^2 p^3, v = c p^2 over p in [0, 250] from (500, 15); it ends at p = 250
    c = 0.0004
    end = 500.449518992 + 250.0
    expected = (500.0 + 250.0 - 2 / 3 * c * c * 250.0 ** 3, 15.0 + c * 250.0 ** 2,
                math.atan2(2 * c * 250.0, 1 - 2 * c * c * 250.0 ** 2))
    assert _pose(motorway, end) == pytest.approx(expected, abs=1e-6)


def _same_borders(found: dict, expected: dict) -> None:
    assert sorted(found) == sorted(expected)
    for lane_id, pair in expected.items():
        assert found[lane_id] == pytest.approx(pair), lane_id


def test_lane_borders_add_widths_to_the_lane_offset(tmp_path):
    lanes = """
        <lanes>
            <laneOffset s="0" a="0.5" b="0.01" c="0" d="0"/>
            <laneOffset s="50" a="1.0" b="0" c="0.0002" d="0"/>
            <laneSection s="0">
                <left><lane id="1" type="driving"><width sOffset="0" a="3" b="0" c="0" d="0"/></lane></left>
                <center><lane id="0" type="none"/></center>
                <right>
                    <lane id="-1" type="driving"><width sOffset="0" a="3.5" b="0.02" c="0" d="0"/></lane>
                    <lane id="-2" type="shoulder">
                        <width sOffset="0" a="2" b="0" c="0" d="0"/>
                        <width sOffset="20" a="2" b="0.05" c="-0.001" d="0"/>
                    </lane>
                </right>
            </laneSection>
            <laneSection s="60">
                <center><lane id="0" type="none"/></center>
                <right><lane id="-1" type="driving"><width sOffset="0" a="4" b="0" c="0" d="1e-5"/></lane></right>
            </laneSection>
        </lanes>"""
    path = write_xodr(tmp_path, road("1", 100.0, '<geometry s="0" x="0" y="0" hdg="0" length="100"><line/></geometry>',
                                     lanes=lanes))
    r = read_network(path).roads["1"]
    offset = 0.5 + 0.01 * 30  # s = 30: the first laneOffset record
    w1, w_1, w_2 = 3.0, 3.5 + 0.02 * 30, 2 + 0.05 * 10 - 0.001 * 100  # lane -2: its second record, ds = 10
    _same_borders(r.borders(30.0), {0: (offset, offset), 1: (offset, offset + w1), -1: (offset, offset - w_1),
                                    -2: (offset - w_1, offset - w_1 - w_2)})
    offset, width = 1.0 + 0.0002 * 30 ** 2, 4 + 1e-5 * 20 ** 3  # s = 80: second offset record, second section
    _same_borders(r.borders(80.0), {0: (offset, offset), -1: (offset, offset - width)})
    assert r.lane_to_world(-1, 80.0)[:2] == pytest.approx((80.0, offset - width / 2))
    # the motorway's exit lane: 3.75 (3 x^2 - 2 x^3), x = ds / 100, from s = 100 of road 2
    exit_road = read_network(ROADS / "motorway_parampoly.xodr").roads["2"]
    inner = -(1.0 + 3 * 3.75)
    assert exit_road.borders(150.0)[-5] == pytest.approx((inner, inner - 3.75 * (3 * 0.25 - 2 * 0.125)))
    assert exit_road.borders(250.0)[-6] == pytest.approx((inner - 3.75, inner - 3.75 - 2.5))


def test_elevation_follows_the_profile():
    country = read_network(ROADS / "country_road.xodr").roads["1"]
    z, pitch = country.elevation(np.array([100.0, 200.0, 300.0, 400.0]))
    assert z == pytest.approx([0.02 * 100 + 1e-4 * 100 ** 2, 8.0, 8 + 0.06 * 100 - 1.5e-4 * 100 ** 2, 14.0])
    assert pitch == pytest.approx(np.arctan([0.02 + 2e-4 * 100, 0.06, 0.06 - 3e-4 * 100, 0.0]))
    pose = country.lane_to_world(1, 100.0)  # lane 1 is driven towards -s: downhill
    assert pose.z == pytest.approx(3.0) and pose.pitch < 0


def test_a_junction_leads_each_incoming_lane_into_its_connecting_roads():
    network = read_network(ROADS / "crossing.xodr")
    assert len(network.junctions["100"].connections) == 12
    from_west = network.successors(network.lane_ref("1", -1, 50.0))
    assert from_west == [LaneRef(c, 0, -1, 1) for c in ("101", "102", "103")]  # straight, left, right
    from_east = network.successors(network.lane_ref("2", 1, 50.0))  # lane 1 is driven towards -s, to s = 0
    assert from_east == [LaneRef(c, 0, -1, 1) for c in ("104", "105", "106")]
    assert network.successors(LaneRef("102", 0, -1, 1)) == [LaneRef("4", 0, -1, 1)]  # west -> north
    assert network.successors(LaneRef("103", 0, -1, 1)) == [LaneRef("3", 0, 1, -1)]  # west -> south, at 3's end
    assert network.successors(network.lane_ref("1", 1, 50.0)) == []  # driving away from the junction: its start


def test_read_opendrive_keeps_the_header_and_the_road_elements():
    read = read_opendrive(ROADS / "crossing.xodr")
    assert (read.header.revMajor, read.header.revMinor, read.header.name) == (1, 6, "crossing")
    assert read.elements["101"].tag == "road" and read.elements["101"].line > 1
    assert read.network.roads["102"].planView.geometries[0].element == "arc"


def test_a_single_side_section_keeps_the_other_sides_lanes(tmp_path):
    lanes = """
        <lanes>
            <laneSection s="0">
                <left><lane id="1" type="driving">
                    <link><successor id="1"/></link>
                    <width sOffset="0" a="3" b="0" c="0" d="0"/><width sOffset="40" a="3" b="0.01" c="0.0001" d="0"/>
                    <roadMark sOffset="0" type="solid"/><roadMark sOffset="70" type="broken"/>
                </lane></left>
                <center><lane id="0" type="none"/></center>
                <right><lane id="-1" type="driving"><width sOffset="0" a="3.5" b="0" c="0" d="0"/></lane></right>
            </laneSection>
            <laneSection s="60" singleSide="true">
                <center><lane id="0" type="none"/></center>
                <right>
                    <lane id="-1" type="driving"><width sOffset="0" a="3.5" b="0" c="0" d="0"/></lane>
                    <lane id="-2" type="exit"><width sOffset="0" a="0" b="0.05" c="0" d="0"/></lane>
                </right>
            </laneSection>
        </lanes>"""
    path = write_xodr(tmp_path, road("1", 100.0, '<geometry s="0" x="0" y="0" hdg="0" length="100"><line/></geometry>',
                                     lanes=lanes))
    read = read_opendrive(path)
    r = read.network.roads["1"]
    assert sorted(r.laneSections[1].lanes) == [-2, -1, 0, 1]
    for s in (60.0, 75.0, 99.0):  # lane 1's width goes on as its second record says: 3 + 0.01 ds + 0.0001 ds^2
        ds = s - 40.0
        assert r.borders(s)[1] == pytest.approx((0.0, 3 + 0.01 * ds + 0.0001 * ds * ds))
    assert r.laneSections[1].lanes[1].predecessor == 1
    assert [(m.sOffset, m.type) for m in r.laneSections[1].lanes[1].road_marks] == [(0.0, "solid"), (10.0, "broken")]
    (note,) = read.unsupported
    assert note.record == "road/lanes/laneSection/@singleSide" and "not read" not in str(note)
