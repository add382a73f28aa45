"""drivesim's road frame on a road of the network model (`drivesim.road`), the one road type every
reader builds: the OpenDRIVE reader (`drivesim.standards.opendrive`) and the highway-env bridge.

drivesim's engine drives on straight parallel lanes of one width, seen from the ego. `RoadFrame` is that
view of a `drivesim.road.Road` whose reference line is straight: the run of lanes beside the ego's in its
driving direction (drivesim lane k is `lane_ids[k]`, 0 the leftmost), with lateral_m metres right of the
run's left edge and distances forward along the ego's direction. Road coordinates are the model's
(OpenDRIVE's): s along the reference line, t to its left; right lanes have negative ids.

    from drivesim.road import straight_road
    frame = RoadFrame(straight_road(500.0, [3.5, 3.5]), direction=1, lane_ids=(-1, -2), width_m=3.5, t_left=0.0)
    frame.locate(10.0, -1.75)   # (10.0, 1.75): 10 m along, 1.75 m right of the left edge
    frame.lane_of(5.0)          # 1

Curved roads keep this interface; `road_st` (world -> road coordinates) then becomes the network's
`drivesim.road.Projector`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from drivesim.road import Road


def road_st(road: Road, x: float, y: float) -> tuple[float, float]:
    """World (x, y) -> road (s, t) on a road whose reference line is straight (its pieces collinear)."""
    first = road.planView.geometries[0]
    c, s = math.cos(first.hdg), math.sin(first.hdg)
    dx, dy = x - (first.x - first.s * c), y - (first.y - first.s * s)
    return dx * c + dy * s, -dx * s + dy * c


@dataclass(frozen=True)
class RoadFrame:
    """drivesim's road on a straight `Road`: the run of lanes `lane_ids` (left to right as the ego sees them),
    all `width_m` wide, driven in `direction` (+1: towards +s); lateral_m is metres right of the run's left
    edge (at t = `t_left`), forward is s along the ego's direction."""

    road: Road
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
        s, t = road_st(self.road, x, y)
        return self.forward(s), self.lateral(t)

    def yaw(self, heading_rad: float) -> float:
        """A world heading -> drivesim's heading_rad: relative to the ego's direction along the road,
        positive yawing right (clockwise seen from above), in (-pi, pi]."""
        along = self.road.planView.geometries[0].hdg + (0.0 if self.direction > 0 else math.pi)
        yaw = math.remainder(along - heading_rad, 2 * math.pi)  # exact, in [-pi, pi]
        return math.pi if yaw == -math.pi else yaw

    def index(self, lane_id: int) -> int | None:
        """The drivesim lane of a road lane id; None when the lane is not in the run."""
        return self.lane_ids.index(lane_id) if lane_id in self.lane_ids else None

    def lane_of(self, lateral: float) -> int:
        """The drivesim lane holding a lateral position (the nearest edge lane beside the road)."""
        return min(max(math.floor(lateral / self.width_m), 0), len(self.lane_ids) - 1)
