"""A road's lanes as world polylines, for drawing and labels: each lane's centre line and each lane
border with its road mark, sampled every `step` metres of s (and at every lane section and road-mark
change), as (n, 3) arrays of world x, y, z.

    from drivesim.road.polylines import border_lines, lane_centre_lines
    from drivesim.road.straight import straight_road
    road = straight_road(100.0, [3.5, 3.5])
    [(line.lane, line.mark) for line in border_lines(road)]  # [(0, 'solid'), (-1, 'broken'), (-2, 'solid')]
    lane_centre_lines(road)[0].points[:2]  # lane -1: (0, -1.75, 0), (1, -1.75, 0)
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from drivesim.road.road import Road


class LaneLine(NamedTuple):
    """A lane's centre line in its driving direction."""

    road: str
    lane: int
    type: str  # the lane's type: driving, sidewalk, ...
    points: np.ndarray  # (n, 3) world x, y, z


class BorderLine(NamedTuple):
    """The outer border of lane `lane` (0: the centre line) over one stretch of one road mark, along +s."""

    road: str
    lane: int
    mark: str  # road mark type, "none" where none is given
    points: np.ndarray  # (n, 3) world x, y, z


def lane_centre_lines(road: Road, step: float = 1.0) -> list[LaneLine]:
    """Centre line of every lane (not the centre lane) of every lane section."""
    out = []
    for index, section in enumerate(road.laneSections):
        s = _samples(*road.section_range(index), step)
        for lane_id, lane in section.lanes.items():
            if lane_id == 0:
                continue
            points = _world(road, s, road.lane_center_t(lane_id, s)[0])
            out.append(LaneLine(road.id, lane_id, lane.type, points if road.direction(lane_id) > 0 else points[::-1]))
    return out


def border_lines(road: Road, step: float = 1.0) -> list[BorderLine]:
    """Every lane's outer border (and the centre line), split where its road mark changes."""
    out = []
    for index, section in enumerate(road.laneSections):
        start, end = road.section_range(index)
        for lane_id, lane in section.lanes.items():
            marks = [m for m in lane.road_marks if start + m.sOffset < end] or [None]
            for k, mark in enumerate(marks):
                mark_start = start + (mark.sOffset if mark is not None and k else 0.0)
                mark_end = start + marks[k + 1].sOffset if k + 1 < len(marks) else end
                s = _samples(mark_start, mark_end, step)
                t = road.section_borders(index, s)[lane_id][0]
                out.append(BorderLine(road.id, lane_id, mark.type if mark is not None else "none", _world(road, s, t)))
    return out


def _samples(start: float, end: float, step: float) -> np.ndarray:
    return np.linspace(start, end, max(2, math.ceil((end - start) / step - 1e-9) + 1))


def _world(road: Road, s: np.ndarray, t: np.ndarray) -> np.ndarray:
    x, y = road.planView.to_world(s, t)
    z, _ = road.elevation(s)
    return np.stack([x, y, z], axis=-1)
