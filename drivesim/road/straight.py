"""The straight multi-lane road drivesim has always drawn, as a road of the network model.

A straight reference line from the world origin along +x, `length` metres; `lane_widths` are the lanes
driven along +x, listed from the centre line outwards, and `oncoming_lane_widths` (none by default: a
one-way road) the lanes on the other side of the centre line, driven along -x. Under right-hand traffic
(the default) the lanes along +x are the right lanes: drivesim's lane k (counted from the left edge of
a one-way road) is OpenDRIVE lane -(k + 1), and drivesim's `lateral_m` (right of the left edge) is -t.
Road marks: solid on the centre line and the outer edges, broken between lanes of one direction.

    from drivesim.road.straight import straight_road
    road = straight_road(200.0, [3.5, 3.5, 3.5])
    road.lane_center_t(-2, 50.0)[0]  # -5.25: drivesim's lane 1, 1.5 lane widths right of the left edge
"""

from __future__ import annotations

from collections.abc import Sequence

from drivesim.road.geometry import Line
from drivesim.road.lanes import Lane, LaneSection, LaneWidth, RoadMark
from drivesim.road.reference_line import ReferenceLine
from drivesim.road.road import Road, TrafficRule


def straight_road(length: float, lane_widths: Sequence[float], oncoming_lane_widths: Sequence[float] = (),
                  road_id: str = "0", rule: TrafficRule = "RHT") -> Road:
    """A straight road along +x with lanes of constant width (see the module docstring)."""
    forward_side = -1 if rule == "RHT" else 1
    sides = {forward_side: _side(forward_side, lane_widths), -forward_side: _side(-forward_side, oncoming_lane_widths)}
    centre = Lane(0, "none", road_marks=(RoadMark(0.0, "solid"),))
    section = LaneSection(s=0.0, left=sides[1], center=centre, right=sides[-1])
    return Road(id=road_id, length=length, planView=ReferenceLine((Line(0.0, 0.0, 0.0, 0.0, length),)),
                laneSections=(section,), rule=rule)


def _side(sign: int, widths: Sequence[float]) -> tuple[Lane, ...]:
    return tuple(Lane(sign * (k + 1), "driving", widths=(LaneWidth(0.0, float(w)),),
                      road_marks=(RoadMark(0.0, "solid" if k == len(widths) - 1 else "broken"),))
                 for k, w in enumerate(widths))
