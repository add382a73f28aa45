"""A scenario's lane labels frame by frame, and the per-frame lane JSON in the style of OpenLane.

Each frame needs the ego's world pose and the road network it drives on. `ScenarioLanes` takes them,
in this order, from:
1. the frame's `ego_pose` or its road state's (anything with x, y, z, heading, pitch: an `EgoPose` or a
   `drivesim.road.WorldPose`), on the scenario's network (`drivesim.scenario.network.scenario_network`
   where that exists, else the straight road of step 2);
2. the frame's road state without a pose (`RoadState`: travel and lateral position; closed loops) on
   version 1's straight road (`straight_world.py`; other roads are refused: a road state cannot place them);
3. the scenario engine's own frame at the same index, when the frame carries neither (frames read back
   from labels.jsonl do not).
`lane_frame_json` writes one frame: OpenLane's keys (`intrinsic`, `extrinsic`, `file_path`,
`lane_lines`) with drivesim's frames and additions; docs/labels.md, "Lane lines", has every field.

    from drivesim.scenario.engine import ScenarioEngine
    from drivesim.scenario.lane_frames import ScenarioLanes
    from drivesim.scenario.loader import load_scenario
    scenario = load_scenario("scenarios/lead_brake.yaml")
    lanes = ScenarioLanes(scenario)
    doc = lanes.frame_json(ScenarioEngine(scenario).frame(0))  # what `export --formats lanes` writes
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from drivesim.errors import DrivesimError
from drivesim.road import RoadNetwork
from drivesim.scenario.camera import EgoPose, PinholeCamera
from drivesim.scenario.format import Scenario
from drivesim.scenario.labels import FrameConditions
from drivesim.scenario.lane_labels import LaneLabeler, LaneLine
from drivesim.scenario.straight_world import StraightWorld

MATRIX_DECIMALS = 9


class ScenarioLanes:
    """Lane labels of one scenario's frames (same scenario and seed as the frames' engine)."""

    def __init__(self, scenario: Scenario, seed: int | None = None, max_distance_m: float = 80.0,
                 step_m: float = 1.0):
        self.scenario, self.seed = scenario, seed
        self.camera = PinholeCamera.from_config(scenario.camera)
        self.max_distance_m, self.step_m = float(max_distance_m), float(step_m)
        road = scenario.road
        self._straight = StraightWorld(road.lanes, road.lane_width_m, reach_m=max_distance_m)
        self._labeler: LaneLabeler | None = None  # of the network of the latest frame: sampled once per network
        self._engine: Any = None
        self._network: RoadNetwork | None = None

    def view(self, frame: FrameConditions) -> tuple[RoadNetwork, EgoPose]:
        """The network and ego pose of a frame (see the module docstring for where they come from)."""
        road = getattr(frame, "road", None)
        pose = _as_pose(getattr(frame, "ego_pose", None) or getattr(road, "ego_pose", None))
        if pose is not None:
            return self._scenario_network(pose), pose
        if road is not None:
            _check_straight(self.scenario)
            pose = self._straight.pose(road.ego_travel_m, road.ego_lateral_m)
            return self._straight.network_at(pose.x), pose
        if self._engine is None:
            from drivesim.scenario.engine import ScenarioEngine

            self._engine = ScenarioEngine(self.scenario, self.seed)
        own = self._engine.frame(frame.index)
        if not any(getattr(own, key, None) is not None for key in ("ego_pose", "road")):
            raise ValueError(f"frame {frame.index}: the engine's frame has neither an ego pose nor a road state")
        return self.view(own)

    def labels(self, frame: FrameConditions) -> tuple[list[LaneLine], EgoPose]:
        """The frame's lane lines, and the ego pose they were seen from."""
        network, pose = self.view(frame)
        if self._labeler is None or self._labeler.network is not network:
            self._labeler = LaneLabeler(network, self.step_m)
        return self._labeler.frame(self.camera, pose, self.max_distance_m), pose

    def frame_json(self, frame: FrameConditions, file_path: str | None = None) -> dict[str, Any]:
        lines, pose = self.labels(frame)
        return lane_frame_json(lines, self.camera, pose, frame.index, frame.timestamp_s, file_path,
                               self.max_distance_m)

    def _scenario_network(self, pose: EgoPose) -> RoadNetwork:
        build = _scenario_network_builder()
        if build is None:
            return self._straight.network_at(pose.x)
        if self._network is None:
            self._network = build(self.scenario)
        return self._network


def lane_frame_json(lines: Sequence[LaneLine], camera: PinholeCamera, pose: EgoPose, index: int,
                    timestamp_s: float, file_path: str | None = None, max_distance_m: float = 80.0) -> dict[str, Any]:
    """One frame's lane labels as JSON (docs/labels.md, "Lane lines")."""
    to_ego = camera_to_ego(camera)
    return {
        "file_path": file_path,
        "frame_index": int(index),
        "timestamp_s": round(float(timestamp_s), 6),
        "width": camera.width,
        "height": camera.height,
        "intrinsic": _rounded(camera.K),
        "extrinsic": _rounded(ego_to_world_matrix(pose) @ to_ego),
        "camera_to_ego": _rounded(to_ego),
        "ego_pose": {"x": pose.x, "y": pose.y, "z": pose.z, "heading": pose.heading, "pitch": pose.pitch},
        "max_distance_m": max_distance_m,
        "lane_lines": [line.to_json() for line in lines],
    }


def camera_to_ego(camera: PinholeCamera) -> np.ndarray:
    """4x4: camera-frame points -> the ego's road frame (x right, y down, z forward, on the ground)."""
    out = np.eye(4)
    out[:3, :3] = camera.rotation.T  # the rows of `rotation` are the camera axes in the road frame
    out[:3, 3] = camera.centre_road
    return out


def ego_to_world_matrix(pose: EgoPose) -> np.ndarray:
    """4x4: road-frame points -> world points (OpenDRIVE's inertial frame), as `camera.ego_to_world`."""
    out = np.eye(4)
    out[:3, :3] = pose.axes.T
    out[:3, 3] = pose.origin
    return out


def _rounded(matrix: np.ndarray) -> list[list[float]]:
    return [[round(float(v), MATRIX_DECIMALS) + 0.0 for v in row] for row in matrix]  # + 0.0: no "-0.0"


def _check_straight(scenario: Scenario) -> None:
    """Only a version-1 road is the straight road a road state describes."""
    road = scenario.road
    grown = [key for key in ("segments", "opendrive") if getattr(road, key, None)]
    grown += ["oncoming_lanes"] if getattr(road, "oncoming_lanes", 0) else []
    grown += ["traffic"] if getattr(road, "traffic", "right") != "right" else []
    if grown:
        raise DrivesimError(f"scenario '{scenario.name}': lane labels of a road with {', '.join(grown)} need each "
                            "frame's ego pose (FrameConditions.ego_pose), and this frame has only a road state. "
                            "Fix: label frames made by the scenario engine, which carry the pose")


def _as_pose(value: Any) -> EgoPose | None:
    """An EgoPose from anything with its fields (x, y, z, heading, pitch), None for None."""
    if value is None or isinstance(value, EgoPose):
        return value
    return EgoPose(*(float(getattr(value, name, 0.0)) for name in ("x", "y", "z", "heading", "pitch")))


def _scenario_network_builder() -> Callable[[Scenario], RoadNetwork] | None:
    """`scenario_network` of drivesim/scenario/network.py, None while that module does not exist."""
    try:
        from drivesim.scenario.network import scenario_network  # type: ignore[import-not-found]
    except ModuleNotFoundError as err:
        if err.name != "drivesim.scenario.network":
            raise
        return None
    return scenario_network
