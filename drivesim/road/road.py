"""One road: OpenDRIVE's <road> with its reference line, elevation, lane offset and lane sections, and
the conversions between its lane coordinates and world poses.

Conventions (OpenDRIVE's):
- s along the reference line from the road's start, t to its left; lane ids as in drivesim/road/lanes.py.
- heading: radians counter-clockwise from world +x; pitch = atan(dz/ds) along the way the pose faces,
  positive climbing (nose up). The right-handed rotation about the vehicle's y (left) axis, which
  OpenDRIVE's inertial frame and OSI call pitch, is its negative: negate it when writing those.
- Driving direction by the road's `rule`: right-hand traffic ("RHT", the default) drives right lanes
  (id < 0) towards +s and left lanes (id > 0) towards -s; "LHT" the other way round.
- A lane position's `offset` is from the lane's centre line along +t (the road's left), whichever way
  the lane is driven.
Superelevation and lane heights are not modelled (drivesim/road/unsupported.py): the road is flat
across, at the elevation of its reference line.

    from drivesim.road.straight import straight_road
    road = straight_road(100.0, [3.5, 3.5])
    pose = road.lane_to_world(-2, 40.0)  # x = 40, y = -5.25, heading 0
    road.lane_at(40.0, -5.0)  # -2
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, NamedTuple

import numpy as np

from drivesim.road.checks import (check_finite, check_lane_sections, check_plan_view, check_profile,
                                   check_road_length, road_error)
from drivesim.road.cubic import CubicRecord, evaluate_records
from drivesim.road.lanes import Lane, LaneSection
from drivesim.road.reference_line import ReferenceLine

ContactPoint = Literal["start", "end"]
TrafficRule = Literal["RHT", "LHT"]
NO_JUNCTION = "-1"  # OpenDRIVE's junction id of a road that is not inside a junction


class WorldPose(NamedTuple):
    x: float
    y: float
    z: float
    heading: float  # radians, counter-clockwise from +x
    pitch: float  # radians, positive nose up


@dataclass(frozen=True)
class RoadLink:
    """<predecessor>/<successor> of a road: `elementType` "road" or "junction"; `contactPoint` (which end
    of the linked road touches this one) for roads."""

    elementType: Literal["road", "junction"]  # camelCase: OpenDRIVE's names, so a reader maps records 1:1
    elementId: str
    contactPoint: ContactPoint | None = None


@dataclass(frozen=True)
class Road:
    """<road>; its element lists under OpenDRIVE's names (planView, laneSections, elevationProfile's
    <elevation> records, laneOffset records)."""

    id: str
    length: float
    planView: ReferenceLine
    laneSections: tuple[LaneSection, ...]
    elevationProfile: tuple[CubicRecord, ...] = ()
    laneOffset: tuple[CubicRecord, ...] = ()
    junction: str = NO_JUNCTION
    predecessor: RoadLink | None = None
    successor: RoadLink | None = None
    rule: TrafficRule = "RHT"
    name: str = ""

    def __post_init__(self) -> None:
        check_road_length(self.id, self.length)
        check_plan_view(self.id, self.length, self.planView.geometries)
        check_profile(self.id, "elevation", self.elevationProfile, self.length)
        check_profile(self.id, "laneOffset", self.laneOffset, self.length)
        check_lane_sections(self.id, self.laneSections, self.length)
        if self.rule not in ("RHT", "LHT"):
            raise road_error(self.id, "<road>", None, f"rule is {self.rule!r}", "use RHT or LHT")
        for end, link in (("predecessor", self.predecessor), ("successor", self.successor)):
            if link is None:
                continue
            check_finite(self.id, f"<link><{end}>", None, link)
            if link.elementType not in ("road", "junction") or (
                    link.elementType == "road" and link.contactPoint not in ("start", "end")):
                raise road_error(self.id, f"<link><{end}>", None, f"elementType {link.elementType!r}, contactPoint "
                                 f"{link.contactPoint!r}", "link a road with contactPoint start or end, or a junction")

    @property
    def in_junction(self) -> bool:
        return self.junction != NO_JUNCTION

    # -- lane sections ------------------------------------------------------------------------------

    @cached_property
    def _section_starts(self) -> np.ndarray:
        return np.array([sec.s for sec in self.laneSections])

    def section_index(self, s: float) -> int:
        return int(np.clip(np.searchsorted(self._section_starts, s, side="right") - 1, 0, len(self.laneSections) - 1))

    def section_range(self, index: int) -> tuple[float, float]:
        """Road s where lane section `index` starts and ends."""
        end = self.laneSections[index + 1].s if index + 1 < len(self.laneSections) else self.length
        return self.laneSections[index].s, end

    def lane(self, lane_id: int, s: float) -> Lane:
        """The lane `lane_id` of the lane section at `s` (DrivesimError where it has none)."""
        section = self.laneSections[self.section_index(s)]
        if lane_id not in section.lanes:
            raise road_error(self.id, "<laneSection>", section.s, f"it has no lane {lane_id} (lanes "
                             f"{sorted(section.lanes)})", "name a lane of this lane section")
        return section.lanes[lane_id]

    # -- road coordinates ---------------------------------------------------------------------------

    def section_borders(self, index: int, s: np.ndarray | float) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """t and dt/ds of every lane's outer border at road `s` in lane section `index` (0: the centre line)."""
        offset, slope = evaluate_records(self.laneOffset, s)
        return self.laneSections[index].borders(s, offset, slope)

    def borders(self, s: float) -> dict[int, tuple[float, float]]:
        """(inner t, outer t) of every lane at `s`, the centre lane (0, zero width) included."""
        outer = {k: float(t) for k, (t, _) in self.section_borders(self.section_index(s), s).items()}
        return {k: (outer[_inward(k)], outer[k]) for k in outer}

    def lane_center_t(self, lane_id: int, s: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """t of a lane's centre line and its d/ds at road `s` (an array within one lane section)."""
        s = np.asarray(s, dtype=float)
        index = self.section_index(float(s.min()) if s.size else 0.0)
        self.lane(lane_id, self.laneSections[index].s)
        borders = self.section_borders(index, s)
        (t_in, slope_in), (t_out, slope_out) = borders[_inward(lane_id)], borders[lane_id]
        return (t_in + t_out) / 2, (slope_in + slope_out) / 2

    def lane_at(self, s: float, t: float) -> int | None:
        """The lane (id != 0) that road coordinates (s, t) lie in; None beyond the outermost lanes.
        Each lane holds [its lower border, its upper border) in t; zero-width lanes hold nothing."""
        for lane_id, (inner, outer) in self.borders(s).items():
            if lane_id and min(inner, outer) <= t < max(inner, outer):
                return lane_id
        return None

    def direction(self, lane_id: int) -> int:
        """+1 where the lane is driven towards +s, -1 towards -s (by the road's traffic rule)."""
        return 1 if (lane_id < 0) == (self.rule == "RHT") else -1

    def elevation(self, s: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """z of the reference line and its pitch atan(dz/ds) towards +s."""
        z, slope = evaluate_records(self.elevationProfile, s)
        return z, np.arctan(slope)

    def lane_to_world(self, lane_id: int, s: float, offset: float = 0.0) -> WorldPose:
        """World pose at lane coordinates, facing the lane's driving direction along its centre line
        (heading and pitch follow the lane's own curve: its widening and the bend of the road). An `s`
        off the road extrapolates its end pieces and lane sections."""
        if not (math.isfinite(s) and math.isfinite(offset)):
            raise road_error(self.id, f"lane {lane_id}", None, f"the position s={s}, offset={offset} is not finite",
                             "give finite lane coordinates")
        t, t_slope = self.lane_center_t(lane_id, s)
        t = float(t) + offset
        x, y, hdg, curvature = (float(v) for v in self.planView.evaluate(s))
        z, z_slope = (float(v) for v in evaluate_records(self.elevationProfile, s))
        along = 1.0 - curvature * t  # d(distance along the curve at t)/ds, across the bend
        heading = hdg + math.atan2(float(t_slope), along)
        pitch = math.atan2(z_slope, math.hypot(along, float(t_slope)))
        if self.direction(lane_id) < 0:
            heading, pitch = heading + math.pi, -pitch
        heading = math.remainder(heading, 2 * math.pi)
        return WorldPose(x - t * math.sin(hdg), y + t * math.cos(hdg), z, heading, pitch)


def _inward(lane_id: int) -> int:
    """The lane next to `lane_id` towards the centre lane, whose outer border is its inner border."""
    return lane_id - (lane_id > 0) + (lane_id < 0)
