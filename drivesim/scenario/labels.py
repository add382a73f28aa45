"""Per-frame ground truth: what the engine produces and every sink consumes.

`FrameConditions.to_json()` is the `drivesim plan` / `labels.jsonl` line format (docs/labels.md);
its keys are a contract, do not add to or rename them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


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

    def to_json(self) -> dict[str, Any]:
        return {
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


@dataclass(frozen=True)
class RoadState:
    """What the road-layout condition map needs; not part of the labels file."""

    lanes: int
    lane_width_m: float
    ego_lateral_m: float  # camera x position, metres right of the road's left edge
    ego_speed_mps: float
    ego_travel_m: float  # distance the ego has driven since t=0 (lane dashes flow with it)


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

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "timestamp_s": round(self.timestamp_s, 6),
            "environment": {"time_of_day": self.time_of_day, "crowdedness": round(self.crowdedness, 4)},
            "boxes": [b.to_json() for b in self.boxes],
        }

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
        )
