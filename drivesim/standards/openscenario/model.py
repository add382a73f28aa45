"""The supported subset of an OpenSCENARIO file as plain data (read by `parse.py`, run by `runner.py`).

Every item keeps its XML element (`node`) so that the runner can report a problem at its line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

from drivesim.standards.openscenario.conditions import Trigger
from drivesim.standards.openscenario.xmltree import Element


@dataclass(frozen=True)
class Performance:
    max_speed: float
    max_acceleration: float
    max_deceleration: float


@dataclass(frozen=True)
class EntityDef:
    name: str
    type: str  # a drivesim agent type
    size: tuple[float, float, float]  # BoundingBox length, width, height
    center: tuple[float, float]  # BoundingBox centre relative to the reference point: x forward, y left
    performance: Optional[Performance]
    node: Element


# --- positions -------------------------------------------------------------------------------

@dataclass(frozen=True)
class LanePos:
    road: str
    lane: int
    s: float
    offset: float  # along OpenDRIVE's t (+ left of the reference line)
    heading: Optional[tuple[str, float]]  # Orientation (type, h) or None
    node: Element


@dataclass(frozen=True)
class RoadPos:
    road: str
    s: float
    t: float
    heading: Optional[tuple[str, float]]
    node: Element


@dataclass(frozen=True)
class WorldPos:
    x: float
    y: float
    h: float
    node: Element
    has_h: bool = True  # False: no h given (on a road network: the lane's direction there)


@dataclass(frozen=True)
class RelativeRoadPos:
    entity: str
    ds: float  # along the entity's road, in its s direction
    dt: float  # towards the road's +t
    heading: Optional[tuple[str, float]]
    node: Element


@dataclass(frozen=True)
class RelativeLanePos:
    entity: str
    d_lane: int
    ds: float  # along the road's s; with `ds_lane`: along the lane, in the entity's driving direction
    offset: float
    node: Element
    ds_lane: bool = False


@dataclass(frozen=True)
class RelativeObjectPos:
    entity: str
    dx: float  # along the entity's heading
    dy: float  # to its left
    node: Element


@dataclass(frozen=True)
class RoutePos:
    """RoutePosition: `path_s` metres along a route from its first waypoint (road s, as esmini's pathS), in
    lane `lane` there with `offset` (FromLaneCoordinates), or at road `t` (FromRoadCoordinates, lane None)."""

    route: RouteAct
    path_s: float
    lane: Optional[int]
    offset: float  # FromLaneCoordinates: from the lane's centre towards +t; FromRoadCoordinates: t
    heading: Optional[tuple[str, float]]
    node: Element


Position = Union[LanePos, RoadPos, WorldPos, RelativeLanePos, RelativeObjectPos, RelativeRoadPos, RoutePos]


# --- actions ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Dynamics:
    shape: str  # linear | cubic | sinusoidal | step
    dimension: str  # time | rate | distance
    value: float


@dataclass(frozen=True)
class SpeedAct:
    dynamics: Dynamics
    absolute: Optional[float]  # AbsoluteTargetSpeed, else RelativeTargetSpeed below
    entity: Optional[str] = None
    value: float = 0.0
    value_type: str = "delta"  # delta | factor
    continuous: bool = False
    node: Optional[Element] = None


@dataclass(frozen=True)
class LaneChangeAct:
    dynamics: Dynamics
    absolute_lane: Optional[int]  # AbsoluteTargetLane (an OpenDRIVE lane id), else relative below
    entity: Optional[str] = None
    value: int = 0  # lanes to the left of `entity`'s lane, seen in its driving direction
    target_offset: float = 0.0
    node: Optional[Element] = None


@dataclass(frozen=True)
class LaneOffsetAct:
    shape: str
    max_lateral_acc: float
    absolute: Optional[float]  # offset from the centre of the entity's lane (+ left in t), else relative
    entity: Optional[str] = None
    value: float = 0.0  # metres left of `entity`
    node: Optional[Element] = None


@dataclass(frozen=True)
class TeleportAct:
    position: Position
    node: Element


@dataclass(frozen=True)
class EnvironmentAct:
    time_of_day: Optional[str]  # day | night; None: the environment has no TimeOfDay (nothing drivesim shows)
    node: Element


@dataclass(frozen=True)
class RouteAct:
    """AssignRouteAction: the roads its waypoints lie on, driven in order (drivesim.road.route)."""

    waypoints: tuple[Position, ...]
    name: str
    node: Element


@dataclass(frozen=True)
class SyncAct:
    """SynchronizeAction: reach `target` when `master` reaches `master_target`, ending at `final_speed`."""

    master: str
    master_target: Position
    target: Position
    final_speed: Optional[tuple[str, float]]  # (absolute | delta | factor, value); None: no FinalSpeed
    node: Element
    tolerance: float = 0.0  # targetTolerance: metres before its target that count as there (as esmini)
    tolerance_master: float = 0.0  # targetToleranceMaster: the same for the master


PrivateAct = Union[SpeedAct, LaneChangeAct, LaneOffsetAct, TeleportAct, RouteAct, SyncAct]


@dataclass(frozen=True)
class InitAction:
    entity: Optional[str]  # None for a global action
    action: Union[PrivateAct, EnvironmentAct]


# --- storyboard ------------------------------------------------------------------------------

@dataclass
class ActionDef:
    name: str
    actors: list[str]  # the maneuver group's actors (empty for a global action)
    action: Union[PrivateAct, EnvironmentAct]
    node: Element


@dataclass
class EventDef:
    name: str
    priority: str  # override | skip | parallel
    max_executions: int
    actions: list[ActionDef]
    start_trigger: Trigger  # an absent StartTrigger is one that is always true
    node: Element


@dataclass
class ManeuverDef:
    name: str
    events: list[EventDef]
    node: Element


@dataclass
class ManeuverGroupDef:
    name: str
    max_executions: int
    actors: list[str]
    maneuvers: list[ManeuverDef]
    node: Element


@dataclass
class ActDef:
    name: str
    groups: list[ManeuverGroupDef]
    start_trigger: Optional[Trigger]  # None: the act starts with the story
    stop_trigger: Optional[Trigger]
    node: Element


@dataclass
class StoryDef:
    name: str
    acts: list[ActDef]
    node: Element


@dataclass
class ScenarioDef:
    file: Path
    name: str
    entities: dict[str, EntityDef]  # in file order
    ego: str
    logic_file: Path
    logic_node: Element
    init: list[InitAction]
    stories: list[StoryDef]
    stop_trigger: Optional[Trigger]
    warnings: list[str] = field(default_factory=list)
