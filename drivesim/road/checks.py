"""The checks a road passes when it is built: every problem is a DrivesimError naming the road, the
record and the s where it happens, and how to fix it.

Records are plain data; `Road` runs these on everything it holds, and `RoadNetwork` checks the links
between roads (drivesim/road/network.py).

    from drivesim.road import Line, Spiral
    from drivesim.road.checks import check_plan_view
    check_plan_view("7", 10.0, [Line(0.0, 0.0, 0.0, 0.0, 10.0), Spiral(10.0, 10.0, 0.0, 0.0, 0.0, 0.0, 0.1)])
    # DrivesimError: road '7', <geometry><spiral> at s=10: length is 0. Fix: give the spiral a positive length, ...
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Sequence
from typing import Any

from drivesim.errors import DrivesimError
from drivesim.road.cubic import CubicRecord, cubic_minimum
from drivesim.road.geometry import Arc, Line, Spiral
from drivesim.road.lanes import LANE_TYPES, ROAD_MARK_TYPES, LaneSection
from drivesim.road.parametric import P_RANGES, ParamPoly3
from drivesim.road.reference_line import GEOMETRY_TYPES, Geometry

S_TOLERANCE_M = 0.01  # how far the s of consecutive records may miss each other (rounding in files)
_NEGATIVE_WIDTH_TOLERANCE_M = 1e-6
_MIN_SPEED = 1e-6  # a paramPoly3 slower than this (|d(u,v)/dp|) has no heading there


def road_error(road_id: str, record: str, s: float | None, problem: str, fix: str) -> DrivesimError:
    where = f"road '{road_id}', {record}" + ("" if s is None else f" at s={s:g}")
    return DrivesimError(f"{where}: {problem}. Fix: {fix}")


def check_finite(road_id: str, record: str, s: float | None, values: Any) -> None:
    """Every number of a record (a dataclass) is finite."""
    for f in dataclasses.fields(values):
        value = getattr(values, f.name)
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and not math.isfinite(value):
            raise road_error(road_id, record, s if s is None or math.isfinite(s) else None,
                             f"{f.name} is {value}", f"give {f.name} a finite number")


def check_road_length(road_id: str, length: float) -> None:
    if not (math.isfinite(length) and length > 0):
        raise road_error(road_id, "<road>", None, f"length is {length}",
                         "give the road its positive length (the sum of its plan view's pieces)")


def check_plan_view(road_id: str, length: float, geometries: Sequence[Geometry]) -> None:
    """Pieces of known kinds, finite, of positive length, one after the other in s, as long as the road."""
    if not geometries:
        raise road_error(road_id, "<planView>", None, "it has no <geometry>", "give the road a reference line")
    expected_s = 0.0
    for g in geometries:
        record = f"<geometry><{getattr(g, 'element', type(g).__name__)}>"
        if not isinstance(g, GEOMETRY_TYPES):
            raise road_error(road_id, record, None, f"{type(g).__name__} is not a reference-line piece",
                             "use Line, Arc, Spiral, Poly3 or ParamPoly3")
        check_finite(road_id, record, g.s, g)
        if g.length < 0 or (g.length == 0 and not isinstance(g, (Line, Arc))):
            raise road_error(road_id, record, g.s, f"length is {g.length:g}",
                             f"give the {g.element} a positive length, or drop the record")
        if isinstance(g, Spiral) and not math.isfinite(g.curvDot):  # 0.1 1/m over 5e-324 m: no float holds it
            raise road_error(road_id, record, g.s, f"its curvature changes from {g.curvStart:g} to {g.curvEnd:g} "
                             f"over {g.length:g} m", "give the spiral a length its change of curvature fits in")
        if abs(g.s - expected_s) > S_TOLERANCE_M:
            raise road_error(road_id, record, g.s, f"it starts at s={g.s:g}, but the pieces before it end at "
                             f"s={expected_s:g}", "make each piece's s the previous piece's s + length")
        if isinstance(g, ParamPoly3):
            _check_param_poly3(road_id, record, g)
        expected_s = g.s + g.length
    if abs(expected_s - length) > S_TOLERANCE_M:
        raise road_error(road_id, "<planView>", expected_s, f"the pieces end at s={expected_s:g}, the road is "
                         f"{length:g} m long", "make the road's length the sum of its pieces' lengths")


def _check_param_poly3(road_id: str, record: str, g: ParamPoly3) -> None:
    if g.pRange not in P_RANGES:
        raise road_error(road_id, record, g.s, f"pRange is {g.pRange!r}", f"use one of {', '.join(P_RANGES)}")
    speed = g.curve.speed(g.curve.grid)
    k = int(speed.argmin())
    if speed[k] < _MIN_SPEED:
        raise road_error(road_id, record, g.s + g.length * k / (len(speed) - 1),
                         f"the curve stops (du/dp = dv/dp = 0 at p={g.curve.grid[k]:g}), so it has no heading there",
                         "give the curve a non-zero speed along its whole p range")


def check_profile(road_id: str, element: str, records: Sequence[CubicRecord], length: float) -> None:
    """<elevation> or <laneOffset> records: finite, in order of s, on the road."""
    previous = -math.inf
    for r in records:
        record = f"<{element}>"
        check_finite(road_id, record, r.s, r)
        if r.s < previous:
            raise road_error(road_id, record, r.s, f"it starts before the previous record (s={previous:g})",
                             f"list the <{element}> records in order of s")
        if not -S_TOLERANCE_M <= r.s <= length + S_TOLERANCE_M:
            raise road_error(road_id, record, r.s, f"it starts off the road (0..{length:g} m)",
                             "start it within the road, or drop it")
        previous = r.s


def check_lane_sections(road_id: str, sections: Sequence[LaneSection], length: float) -> None:
    """Sections in order from s = 0; per section: lane ids 1..n left and -1..-m right, known types and
    road marks, widths that never go negative, links to lanes of the neighbouring sections."""
    if not sections:
        raise road_error(road_id, "<lanes>", None, "it has no <laneSection>", "give the road a lane section")
    if abs(sections[0].s) > S_TOLERANCE_M:
        raise road_error(road_id, "<laneSection>", sections[0].s, "the first lane section does not start at s=0",
                         "start the first lane section at s=0")
    for i, section in enumerate(sections):
        check_finite(road_id, "<laneSection>", section.s, section)
        end = sections[i + 1].s if i + 1 < len(sections) else length
        if not section.s < end:
            raise road_error(road_id, "<laneSection>", section.s, f"it ends before it starts (next at s={end:g})",
                             "list lane sections in increasing s, each starting on the road")
        _check_section_lanes(road_id, section, end - section.s)
        for lane in section.lanes.values():
            for neighbour, link in ((i - 1, lane.predecessor), (i + 1, lane.successor)):
                if 0 <= neighbour < len(sections) and link is not None and link not in sections[neighbour].lanes:
                    other = sections[neighbour]
                    raise road_error(road_id, f"<laneSection> lane {lane.id}", section.s,
                                     f"it links to lane {link}, which the lane section at s={other.s:g} does "
                                     f"not have (lanes {sorted(other.lanes)})",
                                     "link a lane that exists, or drop the link")


def _check_section_lanes(road_id: str, section: LaneSection, section_length: float) -> None:
    if section.center.id != 0:
        raise road_error(road_id, "<laneSection><center>", section.s, f"the centre lane has id {section.center.id}",
                         "give the centre lane id 0")
    for side, lanes, sign in (("left", section.left, 1), ("right", section.right, -1)):
        ids = sorted(sign * lane.id for lane in lanes)
        if ids != list(range(1, len(lanes) + 1)):
            raise road_error(road_id, f"<laneSection><{side}>", section.s, f"its lane ids are "
                             f"{sorted(lane.id for lane in lanes)}", f"number {side} lanes "
                             f"{'1, 2, ...' if sign > 0 else '-1, -2, ...'} outwards from the centre, without gaps")
    for lane in section.lanes.values():
        record = f"<laneSection> lane {lane.id}"
        check_finite(road_id, record, section.s, lane)
        if lane.type not in LANE_TYPES:
            raise road_error(road_id, record, section.s, f"type {lane.type!r} is not an OpenDRIVE lane type",
                             f"use one of {', '.join(LANE_TYPES)}")
        for mark in lane.road_marks:
            check_finite(road_id, f"{record} <roadMark>", section.s + mark.sOffset, mark)
            if mark.type not in ROAD_MARK_TYPES:
                raise road_error(road_id, f"{record} <roadMark>", section.s + mark.sOffset,
                                 f"type {mark.type!r} is not an OpenDRIVE road mark type",
                                 f"use one of {', '.join(ROAD_MARK_TYPES)}")
        if lane.id == 0:
            continue
        if not lane.widths:
            raise road_error(road_id, record, section.s, "it has no <width>", "give the lane its width records")
        _check_widths(road_id, record, section, lane.widths, section_length)


def _check_widths(road_id: str, record: str, section: LaneSection, widths: Sequence[Any],
                  section_length: float) -> None:
    for k, w in enumerate(widths):
        check_finite(road_id, f"{record} <width>", section.s + w.sOffset, w)
        end = widths[k + 1].sOffset if k + 1 < len(widths) else section_length
        if w.sOffset < 0 or w.sOffset > end:
            raise road_error(road_id, f"{record} <width>", section.s + w.sOffset,
                             f"sOffset {w.sOffset:g} is out of order (next record or section end at {end:g})",
                             "list width records in increasing sOffset within the lane section")
        lowest, at = cubic_minimum(w.a, w.b, w.c, w.d, end - w.sOffset)
        if lowest < -_NEGATIVE_WIDTH_TOLERANCE_M:
            raise road_error(road_id, f"{record} <width sOffset={w.sOffset:g}>", section.s + w.sOffset + at,
                             f"the width goes negative ({lowest:.3g} m)",
                             "change a, b, c, d so the width stays >= 0 up to the next record, or split the record")
