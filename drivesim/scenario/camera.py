"""The ego camera: a pinhole model from the horizontal field of view, mounted above the road.

Frames (KITTI convention; docs/scenario-format.md, "Coordinates"):
- road frame ("ego frame"): origin on the ground directly below the camera, x right,
  y down (the ground is y = 0, the camera sits at y = -mount_height_m), z forward along the road;
- camera frame: x right, y down, z along the optical axis, pitched by `pitch_deg`
  (positive looks down). Labels (`Box.location_m`) are in the camera frame.

- world frame: OpenDRIVE's inertial frame (x east, y north, z up; heading counter-clockwise from +x,
  pitch positive nose-up). `EgoPose` places the road frame in it: its origin (the ground point below
  the camera) at (x, y, z), its z axis along `heading` tilted by `pitch`; `world_to_ego` and
  `ego_to_world` convert points, so a camera that turns and climbs with the ego sees the world.

Intrinsics: fx = (width / 2) / tan(fov / 2) with the horizontal fov, fy = fx (square
pixels), principal point at the image centre.

    from drivesim.scenario.camera import PinholeCamera
    cam = PinholeCamera.from_fov(1024, 512, fov_deg=90, mount_height_m=1.5, pitch_deg=0)
    cam.project(cam.road_to_camera(np.array([[0.0, 0.0, 20.0]])))  # a ground point 20 m ahead
"""

from __future__ import annotations

import math
from functools import cached_property
from dataclasses import dataclass

import numpy as np

from drivesim.scenario.format import Camera


@dataclass(frozen=True)
class EgoPose:
    """Where the road frame of the ego sits in the world: its origin (the ground point below the camera)
    and the direction its z axis (forward) points, heading counter-clockwise from +x and pitch nose-up."""

    x: float
    y: float
    z: float = 0.0
    heading: float = 0.0
    pitch: float = 0.0

    @cached_property  # worked out once per pose: ego_to_world runs it for every agent of a frame
    def axes(self) -> np.ndarray:
        """Rows: the road frame's x (right), y (down) and z (forward) axes written in world coordinates."""
        ch, sh, cp, sp = math.cos(self.heading), math.sin(self.heading), math.cos(self.pitch), math.sin(self.pitch)
        forward = np.array([ch * cp, sh * cp, sp])
        right = np.array([sh, -ch, 0.0])
        up = np.cross(right, forward)
        return np.stack([right, -up, forward])

    @cached_property
    def origin(self) -> np.ndarray:
        return np.array([self.x, self.y, self.z])


def world_to_ego(points: np.ndarray, pose: EgoPose) -> np.ndarray:
    """(..., 3) world points (x, y, z up) -> (..., 3) road-frame points (x right, y down, z forward)."""
    return (np.asarray(points, dtype=np.float64) - pose.origin) @ pose.axes.T


def ego_to_world(points: np.ndarray, pose: EgoPose) -> np.ndarray:
    """(..., 3) road-frame points -> (..., 3) world points; the inverse of `world_to_ego`."""
    return np.asarray(points, dtype=np.float64) @ pose.axes + pose.origin


@dataclass(frozen=True)
class PinholeCamera:
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    mount_height_m: float
    pitch_deg: float

    @classmethod
    def from_fov(cls, width: int, height: int, fov_deg: float, mount_height_m: float = 1.5,
                 pitch_deg: float = 0.0) -> "PinholeCamera":
        fx = (width / 2.0) / math.tan(math.radians(fov_deg) / 2.0)
        return cls(width=int(width), height=int(height), fx=fx, fy=fx, cx=width / 2.0, cy=height / 2.0,
                   mount_height_m=float(mount_height_m), pitch_deg=float(pitch_deg))

    @classmethod
    def from_config(cls, cam: Camera) -> "PinholeCamera":
        return cls.from_fov(cam.width, cam.height, cam.fov_deg, cam.mount_height_m, cam.pitch_deg)

    @property
    def fov_deg(self) -> float:
        """Horizontal field of view."""
        return math.degrees(2.0 * math.atan((self.width / 2.0) / self.fx))

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def rotation(self) -> np.ndarray:
        """Rows are the camera axes written in the road frame: p_cam = R @ (p_road - centre)."""
        p = math.radians(self.pitch_deg)
        # Pitching down turns the optical axis z towards the ground (+y of the road frame).
        return np.array([[1.0, 0.0, 0.0],
                         [0.0, math.cos(p), -math.sin(p)],
                         [0.0, math.sin(p), math.cos(p)]])

    @property
    def centre_road(self) -> np.ndarray:
        """Camera centre in the road frame."""
        return np.array([0.0, -self.mount_height_m, 0.0])

    def road_to_camera(self, pts: np.ndarray) -> np.ndarray:
        """(..., 3) road-frame points -> (..., 3) camera-frame points."""
        return (np.asarray(pts, dtype=np.float64) - self.centre_road) @ self.rotation.T

    def project(self, pts_cam: np.ndarray) -> np.ndarray:
        """(..., 3) camera-frame points with z > 0 -> (..., 2) pixel coordinates (u right, v down)."""
        pts = np.asarray(pts_cam, dtype=np.float64)
        z = pts[..., 2]
        u = self.fx * pts[..., 0] / z + self.cx
        v = self.fy * pts[..., 1] / z + self.cy
        return np.stack([u, v], axis=-1)

    def horizon_v(self) -> float:
        """Image row of the horizon (the vanishing line of the ground plane)."""
        return self.cy - self.fy * math.tan(math.radians(self.pitch_deg))

    def scaled(self, width: int, height: int) -> "PinholeCamera":
        """The same horizontal fov and mounting at another resolution."""
        return PinholeCamera.from_fov(width, height, self.fov_deg, self.mount_height_m, self.pitch_deg)
