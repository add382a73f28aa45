"""World (x, y) -> the nearest road point and lane: for replaying world poses onto lanes.

Each road's reference line is sampled every metre once (`Projector`); a point is matched to the
nearest samples of every road it could lie on, then the foot of the perpendicular is refined by Newton
steps on (P - C(s)) . T(s) = 0. Among the roads found, a point inside a lane wins over one outside;
then (given a `heading`) the lane whose driving direction is closest to it, so that overlapping
connecting roads in a junction are told apart; then the nearest lane centre.

    from drivesim.road.network import RoadNetwork
    from drivesim.road.projection import Projector
    from drivesim.road.straight import straight_road
    point = Projector(RoadNetwork.of([straight_road(100.0, [3.5, 3.5])])).project(40.0, -5.0)
    # LanePoint(road='0', lane=-2, s=40.0, t=-5.0, offset=0.25, distance=0.0)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from drivesim.errors import DrivesimError
from drivesim.road.network import RoadNetwork
from drivesim.road.road import Road

SAMPLE_STEP_M = 1.0
_NEWTON_STEPS = 12
_HEADING_TIE_RAD = 1e-3  # headings closer than this count as equal: the nearer lane centre wins


class LanePoint(NamedTuple):
    road: str
    lane: int | None  # None: outside every lane of the road
    s: float
    t: float
    offset: float  # from the lane's centre line along +t (0 without a lane)
    distance: float  # metres from the road's lanes: 0 inside a lane


class Projector:
    """Projects world points onto a network's lanes; holds each road's samples."""

    def __init__(self, network: RoadNetwork, step: float = SAMPLE_STEP_M):
        self.network = network
        self.step = step
        self._roads: list[Road] = list(network.roads.values())
        s_parts, xy_parts, reach = [], [], []
        for road in self._roads:
            s = np.linspace(0.0, road.length, max(2, math.ceil(road.length / step) + 1))
            x, y, _ = road.planView.pose(s)
            s_parts.append(s)
            xy_parts.append(np.stack([x, y], axis=-1))
            reach.append(_reach(road, s))
        self._s = np.concatenate(s_parts)
        self._xy = np.concatenate(xy_parts)
        self._bounds = np.cumsum([0] + [len(s) for s in s_parts])  # road k's samples: bounds[k]:bounds[k + 1]
        self._reach = np.array(reach)  # farthest |t| of a lane border per road

    def project(self, x: float, y: float, heading: float | None = None) -> LanePoint | None:
        """The best road point for world (x, y) (see the module docstring); None for an empty network."""
        if not (math.isfinite(x) and math.isfinite(y)):
            raise DrivesimError(f"cannot place the world point ({x}, {y}) on a road. Fix: give finite coordinates")
        if not self._roads:
            return None
        d = np.hypot(self._xy[:, 0] - x, self._xy[:, 1] - y)
        nearest = np.minimum.reduceat(d, self._bounds[:-1])
        candidates = np.flatnonzero(nearest <= self._reach + self.step)
        if len(candidates) == 0:
            candidates = [int(nearest.argmin())]
        best, best_key = None, None
        for k in candidates:
            start = self._bounds[k] + int(d[self._bounds[k]:self._bounds[k + 1]].argmin())
            point = _foot(self._roads[k], x, y, float(self._s[start]), self.step)
            key = self._rank(point, heading)
            if best_key is None or key < best_key:
                best, best_key = point, key
        return best

    def _rank(self, point: LanePoint, heading: float | None) -> tuple[float, float, float]:
        turn = 0.0
        if heading is not None and point.lane is not None:
            pose = self.network.roads[point.road].lane_to_world(point.lane, point.s, point.offset)
            turn = abs(math.remainder(heading - pose.heading, 2 * math.pi))
            turn = 0.0 if turn < _HEADING_TIE_RAD else turn
        return point.distance, turn, abs(point.offset)


def _reach(road: Road, s: np.ndarray) -> float:
    reach = 0.0
    for index in range(len(road.laneSections)):
        start, end = road.section_range(index)
        inside = s[(s >= start) & (s <= end)]
        for t, _ in road.section_borders(index, np.append(inside, [start, end])).values():
            reach = max(reach, float(np.abs(t).max()))
    return reach


def _foot(road: Road, x: float, y: float, s: float, step: float) -> LanePoint:
    """Newton on f(s) = (P - C(s)) . T(s): f' = -(1 - curvature t); each step at most one sample step."""
    for _ in range(_NEWTON_STEPS):
        along, t, curvature = _in_road_frame(road, s, x, y)
        change = along / max(1.0 - curvature * t, 0.1)
        s_next = min(max(s + max(-step, min(step, change)), 0.0), road.length)
        if abs(s_next - s) < 1e-10:
            break
        s = s_next
    along, t, _ = _in_road_frame(road, s, x, y)  # along: non-zero only past the road's ends
    borders = road.borders(s)
    lane = road.lane_at(s, t) if abs(along) < 1e-6 else None
    if lane is not None:
        inner, outer = borders[lane]
        return LanePoint(road.id, lane, s, t, t - (inner + outer) / 2, 0.0)
    ts = [t_border for pair in borders.values() for t_border in pair]
    outside = max(0.0, min(ts) - t, t - max(ts))
    return LanePoint(road.id, None, s, t, 0.0, math.hypot(outside, along))


def _in_road_frame(road: Road, s: float, x: float, y: float) -> tuple[float, float, float]:
    """(x, y) from the reference point at s: along its heading, to its left (t), and the curvature there."""
    cx, cy, hdg, curvature = (float(v) for v in road.planView.evaluate(s))
    dx, dy = x - cx, y - cy
    return dx * math.cos(hdg) + dy * math.sin(hdg), -dx * math.sin(hdg) + dy * math.cos(hdg), curvature
