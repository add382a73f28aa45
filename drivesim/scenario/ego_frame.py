"""World points seen from the ego, many poses at once: `camera.world_to_ego` over arrays of ego poses.

The same axes as `camera.EgoPose.axes` (x right, y down, z forward; heading counter-clockwise from +x,
pitch nose-up), written out per component so that a whole time grid of ego poses transforms in one go.

    import numpy as np
    from drivesim.scenario.ego_frame import world_to_ego_arrays
    world_to_ego_arrays(np.array([10.0]), np.array([0.0]), np.array([0.0]), 0.0, 0.0, 0.0, 0.0, 0.0)
    # (x, y, z) = (-0, -0, 10): 10 m straight ahead of an ego at the origin heading along +x
"""

from __future__ import annotations

import math

import numpy as np


def world_to_ego_arrays(x, y, z, ego_x, ego_y, ego_z, heading, pitch) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World points -> road-frame (x right, y down, z forward) of ego poses; every argument broadcasts."""
    ch, sh = np.cos(heading), np.sin(heading)
    cp, sp = np.cos(pitch), np.sin(pitch)
    dx, dy, dz = (np.asarray(x, float) - ego_x, np.asarray(y, float) - ego_y, np.asarray(z, float) - ego_z)
    # right = (sh, -ch, 0); forward = (ch cp, sh cp, sp); up = right x forward (np.cross's order of terms)
    up_x, up_y, up_z = -ch * sp - 0.0 * (sh * cp), 0.0 * (ch * cp) - sh * sp, sh * (sh * cp) - (-ch) * (ch * cp)
    right = dx * sh + dy * (-ch) + dz * 0.0
    down = -(dx * up_x + dy * up_y + dz * up_z)
    forward = dx * (ch * cp) + dy * (sh * cp) + dz * sp
    return right, down, forward


def relative_yaw(heading: np.ndarray | float, camera_heading: np.ndarray | float) -> np.ndarray:
    """A world heading seen from the camera: drivesim's heading_rad (0 along the camera's axis, + yawing
    right, i.e. clockwise seen from above), in [-pi, pi]."""
    turn = np.asarray(heading, float) - camera_heading
    return -(turn - 2 * math.pi * np.round(turn / (2 * math.pi)))  # exact while |turn| < pi
