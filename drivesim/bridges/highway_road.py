"""highway-env's road network as drivesim's road network model (`drivesim.road`), for envs on any road.

highway-env's lanes are individual centre lines with a width, joined node to node (`network.graph[from][to]`
holds the lanes of one edge). Each becomes a one-lane road of the network (id `from>to>k`, lane -1 driven
towards +s): exact for every lane class and free of any guess about which lanes are parallel. A road's
reference line is the lane's centre line shifted half a width to the left by its `laneOffset`, so lane -1
is centred on highway-env's centre line:
- `StraightLane`: a line from `start` to `end`;
- `CircularLane`: an arc of its radius (curvature -direction / radius after mirroring, see below);
- `SineLane`: the line of its base, with the sine as the lane offset (highway-env's longitudinal coordinate
  runs along that base, as OpenDRIVE's s does): cubic Hermite pieces of SINE_PIECE_M metres, within
  0.1 mm of the sine for highway-env's amplitudes and pulsations (the error bound is
  piece^4 / 384 * amplitude * pulsation^4).
Other lane classes (`PolyLane`, ...) are refused, naming the lane.

Mirroring: highway-env's y points right of its x (screen axes); drivesim's world is right-handed (OpenDRIVE's
inertial frame), so (x, y, heading) -> (x, -y, -heading), as for the straight road of `highway_env.env_road`.

    import gymnasium, highway_env
    from drivesim.bridges.highway_road import env_network
    env = gymnasium.make("roundabout-v0"); env.reset(seed=0)
    network = env_network(env.unwrapped.road.network, "roundabout-v0")   # RoadNetwork of one-lane roads
"""

from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np
from highway_env.road.lane import CircularLane, SineLane, StraightLane

from drivesim.errors import DrivesimError
from drivesim.road import (Arc, CubicRecord, Lane, LaneSection, LaneWidth, Line, ReferenceLine, Road, RoadNetwork,
                           WorldPose)

__all__ = ["env_network", "road_id", "mirrored", "SINE_PIECE_M"]

SINE_PIECE_M = 5.0
LANE_CLASSES = (StraightLane, CircularLane, SineLane)


def road_id(lane_index: tuple) -> str:
    """The drivesim road of a highway-env lane index (from, to, k)."""
    start, end, k = lane_index
    return f"{start}>{end}>{k}"


def mirrored(x: float, y: float, heading: float) -> WorldPose:
    """A highway-env pose (screen axes, y right of x) in drivesim's right-handed world, on the ground."""
    return WorldPose(float(x), -float(y), 0.0, math.remainder(-float(heading), 2 * math.pi), 0.0)


def env_network(network: Any, env_name: str) -> RoadNetwork:
    """Every lane of a highway-env RoadNetwork as a one-lane road (see the module docstring)."""
    return RoadNetwork.of([lane_road(lane, road_id(index), env_name) for index, lane in _lanes(network)])


def _lanes(network: Any) -> Iterator[tuple[tuple, Any]]:
    for start, ends in network.graph.items():
        for end, lanes in ends.items():
            for k, lane in enumerate(lanes):
                yield (start, end, k), lane


def lane_road(lane: Any, rid: str, env_name: str = "highway-env") -> Road:
    """One highway-env lane as a road whose lane -1 is centred on the lane's centre line."""
    if type(lane) not in LANE_CLASSES:
        raise DrivesimError(f"{env_name}: lane {rid} is a {type(lane).__name__}; drivesim reads highway-env's "
                            f"{', '.join(c.__name__ for c in LANE_CLASSES)} lanes")
    width, length = float(lane.width_at(0.0)), float(lane.length)
    start = mirrored(*lane.position(0.0, 0.0), lane.heading_at(0.0))
    offset: tuple[CubicRecord, ...] = (CubicRecord(0.0, width / 2),)
    if type(lane) is CircularLane:
        piece = Arc(0.0, start.x, start.y, start.heading, length, -lane.direction / float(lane.radius))
    else:  # the straight line of the lane (of a SineLane's base)
        x, y = (float(v) for v in lane.start)
        piece = Line(0.0, x, -y, -float(lane.heading), length)
        if type(lane) is SineLane:
            offset = _sine_offset(lane, width)
    section = LaneSection(0.0, right=(Lane(-1, "driving", widths=(LaneWidth(0.0, width),)),))
    return Road(id=rid, length=length, planView=ReferenceLine((piece,)), laneSections=(section,), laneOffset=offset)


def _sine_offset(lane: Any, width: float) -> tuple[CubicRecord, ...]:
    """laneOffset(s) = width / 2 - amplitude sin(pulsation s + phase) (mirrored: highway-env's lateral points
    right, t left), as cubic Hermite pieces matching value and slope at both ends of each piece."""
    a, w, phase = float(lane.amplitude), float(lane.pulsation), float(lane.phase)
    knots = np.linspace(0.0, float(lane.length), max(2, math.ceil(lane.length / SINE_PIECE_M) + 1))
    value = width / 2 - a * np.sin(w * knots + phase)
    slope = -a * w * np.cos(w * knots + phase)
    records = []
    for k in range(len(knots) - 1):
        h = knots[k + 1] - knots[k]
        p0, p1, m0, m1 = value[k], value[k + 1], slope[k], slope[k + 1]
        c = (3 * (p1 - p0) / h - 2 * m0 - m1) / h
        d = (2 * (p0 - p1) / h + m0 + m1) / h ** 2
        records.append(CubicRecord(float(knots[k]), float(p0), float(m0), float(c), float(d)))
    return tuple(records)
