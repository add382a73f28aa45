"""ASAM OSI ground truth: each frame's world as an `osi3.GroundTruth`, written as an OSI trace file.

    drivesim export scenarios/openscenario/cut_in.xosc -o out/ds --source schematic --formats osi
    drivesim generate scenarios/minimal.yaml -o out/minimal --source render --osi   # OUT/ground_truth.osi
    drivesim plan scenarios/junction_turn.yaml -o out/labels.jsonl --osi out/junction_turn.osi   # no frames

    from osi3trace.osi_trace import OSITrace
    for gt in OSITrace("out/ds/osi/cut_in.osi", "GroundTruth"): print(gt.timestamp, len(gt.moving_object))

A trace file is OSI's single-channel binary format: every message serialised and prefixed with its
length as a 4-byte little-endian unsigned integer (what `osi3trace.OSITrace` reads). One message per
frame, in frame order. The world comes from the same `ScenarioEngine` (scenario + seed) that labels
the frames, so track ids, types and sizes agree with every other label format.

World frame (docs/export.md, "ASAM OSI"): the road network's, i.e. OpenDRIVE's inertial frame for a road
read from OpenDRIVE (x, y on the ground, z up, metres; yaw counter-clockwise from +x). An inline road
(`road.segments`) starts at the origin heading along +x; version 1's straight road runs along +x with its
left edge on y = 0 and the camera at x = 0 at t = 0, so its lanes lie at y in [-lanes * lane_width, 0]
(the frame drivesim's OSI traces have always had). Per moving object: base.position = the centre of its
bounding box (its world pose's bottom centre raised by half its height along its up axis),
base.dimension = length / width / height, base.orientation yaw = its heading and pitch = minus its
nose-up pitch (OSI's pitch turns about the vehicle's left axis), base.velocity along its heading. The
host vehicle (the ego) is the ego's car: its centre EGO_CAMERA_BEHIND_FRONT_M - length / 2 ahead of
the camera's ground point along the camera's heading. Lanes and lane boundaries: `osi_lanes.py`.
Ids: the host vehicle (the ego) 0, named agents 1, 2, ... in scenario order, background traffic bg_k
100000 + k, lanes 1000000 + k, lane boundaries 2000000 + k; every object's `source_reference` carries
its track id.
OSI needs the optional package osi-python (`pip install drivesim[asam]`).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from drivesim.errors import DrivesimError
from drivesim.road import WorldPose
from drivesim.scenario.camera import EgoPose, ego_to_world
from drivesim.scenario.engine import EGO_CAMERA_BEHIND_FRONT_M, EGO_SIZE_M, ScenarioEngine
from drivesim.scenario.format import Scenario
from drivesim.scenario.labels import FrameConditions

HOST_ID = 0
BACKGROUND_ID_BASE = 100_000
LANE_ID_BASE = 1_000_000  # osi_lanes.LANE_ID_BASE, here without importing osi3
SOURCE_TYPE = "net.drivesim:track_id"


def _osi() -> Any:
    try:
        from osi3 import osi_groundtruth_pb2, osi_object_pb2, osi_version_pb2
    except ImportError as err:
        raise DrivesimError(f"OSI output needs the osi3 package ({err}); pip install 'drivesim[asam]' "
                            "(or pip install osi-python)") from None
    return osi_groundtruth_pb2, osi_object_pb2, osi_version_pb2


def _type(kind: str) -> tuple[str, str | None]:
    """drivesim type -> (MovingObject.Type, VehicleClassification.Type or None)."""
    return {"car": ("TYPE_VEHICLE", "TYPE_CAR"), "truck": ("TYPE_VEHICLE", "TYPE_HEAVY_TRUCK"),
            "bus": ("TYPE_VEHICLE", "TYPE_BUS"), "motorcycle": ("TYPE_VEHICLE", "TYPE_MOTORBIKE"),
            "cyclist": ("TYPE_VEHICLE", "TYPE_BICYCLE"), "pedestrian": ("TYPE_PEDESTRIAN", None)}[kind]


def box_centre(pose: WorldPose, height: float) -> np.ndarray:
    """World centre of a box standing at `pose` (its bottom centre), raised along the box's own up axis."""
    return ego_to_world(np.array([0.0, -height / 2, 0.0]), EgoPose(*pose))


class GroundTruthBuilder:
    """Per-frame osi3.GroundTruth of one scenario run (the engine's world, all agents and the ego, the
    road network's lanes). `engine`: the run's ScenarioEngine when the caller has one (else built here)."""

    def __init__(self, scenario: Scenario, seed: int | None = None, engine: ScenarioEngine | None = None):
        self.gt_pb, self.obj_pb, version_pb = _osi()
        from drivesim.standards.osi_lanes import OsiRoadNetwork

        self.engine = engine or ScenarioEngine(scenario, seed=seed)
        self.scenario = scenario
        self.ids = {a.id: i + 1 for i, a in enumerate(scenario.agents)}
        self.road = OsiRoadNetwork(self.engine.world.network)
        self.template = self.gt_pb.GroundTruth()
        self.template.version.CopyFrom(version_pb.DESCRIPTOR.GetOptions().Extensions[version_pb.current_interface_version])
        self.template.host_vehicle_id.value = HOST_ID
        if scenario.road.opendrive is not None:
            self.template.map_reference = Path(scenario.road.opendrive).name

    def object_id(self, track_id: str) -> int:
        if track_id in self.ids:
            return self.ids[track_id]
        return BACKGROUND_ID_BASE + int(track_id.split("_", 1)[1])

    def at(self, t: float) -> Any:
        """The GroundTruth of the world at time t (a frame's timestamp_s)."""
        gt = self.gt_pb.GroundTruth()
        gt.CopyFrom(self.template)
        gt.timestamp.seconds, gt.timestamp.nanos = divmod(round(t * 1e9), 1_000_000_000)
        rates = self.engine.lateral_speeds(t)
        host_lane = self._add(gt, HOST_ID, "ego", "car", self.host_pose(t), EGO_SIZE_M,
                              float(self.engine.ego.speed.value(np.array(t))), rates["ego"])
        for s in self.engine.agent_states(t):
            self._add(gt, self.object_id(s.track_id), s.track_id, s.type, s.world, s.size_m, s.speed_mps,
                      rates.get(s.track_id, 0.0))
        self.road.fill(gt, host_lane)
        return gt

    def host_pose(self, t: float) -> WorldPose:
        """The ego car's bottom centre and heading: EGO_CAMERA_BEHIND_FRONT_M - length / 2 ahead of the camera's
        ground point along the camera's heading (the engine's own ego car), turned with its lane changes."""
        camera = self.engine.ego_pose(t)
        centre = ego_to_world(np.array([0.0, 0.0, EGO_CAMERA_BEHIND_FRONT_M - EGO_SIZE_M[0] / 2]), camera)
        heading = float(self.engine.ego.at(t).heading)
        return WorldPose(*(float(v) for v in centre), heading, camera.pitch)

    def _add(self, gt: Any, oid: int, track_id: str, kind: str, pose: WorldPose, size: tuple[float, float, float],
             speed: float, lateral_speed: float) -> int | None:
        """One moving object; returns its assigned lane's OSI id."""
        mo = gt.moving_object.add()
        mo.id.value = oid
        length, width, height = size
        b = mo.base
        b.dimension.length, b.dimension.width, b.dimension.height = length, width, height
        b.position.x, b.position.y, b.position.z = (float(v) for v in box_centre(pose, height))
        b.orientation.yaw = math.remainder(pose.heading, 2 * math.pi) + 0.0  # + 0.0: no -0.0
        b.orientation.pitch = -pose.pitch + 0.0
        # speed along the lane and across it (+ right) make the speed along the heading, which includes
        # the yaw of the lateral motion; background traffic against the ego's direction has speed < 0
        # and a heading turned by pi, so the magnitude is what counts
        v = math.hypot(speed, lateral_speed)
        b.velocity.x = v * math.cos(pose.heading) * math.cos(pose.pitch) + 0.0
        b.velocity.y = v * math.sin(pose.heading) * math.cos(pose.pitch) + 0.0
        b.velocity.z = v * math.sin(pose.pitch) + 0.0
        osi_kind, vehicle = _type(kind)
        mo.type = self.obj_pb.MovingObject.Type.Value(osi_kind)
        if vehicle is not None:
            mo.vehicle_classification.type = self.obj_pb.MovingObject.VehicleClassification.Type.Value(vehicle)
        lane = self.road.lane_at(b.position.x, b.position.y, pose.heading)
        if lane is not None:
            mo.moving_object_classification.assigned_lane_id.add().value = lane
        ref = mo.source_reference.add()
        ref.type = SOURCE_TYPE
        ref.identifier.append(track_id)
        return lane


class OsiTraceFile:
    """An OSI single-channel binary trace (.osi): length-prefixed serialised messages."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._f: BinaryIO | None = open(self.path, "wb")

    def write(self, message: Any) -> None:
        data = message.SerializeToString()
        self._f.write(struct.pack("<I", len(data)))
        self._f.write(data)

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


class GroundTruthTrace:
    """`generate --osi`, `plan --osi`, `export --formats osi`: one GroundTruth per frame written as it streams."""

    def __init__(self, path: Path, scenario: Scenario, seed: int | None = None,
                 engine: ScenarioEngine | None = None):
        self.builder = GroundTruthBuilder(scenario, seed, engine)
        self.file = OsiTraceFile(path)

    def add(self, frame: FrameConditions) -> None:
        self.file.write(self.builder.at(frame.timestamp_s))

    def close(self) -> None:
        self.file.close()
