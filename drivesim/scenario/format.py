"""Scenario format v1: the typed schema of a scenario YAML file (docs/scenario-format.md).

Plain data only: behaviour lives in `engine.py`, file reading and located errors in
`loader.py`. Units are SI (metres, seconds, metres per second, degrees).

    from drivesim.scenario.loader import load_scenario
    scenario = load_scenario("scenarios/night_merge.yaml")
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, model_serializer, model_validator

TimeOfDay = Literal["day", "night"]
AgentType = Literal["car", "truck", "bus", "pedestrian", "cyclist", "motorcycle"]
AGENT_TYPES: tuple[str, ...] = ("car", "truck", "bus", "pedestrian", "cyclist", "motorcycle")
# How an action blends to its target: u = elapsed / duration_s in [0, 1], value = start + (target - start) * f(u).
# smoothstep f = 3u^2 - 2u^3 (OpenSCENARIO's "cubic"), linear f = u, sinusoidal f = (1 - cos(pi u)) / 2,
# step: the target at once (duration_s is not used).
ActionShape = Literal["smoothstep", "linear", "sinusoidal", "step"]

# Default cuboid per type: (length, width, height) in metres; typical values of KITTI/nuScenes.
DEFAULT_SIZE_M: dict[str, tuple[float, float, float]] = {
    "car": (4.5, 1.8, 1.5),
    "truck": (9.0, 2.5, 3.4),
    "bus": (12.0, 2.55, 3.2),
    "pedestrian": (0.6, 0.6, 1.75),
    "cyclist": (1.8, 0.6, 1.7),
    "motorcycle": (2.2, 0.8, 1.5),
}


class _Strict(BaseModel):
    # Unknown keys are errors (with a did-you-mean from the loader), never silently ignored.
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Grown(_Strict):
    """A model that gained optional keys after version 1 shipped: `_ADDED` (key -> default) are dumped
    only when set, so an older file's dump (variation seeds, hashes, synth-data YAML) stays the same."""

    _ADDED: ClassVar[dict[str, Any]] = {}

    @model_serializer(mode="wrap")
    def _drop_added_defaults(self, handler: Any) -> Any:
        data = handler(self)
        for key, default in self._ADDED.items():
            if key in data and data[key] == default:
                del data[key]
        return data


class Camera(_Strict):
    width: int = Field(1024, gt=0, le=8192, description="output image width, pixels")
    height: int = Field(512, gt=0, le=8192, description="output image height, pixels")
    fov_deg: float = Field(90.0, gt=1.0, lt=179.0, description="horizontal field of view")
    mount_height_m: float = Field(1.5, gt=0.0, le=10.0, description="camera height above ground")
    pitch_deg: float = Field(0.0, ge=-45.0, le=45.0, description="positive looks down")


class EnvironmentEvent(_Strict):
    at_s: float = Field(ge=0.0)
    time_of_day: Optional[TimeOfDay] = None
    crowdedness: Optional[float] = Field(None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _changes_something(self) -> "EnvironmentEvent":
        if self.time_of_day is None and self.crowdedness is None:
            raise ValueError("an event must set time_of_day and/or crowdedness")
        return self


class Environment(_Strict):
    time_of_day: TimeOfDay = "day"
    crowdedness: float = Field(0.0, ge=0.0, le=1.0)
    events: list[EnvironmentEvent] = Field(default_factory=list)


class Road(_Strict):
    lanes: int = Field(3, ge=1, le=8)
    lane_width_m: float = Field(3.5, gt=1.0, le=10.0)


class Action(_Grown):
    """One manoeuvre starting at `at_s` and blending in over `duration_s`."""

    _ADDED: ClassVar[dict[str, Any]] = {"shape": "smoothstep", "takes_over": False}

    at_s: float = Field(ge=0.0)
    duration_s: float = Field(1.0, gt=0.0)
    lane_change_to: Optional[int] = Field(None, ge=0)
    lateral_m: Optional[float] = None
    speed_mps: Optional[float] = Field(None, ge=0.0, le=100.0)
    shape: ActionShape = "smoothstep"
    # May start while an earlier action of the same property is still blending: it takes over from
    # wherever that one had got to (OpenSCENARIO's rule when an action of the same domain starts).
    takes_over: bool = False

    @model_validator(mode="after")
    def _changes_something(self) -> "Action":
        if self.lane_change_to is None and self.lateral_m is None and self.speed_mps is None:
            raise ValueError("an action must set lane_change_to, lateral_m or speed_mps")
        if self.lane_change_to is not None and self.lateral_m is not None:
            raise ValueError("set either lane_change_to or lateral_m, not both")
        return self


class Ego(_Grown):
    _ADDED: ClassVar[dict[str, Any]] = {"lateral_m": None, "actions": []}

    lane: int = Field(0, ge=0)
    speed_mps: float = Field(10.0, ge=0.0, le=100.0)
    # Start here instead of the centre of `lane` (metres right of the road's left edge); `lane` still
    # names the ego's lane for background traffic.
    lateral_m: Optional[float] = None
    actions: list[Action] = Field(default_factory=list)  # speed and lane changes of the camera car


class Agent(_Strict):
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    type: AgentType
    lane: Optional[int] = Field(None, ge=0)
    lateral_m: Optional[float] = None  # metres right of the road's left edge
    distance_m: float = Field(ge=-500.0, le=1000.0)  # camera to agent centre along z at t=0
    speed_mps: float = Field(0.0, ge=0.0, le=100.0)
    # length, width, height; per-item bounds so an error names the item (size_m[1])
    size_m: Optional[tuple[PositiveFloat, PositiveFloat, PositiveFloat]] = None
    actions: list[Action] = Field(default_factory=list)

    @model_validator(mode="after")
    def _placement(self) -> "Agent":
        if (self.lane is None) == (self.lateral_m is None):
            raise ValueError("set exactly one of lane or lateral_m")
        return self

    @property
    def size(self) -> tuple[float, float, float]:
        return tuple(self.size_m) if self.size_m is not None else DEFAULT_SIZE_M[self.type]


class Scenario(_Strict):
    version: Literal[1] = 1
    name: str = Field(min_length=1)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    duration_s: float = Field(gt=0.0, le=3600.0)
    fps: float = Field(10.0, gt=0.0, le=120.0)
    camera: Camera = Field(default_factory=Camera)
    environment: Environment = Field(default_factory=Environment)
    road: Road = Field(default_factory=Road)
    ego: Ego = Field(default_factory=Ego)
    agents: list[Agent] = Field(default_factory=list)

    @property
    def num_frames(self) -> int:
        """Frames at `fps` covering [0, duration_s): frame i is at i / fps."""
        # The tolerance keeps float noise (e.g. 0.3 * 10 = 3.0000000000000004) from adding a frame.
        return max(1, math.ceil(self.duration_s * self.fps - 1e-6))

    def timestamp(self, index: int) -> float:
        return round(index / self.fps, 6)
