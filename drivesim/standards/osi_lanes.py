"""A road network as OSI lanes and lane boundaries, and which OSI lane a world point lies in.

Every road of the network (`drivesim.road`) gives, per lane section:
- one `osi3.LaneBoundary` per stretch of lane border with one road mark (`drivesim.road.border_lines`:
  every lane's outer border and the centre line), its points along the road's +s, its type from the mark
  (solid-like marks TYPE_SOLID_LINE, broken-like TYPE_DASHED_LINE, no mark TYPE_NO_LINE; see
  `BOUNDARY_TYPES`), colour and width;
- one `osi3.Lane` per lane (not the centre lane): its centre line in its driving direction
  (`centerline_is_driving_direction` true), TYPE_DRIVING for lanes of a driving type (TYPE_INTERSECTION
  inside a junction), else TYPE_NONDRIVING with a subtype (sidewalk, shoulder, ...); its left and right
  boundary ids and adjacent lane ids as seen in its driving direction; its antecessor and successor
  lanes (lane sections, linked roads, junctions' lane links) as `lane_pairing`.
Ids: lanes LANE_ID_BASE + k and boundaries LANE_BOUNDARY_ID_BASE + k, k counting in the network's road
order, lane sections in order, right lanes (-1, -2, ...) before left lanes (1, 2, ...). On version 1's
straight road, drivesim lane k is road `main`'s lane -(k + 1), so its OSI id is LANE_ID_BASE + k.
Polylines are sampled every metre and thinned to the points needed to keep within SIMPLIFY_M of the
road (a straight border keeps its two ends); every written point lies on the border or centre line.

    from drivesim.road import RoadNetwork, straight_road
    from drivesim.standards.osi_lanes import OsiRoadNetwork
    lanes = OsiRoadNetwork(RoadNetwork.of([straight_road(100.0, [3.5, 3.5], road_id="main")]))
    lanes.lane_at(40.0, -5.0)  # 1000001: lane -2, drivesim's lane 1
    len(lanes.boundaries), len(lanes.lanes)  # 3 borders (centre line, -1, -2), 2 lanes
"""

from __future__ import annotations

from typing import Any

import numpy as np

from drivesim.road import DRIVING_TYPES, LaneRef, Projector, Road, RoadNetwork, border_lines, lane_centre_lines
from drivesim.scenario.lane_labels import border_records

LANE_ID_BASE = 1_000_000
LANE_BOUNDARY_ID_BASE = 2_000_000
SAMPLE_STEP_M = 1.0
SIMPLIFY_M = 0.01  # a thinned polyline stays this close to the sampled road
SOURCE_TYPE = "net.drivesim:opendrive_lane"  # identifier: [road id, lane section index, lane id]

# OpenDRIVE road mark type -> OSI LaneBoundary.Classification.Type. OSI draws a double line as two
# boundaries; drivesim writes one, typed by its stricter line.
BOUNDARY_TYPES = {"none": "TYPE_NO_LINE", "solid": "TYPE_SOLID_LINE", "solid solid": "TYPE_SOLID_LINE",
                  "solid broken": "TYPE_SOLID_LINE", "broken solid": "TYPE_SOLID_LINE",
                  "broken": "TYPE_DASHED_LINE", "broken broken": "TYPE_DASHED_LINE",
                  "botts dots": "TYPE_BOTTS_DOTS", "grass": "TYPE_GRASS_EDGE", "curb": "TYPE_CURB",
                  "edge": "TYPE_ROAD_EDGE", "custom": "TYPE_OTHER"}
_COLORS = {"standard": "COLOR_WHITE", "white": "COLOR_WHITE", "yellow": "COLOR_YELLOW", "red": "COLOR_RED",
           "blue": "COLOR_BLUE", "green": "COLOR_GREEN", "violet": "COLOR_VIOLET", "orange": "COLOR_ORANGE"}
_SUBTYPES = {"driving": "SUBTYPE_NORMAL", "biking": "SUBTYPE_BIKING", "sidewalk": "SUBTYPE_SIDEWALK",
             "walking": "SUBTYPE_SIDEWALK", "parking": "SUBTYPE_PARKING", "stop": "SUBTYPE_STOP",
             "restricted": "SUBTYPE_RESTRICTED", "border": "SUBTYPE_BORDER", "shoulder": "SUBTYPE_SHOULDER",
             "exit": "SUBTYPE_EXIT", "entry": "SUBTYPE_ENTRY", "onRamp": "SUBTYPE_ONRAMP",
             "offRamp": "SUBTYPE_OFFRAMP", "connectingRamp": "SUBTYPE_CONNECTINGRAMP"}


class OsiRoadNetwork:
    """The OSI lanes and boundaries of one network, built once; `lane_at` assigns world points to lanes."""

    def __init__(self, network: RoadNetwork):
        from osi3 import osi_lane_pb2

        self.network, self.pb = network, osi_lane_pb2
        self.projector = Projector(network)
        self.lane_ids: dict[tuple[str, int, int], int] = {}  # (road, section, lane) -> OSI id
        for road in network.roads.values():
            for index, section in enumerate(road.laneSections):
                for lane_id in sorted((k for k in section.lanes if k), key=lambda k: (k > 0, abs(k))):
                    self.lane_ids[(road.id, index, lane_id)] = LANE_ID_BASE + len(self.lane_ids)
        self.boundaries: list[Any] = []
        self.lanes: list[Any] = []
        for road in network.roads.values():
            borders = self._add_boundaries(road)
            self._add_lanes(road, borders)
        self.lanes.sort(key=lambda lane: lane.id.value)
        self.index = {lane.id.value: k for k, lane in enumerate(self.lanes)}

    def fill(self, gt: Any, host_lane: int | None) -> None:
        """Add the boundaries and lanes to a GroundTruth, marking the host vehicle's lane."""
        gt.lane_boundary.extend(self.boundaries)
        gt.lane.extend(self.lanes)
        if host_lane is not None:
            gt.lane[self.index[host_lane]].classification.is_host_vehicle_lane = True

    def lane_at(self, x: float, y: float, heading: float | None = None) -> int | None:
        """The OSI id of the lane holding world (x, y), None beside the road. A point on the border between
        two lanes belongs to the lane on its right, seen in that lane's driving direction (as version 1's
        `floor(lateral_m / lane_width_m)`)."""
        point = self.projector.project(x, y, heading)
        if point is None or point.distance > 1e-6:
            return None
        road = self.network.roads[point.road]
        for lane_id, (inner, outer) in road.borders(point.s).items():
            lo, hi = min(inner, outer), max(inner, outer)
            if lane_id and lo < hi and ((lo < point.t <= hi) if road.direction(lane_id) > 0 else (lo <= point.t < hi)):
                return self.lane_ids[(road.id, road.section_index(point.s), lane_id)]
        return None

    # -- building ----------------------------------------------------------------------------------

    def _add_boundaries(self, road: Road) -> dict[tuple[int, int], list[int]]:
        """The road's boundaries; returns (section, lane) -> ids of the stretches of that lane's outer border."""
        sections = {id(section): k for k, section in enumerate(road.laneSections)}
        cls = self.pb.LaneBoundary.Classification
        out: dict[tuple[int, int], list[int]] = {}
        for (section, lane_id, mark), line in zip(border_records(road), border_lines(road, SAMPLE_STEP_M), strict=True):
            b = self.pb.LaneBoundary()
            b.id.value = LANE_BOUNDARY_ID_BASE + len(self.boundaries)
            for p in simplify(line.points, SIMPLIFY_M):
                point = b.boundary_line.add()
                point.position.x, point.position.y, point.position.z = (float(v) for v in p)
                if mark is not None and mark.width:
                    point.width = float(mark.width)
            b.classification.type = cls.Type.Value(BOUNDARY_TYPES.get(line.mark, "TYPE_OTHER"))
            color = "COLOR_NONE" if mark is None or line.mark == "none" else _COLORS.get(mark.color, "COLOR_OTHER")
            b.classification.color = cls.Color.Value(color)
            self._source(b, road.id, sections[id(section)], lane_id)
            self.boundaries.append(b)
            out.setdefault((sections[id(section)], lane_id), []).append(b.id.value)
        return out

    def _add_lanes(self, road: Road, borders: dict[tuple[int, int], list[int]]) -> None:
        cls = self.pb.Lane.Classification
        records = [(k, lane_id) for k, section in enumerate(road.laneSections) for lane_id in section.lanes if lane_id]
        for (index, lane_id), line in zip(records, lane_centre_lines(road, SAMPLE_STEP_M), strict=True):
            lane = self.pb.Lane()
            lane.id.value = self.lane_ids[(road.id, index, lane_id)]
            c = lane.classification
            kind = road.laneSections[index].lanes[lane_id].type
            driving = kind in DRIVING_TYPES
            c.type = cls.Type.Value(("TYPE_INTERSECTION" if road.in_junction else "TYPE_DRIVING") if driving
                                    else "TYPE_NONDRIVING")
            c.subtype = cls.Subtype.Value(_SUBTYPES.get(kind, "SUBTYPE_OTHER"))
            for p in simplify(line.points, SIMPLIFY_M):
                point = c.centerline.add()
                point.x, point.y, point.z = (float(v) for v in p)
            c.centerline_is_driving_direction = True
            d = road.direction(lane_id)
            plus_t = lane_id if lane_id > 0 else lane_id + 1  # the border on its +t side (0: the centre line)
            minus_t = lane_id - 1 if lane_id > 0 else lane_id
            left_border, right_border = (plus_t, minus_t) if d > 0 else (minus_t, plus_t)
            for field, border in ((c.left_lane_boundary_id, left_border), (c.right_lane_boundary_id, right_border)):
                for boundary in borders.get((index, border), []):
                    field.add().value = boundary
            above, below = _neighbour(lane_id, 1), _neighbour(lane_id, -1)
            left_lane, right_lane = (above, below) if d > 0 else (below, above)
            for field, neighbour in ((c.left_adjacent_lane_id, left_lane), (c.right_adjacent_lane_id, right_lane)):
                if (road.id, index, neighbour) in self.lane_ids:
                    field.add().value = self.lane_ids[(road.id, index, neighbour)]
            self._pairings(c, LaneRef(road.id, index, lane_id, d))
            self._source(lane, road.id, index, lane_id)
            self.lanes.append(lane)

    def _pairings(self, c: Any, ref: LaneRef) -> None:
        """One LanePairing per (lane before, lane after) in the driving direction; either may be absent."""
        before = [self.lane_ids.get((r.road, r.section, r.lane)) for r in self.network.successors(ref._replace(
            direction=-ref.direction))]
        after = [self.lane_ids.get((r.road, r.section, r.lane)) for r in self.network.successors(ref)]
        for a in [i for i in before if i is not None] or [None]:
            for s in [i for i in after if i is not None] or [None]:
                if a is None and s is None:
                    continue
                pairing = c.lane_pairing.add()
                if a is not None:
                    pairing.antecessor_lane_id.value = a
                if s is not None:
                    pairing.successor_lane_id.value = s

    @staticmethod
    def _source(message: Any, road: str, section: int, lane: int) -> None:
        ref = message.source_reference.add()
        ref.type = SOURCE_TYPE
        ref.identifier.extend([road, str(section), str(lane)])


def _neighbour(lane_id: int, side: int) -> int:
    """The lane next to `lane_id` towards +t (side 1) or -t (side -1), over the centre lane."""
    k = lane_id + side
    return k + side if k == 0 else k


def simplify(points: np.ndarray, tolerance: float) -> np.ndarray:
    """The points of a polyline that keep it within `tolerance` of all of them (Douglas-Peucker)."""
    points = np.asarray(points, dtype=np.float64)
    keep = np.zeros(len(points), bool)
    keep[[0, -1]] = True
    stack = [(0, len(points) - 1)]
    while stack:
        i, j = stack.pop()
        if j <= i + 1:
            continue
        a, chord = points[i], points[j] - points[i]
        inner = points[i + 1:j] - a
        length = float(np.linalg.norm(chord))
        d = (np.linalg.norm(np.cross(inner, chord), axis=1) / length if length > 0
             else np.linalg.norm(inner, axis=1))
        k = int(np.argmax(d))
        if d[k] > tolerance:
            m = i + 1 + k
            keep[m] = True
            stack += [(i, m), (m, j)]
    return points[keep]
