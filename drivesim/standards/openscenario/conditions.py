"""OpenSCENARIO conditions on a straight road, evaluated each frame as esmini evaluates them.

Measurements use the road frame of `opendrive.RoadFrame`: `u` metres forward along the ego's driving
direction, `lateral` metres right of the road's left edge. Every entity drives along the road, so an
entity's own frame is the road frame (its yaw during a lane change, a few degrees, is not rotated into
distances). As in esmini:
- distances are between reference points (OpenSCENARIO's, e.g. the rear axle), or between the
  bounding boxes with `freespace="true"`; euclidean distances are signed + when the target is ahead;
- `coordinateSystem` entity / road / lane give the same numbers on a straight road with every entity
  heading along it; the default is entity, `alongRoute="true"` (1.0) means road; the default
  `relativeDistanceType` is euclidianDistance (1.0: cartesianDistance);
- RelativeDistanceCondition compares |distance|; TimeHeadwayCondition is distance / speed of the
  triggering entity, undefined (false) when the reference is behind or the entity stands still;
  TimeToCollisionCondition is distance / closing speed, undefined (false) when not closing;
- rules compare with esmini's tolerance of 1e-6;
- `conditionEdge` rising / falling / risingOrFalling compare with the previous evaluation and are
  never true on the first one; `delay` reports the value of `delay` seconds earlier (a one-frame pulse
  included).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Optional, Protocol

from drivesim.standards.openscenario.params import RULES
from drivesim.standards.openscenario.xmltree import Element

SMALL = 1e-6  # esmini's SMALL_NUMBER
STAND_STILL_MPS = 1e-3  # esmini's STAND_STILL_THRESHOLD


@dataclass(frozen=True)
class EntityState:
    """One entity at one time, in the road frame (see the module docstring)."""

    u: float  # reference point, forward
    lateral: float  # reference point, right of the road's left edge
    speed: float
    lateral_speed: float  # + to the right
    acceleration: float  # along the road
    lateral_acceleration: float
    length: float
    width: float
    center_u: float  # bounding-box centre
    center_lateral: float
    standstill_s: float  # how long it has stood still (0 while moving)
    odometer: float
    # On a road network (`network_runner.py`) u and lateral are along / across the entity's own lane path, and
    # these give the world: its reference point and box centre (x, y), heading, and `along(x, y) -> (u, lateral)`
    # of any world point in its path's frame (its road / route coordinates).
    world: Optional["WorldPoint"] = None
    center_world: Optional["WorldPoint"] = None
    heading: float = 0.0
    along: Optional[Callable[[float, float], tuple[float, float]]] = None


class WorldPoint(NamedTuple):
    """A point of a road network's world frame (x east, y north), as `World.point` gives it there."""

    x: float
    y: float


class World(Protocol):
    def state(self, entity: str) -> EntityState: ...

    def point(self, position: Any) -> tuple[float, float]: ...  # a Position -> (u, lateral)


# --- distances ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class DistanceSpec:
    kind: str  # euclidean | longitudinal | lateral
    freespace: bool
    system: str = "entity"  # entity | road | lane (on a road network: lane is measured as road)


def distance(a: EntityState, b: EntityState | tuple[float, float], spec: DistanceSpec) -> float:
    """Signed distance from a to b (an entity or a point (u, lateral)): + when b is ahead / to the left."""
    if a.along is not None:
        b = _in_frame_of(a, b, spec)
    if isinstance(b, EntityState):
        bu, blat, bl, bw = ((b.center_u, b.center_lateral, b.length, b.width) if spec.freespace
                            else (b.u, b.lateral, 0.0, 0.0))
    else:
        (bu, blat), bl, bw = b, 0.0, 0.0
    au, alat, al, aw = ((a.center_u, a.center_lateral, a.length, a.width) if spec.freespace
                        else (a.u, a.lateral, 0.0, 0.0))
    du, dlat = bu - au, blat - alat
    gap_u = math.copysign(max(0.0, abs(du) - (al + bl) / 2), du)
    gap_lat = math.copysign(max(0.0, abs(dlat) - (aw + bw) / 2), dlat)
    if spec.kind == "longitudinal":
        return gap_u
    if spec.kind == "lateral":
        return -gap_lat  # OpenSCENARIO's lateral axis points left
    if spec.freespace and (gap_u == 0.0 and gap_lat == 0.0):
        return 0.0
    return (1.0 if du > 0 else -1.0) * math.hypot(gap_u, gap_lat)


def _in_frame_of(a: EntityState, b: Any, spec: DistanceSpec) -> Any:
    """On a road network: b (an entity or a WorldPoint) in a's frame, as `distance` measures on a straight road.
    Road / lane: along and across a's lane path (its route); entity: a's heading and its right; a euclidean
    distance between reference points is the world distance either way."""
    points = (b.world, b.center_world) if isinstance(b, EntityState) else (b, b)
    if spec.system == "entity":
        c, s, o = math.cos(a.heading), math.sin(a.heading), a.world
        (u, lat), (cu, clat) = [(a.u + (p.x - o.x) * c + (p.y - o.y) * s, a.lateral + (p.x - o.x) * s - (p.y - o.y) * c)
                                for p in points]
    else:
        (u, lat), (cu, clat) = a.along(*points[0]), a.along(*points[1])
    if not isinstance(b, EntityState):
        return (u, lat)
    return EntityState(u, lat, b.speed, b.lateral_speed, b.acceleration, b.lateral_acceleration, b.length, b.width,
                       cu, clat, b.standstill_s, b.odometer)


# --- condition specs: each knows how to measure itself for one triggering entity -------------------

@dataclass(frozen=True)
class Triggering:
    rule: str  # any | all
    entities: tuple[str, ...]


@dataclass(frozen=True)
class EntityCondition:
    """ByEntityCondition: `test(world, entity) -> bool | None` (None: undefined, counts as false)."""

    triggering: Triggering
    test: Callable[[World, str], bool | None]
    entity_refs: tuple[str, ...] = ()  # entities it also reads (checked to exist)

    def holds(self, world: World) -> bool:
        results = (self.test(world, e) for e in self.triggering.entities)
        if self.triggering.rule == "all":
            return all(r is True for r in results)
        return any(r is True for r in results)


def relative_distance(ref: str, spec: DistanceSpec, rule: str, value: float) -> Callable[[World, str], bool]:
    return lambda w, e: RULES[rule](abs(distance(w.state(e), w.state(ref), spec)), value)


def time_headway(ref: str, spec: DistanceSpec, rule: str, value: float) -> Callable[[World, str], bool | None]:
    def test(w: World, e: str) -> bool | None:
        me, d = w.state(e), distance(w.state(e), w.state(ref), spec)
        if d < 0 or me.speed < SMALL:
            return None
        return RULES[rule](abs(d / me.speed), value)
    return test


def time_to_collision(target: str | None, position: Any, spec: DistanceSpec, rule: str,
                      value: float) -> Callable[[World, str], bool | None]:
    def test(w: World, e: str) -> bool | None:
        me = w.state(e)
        if target is not None:
            other = w.state(target)
            d = distance(me, other, spec)
            closing = me.speed - other.speed if abs(other.speed) > SMALL else me.speed
        else:
            d, closing = distance(me, w.point(position), spec), me.speed
        if abs(d) < SMALL or abs(closing) < SMALL or d / closing < 0:
            return None
        return RULES[rule](d / closing, value)
    return test


def reach_position(position: Any, tolerance: float) -> Callable[[World, str], bool]:
    spec = DistanceSpec("euclidean", False)  # between reference points: |distance| is the plain distance
    return lambda w, e: abs(distance(w.state(e), w.point(position), spec)) < tolerance


def distance_to(position: Any, spec: DistanceSpec, rule: str, value: float) -> Callable[[World, str], bool]:
    return lambda w, e: RULES[rule](abs(distance(w.state(e), w.point(position), spec)), value)


def _directional(state: EntityState, direction: str | None, along: str, across: str) -> float:
    if direction == "lateral":
        return -getattr(state, across)  # OpenSCENARIO's lateral axis points left
    if direction == "vertical":
        return 0.0
    return getattr(state, along)


def speed(rule: str, value: float, direction: str | None) -> Callable[[World, str], bool]:
    return lambda w, e: RULES[rule](_directional(w.state(e), direction, "speed", "lateral_speed"), value)


def relative_speed(ref: str, rule: str, value: float, direction: str | None) -> Callable[[World, str], bool]:
    def test(w: World, e: str) -> bool:
        mine = _directional(w.state(e), direction, "speed", "lateral_speed")
        return RULES[rule](mine - _directional(w.state(ref), direction, "speed", "lateral_speed"), value)
    return test


def acceleration(rule: str, value: float, direction: str | None) -> Callable[[World, str], bool]:
    def test(w: World, e: str) -> bool:
        s = w.state(e)
        if direction is None:  # esmini: the magnitude, signed by the longitudinal part
            a = math.copysign(math.hypot(s.acceleration, s.lateral_acceleration), s.acceleration or 1.0)
        else:
            a = _directional(s, direction, "acceleration", "lateral_acceleration")
        return RULES[rule](a, value)
    return test


def stand_still(duration: float) -> Callable[[World, str], bool]:
    return lambda w, e: w.state(e).standstill_s > duration


def traveled_distance(value: float) -> Callable[[World, str], bool]:
    return lambda w, e: w.state(e).odometer >= value


@dataclass(frozen=True)
class SimulationTime:
    rule: str
    value: float


@dataclass(frozen=True)
class StoryboardState:
    element_type: str  # story | act | maneuverGroup | maneuver | event | action
    ref: str
    state: str  # startTransition | endTransition | stopTransition | skipTransition | completeState | ...


@dataclass(frozen=True)
class StaticValue:
    """A condition whose value never changes while the scenario runs (e.g. a ParameterCondition)."""

    value: bool


ConditionSpec = Any  # EntityCondition | SimulationTime | StoryboardState | StaticValue


@dataclass
class Condition:
    """One <Condition> with its edge and delay memory (esmini's OSCCondition)."""

    name: str
    delay: float
    edge: str  # none | rising | falling | risingOrFalling
    spec: ConditionSpec
    node: Element
    evaluated: bool = False  # esmini: edges are false until the condition was evaluated once
    last: bool = False
    history: list[tuple[float, bool]] = field(default_factory=list)  # (time, edge value) at changes
    cursor: int = 0
    value: bool = False
    # StoryboardElementStateCondition: (state, transition) changes of the element since the last evaluation
    changes: list[tuple[str, str]] = field(default_factory=list)
    latest: tuple[str, str] | None = None

    def evaluate(self, t: float, check: Callable[["Condition"], bool]) -> bool:
        raw = check(self)
        if self.edge == "none":
            edged = raw
        elif not self.evaluated:
            edged = False
        elif self.edge == "rising":
            edged = raw and not self.last
        elif self.edge == "falling":
            edged = self.last and not raw
        else:
            edged = raw != self.last
        self.last, self.evaluated = raw, True
        if not self.history or self.history[-1][1] != edged:
            self.history.append((t, edged))
        self.value = self._delayed(t - self.delay)
        return self.value

    def _delayed(self, t: float) -> bool:
        """esmini's ConditionDelay: true if any value registered up to t since the last look was true."""
        if not self.history:
            return False
        if self.cursor >= len(self.history):
            return self.history[-1][1]
        if t > self.history[self.cursor][0] - SMALL:
            out = False
            while self.cursor < len(self.history) and t > self.history[self.cursor][0] - SMALL:
                out |= self.history[self.cursor][1]
                self.cursor += 1
            return out
        return self.history[self.cursor - 1][1] if self.cursor > 0 else False

    def reset(self) -> None:
        """For the element's next execution (esmini: history and value cleared, edge memory kept)."""
        self.history.clear()
        self.cursor = 0
        self.value = False
        self.changes.clear()


@dataclass
class Trigger:
    """ConditionGroups OR-ed, the conditions of a group AND-ed; `default` when there are no groups."""

    groups: list[list[Condition]]
    default: bool
    node: Element | None = None

    def evaluate(self, t: float, check: Callable[[Condition], bool]) -> bool:
        if not self.groups:
            return self.default
        result = False
        for group in self.groups:
            value = bool(group)
            for cond in group:
                # esmini: once a group is false only conditions with a delay are still evaluated
                if value or cond.delay > 0:
                    value = cond.evaluate(t, check) and value
            result = result or value
        if result:
            for group in self.groups:
                for cond in group:
                    cond.evaluated = False  # the next execution starts a fresh edge
        return result

    def reset(self) -> None:
        for group in self.groups:
            for cond in group:
                cond.reset()

    def conditions(self) -> list[Condition]:
        return [c for g in self.groups for c in g]
