"""The road channels of the layout map drawn from the road network, as the camera on the ego sees it.

The channels (`layouts.NETWORK_ROAD_CHANNELS`), each (h, w) float32 at any map size:
  road        the road as version 1's road channel paints it: drivable surface 0.5, lines and edges 1.0,
              dashed lines as their dashes (fixed on the road: they flow past at the ego's speed)
  drivable    1 on lanes of a driving type, junctions included
  lane_solid, lane_dashed, road_edge
              1 on the lane borders lane labels give that type (`scenario/lane_labels.py`), whole lines
  direction   on drivable lanes outside junctions, the cosine between the lane's driving direction and the
              camera's heading: +1 driven away from the camera, -1 towards it (oncoming), near 0 across
              the view; 0 off the road and inside junctions (no one direction there)
Everything within REACH_M of the camera is drawn; nothing occludes the road (boxes have channels of
their own). Pixel coordinates are the labels' (pixel i spans [i, i + 1)), scaled to the map size.

Where a frame's road comes from (`frame_road`):
1. a road network given for the frame's clip (or carried by its road state as `network`), seen from the
   frame's `ego_pose` (or its road state's): any road, curved, two-way, a junction;
2. else the frame's RoadState on version 1's straight road (`straight_world.py`), `ego_travel_m` along
   and `ego_lateral_m` across: a version-1 frame draws as the straight network it is;
3. else nothing (a frame without a road state, e.g. footage without a scenario: the channels stay 0).
A frame whose labels carry world poses (a road other than version 1's) without a network is an error:
its road state cannot say where the road goes.

    from drivesim.conditions.road_maps import render_network_road
    from drivesim.conditions.road_geometry import road_geometry
    from drivesim.scenario.camera import EgoPose, PinholeCamera
    from drivesim.scenario.straight_world import StraightWorld
    network = StraightWorld(lanes=3, lane_width_m=3.5, reach_m=200.0).network_at(0.0)
    camera = PinholeCamera.from_fov(1024, 512, fov_deg=90)
    maps = render_network_road(road_geometry(network), camera, EgoPose(x=10.0, y=-5.25), (32, 64))  # (6, 32, 64)

`road_masks` gives the same projection at a frame's own resolution as per-pixel masks (lane lines, road
edges, drivable area): what the renderer's frames show where (`RenderPipeline(masks=True)`, the eval's
road adherence).
"""

from __future__ import annotations

import functools
from typing import Any

import cv2
import numpy as np

from drivesim.conditions.layouts import NETWORK_ROAD_CHANNELS
from drivesim.conditions.road_geometry import (
    DASH_PERIOD_M,
    LINE_TYPES,
    SAMPLE_STEP_M,
    RoadGeometry,
    Runs,
    road_geometry,
)
from drivesim.errors import DrivesimError
from drivesim.scenario.camera import EgoPose, PinholeCamera
from drivesim.scenario.labels import FrameConditions
from drivesim.scenario.lane_labels import RoadNetwork
from drivesim.scenario.straight_world import StraightWorld

ROAD, DRIVABLE, LANE_SOLID, LANE_DASHED, ROAD_EDGE, DIRECTION = range(len(NETWORK_ROAD_CHANNELS))
LINE_CHANNEL = {"solid": LANE_SOLID, "dashed": LANE_DASHED, "edge": ROAD_EDGE}
ROAD_SURFACE, LANE_LINE = 0.5, 1.0  # the road channel's values, as version 1's
REACH_M = 200.0  # drawn this far: 4 px below the horizon at 512x1024
NEAR_M = 0.5  # pieces are cut at this depth in front of the camera
STRAIGHT_WRAP_M = 40 * DASH_PERIOD_M  # version 1's road looks the same every 480 m of travel
SHIFT = 4  # cv2 fixed-point bits: corners placed to 1/16 pixel
LOD_PX, MAX_STRIDE = 8.0, 16  # far away, pieces of up to 16 samples spanning about 8 map pixels


def render_network_road(geometry: RoadGeometry, camera: PinholeCamera, pose: EgoPose,
                        size: tuple[int, int]) -> np.ndarray:
    """The road channels (6, h, w) float32 of `geometry` seen by `camera` on the ego at `pose`."""
    h, w = size
    out = np.zeros((len(NETWORK_ROAD_CHANNELS), h, w), np.float32)
    view = _View(camera, pose, size)
    thickness = max(1, round(h / 128))  # as version 1's road channel

    surfaces = geometry.surfaces
    a, b = _joined(surfaces, view)
    quads = np.concatenate([surfaces.points[a], surfaces.points[b][:, ::-1]], axis=1)  # inner, outer, outer, inner
    along = (surfaces.points[b] - surfaces.points[a]).mean(axis=1)[:, :2] * surfaces.sign[a][:, None]
    direction = np.clip(along @ view.forward / np.maximum(np.linalg.norm(along, axis=1), 1e-9), -1.0, 1.0)
    direction[surfaces.kind[a] == 1] = 0.0  # a junction's lanes cross: no one direction
    polygons, source, depth = view.polygons(quads)
    direction = direction[source]
    for k in np.argsort(-depth, kind="stable"):  # far first: the nearer lane wins where two overlap
        cv2.fillConvexPoly(out[DRIVABLE], polygons[k], 1.0, cv2.LINE_8, SHIFT)
        cv2.fillConvexPoly(out[DIRECTION], polygons[k], float(direction[k]), cv2.LINE_8, SHIFT)
    out[ROAD] = out[DRIVABLE] * ROAD_SURFACE

    lines = geometry.lines
    a, b = _joined(lines, view)
    segments, source = view.segments(np.concatenate([lines.points[a], lines.points[b]], axis=1))
    kinds = lines.kind[a][source]
    for k, name in enumerate(LINE_TYPES):
        _draw(out[LINE_CHANNEL[name]], segments[kinds == k], thickness)
    _draw(out[ROAD], segments[kinds != LINE_TYPES.index("dashed")], thickness)
    dashes = geometry.dashes
    _draw(out[ROAD], view.segments(dashes.points[dashes.near(view.centre, REACH_M)])[0], thickness)
    return out


MASKS: tuple[str, ...] = ("lane_lines", "road_edges", "drivable")  # road_masks' keys


def road_masks(frame: FrameConditions, camera: PinholeCamera, size: tuple[int, int],
               network: RoadNetwork | None = None) -> dict[str, np.ndarray]:
    """Per-pixel masks (h, w) bool of a frame's road seen by `camera` at `size` (h, w), e.g. the frame's own
    resolution: `lane_lines` the solid and dashed lane borders (whole lines, as the lane labels' polylines:
    a dashed line's gaps too), `road_edges` the carriageway edges, `drivable` the driving lanes. The road
    channels of `render_network_road` (lines max(1, round(h / 128)) px thick), so masks and layout maps show
    one road; all False where the frame has no road (`frame_road`)."""
    h, w = size
    road = frame_road(frame, network)
    if road is None:
        return {name: np.zeros((h, w), bool) for name in MASKS}
    geometry, pose = road
    maps = render_network_road(geometry, camera, pose, size)
    return {"lane_lines": (maps[LANE_SOLID] > 0) | (maps[LANE_DASHED] > 0), "road_edges": maps[ROAD_EDGE] > 0,
            "drivable": maps[DRIVABLE] > 0}


def frame_road(frame: FrameConditions, network: RoadNetwork | None = None) -> tuple[RoadGeometry, EgoPose] | None:
    """The road a frame's maps are drawn from and the ego pose it is seen from (see the module docstring)."""
    road = frame.road
    network = network if network is not None else getattr(road, "network", None)
    pose = _as_pose(frame.ego_pose if frame.ego_pose is not None else getattr(road, "ego_pose", None))
    if network is not None and pose is not None:
        return road_geometry(network), pose
    if road is None:
        return None
    if frame.world_labels:
        raise DrivesimError(f"frame {frame.index}: its road is not version 1's straight road, so its road maps "
                            "need the scenario's road network (and the frame's ego_pose). Fix: pass the network, "
                            "e.g. build_conditions(..., networks=[ScenarioEngine(scenario).world.network])")
    straight = _straight_network(int(road.lanes), float(road.lane_width_m))
    return road_geometry(straight), EgoPose(x=float(road.ego_travel_m) % STRAIGHT_WRAP_M, y=-float(road.ego_lateral_m))


def _joined(runs: Runs, view: _View) -> tuple[np.ndarray, np.ndarray]:
    """The samples near the camera joined into pieces: (a, b) index pairs, each a piece from sample a to
    sample b of one run. Near the camera consecutive samples are joined; farther away every stride-th, the
    stride a power of 2 such that a piece spans at most about LOD_PX map pixels (the pieces tile each run
    whatever the strides: no gaps, no overlaps)."""
    near = runs.near(view.centre, REACH_M)
    ids = np.nonzero(near)[0]
    if not len(ids):
        return ids, ids
    depth = np.abs(view.to_camera(runs.points[ids].mean(axis=1))[:, 2])
    pixels_per_sample = SAMPLE_STEP_M * view.scale[0] / np.maximum(depth, NEAR_M)
    stride = np.minimum(2 ** np.floor(np.log2(np.maximum(LOD_PX / pixels_per_sample, 1.0))), MAX_STRIDE)
    cut = ~np.concatenate([[False], near[:-1]])[ids] | ~np.concatenate([near[1:], [False]])[ids]  # chunk ends
    index = runs.index[ids]
    keep = ids[(index % stride.astype(np.int64) == 0) | runs.last[ids] | cut]
    a, b = keep[:-1], keep[1:]
    gaps = np.cumsum(~near)
    joined = (runs.run[a] == runs.run[b]) & (gaps[a] == gaps[b])
    return a[joined], b[joined]


@functools.lru_cache(maxsize=32)
def _straight_network(lanes: int, lane_width_m: float) -> RoadNetwork:
    """Version 1's road as one fixed window: it covers travel 0..STRAIGHT_WRAP_M plus REACH_M ahead."""
    return StraightWorld(lanes, lane_width_m, reach_m=REACH_M).network_at(0.0)


def _as_pose(value: Any) -> EgoPose | None:
    if value is None or isinstance(value, EgoPose):
        return value
    return EgoPose(*(float(getattr(value, name)) for name in ("x", "y", "z", "heading", "pitch")))


class _View:
    """World -> map pixels for one camera pose: a rotation and a shift, then the pinhole, scaled."""

    def __init__(self, camera: PinholeCamera, pose: EgoPose, size: tuple[int, int]):
        h, w = size
        self.camera = camera
        self.rotation = camera.rotation @ pose.axes  # world -> camera axes
        self.shift = -self.rotation @ pose.origin - camera.rotation @ camera.centre_road
        self.centre = pose.origin + pose.axes.T @ camera.centre_road  # the camera in the world
        self.forward = np.array([np.cos(pose.heading), np.sin(pose.heading)])
        self.scale = np.array([camera.fx * w / camera.width, camera.fy * h / camera.height])
        # cv2 puts integer coordinates at pixel centres; the labels' pixel i spans [i, i + 1)
        self.offset = np.array([camera.cx * w / camera.width, camera.cy * h / camera.height]) - 0.5

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        return (points.reshape(-1, 3) @ self.rotation.T + self.shift).reshape(points.shape)

    def pixels(self, points_cam: np.ndarray) -> np.ndarray:
        """Camera-frame points in front of the near plane -> fixed-point map pixels (int32)."""
        uv = points_cam[..., :2] / points_cam[..., 2:3] * self.scale + self.offset
        return np.round(uv * (1 << SHIFT)).astype(np.int32)

    def polygons(self, world: np.ndarray) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
        """World polygons (n, k, 3) -> their pixel polygons cut at the near plane, which input each is, and
        each one's mean depth."""
        cam = self.to_camera(world)
        front = cam[..., 2] >= NEAR_M
        whole = np.nonzero(front.all(axis=1))[0]
        out = list(self.pixels(cam[whole]))
        partly = np.nonzero(front.any(axis=1) & ~front.all(axis=1))[0]
        for k in partly:  # few: only pieces across the near plane, below the image's bottom edge
            out.append(self.pixels(_cut_near(cam[k])))
        source = np.concatenate([whole, partly])
        return out, source, cam[source, :, 2].mean(axis=1)

    def segments(self, world: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """World segments (n, 2, 3) -> pixel segments (m, 2, 2) cut at the near plane, and which input each is."""
        cam = self.to_camera(world)
        z0, z1 = cam[:, 0, 2], cam[:, 1, 2]
        keep = np.nonzero((z0 >= NEAR_M) | (z1 >= NEAR_M))[0]
        cam, z0, z1 = cam[keep], z0[keep], z1[keep]
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.where(z0 == z1, 0.0, (NEAR_M - z0) / (z1 - z0))[:, None]
        cut = cam[:, 0] + u * (cam[:, 1] - cam[:, 0])
        cam[:, 0] = np.where((z0 < NEAR_M)[:, None], cut, cam[:, 0])
        cam[:, 1] = np.where((z1 < NEAR_M)[:, None], cut, cam[:, 1])
        return self.pixels(cam), keep


def _cut_near(polygon: np.ndarray) -> np.ndarray:
    """The part of a camera-frame polygon at depth >= NEAR_M (Sutherland-Hodgman against one plane)."""
    out = []
    for a, b in zip(polygon, np.roll(polygon, -1, axis=0)):
        if a[2] >= NEAR_M:
            out.append(a)
        if (a[2] >= NEAR_M) != (b[2] >= NEAR_M):
            out.append(a + (NEAR_M - a[2]) / (b[2] - a[2]) * (b - a))
    return np.array(out)


def _draw(channel: np.ndarray, segments: np.ndarray, thickness: int) -> None:
    if len(segments):
        cv2.polylines(channel, segments, False, LANE_LINE, thickness, lineType=cv2.LINE_8, shift=SHIFT)
