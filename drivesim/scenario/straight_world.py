"""Version-1 scenarios' world as the road network model: their straight road and the ego's pose on it.

A version-1 road (docs/scenario-format.md, "Coordinates") is `road.lanes` lanes of `road.lane_width_m`,
all driven in the ego's direction, running forward forever. Here it is `drivesim.road.straight_road`
in the world frame the OSI export uses (docs/export.md): x along the road, y to the left, z up, origin
on the ground at the road's left edge abeam the camera at t = 0. So the road's centre line (t = 0) is
the left edge, drivesim lane k is OpenDRIVE lane -(k + 1), and the ego with `lateral_m` metres right of
the left edge, `ego_travel_m` along, stands at (travel, -lateral_m, 0) heading 0.

An endless road cannot be sampled, and a road as long as a long clip would be sampled for nothing: the
network is a window of the road around the ego, CHUNK_M long plus the reach of the view, rebuilt when
the ego drives out of it. The road is the same everywhere, so lane labels do not depend on the window.

    from drivesim.scenario.straight_world import StraightWorld
    world = StraightWorld(lanes=3, lane_width_m=3.5, reach_m=80.0)
    network = world.network_at(1234.0)  # road 'main' covering x in [980, 1600]
    world.pose(ego_travel_m=1234.0, ego_lateral_m=5.25)  # EgoPose(x=1234.0, y=-5.25, ...)
"""

from __future__ import annotations

import math
from dataclasses import replace

from drivesim.road import Line, ReferenceLine, RoadNetwork, straight_road
from drivesim.scenario.camera import EgoPose
from drivesim.scenario.inline_road import INLINE_ROAD_ID

CHUNK_M = 500.0  # the window moves on in steps of this many metres of travel
BEHIND_M = 20.0  # the window starts this far behind its chunk, so lines reach back past the near plane
ROAD_ID = INLINE_ROAD_ID  # the id the engine's network gives a scenario's road, so track ids agree


class StraightWorld:
    """The straight road of a version-1 scenario, as a network window around wherever the ego is."""

    def __init__(self, lanes: int, lane_width_m: float, reach_m: float):
        self.lanes, self.lane_width_m, self.reach_m = int(lanes), float(lane_width_m), float(reach_m)
        self._chunk: int | None = None
        self._network: RoadNetwork | None = None

    def network_at(self, x: float) -> RoadNetwork:
        """The road around world x (the same object while x stays in one chunk)."""
        chunk = math.floor(x / CHUNK_M)
        if chunk != self._chunk or self._network is None:
            start = chunk * CHUNK_M - BEHIND_M
            length = CHUNK_M + BEHIND_M + self.reach_m + BEHIND_M
            road = straight_road(length, [self.lane_width_m] * self.lanes, road_id=ROAD_ID)
            road = replace(road, planView=ReferenceLine((Line(0.0, start, 0.0, 0.0, length),)))
            self._chunk, self._network = chunk, RoadNetwork.of([road])
        return self._network

    @staticmethod
    def pose(ego_travel_m: float, ego_lateral_m: float) -> EgoPose:
        """The ego's pose: `ego_travel_m` along the road, `ego_lateral_m` right of its left edge."""
        return EgoPose(x=float(ego_travel_m), y=-float(ego_lateral_m))
