"""A scenario's inline road (`road.segments`, or version 1's straight road) as a road of the network model.

One road, id `INLINE_ROAD_ID`, whose reference line is the centre line between the two directions: the
segments one after the other from the world origin heading along +x (`straight`: a line, `arc`: constant
curvature 1 / radius, positive turning left, `clothoid`: curvature changing linearly). `lanes` lanes of
`lane_width_m` are driven in the ego's direction (towards +s), `oncoming_lanes` the other way; under
right-hand traffic (`traffic: right`) the ego's lanes are OpenDRIVE's right lanes (-1, -2, ...), under
left-hand traffic the left lanes (1, 2, ...), so drivesim's lane k (counted from the left in the ego's
direction) is lane -(k + 1) under right-hand traffic and lane `lanes - k` under left-hand traffic.

Version 1's road (no segments) is straight and starts `lead_in_m` behind the world origin, so that the
ego, which starts at the origin, has road behind it for agents that start behind the camera.

    from drivesim.scenario.format import Road as RoadConfig
    from drivesim.scenario.inline_road import inline_road
    road = inline_road(RoadConfig(lanes=2, oncoming_lanes=1, segments=[{"straight": 50}, {"arc": {"length": 80, "radius": 100}}]))
    road.lane_to_world(-1, 130.0)  # 30 m into the left bend, in the ego's right-hand lane
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

from drivesim.road import Arc, Line, ReferenceLine, Road, Spiral, straight_road
from drivesim.scenario.format import Road as RoadConfig
from drivesim.scenario.format import Segment

INLINE_ROAD_ID = "main"


def inline_road(config: RoadConfig, length_m: float = 0.0, lead_in_m: float = 0.0) -> Road:
    """The road of `config.segments`; without segments version 1's straight road of `length_m` metres,
    starting `lead_in_m` behind the world origin."""
    rule = "RHT" if config.traffic == "right" else "LHT"
    lanes = straight_road(1.0, [config.lane_width_m] * config.lanes, [config.lane_width_m] * config.oncoming_lanes,
                          road_id=INLINE_ROAD_ID, rule=rule)
    if config.segments is None:
        plan = ReferenceLine((Line(0.0, -lead_in_m, 0.0, 0.0, length_m),))
    else:
        plan = reference_line(config.segments)
    return dataclasses.replace(lanes, length=plan.length, planView=plan)


def reference_line(segments: Sequence[Segment]) -> ReferenceLine:
    """The segments end to end from the origin along +x, each starting where the one before ends."""
    pieces = []
    s, x, y, hdg = 0.0, 0.0, 0.0, 0.0
    for seg in segments:
        if seg.straight is not None:
            piece = Line(s, x, y, hdg, seg.straight)
        elif seg.arc is not None:
            piece = Arc(s, x, y, hdg, seg.arc.length, 1.0 / seg.arc.radius)
        else:
            c = seg.clothoid
            piece = Spiral(s, x, y, hdg, c.length, c.curvature_start, c.curvature_end)
        pieces.append(piece)
        end = piece.end()
        s, x, y, hdg = s + piece.length, float(end.x), float(end.y), float(end.hdg)
    return ReferenceLine(tuple(pieces))

