"""Layout condition maps: per-frame boxes and the road rendered at the model's input size.

`render_layout(frame, size, camera, channels=K, network=None)` draws the K-channel layout of
conditions/layouts.py. The box channels, values in [0, 1], nearer boxes painted over farther ones:
  0 vehicle (car, truck, bus), 1 two-wheeler (cyclist, motorcycle), 2 pedestrian: filled boxes;
  3 box edges; 4 depth 1/(1 + distance_m/10).
Then the road: with K = 6 (LAYOUT_CHANNELS, version 1's layout; the shipped default's upsampler) channel 5 from the frame's RoadState as
version 1's straight road (`render_road`): surface 0.5, lane lines 1.0, the lines projected with the
pinhole camera, dashes moving with RoadState.ego_travel_m -- unchanged, bit for bit, whatever the road;
with K = 11 (the shipped default's keyframe model and interpolator) channels 5-10 from the road network (conditions/road_maps.py, which says where the network
comes from). Box pixel coordinates are in the label image size (FrameConditions.width/height) and
scaled to the map size.

    python -c "from drivesim.conditions.box_maps import *; from drivesim.scenario.labels import *; \
        f = FrameConditions(0, 0.0, 'day', 0.5, road=RoadState(3, 3.5, 5.25, 15.0, 0.0)); \
        print(render_layout(f, (16, 32))[5], render_layout(f, (16, 32), channels=11)[10])"
"""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np

from drivesim.conditions.layouts import LAYOUT_V1, is_network_layout, layout_channels
from drivesim.conditions.road_maps import frame_road, render_network_road
from drivesim.errors import DrivesimError
from drivesim.scenario.camera import PinholeCamera
from drivesim.scenario.labels import FrameConditions, RoadState
from drivesim.scenario.lane_labels import RoadNetwork

LAYOUT_CHANNELS = LAYOUT_V1  # version 1's layout (K = 6): what a config without num_layout_channels reads
NUM_LAYOUT_CHANNELS = len(LAYOUT_CHANNELS)
CLASS_CHANNEL = {"car": 0, "truck": 0, "bus": 0, "cyclist": 1, "motorcycle": 1, "pedestrian": 2}
EDGE, DEPTH, ROAD = 3, 4, 5
NUM_CLASS_CHANNELS = 3
DEPTH_SCALE_M = 10.0  # depth value 1/(1 + d/10): 1 at the camera, 0.5 at 10 m, 0.09 at 100 m
ROAD_SURFACE, LANE_LINE = 0.5, 1.0
DASH_LENGTH_M, DASH_PERIOD_M = 3.0, 12.0  # painted dash and dash+gap (European motorway style)
ROAD_NEAR_M, ROAD_FAR_M, DASH_FAR_M = 1.0, 300.0, 100.0  # longitudinal extent drawn


def default_camera(frame: FrameConditions) -> PinholeCamera:
    """The scenario default camera (90 deg horizontal fov, 1.5 m high, level) at the label size."""
    return PinholeCamera.from_fov(frame.width, frame.height, fov_deg=90.0, mount_height_m=1.5, pitch_deg=0.0)


def depth_value(distance_m: float) -> float:
    return 1.0 / (1.0 + max(distance_m, 0.0) / DEPTH_SCALE_M)


def _pixel_rect(bbox_xyxy: Sequence[float], sx: float, sy: float, w: int, h: int) -> tuple[int, int, int, int]:
    """Label-pixel box -> half-open map-pixel rectangle (x0, y0, x1, y1), at least one pixel."""
    x0, y0, x1, y1 = bbox_xyxy
    c0 = min(max(int(math.floor(x0 * sx)), 0), w - 1)
    r0 = min(max(int(math.floor(y0 * sy)), 0), h - 1)
    c1 = min(max(int(math.ceil(x1 * sx)), c0 + 1), w)
    r1 = min(max(int(math.ceil(y1 * sy)), r0 + 1), h)
    return c0, r0, c1, r1


def render_boxes(frame: FrameConditions, size: tuple[int, int], out: np.ndarray | None = None) -> np.ndarray:
    """Channels 0..4 of the layout map, (K, h, w) float32 (channel 5 left as it is in `out`)."""
    h, w = size
    maps = np.zeros((NUM_LAYOUT_CHANNELS, h, w), np.float32) if out is None else out
    sx, sy = w / frame.width, h / frame.height
    for box in sorted(frame.boxes, key=lambda b: -b.distance_m):  # far first: nearer boxes end on top
        if box.type not in CLASS_CHANNEL:
            raise DrivesimError(f"box {box.track_id!r} has type {box.type!r}; known types: {sorted(CLASS_CHANNEL)}")
        c0, r0, c1, r1 = _pixel_rect(box.bbox_xyxy, sx, sy, w, h)
        maps[:NUM_CLASS_CHANNELS, r0:r1, c0:c1] = 0.0  # what this box hides is no longer visible
        maps[CLASS_CHANNEL[box.type], r0:r1, c0:c1] = 1.0
        maps[EDGE, r0:r1, c0:c1] = 0.0
        cv2.rectangle(maps[EDGE], (c0, r0), (c1 - 1, r1 - 1), 1.0, thickness=1)
        maps[DEPTH, r0:r1, c0:c1] = depth_value(box.distance_m)
    return maps


def _lane_boundaries(road: RoadState) -> np.ndarray:
    """Lateral camera-frame x of every lane boundary, left road edge first."""
    return np.arange(road.lanes + 1, dtype=np.float64) * road.lane_width_m - road.ego_lateral_m


def _project_ground(camera: PinholeCamera, x: np.ndarray, z: np.ndarray, sx: float, sy: float) -> np.ndarray:
    """Ground points (road-frame x, z) -> map pixel coordinates (..., 2) as float."""
    pts = np.stack([x, np.zeros_like(x), z], axis=-1)
    uv = camera.project(camera.road_to_camera(pts))
    return uv * np.array([sx, sy])


def _in_front(camera: PinholeCamera, z: np.ndarray) -> np.ndarray:
    """True where a ground point at road distance z lies in front of the (pitched) camera."""
    pts = np.stack([np.zeros_like(z), np.zeros_like(z), z], axis=-1)
    return camera.road_to_camera(pts)[..., 2] > 0.1


def render_road(road: RoadState, size: tuple[int, int], camera: PinholeCamera) -> np.ndarray:
    """Road-layout channel (h, w) float32: road surface and lane lines seen by `camera`."""
    h, w = size
    out = np.zeros((h, w), np.float32)
    sx, sy = w / camera.width, h / camera.height
    thickness = max(1, round(h / 128))
    bounds = _lane_boundaries(road)
    ends = np.array([ROAD_NEAR_M, ROAD_FAR_M])
    ends = ends[_in_front(camera, ends)]
    if len(ends) < 2:  # camera pitched so far up that no road is visible
        return out
    # Road surface between the outer edges, then the solid edge lines.
    edges = _project_ground(camera, np.array([[bounds[0]] * 2, [bounds[-1]] * 2]), np.stack([ends, ends]), sx, sy)
    quad = np.array([edges[0, 0], edges[0, 1], edges[1, 1], edges[1, 0]])
    cv2.fillConvexPoly(out, np.round(quad).astype(np.int32), ROAD_SURFACE)
    for line in edges:
        cv2.line(out, tuple(np.round(line[0]).astype(int)), tuple(np.round(line[1]).astype(int)), LANE_LINE, thickness)
    # Dashed inner lines: dashes fixed on the road, so they flow past at the ego's speed.
    if len(bounds) > 2:
        first = math.floor((road.ego_travel_m + ROAD_NEAR_M) / DASH_PERIOD_M)
        last = math.ceil((road.ego_travel_m + DASH_FAR_M) / DASH_PERIOD_M)
        starts = np.arange(first, last + 1) * DASH_PERIOD_M - road.ego_travel_m  # camera-relative z
        z0 = np.clip(starts, ROAD_NEAR_M, DASH_FAR_M)
        z1 = np.clip(starts + DASH_LENGTH_M, ROAD_NEAR_M, DASH_FAR_M)
        keep = (z1 > z0) & _in_front(camera, z0)
        z0, z1 = z0[keep], z1[keep]
        xs = np.repeat(bounds[1:-1], len(z0))
        p0 = _project_ground(camera, xs, np.tile(z0, len(bounds) - 2), sx, sy)
        p1 = _project_ground(camera, xs, np.tile(z1, len(bounds) - 2), sx, sy)
        for a, b in zip(np.round(p0).astype(int), np.round(p1).astype(int)):
            cv2.line(out, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), LANE_LINE, thickness)
    return out


def render_layout(frame: FrameConditions, size: tuple[int, int], camera: PinholeCamera | None = None,
                  channels: int = NUM_LAYOUT_CHANNELS, network: RoadNetwork | None = None) -> np.ndarray:
    """The (K, h, w) float32 layout map of one frame, K = `channels` (conditions/layouts.py); the road
    channels stay 0 where the frame has no road (`network`: the road of the frame's clip, road_maps.py)."""
    h, w = size
    if h <= 0 or w <= 0:
        raise DrivesimError(f"layout map size must be positive (h, w), got {size}")
    maps = np.zeros((len(layout_channels(channels)), h, w), np.float32)
    if is_network_layout(channels):
        road = frame_road(frame, network)
        if road is not None:
            geometry, pose = road
            maps[ROAD:] = render_network_road(geometry, camera or default_camera(frame), pose, size)
    elif frame.road is not None:
        maps[ROAD] = render_road(frame.road, size, camera or default_camera(frame))
    return render_boxes(frame, size, maps)


def render_layouts(frames: Sequence[FrameConditions], size: tuple[int, int], camera: PinholeCamera | None = None,
                   channels: int = NUM_LAYOUT_CHANNELS, network: RoadNetwork | None = None) -> np.ndarray:
    """(T, K, h, w) float32 layout maps of a clip (one road network for all its frames)."""
    if not frames:
        return np.zeros((0, len(layout_channels(channels))) + tuple(size), np.float32)
    return np.stack([render_layout(f, size, camera, channels, network) for f in frames])
