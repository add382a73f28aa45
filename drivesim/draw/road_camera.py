"""The road network seen from the ego's camera, schematically: every lane's surface (asphalt, sidewalks,
verges) as the camera sees it, for the preview's camera views on roads other than version 1's straight one
(whose look, painted from its lane count, stays as it was). Lane lines come on top from the lane labels
(`drivesim.draw.overlay.draw_lane_lines`), so the picture shows exactly what is labelled.

Each lane strip (`road_shapes.lane_strips`) is cut into quads one sample step long; the quads within
`REACH_M` of the camera are moved into the camera frame, cut at the near plane, projected and filled.
A junction is paved as a whole first (the convex hull of its connecting roads): the space between its
connecting roads is junction too.

    from drivesim.draw.road_camera import RoadSurface
    surface = RoadSurface(engine.world.network)
    surface.draw(image, camera, engine.ego_pose(t), night=False)
"""

from __future__ import annotations

import cv2
import numpy as np

from drivesim.draw.road_shapes import SURFACES, lane_strips
from drivesim.road import RoadNetwork
from drivesim.scenario.camera import EgoPose, PinholeCamera, world_to_ego

REACH_M = 250.0  # quads farther than this from the camera are not drawn (the horizon is hazy anyway)
NEAR_M = 0.3  # quads are cut at this depth in front of the camera
COLORS = {  # (day, night) RGB per surface
    "road": ((88, 90, 96), (30, 31, 35)),
    "walk": ((150, 148, 140), (40, 40, 44)),
    "verge": ((120, 128, 104), (24, 28, 24)),
}


class RoadSurface:
    """A network's lane surfaces as quads, built once per network."""

    def __init__(self, network: RoadNetwork, step: float = 2.0):
        quads, kinds = [], []
        junctions: dict[str, list[np.ndarray]] = {}
        for strip in lane_strips(network, step):
            a, b = strip.inner, strip.outer
            if strip.junction is not None:
                junctions.setdefault(strip.junction, []).extend([a, b])
            quads.append(np.stack([a[:-1], a[1:], b[1:], b[:-1]], axis=1))
            kinds += [SURFACES.index(strip.surface)] * (len(a) - 1)
        self.quads = np.concatenate(quads) if quads else np.zeros((0, 4, 3))
        self.kinds = np.array(kinds, int)
        self.centres = self.quads.mean(axis=1)
        self.junctions = [_hull(np.concatenate(points)) for points in junctions.values()]

    def draw(self, img: np.ndarray, cam: PinholeCamera, pose: EgoPose, night: bool = False) -> None:
        """Fill the lane surfaces `cam` on the ego at `pose` sees into `img` (the camera's size)."""
        for hull in self.junctions:
            cut = _in_front(cam.road_to_camera(world_to_ego(hull, pose)), NEAR_M)
            if len(cut) >= 3:
                pts = np.round(np.clip(cam.project(cut), -1e5, 1e5) * 16).astype(np.int32)
                cv2.fillPoly(img, [pts], COLORS["road"][int(night)], cv2.LINE_8, shift=4)
        near = np.linalg.norm(self.centres[:, :2] - pose.origin[:2], axis=1) < REACH_M
        if not near.any():
            return
        pts = cam.road_to_camera(world_to_ego(self.quads[near], pose))  # (q, 4, 3)
        kinds = self.kinds[near]
        depth = pts[..., 2]
        for k, surface in enumerate(SURFACES):  # painted in order: roads over verges and walks
            color = COLORS[surface][int(night)]
            mine = kinds == k
            whole = mine & (depth > NEAR_M).all(axis=1)
            polys = [np.round(np.clip(cam.project(q), -1e5, 1e5) * 16).astype(np.int32) for q in pts[whole]]
            for q in pts[mine & ~whole & (depth > NEAR_M).any(axis=1)]:
                cut = _in_front(q, NEAR_M)
                if len(cut) >= 3:
                    polys.append(np.round(np.clip(cam.project(cut), -1e5, 1e5) * 16).astype(np.int32))
            if polys:  # not anti-aliased: neighbouring quads would show seams
                cv2.fillPoly(img, polys, color, cv2.LINE_8, shift=4)


def _in_front(poly: np.ndarray, near: float) -> np.ndarray:
    """The part of a convex camera-frame polygon with depth >= near (Sutherland-Hodgman on one plane)."""
    out = []
    for a, b in zip(poly, np.roll(poly, -1, axis=0)):
        a_in, b_in = a[2] >= near, b[2] >= near
        if a_in:
            out.append(a)
        if a_in != b_in:
            out.append(a + (b - a) * (near - a[2]) / (b[2] - a[2]))
    return np.array(out)


def _hull(points: np.ndarray) -> np.ndarray:
    """The convex hull of world points seen from above, at their mean height ((n, 3), counter-clockwise)."""
    hull = cv2.convexHull(points[:, :2].astype(np.float32))[:, 0].astype(np.float64)
    return np.concatenate([hull, np.full((len(hull), 1), float(points[:, 2].mean()))], axis=1)
