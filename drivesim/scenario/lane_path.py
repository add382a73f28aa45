"""The way one entity drives: a chain of lanes (through lane sections, linked roads and junctions) as one
coordinate `u`, metres along it, and world poses at any u and any lateral offset, vectorised.

- A path is `RouteStep`s (drivesim/road/routing.py), each one lane of one lane section in its driving
  direction. u = 0 is where its first lane section is entered; the entity starts at `u_start`.
- `r` is metres right of the path lane's centre line, in the driving direction (a lane change moves r).
  `lateral` is metres right of the left edge of the lanes driven in the path's direction ("the run",
  drivesim's version-1 `lateral_m`); `run` lanes are counted from the left, 0 first.
- Beyond either end of the chain the path continues straight along its end's tangent (`on_road` says
  where it is off the road).
- Speeds and distances are along the road's reference line (s); an entity in an outer lane of a bend
  covers a little more ground than its `u` says.

    from drivesim.road import RoadNetwork, straight_road
    from drivesim.scenario.lane_path import follow_lane
    path = follow_lane(RoadNetwork.of([straight_road(200.0, [3.5, 3.5], road_id="1")]), "1", -2, 20.0, None, 100.0)
    path.poses(path.u_start + 10.0, 0.0)  # x = 30, y = -5.25, heading 0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple, Sequence

import numpy as np

from drivesim.road import DRIVING_TYPES, Road, RoadNetwork, RouteStep, route
from drivesim.road.cubic import evaluate_records
from drivesim.road.network import LaneRef

MAX_STEPS = 10_000  # lane sections followed at most (a ring road would go on forever)


class Poses(NamedTuple):
    """World poses (arrays of one shape): heading is the lane's direction at the point, yaw not included."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    heading: np.ndarray
    pitch: np.ndarray


def run_lanes(road: Road, section: int, direction: int) -> list[int]:
    """Driving lanes of a lane section driven in `direction` (+1: towards +s), from the left as driven."""
    lanes = [lane_id for lane_id, lane in road.laneSections[section].lanes.items()
             if lane_id and lane.type in DRIVING_TYPES and road.direction(lane_id) == direction]
    return sorted(lanes, reverse=direction > 0)  # towards +s the left is +t: the higher ids


@dataclass(frozen=True)
class LanePath:
    network: RoadNetwork
    steps: tuple[RouteStep, ...]
    u_start: float  # where the entity starts

    @cached_property
    def bounds(self) -> np.ndarray:
        """u where each step starts, and the path's end."""
        return np.concatenate([[0.0], np.cumsum([step.length for step in self.steps])])

    @property
    def length(self) -> float:
        return float(self.bounds[-1])

    def on_road(self, u: np.ndarray | float) -> np.ndarray:
        u = np.asarray(u, float)
        return (u >= 0.0) & (u <= self.length)

    def locate(self, u: float) -> tuple[RouteStep, int, float]:
        """The step at u (clamped to the path), its lane section index, and the road s there."""
        index, s = self._where(np.array([u], float))
        step = self.steps[int(index[0])]
        return step, self._section(step), float(s[0])

    def poses(self, u: np.ndarray | float, r: np.ndarray | float) -> Poses:
        """World poses at u (any shape), `r` metres right of the path lane's centre."""
        return self._evaluate(u, r, from_edge=False)[0]

    def poses_and_lateral(self, u: np.ndarray | float, r: np.ndarray | float) -> tuple[Poses, np.ndarray]:
        """`poses(u, r)` and `lane_lateral(u)` in one evaluation."""
        return self._evaluate(u, r, from_edge=False)

    def poses_at_lateral(self, u: np.ndarray | float, lateral: np.ndarray | float) -> Poses:
        """World poses at u, `lateral` metres right of the run's left edge (the heading follows that edge)."""
        return self._evaluate(u, lateral, from_edge=True)[0]

    def lane_lateral(self, u: np.ndarray | float) -> np.ndarray:
        """The path lane's centre at u, metres right of the run's left edge."""
        return self._evaluate(u, 0.0, from_edge=False)[1]

    def run_centre_lateral(self, u: float, k: int) -> float | None:
        """Run lane k's centre at u (metres right of the run's left edge); None where the run has no lane k."""
        step, section, s = self.locate(u)
        road = self.network.roads[step.road]
        lanes = run_lanes(road, section, step.direction)
        if not 0 <= k < len(lanes):
            return None
        left, _ = left_edge(road, section, step.direction, np.array(s))
        centre, _ = road.lane_center_t(lanes[k], np.array(s))
        return float((left - centre) * step.direction)

    def run_lane_at(self, u: float, lateral: float) -> int:
        """The run lane (its id) holding `lateral` at u; beside the road, the nearest edge lane."""
        step, section, s = self.locate(u)
        road = self.network.roads[step.road]
        lanes = run_lanes(road, section, step.direction)
        left, _ = left_edge(road, section, step.direction, np.array(s))
        borders = road.section_borders(section, np.array(s))
        for lane_id in lanes:
            outer = float((left - borders[lane_id][0]) * step.direction)
            inner = float((left - borders[_inward(lane_id)][0]) * step.direction)
            if lateral < max(inner, outer):
                return lane_id
        return lanes[-1]

    # -- evaluation --------------------------------------------------------------------------------

    def _section(self, step: RouteStep) -> int:
        return self.network.roads[step.road].section_index((step.s_start + step.s_end) / 2)

    def _where(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        clamped = np.clip(u, 0.0, self.length)
        index = np.clip(np.searchsorted(self.bounds, clamped, side="right") - 1, 0, len(self.steps) - 1)
        start = np.array([step.s_start for step in self.steps])[index]
        direction = np.array([step.direction for step in self.steps])[index]
        return index, start + (clamped - self.bounds[index]) * direction

    def _evaluate(self, u, across, from_edge: bool) -> tuple[Poses, np.ndarray]:
        u, across = np.broadcast_arrays(np.asarray(u, float), np.asarray(across, float))
        index, s = self._where(u)
        out = [np.empty(u.shape) for _ in range(6)]  # x, y, z, heading, pitch, lane lateral
        for k in np.unique(index):
            where = index == k
            step = self.steps[int(k)]
            for column, values in zip(out, _step_poses(self.network.roads[step.road], self._section(step), step,
                                                       s[where], across[where], from_edge)):
                column[where] = values
        x, y, z, heading, pitch, lateral = out
        beyond = u - np.clip(u, 0.0, self.length)  # past either end: straight on along the tangent
        if np.any(beyond):
            x, y = x + beyond * np.cos(heading), y + beyond * np.sin(heading)
        return Poses(x, y, z, heading, pitch), lateral


def _step_poses(road: Road, section: int, step: RouteStep, s: np.ndarray, across: np.ndarray,
                from_edge: bool) -> tuple[np.ndarray, ...]:
    """Road.lane_to_world's formula over arrays of s: (x, y, z, heading, pitch, lane centre's lateral)."""
    d = step.direction
    borders = road.section_borders(section, s)
    (t_in, slope_in), (t_out, slope_out) = borders[_inward(step.lane)], borders[step.lane]
    centre, centre_slope = (t_in + t_out) / 2, (slope_in + slope_out) / 2
    left, left_slope = left_edge(road, section, d, s, borders)
    if from_edge:
        t, t_slope = left - across * d, left_slope
    else:
        t, t_slope = centre - across * d, centre_slope
    x, y, hdg, curvature = road.planView.evaluate(s)
    z, z_slope = evaluate_records(road.elevationProfile, s)
    along = 1.0 - curvature * t
    heading = hdg + np.arctan2(t_slope, along)
    pitch = np.arctan2(z_slope, np.hypot(along, t_slope))
    if d < 0:
        heading, pitch = heading + math.pi, -pitch
    heading = np.remainder(heading + math.pi, 2 * math.pi) - math.pi
    return x - t * np.sin(hdg), y + t * np.cos(hdg), z, heading, pitch, (left - centre) * d


def left_edge(road: Road, section: int, direction: int, s: np.ndarray,
              borders: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """t and dt/ds of the run's left edge (seen in `direction`): the leftmost run lane's outer side."""
    borders = road.section_borders(section, s) if borders is None else borders
    lanes = run_lanes(road, section, direction)
    if not lanes:
        return borders[0]
    leftmost = lanes[0]
    pair = (borders[leftmost], borders[_inward(leftmost)])
    # the border farther left: larger t towards +s, smaller towards -s (both borders of the lane as candidates)
    return max(pair, key=lambda b: float(np.mean(b[0])) * direction)


def _inward(lane_id: int) -> int:
    return lane_id - (lane_id > 0) + (lane_id < 0)


def follow_lane(network: RoadNetwork, road: str, lane: int, s: float, roads: Sequence[str] | None,
                ahead_m: float) -> LanePath:
    """The path of an entity starting in `lane` of `road` at `s`: through `roads` in order when given (a
    route: `drivesim.road.route`, which raises DrivesimError when no chain of lane links gets there), then on
    along the lane's successors (the first one at a junction) until `ahead_m` past the start or a dead end.
    The path begins where the start lane section is entered, so the road behind the start is on it."""
    if roads:
        steps = list(route(network, road, lane, to=list(roads), s=s))
    else:
        ref = network.lane_ref(road, lane, s)
        steps = [_step(network, ref)._replace(s_start=s)]
    done = sum(step.length for step in steps)
    ref = _ref(network, steps[-1])
    while done < ahead_m and len(steps) < MAX_STEPS:
        following = network.successors(ref)
        if not following:
            break
        ref = following[0]
        steps.append(_step(network, ref))
        done += steps[-1].length
    first = steps[0]
    entry = _step(network, network.lane_ref(road, lane, s)).s_start
    steps[0] = first._replace(s_start=entry)
    return LanePath(network, tuple(steps), abs(s - entry))


def _step(network: RoadNetwork, ref: LaneRef) -> RouteStep:
    start, end = network.roads[ref.road].section_range(ref.section)
    return RouteStep(ref.road, ref.lane, *((start, end) if ref.direction > 0 else (end, start)), ref.direction)


def _ref(network: RoadNetwork, step: RouteStep) -> LaneRef:
    road = network.roads[step.road]
    return LaneRef(step.road, road.section_index((step.s_start + step.s_end) / 2), step.lane, step.direction)
