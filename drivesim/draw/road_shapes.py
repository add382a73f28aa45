"""A road network's lanes as surfaces to paint: each lane of each lane section as a strip between its two
borders (world points every `step` metres of s), and the surface it is painted as. The preview's world
bird's-eye view fills the strips from above; its camera views fill them seen from the ego.

    from drivesim.draw.road_shapes import lane_strips
    from drivesim.road import RoadNetwork, straight_road
    strips = lane_strips(RoadNetwork.of([straight_road(100.0, [3.5, 3.5])]))
    [(s.lane, s.surface) for s in strips]  # [(-1, 'road'), (-2, 'road')]
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from drivesim.road import DRIVING_TYPES, RoadNetwork

WALK_TYPES = ("sidewalk", "walking", "curb", "biking")
SURFACES = ("verge", "walk", "road")  # painted in this order: roads over what they overlap


class LaneStrip(NamedTuple):
    road: str
    lane: int
    surface: str  # road (a lane of a driving type, or a junction's), walk (sidewalks, paths), verge (the rest)
    junction: str | None  # the junction the road lies in, None outside junctions
    inner: np.ndarray  # (n, 3) world points of the border towards the centre lane, along +s
    outer: np.ndarray  # (n, 3) world points of the lane's outer border, along +s


def lane_strips(network: RoadNetwork, step: float = 1.0) -> list[LaneStrip]:
    """Every lane (not centre lanes) of every lane section of every road."""
    out = []
    for road in network.roads.values():
        for index, section in enumerate(road.laneSections):
            start, end = road.section_range(index)
            s = np.linspace(start, end, max(2, math.ceil((end - start) / step - 1e-9) + 1))
            borders = road.section_borders(index, s)
            z, _ = road.elevation(s)

            def world(t: np.ndarray) -> np.ndarray:
                x, y = road.planView.to_world(s, t)
                return np.stack([x, y, z], axis=-1)

            for lane_id, lane in section.lanes.items():
                if lane_id == 0:
                    continue
                inward = lane_id - 1 if lane_id > 0 else lane_id + 1
                surface = ("road" if lane.type in DRIVING_TYPES or road.in_junction
                           else "walk" if lane.type in WALK_TYPES else "verge")
                out.append(LaneStrip(road.id, lane_id, surface, road.junction if road.in_junction else None,
                                     world(borders[inward][0]), world(borders[lane_id][0])))
    return out
