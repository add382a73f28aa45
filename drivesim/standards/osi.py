"""ASAM OSI ground truth: each frame's world as an `osi3.GroundTruth`, written as an OSI trace file.

    drivesim export scenarios/openscenario/cut_in.xosc -o out/ds --source schematic --formats osi
    drivesim generate scenarios/minimal.yaml -o out/minimal --source render --osi   # OUT/ground_truth.osi

    from osi3trace.osi_trace import OSITrace
    for gt in OSITrace("out/ds/osi/cut_in.osi", "GroundTruth"): print(gt.timestamp, len(gt.moving_object))

A trace file is OSI's single-channel binary format: every message serialised and prefixed with its
length as a 4-byte little-endian unsigned integer (what `osi3trace.OSITrace` reads). One message per
frame, in frame order. The world comes from the same `ScenarioEngine` (scenario + seed) that labels
the frames, so track ids, types and sizes agree with every other label format.

World frame (docs/export.md): right-handed, z up; origin on the ground at the road's left edge, abeam
the camera at t = 0; x forward along the road (the ego's driving direction), y to the left (the road
lies at y in [-lanes * lane_width, 0]). Per moving object: base.position = the centre of its bounding
box, base.dimension = length / width / height, base.orientation.yaw (counter-clockwise from x),
base.velocity. Ids: the host vehicle (the ego) 0, named agents 1, 2, ... in scenario order, background
traffic bg_k 100000 + k, lane k 1000000 + k; every object's `source_reference` carries its track id.
OSI needs the optional package osi-python (`pip install drivesim[asam]`).
"""

from __future__ import annotations

import math
import struct
from pathlib import Path
from typing import Any, BinaryIO

from drivesim.errors import DrivesimError
from drivesim.scenario.engine import EGO_CAMERA_BEHIND_FRONT_M, EGO_SIZE_M, AgentState, ScenarioEngine
from drivesim.scenario.format import Scenario
from drivesim.scenario.labels import FrameConditions

HOST_ID = 0
BACKGROUND_ID_BASE = 100_000
LANE_ID_BASE = 1_000_000
SOURCE_TYPE = "net.drivesim:track_id"
LANE_SPAN_M = (-100.0, 300.0)  # lane centrelines drawn this far behind / ahead of the camera


def _osi() -> Any:
    try:
        from osi3 import osi_groundtruth_pb2, osi_lane_pb2, osi_object_pb2, osi_version_pb2
    except ImportError as err:
        raise DrivesimError(f"OSI output needs the osi3 package ({err}); pip install 'drivesim[asam]' "
                            "(or pip install osi-python)") from None
    return osi_groundtruth_pb2, osi_object_pb2, osi_lane_pb2, osi_version_pb2


def _type(kind: str) -> tuple[str, str | None]:
    """drivesim type -> (MovingObject.Type, VehicleClassification.Type or None)."""
    return {"car": ("TYPE_VEHICLE", "TYPE_CAR"), "truck": ("TYPE_VEHICLE", "TYPE_HEAVY_TRUCK"),
            "bus": ("TYPE_VEHICLE", "TYPE_BUS"), "motorcycle": ("TYPE_VEHICLE", "TYPE_MOTORBIKE"),
            "cyclist": ("TYPE_VEHICLE", "TYPE_BICYCLE"), "pedestrian": ("TYPE_PEDESTRIAN", None)}[kind]


class GroundTruthBuilder:
    """Per-frame osi3.GroundTruth of one scenario run (the engine's world, all agents and the ego)."""

    def __init__(self, scenario: Scenario, seed: int | None = None):
        self.gt_pb, self.obj_pb, self.lane_pb, version_pb = _osi()
        self.version = version_pb.DESCRIPTOR.GetOptions().Extensions[version_pb.current_interface_version]
        self.engine = ScenarioEngine(scenario, seed=seed)
        self.scenario = scenario
        self.ids = {a.id: i + 1 for i, a in enumerate(scenario.agents)}

    def object_id(self, track_id: str) -> int:
        if track_id in self.ids:
            return self.ids[track_id]
        return BACKGROUND_ID_BASE + int(track_id.split("_", 1)[1])

    def at(self, t: float) -> Any:
        """The GroundTruth of the world at time t (a frame's timestamp_s)."""
        gt = self.gt_pb.GroundTruth()
        gt.version.CopyFrom(self.version)
        nanos = round(t * 1e9)
        gt.timestamp.seconds, gt.timestamp.nanos = divmod(nanos, 1_000_000_000)
        gt.host_vehicle_id.value = HOST_ID
        road = self.engine.road_state(t)
        lateral_speed = self.engine.lateral_speeds(t)
        ego_len, ego_w, ego_h = EGO_SIZE_M
        host = AgentState("ego", "car", 0.0, EGO_CAMERA_BEHIND_FRONT_M - ego_len / 2, road.ego_lateral_m,
                          road.ego_speed_mps, math.atan2(lateral_speed["ego"], road.ego_speed_mps or 1.0),
                          EGO_SIZE_M, False)
        self._add(gt, HOST_ID, host, road.ego_travel_m, lateral_speed["ego"], road.lanes, road.lane_width_m)
        for state in self.engine.agent_states(t):
            self._add(gt, self.object_id(state.track_id), state, road.ego_travel_m,
                      lateral_speed.get(state.track_id, 0.0), road.lanes, road.lane_width_m)
        for k in range(road.lanes):
            lane = gt.lane.add()
            lane.id.value = LANE_ID_BASE + k
            c = lane.classification
            c.type = self.lane_pb.Lane.Classification.TYPE_DRIVING
            c.centerline_is_driving_direction = True
            c.is_host_vehicle_lane = int(road.ego_lateral_m // road.lane_width_m) == k
            if k > 0:
                c.left_adjacent_lane_id.add().value = LANE_ID_BASE + k - 1
            if k + 1 < road.lanes:
                c.right_adjacent_lane_id.add().value = LANE_ID_BASE + k + 1
            for dx in LANE_SPAN_M:
                p = c.centerline.add()
                p.x, p.y = road.ego_travel_m + dx, -(k + 0.5) * road.lane_width_m
        return gt

    def _add(self, gt: Any, oid: int, s: AgentState, camera_x: float, lateral_speed: float, lanes: int,
             lane_width: float) -> None:
        mo = gt.moving_object.add()
        mo.id.value = oid
        length, width, height = s.size_m
        b = mo.base
        b.dimension.length, b.dimension.width, b.dimension.height = length, width, height
        b.position.x, b.position.y, b.position.z = camera_x + s.z_m, -s.lateral_m, height / 2
        b.orientation.yaw = math.remainder(-s.heading_rad, 2 * math.pi) + 0.0  # no -0.0
        b.velocity.x, b.velocity.y = s.speed_mps, -lateral_speed + 0.0
        kind, vehicle = _type(s.type)
        mo.type = self.obj_pb.MovingObject.Type.Value(kind)
        if vehicle is not None:
            mo.vehicle_classification.type = self.obj_pb.MovingObject.VehicleClassification.Type.Value(vehicle)
        lane = math.floor(s.lateral_m / lane_width)
        if 0 <= lane < lanes:
            mo.moving_object_classification.assigned_lane_id.add().value = LANE_ID_BASE + lane
        ref = mo.source_reference.add()
        ref.type = SOURCE_TYPE
        ref.identifier.append(s.track_id)


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
    """`generate --osi`: OUT/ground_truth.osi, one GroundTruth per frame written as it streams."""

    def __init__(self, path: Path, scenario: Scenario, seed: int | None = None):
        self.builder = GroundTruthBuilder(scenario, seed)
        self.file = OsiTraceFile(path)

    def add(self, frame: FrameConditions) -> None:
        self.file.write(self.builder.at(frame.timestamp_s))

    def close(self) -> None:
        self.file.close()
