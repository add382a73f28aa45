"""Scenario format v1: the typed schema of a scenario YAML file (docs/scenario-format.md).

Plain data only: behaviour lives in `engine.py`, file reading and located errors in
`loader.py`. Units are SI (metres, seconds, metres per second, degrees).

    from drivesim.scenario.loader import load_scenario
    scenario = load_scenario("scenarios/night_merge.yaml")
"""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer, model_validator

TimeOfDay = Literal["day", "night"]
AgentType = Literal["car", "truck", "bus", "pedestrian", "cyclist", "motorcycle"]
AGENT_TYPES: tuple[str, ...] = ("car", "truck", "bus", "pedestrian", "cyclist", "motorcycle")
# How an action blends to its target: u = elapsed / duration_s in [0, 1], value = start + (target - start) * f(u).
# smoothstep f = 3u^2 - 2u^3 (OpenSCENARIO's "cubic"), linear f = u, sinusoidal f = (1 - cos(pi u)) / 2,
# step: the target at once (duration_s is not used).
ActionShape = Literal["smoothstep", "linear", "sinusoidal", "step"]
TrafficSide = Literal["right", "left"]  # right-hand traffic (OpenDRIVE's RHT) or left-hand (LHT)
MIN_RADIUS_M = 5.0  # tighter bends are no road a car drives at speed (and would fold the lanes)
# Numbers beyond these are a mistake, not a scene, and far enough beyond them (1e308) overflow the motion to NaN:
# every number of the format is finite and bounded (docs/scenario-format.md, "Keys").
MAX_DURATION_S = 3600.0  # a scenario, and so every time in it
MAX_ACTION_DURATION_S = 86_400.0  # a blend may outlast the scenario (the clip stops mid-blend), but not a day
MAX_LATERAL_M = 1000.0  # across the road (lateral_m): far beyond any road's width
MAX_S_M = 1_000_000.0  # along a road (position.s): 1000 km
MAX_SIZE_M = 100.0  # an agent's length, width or height
MAX_RADIUS_M = 1_000_000.0  # a bend's radius: larger is a straight
# a piece of an inline road: a centimetre (a clothoid's curvature may not change faster than a float holds) to 100 km
MIN_PIECE_M, MAX_PIECE_M = 0.01, 100_000.0

# Default cuboid per type: (length, width, height) in metres; typical values of KITTI/nuScenes.
DEFAULT_SIZE_M: dict[str, tuple[float, float, float]] = {
    "car": (4.5, 1.8, 1.5),
    "truck": (9.0, 2.5, 3.4),
    "bus": (12.0, 2.55, 3.2),
    "pedestrian": (0.6, 0.6, 1.75),
    "cyclist": (1.8, 0.6, 1.7),
    "motorcycle": (2.2, 0.8, 1.5),
}
EGO_LENGTH_M = DEFAULT_SIZE_M["car"][0]  # the ego is a car (engine.EGO_SIZE_M)
# per-item bounds so an error names the item (size_m[1])
SizeItem = Annotated[float, Field(gt=0.0, le=MAX_SIZE_M, allow_inf_nan=False)]


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
    at_s: float = Field(ge=0.0, le=MAX_DURATION_S, allow_inf_nan=False)
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


def _road_id(value: Any) -> Any:
    """Road ids are text; a bare YAML number (`road: 1`) means the id "1" (OpenDRIVE's ids are mostly numbers)."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class ArcPiece(_Strict):
    length: float = Field(ge=MIN_PIECE_M, le=MAX_PIECE_M)
    radius: float = Field(description="metres; positive turns left, negative right", allow_inf_nan=False)

    @field_validator("radius")
    @classmethod
    def _not_straight(cls, radius: float) -> float:
        if not MIN_RADIUS_M <= abs(radius) <= MAX_RADIUS_M:
            raise ValueError(f"|radius| must be {MIN_RADIUS_M:g} .. {MAX_RADIUS_M:g} m (positive turns left, negative "
                             "right; a larger radius is a straight)")
        return radius


class ClothoidPiece(_Strict):
    length: float = Field(ge=MIN_PIECE_M, le=MAX_PIECE_M)
    curvature_start: float = Field(0.0, ge=-1.0 / MIN_RADIUS_M, le=1.0 / MIN_RADIUS_M, description="1/m, + turns left")
    curvature_end: float = Field(0.0, ge=-1.0 / MIN_RADIUS_M, le=1.0 / MIN_RADIUS_M)


class Segment(_Strict):
    """One piece of an inline road: exactly one of `straight` (its length), `arc` or `clothoid`."""

    straight: Optional[float] = Field(None, ge=MIN_PIECE_M, le=MAX_PIECE_M)
    arc: Optional[ArcPiece] = None
    clothoid: Optional[ClothoidPiece] = None

    @model_serializer(mode="wrap")
    def _only_the_piece(self, handler: Any) -> Any:
        return {key: value for key, value in handler(self).items() if value is not None}

    @model_validator(mode="after")
    def _one_piece(self) -> "Segment":
        if sum(v is not None for v in (self.straight, self.arc, self.clothoid)) != 1:
            raise ValueError("a segment is exactly one of {straight: LENGTH}, {arc: {length, radius}} or "
                             "{clothoid: {length, curvature_start, curvature_end}}")
        return self


class Road(_Grown):
    """The road: by default straight with `lanes` lanes in the ego's direction (version 1); `segments` bend it,
    `oncoming_lanes` add the other direction, or `opendrive` reads a whole network (docs/scenario-format.md)."""

    _ADDED: ClassVar[dict[str, Any]] = {"oncoming_lanes": 0, "traffic": "right", "segments": None, "opendrive": None}

    lanes: int = Field(3, ge=1, le=8)
    lane_width_m: float = Field(3.5, gt=1.0, le=10.0)
    oncoming_lanes: int = Field(0, ge=0, le=8)
    traffic: TrafficSide = "right"
    segments: Optional[list[Segment]] = Field(None, min_length=1, max_length=1000)
    opendrive: Optional[str] = Field(None, min_length=1)  # an OpenDRIVE file, relative to the scenario's folder

    @model_validator(mode="after")
    def _one_form(self) -> "Road":
        if self.segments is not None and self.opendrive is not None:
            raise ValueError("give either segments (an inline road) or opendrive (a road file), not both")
        return self


class Position(_Strict):
    """Lane coordinates (OpenDRIVE's): `lane` is an OpenDRIVE lane id (right lanes < 0, left lanes > 0), `s`
    metres along the road's reference line, `offset` metres from the lane's centre towards the road's left (+t)."""

    road: str = Field(min_length=1)
    lane: int
    s: float = Field(ge=0.0, le=MAX_S_M, allow_inf_nan=False)
    offset: float = Field(0.0, ge=-10.0, le=10.0)

    _road_as_text = field_validator("road", mode="before")(lambda cls, v: _road_id(v))

    @field_validator("lane")
    @classmethod
    def _not_centre(cls, lane: int) -> int:
        if lane == 0:
            raise ValueError("lane 0 is the centre line, not a lane: right lanes are -1, -2, ..., left lanes 1, 2, ...")
        return lane


Route = Optional[list[str]]


def _route_ids(value: Any) -> Any:
    return [_road_id(v) for v in value] if isinstance(value, list) else value


class Action(_Grown):
    """One manoeuvre starting at `at_s` and blending in over `duration_s`."""

    _ADDED: ClassVar[dict[str, Any]] = {"shape": "smoothstep", "takes_over": False}

    at_s: float = Field(ge=0.0, le=MAX_DURATION_S, allow_inf_nan=False)
    duration_s: float = Field(1.0, gt=0.0, le=MAX_ACTION_DURATION_S, allow_inf_nan=False)
    lane_change_to: Optional[int] = Field(None, ge=0)
    lateral_m: Optional[float] = Field(None, ge=-MAX_LATERAL_M, le=MAX_LATERAL_M, allow_inf_nan=False)
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
    _ADDED: ClassVar[dict[str, Any]] = {"lateral_m": None, "actions": [], "position": None, "route": None,
                                        "reference_behind_m": 0.0}

    lane: int = Field(0, ge=0)
    speed_mps: float = Field(10.0, ge=0.0, le=100.0)
    # Start here instead of the centre of `lane` (metres right of the road's left edge); `lane` still
    # names the ego's lane for background traffic.
    lateral_m: Optional[float] = Field(None, ge=-MAX_LATERAL_M, le=MAX_LATERAL_M, allow_inf_nan=False)
    actions: list[Action] = Field(default_factory=list)  # speed and lane changes of the camera car
    # Where the camera car starts in lane coordinates (instead of `lane`/`lateral_m` at the road's start) and
    # the roads it drives through; without a route it follows its lane (the first successor at a junction).
    position: Optional[Position] = None
    route: Route = Field(None, min_length=1)
    # The ego's box centre is this far ahead of the point that follows its lane (which also gives its heading):
    # OpenSCENARIO's reference point, usually the rear axle. 0: the box centre follows the lane.
    reference_behind_m: float = Field(0.0, ge=0.0, le=EGO_LENGTH_M, allow_inf_nan=False)

    _route_as_text = field_validator("route", mode="before")(lambda cls, v: _route_ids(v))

    @model_validator(mode="after")
    def _one_form(self) -> "Ego":
        if self.position is not None and self.lateral_m is not None:
            raise ValueError("give either position or lane / lateral_m, not both")
        return self


class Agent(_Grown):
    _ADDED: ClassVar[dict[str, Any]] = {"position": None, "route": None, "reference_behind_m": 0.0}

    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    type: AgentType
    lane: Optional[int] = Field(None, ge=0)
    # metres right of the road's left edge
    lateral_m: Optional[float] = Field(None, ge=-MAX_LATERAL_M, le=MAX_LATERAL_M, allow_inf_nan=False)
    distance_m: Optional[float] = Field(None, ge=-500.0, le=1000.0)  # camera to agent centre along the road at t=0
    speed_mps: float = Field(0.0, ge=0.0, le=100.0)
    size_m: Optional[tuple[SizeItem, SizeItem, SizeItem]] = None  # length, width, height
    actions: list[Action] = Field(default_factory=list)
    position: Optional[Position] = None  # lane coordinates instead of lane / lateral_m + distance_m
    route: Route = Field(None, min_length=1)  # the roads to drive through (default: follow the lane)
    # Like the ego's: the box centre is this far ahead of the point that follows the lane; at most the length.
    reference_behind_m: float = Field(0.0, ge=0.0, le=MAX_SIZE_M, allow_inf_nan=False)

    _route_as_text = field_validator("route", mode="before")(lambda cls, v: _route_ids(v))

    @model_validator(mode="after")
    def _placement(self) -> "Agent":
        if self.reference_behind_m > self.size[0]:
            raise ValueError(f"reference_behind_m {self.reference_behind_m:g} is more than the agent's length "
                             f"({self.size[0]:g} m): the point that follows the lane must be on its box")
        if self.position is not None:
            if self.lane is not None or self.lateral_m is not None or self.distance_m is not None:
                raise ValueError("give either position or lane / lateral_m with distance_m, not both")
            return self
        if (self.lane is None) == (self.lateral_m is None):
            raise ValueError("set exactly one of lane or lateral_m")
        if self.distance_m is None:
            raise ValueError("set distance_m (camera to agent along the road), or place the agent with position")
        return self

    @property
    def size(self) -> tuple[float, float, float]:
        return tuple(self.size_m) if self.size_m is not None else DEFAULT_SIZE_M[self.type]


class Scenario(_Strict):
    version: Literal[1] = 1
    name: str = Field(min_length=1)
    seed: int = Field(0, ge=0, le=2**31 - 1)
    duration_s: float = Field(gt=0.0, le=MAX_DURATION_S)
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
