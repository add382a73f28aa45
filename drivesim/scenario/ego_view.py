"""The world as the ego camera sees it over time: the camera's pose from the ego's, and world poses in the
camera's road frame (x right, y down, z forward; heading as drivesim's heading_rad).

The camera sits on the ego (`camera.mount_height_m` above the ground point that `EgoView.pose` gives) and
looks along the ego's lane: it turns and pitches with the road, but not with the yaw of a lane change (as
in version 1, where the camera always looks along the road).

    from drivesim.scenario.ego_view import EgoView
    view = EgoView(engine.ego)
    view.see(world_x, world_y, world_z, world_heading, view.pose(t))  # (x, y, z, heading_rad) in the road frame
"""

from __future__ import annotations

import numpy as np

from drivesim.scenario.camera import EgoPose
from drivesim.scenario.ego_frame import relative_yaw, world_to_ego_arrays
from drivesim.scenario.lane_path import Poses
from drivesim.scenario.motion import EntityMotion


class EgoView:
    def __init__(self, ego: EntityMotion):
        self.ego = ego

    def pose(self, t: np.ndarray | float) -> Poses:
        """The camera's ground point and its heading and pitch (the ego's lane's) at times t."""
        return self.ego.at(t).lane

    def ego_pose(self, t: float) -> EgoPose:
        p = self.pose(float(t))
        return EgoPose(float(p.x), float(p.y), float(p.z), float(p.heading), float(p.pitch))

    @staticmethod
    def see(x, y, z, heading, camera: Poses) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """World points and headings -> road-frame x, y, z and heading_rad of a camera pose (all broadcast)."""
        xe, ye, ze = world_to_ego_arrays(x, y, z, camera.x, camera.y, camera.z, camera.heading, camera.pitch)
        return xe, ye, ze, relative_yaw(heading, camera.heading)

    def along(self, ahead_m: np.ndarray, lateral_m: np.ndarray, t: np.ndarray | float) -> tuple[Poses, np.ndarray]:
        """World poses `ahead_m` along the ego's path from the camera at times t, `lateral_m` right of the left
        edge of the ego's lanes; and whether each is on the road."""
        u = self.ego.path.u_start + self.ego.travel(t) + ahead_m
        return self.ego.path.poses_at_lateral(u, lateral_m), self.ego.path.on_road(u)
