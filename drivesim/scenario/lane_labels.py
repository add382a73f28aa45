"""Lane lines and road edges as labels: what of the road network's lane borders the camera sees.

Every lane border of every road near the ego (`drivesim.road.border_lines`, one stretch per lane
section and road mark) gets a type:
- `edge`: the carriageway's outer boundary on each side of the road -- the outer border of the
  outermost lane of a driving type (`drivesim.road.DRIVING_TYPES`), whatever its mark; on a one-way
  road the centre line is the edge of the side without driving lanes. Roads inside a junction have no
  edges (their connecting roads overlap, and their borders are not kerbs);
- `solid` / `dashed`: any other border with a painted line (OpenDRIVE solid-like / broken-like marks);
- borders without a line (mark none, grass, curb, custom) that are not an edge get no label.
Each stretch is cut to the view (`frustum.clip_to_view`: depth in [near_m, max_distance_m], inside
the image) and kept as 3D camera-frame points (metres, KITTI axes) and pixels, from its nearer end out.
Vehicles do not occlude lane lines (every returned point is visible). docs/labels.md has every field.

    from drivesim.road import RoadNetwork, straight_road
    from drivesim.scenario.camera import EgoPose, PinholeCamera
    from drivesim.scenario.lane_labels import lane_labels
    network = RoadNetwork.of([straight_road(200.0, [3.5, 3.5])])
    camera = PinholeCamera.from_fov(1024, 512, fov_deg=90, mount_height_m=1.5)
    lines = lane_labels(network, camera, EgoPose(x=20.0, y=-1.75))
    [(line.track_id, line.type) for line in lines]  # ('0/-1/left', 'edge'), ('0/-1/right', 'dashed'), ('0/-2/right', 'edge')
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np

from drivesim.road import DRIVING_TYPES, LaneSection, Road, RoadMark, RoadNetwork, border_lines
from drivesim.scenario.camera import EgoPose, PinholeCamera, world_to_ego
from drivesim.scenario.frustum import clip_to_view

LANE_LINE_TYPES: tuple[str, ...] = ("solid", "dashed", "edge")
NEAR_PLANE_M = 0.5  # lines are cut where they come nearer than this to the camera plane
MIN_LENGTH_PX = 1.0  # a visible run shorter than this in the image carries no lane shape: dropped
ATTRIBUTE_RANGE_M = 30.0  # OpenLane's left/right attribute goes to lines whose nearest point is this close
JSON_DECIMALS = 6  # metres and pixels in JSON: a round trip stays within 5e-7
CULL_POINTS = 64  # a long border is checked for reach in pieces of this many samples

# OpenDRIVE road mark types (drivesim.road.ROAD_MARK_TYPES) with a painted line -> drivesim's type.
_PAINTED = {"solid": "solid", "solid solid": "solid", "solid broken": "solid", "broken solid": "solid",
            "broken": "dashed", "broken broken": "dashed", "botts dots": "dashed"}
# OpenLane categories (1-12 painted, 20/21 curbsides): single, double, and mixed lines, (white, yellow).
_OPENLANE_SINGLE = {"solid": (2, 8), "broken": (1, 7), "botts dots": (1, 7)}
_OPENLANE_DOUBLE = {"solid solid": (4, 10), "broken broken": (3, 9)}
_OPENLANE_LEFT_DASH_RIGHT_SOLID, _OPENLANE_LEFT_SOLID_RIGHT_DASH = (5, 11), (6, 12)
OPENLANE_LEFT_CURB, OPENLANE_RIGHT_CURB = 20, 21


@dataclass(frozen=True, eq=False)
class LaneLine:
    """One visible run of one lane border, in the camera frame and in pixels (docs/labels.md)."""

    track_id: str  # "road/lane/side", stable across frames ("/k": the k-th stretch, "#p": the p-th visible run)
    type: str  # solid | dashed | edge
    category: int  # OpenLane's lane category (1-12 painted lines, 20/21 left/right curbside)
    road: str  # the road's id
    lane: int  # the OpenDRIVE lane the line borders (its `side` border, looking along the road's +s)
    side: str  # left | right
    mark: str  # the OpenDRIVE road mark type on the border ("none" where unmarked)
    color: str  # the OpenDRIVE road mark colour ("standard" is white)
    attribute: int  # OpenLane: 1 left-left, 2 left, 3 right, 4 right-right of the camera; 0 otherwise
    xyz: np.ndarray  # (n, 3) camera frame (x right, y down, z forward), metres
    uv: np.ndarray  # (n, 2) pixels (u right, v down)

    def to_json(self) -> dict[str, Any]:
        """OpenLane's per-line keys (`xyz` as 3 rows, `uv` as 2 rows) plus drivesim's."""
        return {"track_id": self.track_id, "type": self.type, "category": self.category, "road": self.road,
                "lane": self.lane, "side": self.side, "mark": self.mark, "color": self.color,
                "attribute": self.attribute,
                "xyz": [[round(float(v), JSON_DECIMALS) for v in row] for row in self.xyz.T],
                "uv": [[round(float(v), JSON_DECIMALS) for v in row] for row in self.uv.T],
                "visibility": [1.0] * len(self.xyz)}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "LaneLine":
        return cls(track_id=str(d["track_id"]), type=str(d["type"]), category=int(d["category"]),
                   road=str(d["road"]), lane=int(d["lane"]), side=str(d["side"]), mark=str(d["mark"]),
                   color=str(d["color"]), attribute=int(d["attribute"]),
                   xyz=np.array(d["xyz"], dtype=np.float64).T.reshape(-1, 3),
                   uv=np.array(d["uv"], dtype=np.float64).T.reshape(-1, 2))


class _Stretch(NamedTuple):
    """A labelled stretch of one lane border, in world points along the road's +s."""

    track_id: str
    type: str
    road: str
    lane: int
    side: str
    mark: str
    color: str
    first_line_left: bool  # of a double mark, whether its first-named line is on the left looking along +s
    points: np.ndarray  # (n, 3) world
    centres: np.ndarray  # (m, 3) bounding spheres of CULL_POINTS-point pieces, to skip what is out of reach
    radii: np.ndarray  # (m,)


class LaneLabeler:
    """The labelled lane borders of a network, sampled once (`step_m` metres of s); `frame` cuts them to
    one camera view. Keep one per network and reuse it across frames."""

    def __init__(self, network: RoadNetwork, step_m: float = 1.0):
        self.network = network
        self.stretches = [s for road in network.roads.values() for s in _road_stretches(road, step_m)]

    def frame(self, camera: PinholeCamera, pose: EgoPose, max_distance_m: float = 80.0) -> list[LaneLine]:
        """The lane lines `camera` on the ego at `pose` sees, nearest first."""
        camera_world = pose.origin + np.array([0.0, 0.0, camera.mount_height_m])
        lines: list[LaneLine] = []
        for stretch in self.stretches:
            near = np.nonzero(np.linalg.norm(stretch.centres - camera_world, axis=1) <= max_distance_m + stretch.radii)[0]
            if not len(near):
                continue  # no point of it is near enough
            # The samples from the first to the last piece within reach (pieces share their end samples).
            span = stretch.points[near[0] * CULL_POINTS:(near[-1] + 1) * CULL_POINTS + 1]
            points = camera.road_to_camera(world_to_ego(span, pose))
            runs = clip_to_view(points, camera, NEAR_PLANE_M, max_distance_m)
            kept = 0
            for run in runs:
                uv = camera.project(run)
                if np.sum(np.linalg.norm(np.diff(uv, axis=0), axis=1)) < MIN_LENGTH_PX:
                    continue
                reversed_ = bool(np.linalg.norm(run[-1]) < np.linalg.norm(run[0]))  # it runs towards the camera
                if reversed_:
                    run, uv = run[::-1], uv[::-1]
                track_id = stretch.track_id + (f"#{kept}" if kept else "")
                kept += 1
                category = _openlane_category(stretch, run, reversed_)
                lines.append(LaneLine(track_id, stretch.type, category, stretch.road, stretch.lane, stretch.side,
                                      stretch.mark, stretch.color, 0, run, uv))
        lines.sort(key=lambda line: (float(np.linalg.norm(line.xyz[0])), line.track_id))
        return _with_attributes(lines)


def lane_labels(network: RoadNetwork, camera: PinholeCamera, pose: EgoPose, max_distance_m: float = 80.0,
                step_m: float = 1.0) -> list[LaneLine]:
    """The lane lines and road edges `camera` on the ego at `pose` sees (one-off: see `LaneLabeler`)."""
    return LaneLabeler(network, step_m).frame(camera, pose, max_distance_m)


# --- which borders are labelled ----------------------------------------------------------------

def _road_stretches(road: Road, step_m: float) -> list[_Stretch]:
    out: list[_Stretch] = []
    seen: dict[str, int] = {}
    for (section, lane_id, mark), line in zip(border_records(road), border_lines(road, step_m), strict=True):
        assert line.lane == lane_id, (line.lane, lane_id)  # border_lines walks the records in this order
        edges = set() if road.in_junction else edge_borders(section.lanes)
        kind = "edge" if lane_id in edges else _PAINTED.get(line.mark)
        if kind is None:
            continue
        lane, side = _bordered_lane(lane_id, section.lanes)
        key = f"{road.id}/{lane}/{side}"
        count = seen.get(key, 0)
        seen[key] = count + 1
        out.append(_Stretch(key + (f"/{count}" if count else ""), kind, road.id, lane, side, line.mark,
                            mark.color if mark is not None else "standard", lane_id <= 0, line.points,
                            *_bounding_spheres(line.points)))
    return out


def _bounding_spheres(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(centres, radii) of the pieces points[k * CULL_POINTS : (k + 1) * CULL_POINTS + 1]."""
    pieces = [points[k:k + CULL_POINTS + 1] for k in range(0, max(len(points) - 1, 1), CULL_POINTS)]
    centres = np.array([(p.min(axis=0) + p.max(axis=0)) / 2 for p in pieces])
    radii = np.array([np.max(np.linalg.norm(p - c, axis=1)) for p, c in zip(pieces, centres)])
    return centres, radii


def border_records(road: Road) -> list[tuple[LaneSection, int, RoadMark | None]]:
    """(lane section, lane, road mark) of every stretch `border_lines` returns, in its order."""
    out = []
    for index, section in enumerate(road.laneSections):
        start, end = road.section_range(index)
        for lane_id, lane in section.lanes.items():
            marks = [m for m in lane.road_marks if start + m.sOffset < end] or [None]
            out += [(section, lane_id, mark) for mark in marks]
    return out


def edge_borders(lanes: dict) -> set[int]:
    """Lane ids whose outer border is the carriageway's edge (0: the centre line), per side."""
    driving = [lane_id for lane_id, lane in lanes.items() if lane_id and lane.type in DRIVING_TYPES]
    if not driving:
        return set()
    edges = set()
    for sign in (1, -1):
        side = [lane_id for lane_id in driving if lane_id * sign > 0]
        edges.add(max(side, key=abs) if side else 0)
    return edges


def _bordered_lane(border: int, lanes: dict) -> tuple[int, str]:
    """(lane, side looking along +s) naming the border of lane `border` (0: the centre line, named as a
    border of the lane next to it: the left of lane -1, else the right of lane 1)."""
    if border < 0:
        return border, "right"
    if border > 0:
        return border, "left"
    return (-1, "left") if -1 in lanes else (1, "right")


# --- OpenLane's category and left/right attribute ---------------------------------------------

def _openlane_category(stretch: _Stretch, run: np.ndarray, reversed_: bool) -> int:
    """OpenLane's category of a visible run; left and right as the camera sees them."""
    if stretch.type == "edge":
        return OPENLANE_LEFT_CURB if run[0, 0] < 0 else OPENLANE_RIGHT_CURB
    yellow = int(stretch.color == "yellow")
    if stretch.mark in _OPENLANE_SINGLE:
        return _OPENLANE_SINGLE[stretch.mark][yellow]
    if stretch.mark in _OPENLANE_DOUBLE:
        return _OPENLANE_DOUBLE[stretch.mark][yellow]
    # "solid broken" / "broken solid": OpenDRIVE names the inner line first (the left one on the centre
    # line, looking along +s); seen from a camera looking along -s, left and right swap.
    first_left = stretch.first_line_left != reversed_
    left_dashed = stretch.mark.startswith("broken") == first_left
    return (_OPENLANE_LEFT_DASH_RIGHT_SOLID if left_dashed else _OPENLANE_LEFT_SOLID_RIGHT_DASH)[yellow]


def _with_attributes(lines: list[LaneLine]) -> list[LaneLine]:
    """OpenLane's attribute: the two lines nearest the camera on its left (2, then 1) and on its right (3,
    then 4), by the lateral position of each line's nearest point, among lines starting within
    ATTRIBUTE_RANGE_M."""
    near = [k for k, line in enumerate(lines) if line.xyz[0, 2] <= ATTRIBUTE_RANGE_M]
    left = sorted((k for k in near if lines[k].xyz[0, 0] < 0), key=lambda k: -lines[k].xyz[0, 0])
    right = sorted((k for k in near if lines[k].xyz[0, 0] >= 0), key=lambda k: lines[k].xyz[0, 0])
    attribute = {**dict(zip(left, (2, 1))), **dict(zip(right, (3, 4)))}
    return [replace(line, attribute=attribute.get(k, 0)) for k, line in enumerate(lines)]
