"""Per-frame ground truth: what the engine produces and every sink consumes.

`FrameConditions.to_json()` is the `drivesim plan` / `labels.jsonl` line format (docs/labels.md);
its keys are a contract, do not add to or rename them. Only on a road other than version 1's straight
one-way road (`world_labels`) does a line also carry world poses: `ego_pose` on the frame and `world_pose`
on each box, as {x, y, z, heading, pitch} in the road network's frame (OpenDRIVE's inertial frame: z up,
heading counter-clockwise from +x, pitch nose-up); version 1's lines stay byte for byte as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from drivesim.road import WorldPose


def pose_json(pose: WorldPose) -> dict[str, float]:
    return {"x": round(pose.x, 4), "y": round(pose.y, 4), "z": round(pose.z, 4),
            "heading": round(pose.heading, 5), "pitch": round(pose.pitch, 5)}


def pose_from_json(d: Optional[dict[str, Any]]) -> Optional[WorldPose]:
    return None if d is None else WorldPose(*(float(d[k]) for k in ("x", "y", "z", "heading", "pitch")))


@dataclass(frozen=True)
class Box:
    track_id: str  # stable across frames: the agent id, or bg_<n> for background traffic
    type: str  # car | truck | bus | pedestrian | cyclist | motorcycle
    bbox_xyxy: tuple[float, float, float, float]  # output pixels, clipped to the image
    truncation: float  # share of the unclipped box outside the image, 0..1
    occlusion: float  # share of the clipped box covered by nearer boxes, 0..1
    location_m: tuple[float, float, float]  # cuboid bottom-centre in the camera frame (KITTI)
    size_m: tuple[float, float, float]  # length, width, height
    rotation_y: float  # yaw around the camera's y axis, radians (KITTI convention)
    distance_m: float  # euclidean camera-to-cuboid-centre distance
    # the agent's bottom centre in the world, heading along its length (None: not known, e.g. read from a file)
    world_pose: Optional[WorldPose] = field(default=None, compare=False)

    def to_json(self, world: bool = False) -> dict[str, Any]:
        """The label's keys; with `world`, also `world_pose` (see the module docstring)."""
        out = {
            "track_id": self.track_id,
            "type": self.type,
            "bbox_xyxy": [round(v, 3) for v in self.bbox_xyxy],
            "truncation": round(self.truncation, 4),
            "occlusion": round(self.occlusion, 4),
            "location_m": [round(v, 4) for v in self.location_m],
            "size_m": [round(v, 4) for v in self.size_m],
            "rotation_y": round(self.rotation_y, 5),
            "distance_m": round(self.distance_m, 4),
        }
        if world and self.world_pose is not None:
            out["world_pose"] = pose_json(self.world_pose)
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "Box":
        return cls(
            track_id=str(d["track_id"]),
            type=str(d["type"]),
            bbox_xyxy=tuple(float(v) for v in d["bbox_xyxy"]),
            truncation=float(d["truncation"]),
            occlusion=float(d["occlusion"]),
            location_m=tuple(float(v) for v in d["location_m"]),
            size_m=tuple(float(v) for v in d["size_m"]),
            rotation_y=float(d["rotation_y"]),
            distance_m=float(d["distance_m"]),
            world_pose=pose_from_json(d.get("world_pose")),
        )


@dataclass(frozen=True)
class AgentState:
    """One agent's 3D state at a time, as the engine (or a closed loop) computes it; `boxes.label_boxes`
    turns these into `Box`es."""

    track_id: str  # agent id, or bg_<n> for seeded background traffic
    type: str  # car | truck | bus | pedestrian | cyclist | motorcycle
    x_m: float  # road frame: lateral position of the cuboid centre relative to the camera (right +)
    z_m: float  # road frame: forward distance camera -> cuboid centre (negative = behind)
    lateral_m: float  # metres right of the road's left edge
    speed_mps: float  # along the road; negative = towards the camera
    heading_rad: float  # yaw relative to the road: 0 along it, + yawing right (rotation about y-down)
    size_m: tuple[float, float, float]  # length, width, height
    is_background: bool
    y_m: float = 0.0  # road frame: height of its ground point below the camera's (0 on a flat road)
    world: Optional[WorldPose] = None  # its bottom centre's world pose (None: no world, e.g. a closed loop)


@dataclass(frozen=True)
class RoadState:
    """What the road-layout condition map needs; not part of the labels file."""

    lanes: int
    lane_width_m: float
    ego_lateral_m: float  # camera x position, metres right of the road's left edge
    ego_speed_mps: float
    ego_travel_m: float  # distance the ego has driven since t=0 (lane dashes flow with it)
    ego_pose: Optional[WorldPose] = None  # the camera's ground point and heading in the world
    # the scenario's road network (drivesim.road.RoadNetwork) for the road condition maps; never serialized
    network: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class FrameConditions:
    index: int
    timestamp_s: float
    time_of_day: str  # day | night
    crowdedness: float  # 0..1
    boxes: tuple[Box, ...] = ()
    road: RoadState | None = field(default=None, compare=False)
    width: int = 1024  # image size the boxes are in
    height: int = 512
    # The camera's ground point in the world (the ego's road frame, camera.EgoPose) and whether the labels
    # carry world poses (a road other than version 1's; see the module docstring).
    ego_pose: Optional[WorldPose] = field(default=None, compare=False)
    world_labels: bool = field(default=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        out = {
            "index": self.index,
            "timestamp_s": round(self.timestamp_s, 6),
            "environment": {"time_of_day": self.time_of_day, "crowdedness": round(self.crowdedness, 4)},
        }
        world = self.world_labels and self.ego_pose is not None
        if world:
            out["ego_pose"] = pose_json(self.ego_pose)
        out["boxes"] = [b.to_json(world) for b in self.boxes]
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any], width: int = 1024, height: int = 512) -> "FrameConditions":
        env = d["environment"]
        return cls(
            index=int(d["index"]),
            timestamp_s=float(d["timestamp_s"]),
            time_of_day=str(env["time_of_day"]),
            crowdedness=float(env["crowdedness"]),
            boxes=tuple(Box.from_json(b) for b in d["boxes"]),
            width=width,
            height=height,
            ego_pose=pose_from_json(d.get("ego_pose")),
            world_labels="ego_pose" in d,
        )
