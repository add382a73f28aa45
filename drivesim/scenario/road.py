"""Roads in world coordinates, and drivesim's road frame on one: the road type every reader builds.

A road is a reference line with lanes beside it, as OpenDRIVE describes roads. World coordinates are
right-handed (headings counter-clockwise from +x); s runs along the reference line from its start, t
across it, positive to the left. Lanes left of the line have positive ids, lanes right of it negative
ids (-1 nearest); id 0 is the line itself and no lane. Under right-hand traffic (`rule="RHT"`) the
right lanes are driven towards +s and the left ones towards -s; "LHT" swaps that.

drivesim's engine drives on straight parallel lanes of one width, seen from the ego: `RoadFrame` is that
view of a road, the run of lanes beside the ego's in its driving direction (drivesim lane k is
`lane_ids[k]`, 0 the leftmost), with lateral_m metres right of the run's left edge and distances
forward along the ego's direction.

Who builds roads: `drivesim.standards.opendrive` from an .xodr file, the highway-env bridge from an
env's lanes. Only straight reference lines for now; a road network with curves and junctions keeps this
interface (`to_st` from world to road coordinates, lanes by id and t) for each of its roads.

    road = StraightRoad("1", 0.0, 0.0, 0.0, 500.0, {-1: Lane(-1, "driving", 3.5, 0.0, -3.5)})
    frame = RoadFrame(road, direction=1, lane_ids=(-1,), width_m=3.5, t_left=0.0)
    frame.locate(10.0, -1.75)   # (10.0, 1.75): 10 m along, 1.75 m right of the left edge
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Lane:
    id: int  # OpenDRIVE's: + left of the reference line, - right of it
    type: str  # OpenDRIVE's lane type: driving, shoulder, sidewalk, ...
    width_m: float
    t_inner: float  # border nearer the reference line
    t_outer: float

    @property
    def t_center(self) -> float:
        return (self.t_inner + self.t_outer) / 2

    @property
    def t_min(self) -> float:
        return min(self.t_inner, self.t_outer)

    @property
    def t_max(self) -> float:
        return max(self.t_inner, self.t_outer)


@dataclass(frozen=True)
class StraightRoad:
    """A road whose reference line is one straight line, with the same lanes all along it."""

    id: str
    x0: float  # world position of s = 0 on the reference line
    y0: float
    heading_rad: float  # direction of +s in the world
    length_m: float
    lanes: dict[int, Lane]  # by id, the reference line (0) excluded
    rule: str = "RHT"  # RHT | LHT
    source: Any = field(default=None, compare=False)  # what it was read from (an OpenDRIVE <road>), for errors

    def direction_of_lane(self, lane_id: int) -> int:
        """+1 where traffic in the lane drives towards +s, -1 towards -s (by the road's rule)."""
        right_side = lane_id < 0
        return 1 if right_side == (self.rule == "RHT") else -1

    def lane_at(self, t: float) -> Lane | None:
        for lane in self.lanes.values():
            if lane.t_min - 1e-9 <= t < lane.t_max + 1e-9:
                return lane
        return None

    def to_st(self, x: float, y: float) -> tuple[float, float]:
        """World (x, y) -> road (s, t)."""
        dx, dy = x - self.x0, y - self.y0
        c, s = math.cos(self.heading_rad), math.sin(self.heading_rad)
        return dx * c + dy * s, -dx * s + dy * c


@dataclass(frozen=True)
class RoadFrame:
    """drivesim's road on a `StraightRoad`: the run of lanes `lane_ids` (left to right as the ego sees them),
    all `width_m` wide, driven in `direction` (+1: towards +s); lateral_m is metres right of the run's left
    edge (at t = `t_left`), forward is s along the ego's direction."""

    road: StraightRoad
    direction: int  # +1: the ego drives towards +s
    lane_ids: tuple[int, ...]
    width_m: float
    t_left: float  # t of the run's left edge, seen in the ego's direction

    def lateral(self, t: float) -> float:
        return (self.t_left - t) * self.direction

    def t_of(self, lateral: float) -> float:
        return self.t_left - lateral * self.direction

    def forward(self, s: float) -> float:
        return s * self.direction

    def locate(self, x: float, y: float) -> tuple[float, float]:
        """(forward metres, lateral_m) of a world point."""
        s, t = self.road.to_st(x, y)
        return self.forward(s), self.lateral(t)

    def yaw(self, heading_rad: float) -> float:
        """A world heading -> drivesim's heading_rad: relative to the ego's direction along the road,
        positive yawing right (clockwise seen from above), in (-pi, pi]."""
        along = self.road.heading_rad + (0.0 if self.direction > 0 else math.pi)
        yaw = math.remainder(along - heading_rad, 2 * math.pi)  # exact, in [-pi, pi]
        return math.pi if yaw == -math.pi else yaw

    def index(self, lane_id: int) -> int | None:
        """The drivesim lane of a road lane id; None when the lane is not in the run."""
        return self.lane_ids.index(lane_id) if lane_id in self.lane_ids else None

    def lane_of(self, lateral: float) -> int:
        """The drivesim lane holding a lateral position (the nearest edge lane beside the road)."""
        return min(max(math.floor(lateral / self.width_m), 0), len(self.lane_ids) - 1)
