"""Agent cuboids -> 2D box labels: projection, near-plane clipping, truncation, occlusion.

Each agent is a cuboid standing on the ground: `location_m` is its bottom centre (KITTI),
its length runs along its heading. The 8 corners are projected with the pinhole camera;
a cuboid crossing the camera's near plane is clipped first (its 12 edges are intersected
with z = NEAR_PLANE_M), so a car alongside the ego still gets the part of its box that is
in front of the camera. The box is the 2D extent of the projected points, clipped to the image.

Fields (see `drivesim.scenario.labels.Box`):
- truncation = share of the unclipped 2D box's area lying outside the image, 0..1;
- occlusion = share of the clipped box covered by the union of the clipped boxes of all
  nearer agents (nearer = smaller `distance_m`), computed with shapely, 0..1;
- distance_m = euclidean distance from the camera centre to the cuboid centre;
- location_m = cuboid bottom centre in the camera frame (pitched camera: x right, y down, z forward);
- rotation_y = KITTI yaw, rotation around the y axis: 0 faces the camera's +x (right),
  -pi/2 drives away from the camera along +z (same direction as the ego), +pi/2 comes towards
  it. It is the agent's heading on the road (rotation_y = heading_rad - pi/2, wrapped to
  (-pi, pi]); the camera pitch is not folded in (it is a yaw about the vertical axis).

Thresholds (an agent gets no label when any of these holds):
- NEAR_PLANE_M = 0.1 m: the whole cuboid is closer than this plane (behind the camera);
- MAX_RANGE_M = 200 m: the cuboid centre is farther than this from the camera;
- MIN_BOX_SIDE_PX = 2 px: the clipped box is narrower or lower than this (this also drops
  boxes entirely outside the image);
- MAX_OCCLUSION = 0.98: occlusion >= this counts as fully occluded.
Dropped agents still occlude the agents behind them, except those dropped for range or size.

    from drivesim.scenario.boxes import label_boxes
    boxes = label_boxes(camera, engine.agent_states(t=2.0))
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np
import shapely

from drivesim.scenario.camera import PinholeCamera
from drivesim.scenario.labels import Box

if TYPE_CHECKING:
    from drivesim.scenario.labels import AgentState

NEAR_PLANE_M = 0.1
MAX_RANGE_M = 200.0
MIN_BOX_SIDE_PX = 2.0
MAX_OCCLUSION = 0.98
MERGE_HITS = 8  # a box meeting more cover pieces than this merges them with itself into one ...
MERGE_MAX_CORNERS = 64  # ... unless the merged piece has more corners than this
CANCEL_POLL = 32  # boxes (each with the cover boxes it meets) between two looks at a cancel flag: milliseconds


class PlanningCancelled(Exception):
    """The caller's `cancelled()` turned true while boxes were being labelled (a server call ended)."""

# Corner i of a cuboid: bit 0 = +length / -length, bit 1 = +width / -width, bit 2 = top / bottom.
_CORNER_SIGNS = np.array([[1 if i & 1 else -1, 1 if i & 2 else -1, 1 if i & 4 else 0] for i in range(8)], float)
# The 12 edges join corners that differ in exactly one bit.
_EDGES = np.array([(i, i | b) for i in range(8) for b in (1, 2, 4) if not i & b])


def cuboid_corners(x_m: np.ndarray, z_m: np.ndarray, heading_rad: np.ndarray,
                   size_m: np.ndarray, y_m: np.ndarray | float = 0.0) -> np.ndarray:
    """(N,) bottom centres (on the ground, or `y_m` below the camera's ground point) + (N, 3) sizes
    (length, width, height) -> (N, 8, 3) road-frame corners."""
    fwd = np.stack([np.sin(heading_rad), np.zeros_like(heading_rad), np.cos(heading_rad)], axis=-1)
    right = np.stack([np.cos(heading_rad), np.zeros_like(heading_rad), -np.sin(heading_rad)], axis=-1)
    up = np.array([0.0, -1.0, 0.0])  # y points down
    half_l, half_w, height = size_m[:, 0] / 2, size_m[:, 1] / 2, size_m[:, 2]
    base = np.stack([x_m, np.zeros_like(x_m) + y_m, z_m], axis=-1)
    s = _CORNER_SIGNS
    return (base[:, None, :]
            + (s[None, :, 0, None] * half_l[:, None, None]) * fwd[:, None, :]
            + (s[None, :, 1, None] * half_w[:, None, None]) * right[:, None, :]
            + (s[None, :, 2, None] * height[:, None, None]) * up)


def project_extents(camera: PinholeCamera, corners_cam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 8, 3) camera-frame corners -> (N, 4) unclipped xyxy extents and (N,) "any part in front" mask."""
    z = corners_cam[..., 2]
    in_front = z >= NEAR_PLANE_M
    p0, p1 = corners_cam[:, _EDGES[:, 0]], corners_cam[:, _EDGES[:, 1]]  # (N, 12, 3)
    z0, z1 = p0[..., 2], p1[..., 2]
    crosses = (z0 >= NEAR_PLANE_M) != (z1 >= NEAR_PLANE_M)
    t = np.where(crosses, (NEAR_PLANE_M - z0) / np.where(crosses, z1 - z0, 1.0), 0.0)
    cut = p0 + t[..., None] * (p1 - p0)
    pts = np.concatenate([corners_cam, cut], axis=1)  # (N, 20, 3)
    valid = np.concatenate([in_front, crosses], axis=1)
    safe = np.where(valid[..., None], pts, np.array([0.0, 0.0, 1.0]))
    uv = camera.project(safe)
    lo = np.where(valid[..., None], uv, np.inf).min(axis=1)
    hi = np.where(valid[..., None], uv, -np.inf).max(axis=1)
    return np.concatenate([lo, hi], axis=1), in_front.any(axis=1)


def occlusion_shares(boxes_xyxy: np.ndarray, cancelled: Callable[[], bool] | None = None) -> np.ndarray:
    """(N, 4) clipped boxes sorted nearest first -> (N,) share of each covered by the union of those before it.

    Box by box, nearest first, against the *cover*: the nearer boxes that can still hide something.
    A box hidden entirely (inside one nearer box, or inside their union) adds nothing to the cover,
    and a box that takes over every cover box inside it replaces them, so the work per box follows
    the boxes it can see past, not the boxes behind one another: 20,000 agents piled on one spot cost
    about what 20,000 scattered ones cost (before, every overlapping pair was listed and unioned, the
    square of the pile: 12 GB and minutes for 20,000). The cover boxes overlapping a box come from an
    STRtree (rebuilt as the cover grows) plus a short list of the newest, so scattered boxes stay
    n log n. The union and intersection per box are the shapely calls of a scan of every nearer box
    (tests/test_boxes.py keeps that scan as the reference): the same numbers, to rounding where a
    hidden nearer box is left out of the union. `cancelled` is polled every CANCEL_POLL boxes' worth
    of work: raises PlanningCancelled.
    """
    n = len(boxes_xyxy)
    out = np.zeros(n)
    if n < 2:
        return out
    boxes_xyxy = np.asarray(boxes_xyxy, float)
    geoms = shapely.box(boxes_xyxy[:, 0], boxes_xyxy[:, 1], boxes_xyxy[:, 2], boxes_xyxy[:, 3])
    areas = shapely.area(geoms)
    x0, y0, x1, y1 = boxes_xyxy.T
    cover = _Cover(n)
    work = 0
    for i in range(n):
        if areas[i] <= 0:
            continue  # hides nothing, and nothing of it can be hidden
        hit = cover.overlapping(boxes_xyxy[i], geoms[i])
        work += 1 + len(hit)
        if cancelled is not None and work >= CANCEL_POLL:
            work = 0
            if cancelled():
                raise PlanningCancelled
        if len(hit):
            c = cover
            if np.any(c.rect[hit] & (c.x0[hit] <= x0[i]) & (c.y0[hit] <= y0[i]) & (c.x1[hit] >= x1[i])
                      & (c.y1[hit] >= y1[i])):
                out[i] = 1.0  # inside one nearer box: the union's answer too, without the union
                continue
            union = shapely.union_all(c.geoms[hit]) if len(hit) > 1 else c.geoms[hit[0]]
            out[i] = min(1.0, shapely.intersection(union, geoms[i]).area / areas[i])
            if out[i] >= 1.0:
                continue  # hidden by the cover: hides nothing the cover does not
            if len(hit) > MERGE_HITS:  # one piece from here on, if a simple one: what they hide together and this box
                piece = shapely.simplify(shapely.union(union, geoms[i]), 0.0)  # the collinear corners go
                if shapely.get_num_coordinates(piece) <= MERGE_MAX_CORNERS:
                    cover.drop(hit)
                    cover.add(piece)
                    continue
            # cover pieces inside this box hide nothing it does not: it takes their place
            cover.drop(hit[(c.x0[hit] >= x0[i]) & (c.y0[hit] >= y0[i]) & (c.x1[hit] <= x1[i]) & (c.y1[hit] <= y1[i])])
        cover.add(geoms[i], boxes_xyxy[i])
    return out


class _Cover:
    """What may hide part of a farther box, for `occlusion_shares`: pieces (a box, or the union of boxes
    merged into one), found through an STRtree over most of them and a list of the newest, scanned
    directly. The tree is rebuilt when that list outgrows an eighth of it, so rebuilding costs O(n)
    overall and a query O(log n + hits)."""

    REBUILD_MIN = 64

    def __init__(self, capacity: int):
        self.geoms = np.empty(capacity, object)
        self.x0, self.y0, self.x1, self.y1 = (np.empty(capacity) for _ in range(4))
        self.rect = np.zeros(capacity, bool)  # the piece is its bounding box
        self.alive = np.zeros(capacity, bool)
        self.size = 0
        self.tree: shapely.STRtree | None = None
        self.tree_ids = np.empty(0, np.intp)
        self.recent: list[int] = []

    def overlapping(self, box: np.ndarray, geom: shapely.Geometry) -> np.ndarray:
        """Live pieces whose bounds overlap the box with positive area (touching edges hide nothing),
        in the order they were added."""
        parts = []
        if self.tree is not None:
            parts.append(self.tree_ids[self.tree.query(geom)])
        if self.recent:
            parts.append(np.array(self.recent, np.intp))
        if not parts:
            return np.empty(0, np.intp)
        c = np.concatenate(parts) if len(parts) > 1 else parts[0]
        c = c[self.alive[c]]
        c = c[(self.x0[c] < box[2]) & (self.x1[c] > box[0]) & (self.y0[c] < box[3]) & (self.y1[c] > box[1])]
        return np.sort(c)

    def add(self, geom: shapely.Geometry, box: np.ndarray | None = None) -> None:
        """A box (with its xyxy) or a merged piece (bounds taken from it)."""
        k = self.size
        self.size += 1
        self.geoms[k], self.rect[k], self.alive[k] = geom, box is not None, True
        self.x0[k], self.y0[k], self.x1[k], self.y1[k] = box if box is not None else shapely.bounds(geom)
        self.recent.append(k)
        if len(self.recent) >= max(self.REBUILD_MIN, len(self.tree_ids) // 8):
            ids = np.concatenate([self.tree_ids, np.array(self.recent, np.intp)])
            self.tree_ids = ids[self.alive[ids]]
            self.tree = shapely.STRtree(self.geoms[self.tree_ids])
            self.recent = []

    def drop(self, ids: np.ndarray) -> None:
        self.alive[ids] = False


def label_boxes(camera: PinholeCamera, agents: Sequence["AgentState"],
                cancelled: Callable[[], bool] | None = None) -> tuple[Box, ...]:
    """Every labelled (visible) agent's Box, nearest first. Agents: `AgentState`s from the engine.
    With `cancelled`, raises PlanningCancelled soon after it turns true (see occlusion_shares)."""
    if not agents:
        return ()
    x = np.array([a.x_m for a in agents], float)
    z = np.array([a.z_m for a in agents], float)
    y = np.array([a.y_m for a in agents], float)
    heading = np.array([a.heading_rad for a in agents], float)
    size = np.array([a.size_m for a in agents], float).reshape(-1, 3)

    corners_cam = camera.road_to_camera(cuboid_corners(x, z, heading, size, y))
    extent, in_front = project_extents(camera, corners_cam)
    centre_cam = camera.road_to_camera(np.stack([x, y - size[:, 2] / 2, z], axis=-1))
    bottom_cam = camera.road_to_camera(np.stack([x, y, z], axis=-1))
    distance = np.linalg.norm(centre_cam, axis=-1)

    clipped = extent.copy()
    clipped[:, [0, 2]] = np.clip(extent[:, [0, 2]], 0.0, camera.width)
    clipped[:, [1, 3]] = np.clip(extent[:, [1, 3]], 0.0, camera.height)
    w, h = clipped[:, 2] - clipped[:, 0], clipped[:, 3] - clipped[:, 1]
    keep = in_front & (distance <= MAX_RANGE_M) & (w >= MIN_BOX_SIDE_PX) & (h >= MIN_BOX_SIDE_PX)
    idx = np.nonzero(keep)[0]
    if len(idx) == 0:
        return ()
    idx = idx[np.argsort(distance[idx], kind="stable")]

    raw_area = np.prod(extent[idx, 2:] - extent[idx, :2], axis=1)
    clip_area = w[idx] * h[idx]
    truncation = np.clip(1.0 - clip_area / np.maximum(raw_area, 1e-9), 0.0, 1.0)
    occlusion = occlusion_shares(clipped[idx], cancelled)

    boxes = []
    for k, i in enumerate(idx):
        if occlusion[k] >= MAX_OCCLUSION:
            continue
        a = agents[i]
        boxes.append(Box(
            track_id=a.track_id,
            type=a.type,
            bbox_xyxy=tuple(float(v) for v in clipped[i]),
            truncation=float(truncation[k]),
            occlusion=float(occlusion[k]),
            location_m=tuple(float(v) for v in bottom_cam[i]),
            size_m=tuple(float(v) for v in size[i]),
            rotation_y=kitti_rotation_y(float(heading[i])),
            distance_m=float(distance[i]),
            world_pose=a.world,
        ))
    return tuple(boxes)


def kitti_rotation_y(heading_rad: float) -> float:
    """Road heading (0 = along the road, + = yawing right) -> KITTI rotation_y in (-pi, pi]."""
    r = heading_rad - math.pi / 2
    return r - 2 * math.pi * math.ceil((r - math.pi) / (2 * math.pi))


def in_view_mask(camera: PinholeCamera, x_m: np.ndarray, z_m: np.ndarray, heading_rad: np.ndarray,
                 size_m: np.ndarray, margin_px: float = 0.0, max_range_m: float = MAX_RANGE_M) -> np.ndarray:
    """(N,) True where some part of the cuboid is in front of the near plane, its centre within
    `max_range_m` and its box inside the image grown by `margin_px` (with the defaults, a
    superset of the agents `label_boxes` labels)."""
    x_m, z_m, heading_rad = np.broadcast_arrays(np.asarray(x_m, float), np.asarray(z_m, float),
                                                np.asarray(heading_rad, float))
    size_m = np.broadcast_to(np.asarray(size_m, float), x_m.shape + (3,))
    # Cheap bounds first (the distance is at least |z|; no corner can reach past the near plane):
    # the projection below then runs only on the few candidates.
    p = math.radians(camera.pitch_deg)
    reach = np.hypot(size_m[:, 0], size_m[:, 1]) / 2
    z_cam_max = abs(math.sin(p)) * (camera.mount_height_m + size_m[:, 2]) + math.cos(p) * (z_m + reach)
    out = (np.abs(z_m) <= max_range_m) & (z_cam_max >= NEAR_PLANE_M)
    idx = np.nonzero(out)[0]
    if len(idx) == 0:
        return out
    x_m, z_m, heading_rad, size_m = x_m[idx], z_m[idx], heading_rad[idx], size_m[idx]
    corners_cam = camera.road_to_camera(cuboid_corners(x_m, z_m, heading_rad, size_m))
    extent, in_front = project_extents(camera, corners_cam)
    distance = np.linalg.norm(camera.road_to_camera(np.stack([x_m, -size_m[:, 2] / 2, z_m], axis=-1)), axis=-1)
    m = margin_px
    out[idx] = (in_front & (distance <= max_range_m)
                & (extent[:, 0] < camera.width + m) & (extent[:, 2] > -m)
                & (extent[:, 1] < camera.height + m) & (extent[:, 3] > -m))
    return out
