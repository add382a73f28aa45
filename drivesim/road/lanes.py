"""Lanes of a road: OpenDRIVE's <laneSection>s with their <lane>s, widths and road marks.

Inside a lane section the lanes are counted outwards from the centre lane (id 0, zero width, on the
reference line shifted by the road's laneOffset): left lanes 1, 2, ... (towards +t), right lanes
-1, -2, ... (towards -t). A lane's width is a piecewise cubic from its section's start (`sOffset`
records); its outer border is the centre line plus the widths of every lane from the centre out to
it. A lane's road marks lie on its outer border; the centre lane's on the centre line.

    from drivesim.road.lanes import Lane, LaneSection, LaneWidth
    section = LaneSection(s=0.0, right=(Lane(-1, widths=(LaneWidth(0.0, 3.5),)),
                                        Lane(-2, widths=(LaneWidth(0.0, 3.0, 0.01),))))
    section.borders(10.0, 0.0)[-2]  # outer border of lane -2 at s = 10: t = -(3.5 + 3.1), slope -0.01
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from drivesim.road.cubic import piecewise_cubic

# OpenDRIVE 1.8 lane types (e-laneType)
LANE_TYPES: tuple[str, ...] = (
    "shoulder", "border", "driving", "stop", "none", "restricted", "parking", "median", "biking", "sidewalk",
    "curb", "exit", "entry", "onRamp", "offRamp", "connectingRamp", "bidirectional", "special1", "special2",
    "special3", "roadWorks", "tram", "rail", "bus", "taxi", "HOV", "mwyEntry", "mwyExit", "slipLane", "walking",
)
# Lane types that carry motor traffic in one direction (a route and "the lane a car is in" use these).
DRIVING_TYPES: tuple[str, ...] = ("driving", "entry", "exit", "onRamp", "offRamp", "connectingRamp",
                                  "slipLane", "mwyEntry", "mwyExit", "bus", "taxi", "HOV")
# OpenDRIVE 1.8 road mark types (e-roadMarkType)
ROAD_MARK_TYPES: tuple[str, ...] = ("none", "solid", "broken", "solid solid", "solid broken", "broken solid",
                                    "broken broken", "botts dots", "grass", "curb", "custom", "edge")


@dataclass(frozen=True)
class LaneWidth:
    """<width>: `a + b ds + c ds^2 + d ds^3`, ds from `sOffset` after the lane section's start."""

    sOffset: float  # camelCase: OpenDRIVE's attribute names, so a reader maps records 1:1
    a: float
    b: float = 0.0
    c: float = 0.0
    d: float = 0.0


@dataclass(frozen=True)
class RoadMark:
    """<roadMark> on the lane's outer border from `sOffset` after the section's start on."""

    sOffset: float = 0.0
    type: str = "none"
    color: str = "standard"
    width: float | None = None  # metres; None: not given


@dataclass(frozen=True)
class Lane:
    """<lane>. `predecessor`/`successor`: lane ids linked in the previous/next lane section (or, at the
    road's start/end, in the road or junction connected there), in the direction of s."""

    id: int
    type: str = "driving"
    widths: tuple[LaneWidth, ...] = ()
    road_marks: tuple[RoadMark, ...] = ()
    predecessor: int | None = None
    successor: int | None = None

    def width(self, ds: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """Width and its d/ds at `ds` metres after the lane section's start."""
        return piecewise_cubic([w.sOffset for w in self.widths], [(w.a, w.b, w.c, w.d) for w in self.widths], ds)

    def road_mark_at(self, ds: float) -> RoadMark | None:
        """The road mark in force `ds` metres after the section's start (None: none given)."""
        current = None
        for mark in self.road_marks:
            if mark.sOffset <= ds + 1e-9:
                current = mark
        return current


@dataclass(frozen=True)
class LaneSection:
    """<laneSection> from road `s` on. `left` and `right` in any order (ids say where each lies)."""

    s: float
    left: tuple[Lane, ...] = ()
    center: Lane = field(default_factory=lambda: Lane(0, "none"))
    right: tuple[Lane, ...] = ()

    @cached_property
    def lanes(self) -> dict[int, Lane]:
        """Every lane by id, the centre lane (0) included, from the leftmost to the rightmost."""
        ordered = sorted((*self.left, self.center, *self.right), key=lambda lane: -lane.id)
        return {lane.id: lane for lane in ordered}

    def borders(self, s: np.ndarray | float, centre_t: np.ndarray | float,
                centre_slope: np.ndarray | float = 0.0) -> dict[int, tuple[np.ndarray, np.ndarray]]:
        """t and dt/ds of every lane's outer border at road `s` (id 0: the centre line), given the
        centre line's t (the road's laneOffset) and its slope there."""
        ds = np.asarray(s, dtype=float) - self.s
        zeros = np.zeros_like(ds)  # every border in the shape of s, whatever shape the centre line came in
        out = {0: (centre_t + zeros, centre_slope + zeros)}
        for side in (1, -1):
            t, slope = out[0]
            lane_id = side
            while lane_id in self.lanes:
                width, width_slope = self.lanes[lane_id].width(ds)
                t, slope = t + side * width, slope + side * width_slope
                out[lane_id] = (t, slope)
                lane_id += side
        return out
