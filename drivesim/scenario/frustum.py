"""Polylines cut to what a pinhole camera sees: the part in front of the near plane, no deeper than the
far plane, and inside the image.

The view is the intersection of six half-spaces of the camera frame (x right, y down, z forward), each
linear in the point: near <= z <= far, and the four planes through the camera centre whose points
project onto the image border (0 <= u <= width, 0 <= v <= height; pixel i spans [i, i + 1)). So a
segment is cut in 3D by a parameter interval (Liang-Barsky), and every cut point lies on the segment
itself and projects exactly onto the border it was cut at. A polyline that leaves the view and comes
back becomes several runs.

    import numpy as np
    from drivesim.scenario.camera import PinholeCamera
    from drivesim.scenario.frustum import clip_to_view
    cam = PinholeCamera.from_fov(1024, 512, fov_deg=90, mount_height_m=1.5)
    line = cam.road_to_camera(np.array([[-1.75, 0.0, z] for z in (-5.0, 10.0, 200.0)]))
    [run[:, 2] for run in clip_to_view(line, cam, near_m=0.5, far_m=80.0)]  # [3, 10, 80]: cut at the image bottom, far plane
"""

from __future__ import annotations

import numpy as np

from drivesim.scenario.camera import PinholeCamera


def view_planes(camera: PinholeCamera, near_m: float, far_m: float) -> np.ndarray:
    """(6, 4) rows (a, b, c, d): a point p of the camera frame is in view where a*x + b*y + c*z + d >= 0."""
    fx, fy, cx, cy, w, h = camera.fx, camera.fy, camera.cx, camera.cy, camera.width, camera.height
    return np.array([[0.0, 0.0, 1.0, -near_m],  # z >= near
                     [0.0, 0.0, -1.0, far_m],  # z <= far
                     [fx, 0.0, cx, 0.0],  # u >= 0: fx x / z + cx >= 0, times z > 0
                     [-fx, 0.0, w - cx, 0.0],  # u <= width
                     [0.0, fy, cy, 0.0],  # v >= 0
                     [0.0, -fy, h - cy, 0.0]])  # v <= height


def clip_to_view(points: np.ndarray, camera: PinholeCamera, near_m: float, far_m: float) -> list[np.ndarray]:
    """(n, 3) camera-frame polyline -> its runs inside the view, each (m >= 2, 3), in the polyline's order."""
    points = np.asarray(points, dtype=np.float64)
    if len(points) < 2:
        return []
    planes = view_planes(camera, near_m, far_m)
    f = points @ planes[:, :3].T + planes[:, 3]  # (n, 6) signed plane values
    f0, f1 = f[:-1], f[1:]
    # Per segment, the parameter interval [t0, t1] of its points on the inner side of every plane.
    with np.errstate(divide="ignore", invalid="ignore"):
        cross = f0 / (f0 - f1)  # where the segment meets the plane (only used where the signs differ)
    entering = (f0 < 0) & (f1 >= 0)
    leaving = (f0 >= 0) & (f1 < 0)
    t0 = np.max(np.where(entering, cross, 0.0), axis=1)
    t1 = np.min(np.where(leaving, cross, 1.0), axis=1)
    outside = np.any((f0 < 0) & (f1 < 0), axis=1)
    visible = ~outside & (t0 < t1)

    runs: list[np.ndarray] = []
    current: list[np.ndarray] = []
    for k in np.nonzero(visible)[0]:
        a, b = points[k], points[k + 1]
        start, end = a + t0[k] * (b - a), a + t1[k] * (b - a)
        joins = current and t0[k] == 0.0 and k - 1 >= 0 and visible[k - 1] and t1[k - 1] == 1.0
        if not joins:
            if len(current) >= 2:
                runs.append(np.array(current))
            current = [start]
        current.append(end)
    if len(current) >= 2:
        runs.append(np.array(current))
    return runs
