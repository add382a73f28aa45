"""Schematic frames: plain drawings of one frame's ground truth through the camera, no model needed.

Sky, verge, the road with its lane markings (dashes flow with the ego's travel) and every
labelled agent's box filled with its class colour (far boxes first). Shared by the dataset
export's dry run (`drivesim export --source schematic`, drivesim/export/schematic.py) and the
server's schematic backend (`drivesim serve --backend schematic`, drivesim/serve/generator.py).
No torch.

    python -c "from drivesim.draw.schematic import render_schematic; from drivesim.scenario.engine import ScenarioEngine; \
        from drivesim.scenario.format import Scenario; e = ScenarioEngine(Scenario(name='x', duration_s=1)); \
        print(render_schematic(e.camera, e.frame(0)).shape)"
"""

from __future__ import annotations

import cv2
import numpy as np

from drivesim.draw.overlay import class_color
from drivesim.scenario.camera import PinholeCamera
from drivesim.scenario.labels import FrameConditions

__all__ = ["render_schematic"]

# RGB per time of day: sky, verge, road, markings.
PALETTE = {
    "day": {"sky": (150, 190, 225), "verge": (96, 128, 80), "road": (112, 112, 112), "marking": (235, 235, 235)},
    "night": {"sky": (14, 18, 36), "verge": (22, 30, 22), "road": (42, 42, 46), "marking": (150, 150, 140)},
}
NIGHT_DIMMING = 0.6  # agent colours at night
DASH_M, DASH_PERIOD_M = 3.0, 9.0  # lane dashes: 3 m painted every 9 m
FAR_M = 300.0  # how far the road is drawn


def render_schematic(camera: PinholeCamera, frame: FrameConditions) -> np.ndarray:
    """The frame as RGB uint8 (camera.height, camera.width, 3)."""
    colors = PALETTE.get(frame.time_of_day, PALETTE["day"])
    w, h = camera.width, camera.height
    img = np.empty((h, w, 3), np.uint8)
    img[:] = colors["sky"]
    horizon = int(np.clip(round(camera.horizon_v()), 0, h))
    img[horizon:] = colors["verge"]

    road = frame.road
    if road is not None:
        left = -road.ego_lateral_m
        right = road.lanes * road.lane_width_m - road.ego_lateral_m
        z = np.geomspace(0.2, FAR_M, 64)
        edge_l, edge_r = _ground_line(camera, left, z), _ground_line(camera, right, z)
        if len(edge_l) and len(edge_r):
            cv2.fillPoly(img, [np.concatenate([edge_l, edge_r[::-1]]).astype(np.int32)], colors["road"])
            for edge in (edge_l, edge_r):
                cv2.polylines(img, [edge.astype(np.int32)], False, colors["marking"], 1, cv2.LINE_AA)
        start = -(road.ego_travel_m % DASH_PERIOD_M)
        for k in range(1, road.lanes):
            x = k * road.lane_width_m - road.ego_lateral_m
            for z0 in np.arange(start, FAR_M / 3, DASH_PERIOD_M):
                dash = _ground_line(camera, x, np.linspace(max(z0, 0.2), z0 + DASH_M, 4))
                if len(dash) >= 2:
                    cv2.polylines(img, [dash.astype(np.int32)], False, colors["marking"], 1, cv2.LINE_AA)

    dim = NIGHT_DIMMING if frame.time_of_day == "night" else 1.0
    for box in sorted(frame.boxes, key=lambda b: -b.distance_m):  # far first: near boxes cover them
        x0, y0, x1, y1 = (int(round(v)) for v in box.bbox_xyxy)
        fill = tuple(int(c * dim) for c in class_color(box.type))
        cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), fill, -1)
        cv2.rectangle(img, (x0, y0), (x1 - 1, y1 - 1), tuple(c // 2 for c in fill), 1)
    return img


def _ground_line(camera: PinholeCamera, x: float, z: np.ndarray) -> np.ndarray:
    """Pixels of the ground points (x, 0, z) in front of the camera, as (N, 2)."""
    pts = np.stack([np.full_like(z, x), np.zeros_like(z), z], axis=-1)
    cam = camera.road_to_camera(pts)
    cam = cam[cam[:, 2] > 0.1]
    # Clip far off-screen points so OpenCV gets sane integers (it clips the drawing itself).
    return np.clip(camera.project(cam), -1e5, 1e5) if len(cam) else np.zeros((0, 2))
