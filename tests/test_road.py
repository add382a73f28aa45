"""Reference-line geometry of drivesim.road against hand-computed values: line, arc, clothoid (Fresnel
series written here; numerical integration for non-zero start curvature), poly3 and paramPoly3
(arc length integrated here), continuity across pieces, elevation.

    python -m pytest tests/test_road.py -q
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from drivesim.road import (Arc, Elevation, Lane, LaneSection, LaneWidth, Line, ParamPoly3, Poly3, ReferenceLine, Road,
                           Spiral, straight_road)

MM = 1e-3


def _cumulative_trapezoid(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum((values[1:] + values[:-1]) / 2 * np.diff(grid))])


def _integrate_heading(x0: float, y0: float, heading: np.ndarray, ds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions along a curve of known heading by dense trapezoids."""
    return x0 + _cumulative_trapezoid(np.cos(heading), ds), y0 + _cumulative_trapezoid(np.sin(heading), ds)


def test_line_ends_length_along_its_heading():
    line = Line(s=5.0, x=1.0, y=2.0, hdg=math.atan2(3, 4), length=10.0)
    end = line.end()
    assert (float(end.x), float(end.y)) == pytest.approx((1 + 8, 2 + 6), abs=1e-12)
    assert float(end.hdg) == pytest.approx(math.atan2(3, 4))
    assert float(end.curvature) == 0.0
    mid = line.evaluate(np.array([10.0]))  # road s = 10: 5 m in
    assert mid.x.tolist() == pytest.approx([1 + 4]) and mid.y.tolist() == pytest.approx([2 + 3])


@pytest.mark.parametrize("curvature, y_sign", [(0.01, 1), (-0.01, -1)])
def test_arc_quarter_circle_of_radius_100(curvature, y_sign):
    arc = Arc(s=0.0, x=0.0, y=0.0, hdg=0.0, length=50 * math.pi, curvature=curvature)
    end = arc.end()
    assert (float(end.x), float(end.y)) == pytest.approx((100.0, y_sign * 100.0), abs=1e-9)
    assert float(end.hdg) == pytest.approx(y_sign * math.pi / 2)
    half = arc.evaluate(25 * math.pi)  # 45 degrees round: (R sin 45, R (1 - cos 45))
    assert float(half.x) == pytest.approx(100 * math.sin(math.pi / 4), abs=1e-9)
    assert float(half.y) == pytest.approx(y_sign * 100 * (1 - math.cos(math.pi / 4)), abs=1e-9)
    assert float(half.curvature) == curvature


def _fresnel_series(length: float, a2: float) -> tuple[float, float]:
    """x = int_0^L cos(u^2 / (2 A^2)) du, y = int_0^L sin(...) du by their power series."""
    x = y = 0.0
    k = 1 / (2 * a2)
    for n in range(30):
        x += (-1) ** n * k ** (2 * n) * length ** (4 * n + 1) / (math.factorial(2 * n) * (4 * n + 1))
        y += (-1) ** n * k ** (2 * n + 1) * length ** (4 * n + 3) / (math.factorial(2 * n + 1) * (4 * n + 3))
    return x, y


@pytest.mark.parametrize("sign", [1, -1])
def test_clothoid_from_straight_matches_the_fresnel_series(sign):
    # curvature 0 -> 0.01 over 100 m: A^2 = L / k_end = 10_000, heading at the end L^2 / (2 A^2) = 0.5
    spiral = Spiral(s=0.0, x=0.0, y=0.0, hdg=0.0, length=100.0, curvStart=0.0, curvEnd=sign * 0.01)
    for length in (37.0, 100.0):
        x, y = _fresnel_series(length, 10_000.0)
        got = spiral.evaluate(length)
        assert float(got.x) == pytest.approx(x, abs=MM / 100)
        assert float(got.y) == pytest.approx(sign * y, abs=MM / 100)
        assert float(got.hdg) == pytest.approx(sign * length ** 2 / 20_000)
    assert float(spiral.end().curvature) == pytest.approx(sign * 0.01)
    # the same clothoid turned and moved: start at (3, 4) heading 30 degrees, road s from 10
    moved = Spiral(s=10.0, x=3.0, y=4.0, hdg=math.pi / 6, length=100.0, curvStart=0.0, curvEnd=sign * 0.01)
    x, y = _fresnel_series(100.0, 10_000.0)
    y *= sign
    c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
    end = moved.end()
    assert (float(end.x), float(end.y)) == pytest.approx((3 + x * c - y * s, 4 + x * s + y * c), abs=MM / 100)


@pytest.mark.parametrize("k0, k1", [(0.02, -0.01), (-0.03, -0.01), (0.05, 0.05 + 1e-9), (0.004, 0.12)])
def test_clothoid_with_start_curvature_matches_integrated_heading(k0, k1):
    length, hdg = 120.0, 0.7
    spiral = Spiral(s=4.0, x=-2.0, y=5.0, hdg=hdg, length=length, curvStart=k0, curvEnd=k1)
    ds = np.linspace(0.0, length, 1_200_001)
    heading = hdg + k0 * ds + (k1 - k0) / length * ds ** 2 / 2
    x, y = _integrate_heading(-2.0, 5.0, heading, ds)
    for k in (300_000, 777_777, 1_200_000):
        got = spiral.evaluate(4.0 + ds[k])
        assert math.hypot(float(got.x) - x[k], float(got.y) - y[k]) < 1e-2 * MM  # well within the 1 cm asked
        assert float(got.hdg) == pytest.approx(heading[k], abs=1e-12)
        assert float(got.curvature) == pytest.approx(k0 + (k1 - k0) * ds[k] / length)


def _arc_length_point(u, v, du, dv, p_end: float, target: float, hdg=0.0, origin=(0.0, 0.0), stretch=1.0):
    """Point at arc length `target` of the curve (u(p), v(p)), p in [0, p_end], by dense trapezoids."""
    p = np.linspace(0.0, p_end, 2_000_001)
    arc = _cumulative_trapezoid(np.hypot(du(p), dv(p)), p)
    at = np.interp(target * stretch, arc, p)
    uu, vv = u(at), v(at)
    c, s = math.cos(hdg), math.sin(hdg)
    return origin[0] + uu * c - vv * s, origin[1] + uu * s + vv * c, hdg + math.atan2(dv(at), du(at)), arc[-1]


def test_poly3_point_at_arc_length():
    a, b, c, d = 0.5, 0.1, 0.004, -0.0001
    poly = Poly3(s=2.0, x=10.0, y=-3.0, hdg=0.4, length=40.0, a=a, b=b, c=c, d=d)
    x, y, heading, _ = _arc_length_point(lambda p: p, lambda p: a + b * p + c * p ** 2 + d * p ** 3,
                                         lambda p: 1 + 0 * p, lambda p: b + 2 * c * p + 3 * d * p ** 2,
                                         40.0, 25.0, hdg=0.4, origin=(10.0, -3.0))
    got = poly.evaluate(2.0 + 25.0)
    assert math.hypot(float(got.x) - x, float(got.y) - y) < MM / 10
    assert float(got.hdg) == pytest.approx(heading, abs=1e-6)
    start = poly.evaluate(2.0)  # v(0) = a: the curve starts a to the left of (x, y)
    assert (float(start.x), float(start.y)) == pytest.approx((10 - a * math.sin(0.4), -3 + a * math.cos(0.4)))


@pytest.mark.parametrize("p_range", ["normalized", "arcLength"])
def test_param_poly3_point_at_arc_length(p_range):
    def poly(coeffs):
        return lambda p: coeffs[0] + coeffs[1] * p + coeffs[2] * p ** 2 + coeffs[3] * p ** 3

    def slope(coeffs):
        return lambda p: coeffs[1] + 2 * coeffs[2] * p + 3 * coeffs[3] * p ** 2

    unit_u, unit_v = (0.0, 30.0, 2.0, -1.0), (0.0, 1.0, 9.0, -3.0)  # the curve over p in [0, 1]
    *_, true_length = _arc_length_point(poly(unit_u), poly(unit_v), slope(unit_u), slope(unit_v), 1.0, 0.0)
    # pRange arcLength runs p over [0, length]: coefficient k of p^k divided by length^k
    p_end = 1.0 if p_range == "normalized" else true_length
    cu = tuple(c / p_end ** k for k, c in enumerate(unit_u))
    cv = tuple(c / p_end ** k for k, c in enumerate(unit_v))
    piece = ParamPoly3(0.0, 1.0, 2.0, -0.3, true_length, *cu, *cv, pRange=p_range)
    x, y, heading, _ = _arc_length_point(poly(cu), poly(cv), slope(cu), slope(cv), p_end, 12.3, hdg=-0.3,
                                         origin=(1.0, 2.0))
    got = piece.evaluate(12.3)
    assert math.hypot(float(got.x) - x, float(got.y) - y) < MM / 10
    assert float(got.hdg) == pytest.approx(heading, abs=1e-6)
    # a record whose length is not the curve's: its end is still where its p range ends
    short = ParamPoly3(0.0, 1.0, 2.0, -0.3, true_length - 1.0, *cu, *cv, pRange=p_range)
    short_end = 1.0 if p_range == "normalized" else true_length - 1.0
    end_u, end_v = poly(cu)(short_end), poly(cv)(short_end)
    c, s = math.cos(-0.3), math.sin(-0.3)
    assert (float(short.end().x), float(short.end().y)) == pytest.approx((1 + end_u * c - end_v * s,
                                                                           2 + end_u * s + end_v * c), abs=1e-6)


def _chained_line() -> ReferenceLine:
    """line 10 m -> left arc R 50 over 25 m -> spiral 0.02 -> -0.01 over 30 m -> poly3 -> paramPoly3."""
    line = Line(0.0, 0.0, 0.0, 0.0, 10.0)
    arc = Arc(10.0, 10.0, 0.0, 0.0, 25.0, 0.02)  # ends at (50 sin 0.5, 50 (1 - cos 0.5)), heading 0.5
    x, y = 10 + 50 * math.sin(0.5), 50 * (1 - math.cos(0.5))
    spiral = Spiral(35.0, x, y, 0.5, 30.0, 0.02, -0.01)
    end = spiral.end()
    poly = Poly3(65.0, float(end.x), float(end.y), float(end.hdg), 20.0, 0.0, 0.0, -0.005, 0.0001)
    end = poly.end()
    param = ParamPoly3(85.0, float(end.x), float(end.y), float(end.hdg), 15.0,
                       0.0, 15.0, 0.0, 0.0, 0.0, 0.0, 0.5, 0.0, pRange="normalized")
    return ReferenceLine((line, arc, spiral, poly, param))


def test_reference_line_is_continuous_across_pieces():
    ref = _chained_line()
    assert ref.length == pytest.approx(100.0)
    for boundary in (10.0, 35.0, 65.0, 85.0):
        before, after = ref.pose(boundary - 1e-7), ref.pose(boundary + 1e-7)
        assert float(before[0]) == pytest.approx(float(after[0]), abs=1e-5)
        assert float(before[1]) == pytest.approx(float(after[1]), abs=1e-5)
        assert float(before[2]) == pytest.approx(float(after[2]), abs=1e-5)
    x, _, hdg = ref.pose(np.array([5.0, 35.0]))
    assert x.tolist() == pytest.approx([5.0, 10 + 50 * math.sin(0.5)])
    assert hdg.tolist() == pytest.approx([0.0, 0.5])
    wx, wy = ref.to_world(35.0, 2.0)  # 2 m left of a point heading 0.5
    assert (float(wx), float(wy)) == pytest.approx((10 + 50 * math.sin(0.5) - 2 * math.sin(0.5),
                                                    50 * (1 - math.cos(0.5)) + 2 * math.cos(0.5)))


def test_elevation_z_and_pitch():
    road = Road("r", 100.0, ReferenceLine((Line(0.0, 0.0, 0.0, 0.0, 100.0),)),
                (LaneSection(0.0, left=(Lane(1, widths=(LaneWidth(0.0, 3.0),)),),
                             right=(Lane(-1, widths=(LaneWidth(0.0, 3.0),)),)),),
                elevationProfile=(Elevation(0.0, 1.0, 0.02), Elevation(50.0, 2.0, 0.02, -0.0004)))
    z, pitch = road.elevation(np.array([25.0, 60.0]))
    # s=25: 1 + 0.5; s=60: 2 + 0.2 - 0.04, slope 0.02 - 0.008
    assert z.tolist() == pytest.approx([1.5, 2.16])
    assert pitch.tolist() == pytest.approx([math.atan(0.02), math.atan(0.012)])
    up, down = road.lane_to_world(-1, 60.0), road.lane_to_world(1, 60.0)
    assert up.z == down.z == pytest.approx(2.16)
    assert up.pitch == pytest.approx(math.atan(0.012))  # driven towards +s: climbing
    assert down.pitch == pytest.approx(-math.atan(0.012))  # driven towards -s: descending


def test_straight_road_is_the_simplest_case():
    road = straight_road(200.0, [3.5, 3.5, 3.5])
    assert [g.element for g in road.planView.geometries] == ["line"]
    for k in range(3):  # drivesim's lane k: centre (k + 0.5) * width right of the left edge
        t, slope = road.lane_center_t(-(k + 1), np.array([0.0, 120.0]))
        assert t.tolist() == pytest.approx([-(k + 0.5) * 3.5] * 2) and slope.tolist() == [0.0, 0.0]
        pose = road.lane_to_world(-(k + 1), 120.0)
        assert (pose.x, pose.y, pose.heading) == pytest.approx((120.0, -(k + 0.5) * 3.5, 0.0))
    assert sorted(road.laneSections[0].lanes) == [-3, -2, -1, 0]
