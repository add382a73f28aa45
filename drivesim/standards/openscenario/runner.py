"""Run an OpenSCENARIO storyboard frame by frame and record what it does as timed drivesim actions.

The runner steps the world at the scenario's frame rate, as esmini does with a fixed time step. It places
the entities on the road (<Init>), then each frame, in esmini's order:
1. the storyboard's triggers are evaluated on the world as it is at that frame (`storyboard.py`: the life
   cycle of stories, acts, maneuver groups, events and actions); an event that fires starts its actions
   at that frame's time, and an action ends any running action of its entity on the same domain,
   longitudinal or lateral;
2. running actions are stepped: one whose transition is over ends, and the end propagates.

Each started action is turned into a change of its entity's speed or lateral position at that time
(a speed transition half a step earlier, so that positions are esmini's sums of steps: `speed_start`),
with a duration and a shape (`format.Action`); the world's state at any time is computed from these
changes (`motion.py`) with the very profiles drivesim's engine uses, so the scenario that comes out
runs the same motion in drivesim. Transition durations follow esmini: rate -> peak rate
(linear |d|/rate, cubic 1.5 |d|/rate, sinusoidal pi |d| / 2 rate), distance -> speed: 2 d / (v0 + v1),
lane change: d / speed at its start; LaneOffsetAction: from maxLateralAcc; a vehicle's Performance
caps the peak acceleration (the transition is stretched, as esmini's SetMaxRate does).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from drivesim.errors import ScenarioError
from drivesim.road import Road
from drivesim.scenario.road import RoadFrame, road_st
from drivesim.standards.opendrive import read_road, road_frame, road_ids
from drivesim.standards.openscenario import conditions as cond
from drivesim.standards.openscenario.conditions import SMALL, STAND_STILL_MPS, Condition, EntityState
from drivesim.standards.openscenario.model import (Dynamics, EnvironmentAct, LaneChangeAct, LaneOffsetAct, LanePos,
                                                  RelativeLanePos, RelativeObjectPos, RelativeRoadPos, RoadPos,
                                                  RouteAct, RoutePos, ScenarioDef, SpeedAct, SyncAct, TeleportAct,
                                                  WorldPos)
from drivesim.standards.openscenario.motion import PEAK, SHAPES, Change, Motion, rate
from drivesim.standards.openscenario.storyboard import FiredEvent, Node, Storyboard
from drivesim.standards.openscenario.xmltree import Element, located

HEADING_TOLERANCE_RAD = 1e-3


class NeedsNetwork(Exception):
    """The scenario does not fit one straight road: `network_runner.NetworkRunner` runs it on the road network."""


@dataclass
class Run:
    """A started action: which property of which entity it drives, and until when."""

    action: Any
    entity: Optional[str]
    prop: Optional[str]  # speed | lateral | None (environment)
    end: float = math.inf
    end_lag: int = 0  # frames after `end` at which it is seen to end (esmini's step order)
    follows: Optional[str] = None  # continuous RelativeTargetSpeed: the entity it follows
    transform: Any = None
    done: bool = False
    node: Optional[Node] = None  # its storyboard action; None for an <Init> action
    pending: list = field(default_factory=list)  # (prop, Change) it records when their time comes (synchronise)


@dataclass
class RunResult:
    frame: RoadFrame
    fps: float
    duration_s: float
    stopped_by_trigger: bool
    ego: str
    motions: dict[str, Motion]  # every entity, the ego included, in file order
    time_of_day: str
    environment_events: list[tuple[float, str, Element]]
    events: list[FiredEvent]
    warnings: list[str]
    paths: Optional[dict] = None  # on a road network (network_runner.py): each entity's LanePath; frame is None


class Runner:
    def __init__(self, definition: ScenarioDef, fps: float, max_duration_s: float):
        self.d, self.fps, self.max_duration = definition, fps, max_duration_s
        self.dt = 1.0 / fps
        self.t = 0.0
        self.warnings = list(definition.warnings)
        self.env_events: list[tuple[float, str, Element]] = []
        self.time_of_day = "day"
        self.runs: list[Run] = []  # running actions, init ones included
        self._states: dict[str, EntityState] = {}
        self._still_since: dict[str, Optional[float]] = {}
        self.motions: dict[str, Motion] = {}
        self.road: Road
        self.road_element: Element  # its <road>, where errors about it point
        self.frame: RoadFrame
        self.dirs: dict[str, int] = {}
        self.st: dict[str, tuple[float, float]] = {}  # reference point (s, t) at t = 0

    # --- set-up ------------------------------------------------------------------------------

    def setup(self) -> None:
        if _uses_network(self.d):
            raise NeedsNetwork()
        teleports = self._teleports()
        ego_tp = teleports[self.d.ego]
        try:
            self.road, self.road_element = read_road(self.d.logic_file, self._road_of(ego_tp.position),
                                                     ego_tp.position.node)
        except ScenarioError:
            raise NeedsNetwork() from None  # a curved road, several roads: the network runner says what is wrong
        if any(isinstance(tp.position, (LanePos, RoadPos)) and tp.position.road != self.road.id
               for tp in teleports.values()) or (len(road_ids(self.d.logic_file)) > 1 and any(
                   isinstance(tp.position, WorldPos) for tp in teleports.values())):
            raise NeedsNetwork()  # on several roads (a world point may lie on any of them)
        for name in teleports:  # in <Init> order, so relative positions see the entities placed before them
            s, t, direction = self._absolute(name, teleports[name].position)
            self.st[name], self.dirs[name] = (s, t), direction
        ego_t, ego_dir = self.st[self.d.ego][1], self.dirs[self.d.ego]
        ego_lane = self._lane_at(ego_t)
        lanes_used = [self._lane_at(t) for n, (_, t) in self.st.items() if self.dirs[n] == ego_dir]
        beyond = any(lane != 0 and (lane > 0) != (ego_lane > 0) for lane in lanes_used)
        try:
            self.frame = road_frame(self.road, self.road_element, ego_lane, ego_dir, ego_tp.node, cross_centre=beyond)
        except ScenarioError:
            raise NeedsNetwork() from None  # lanes of several widths, ...: not version 1's road
        if any(self.dirs[name] != self.frame.direction for name in teleports):
            raise NeedsNetwork()  # oncoming traffic: lanes of both directions
        for name, entity in self.d.entities.items():  # Motion in entity order (the labels' order)
            s, t = self.st[name]
            cx, cy = entity.center
            self.motions[name] = Motion(entity, self.frame.forward(s) + cx, self.frame.lateral(t) - cy, 0.0)
            self._still_since[name] = 0.0
        self._init_actions()

    def _teleports(self) -> dict[str, TeleportAct]:
        """Each entity's <Init> TeleportAction, in <Init> order; every entity must have exactly one."""
        teleports: dict[str, TeleportAct] = {}
        for ia in self.d.init:
            if isinstance(ia.action, TeleportAct):
                if ia.entity in teleports:
                    raise located(ia.action.node, f"{ia.entity} is teleported twice in <Init>", "keep one")
                teleports[ia.entity] = ia.action
        for name, entity in self.d.entities.items():
            if name not in teleports:
                raise located(entity.node, f"entity {name} has no TeleportAction in <Init>",
                              "place every entity with a <TeleportAction> in <Init>")
        return teleports

    def _init_actions(self, skip: tuple = ()) -> None:
        """Run <Init>'s actions other than teleports (and `skip`), at t = 0."""
        for ia in self.d.init:
            if isinstance(ia.action, EnvironmentAct):
                self.time_of_day = ia.action.time_of_day or self.time_of_day
            elif not isinstance(ia.action, (TeleportAct, *skip)):
                run = Run(ia.action, ia.entity, self._prop(ia.action))
                self._end_conflicts(run, 0.0)
                self._execute(run, 0.0, init=True)
                self.runs.append(run)

    def _road_of(self, pos: Any) -> str:
        if isinstance(pos, (LanePos, RoadPos)):
            return pos.road
        ids = road_ids(self.d.logic_file)
        if len(ids) != 1 or not isinstance(pos, WorldPos):
            raise NeedsNetwork()  # which road a WorldPosition is on: the network's projection says
        return ids[0]

    def _direction(self, heading: Optional[tuple[str, float]], lane_dir: int, node: Element) -> int:
        kind, h = heading or ("relative", 0.0)
        if kind == "relative":
            turn = math.remainder(h, 2 * math.pi)
            base = lane_dir
        else:
            turn = math.remainder(h - self.road.planView.geometries[0].hdg, 2 * math.pi)
            base = 1
        if abs(turn) < HEADING_TOLERANCE_RAD:
            return base
        if abs(abs(turn) - math.pi) < HEADING_TOLERANCE_RAD:
            return -base
        raise located(node, f"heading {h:g} rad is not along the road",
                      "entities drive along the road: use heading 0 (or pi) relative to it")

    def _absolute(self, name: str, pos: Any) -> tuple[float, float, int]:
        """A Position at t = 0 -> (s, t, driving direction along s)."""
        road = self.road
        if isinstance(pos, RoutePos):
            raise NeedsNetwork()  # a route's path: the network runner follows it
        if isinstance(pos, (LanePos, RoadPos)) and pos.road != road.id:
            raise located(pos.node, f"{name} is on road {pos.road}, the ego on road {road.id}",
                          "put every entity on the ego's road (one straight road)")
        if isinstance(pos, LanePos):
            if not self._has_lane(pos.lane):
                raise located(pos.node, f"lane {pos.lane} does not exist on road {road.id}",
                              f"use one of {sorted(lane for lane in road.laneSections[0].lanes if lane)}")
            t = self._centre_t(pos.lane) + pos.offset
            return pos.s, t, self._direction(pos.heading, road.direction(pos.lane), pos.node)
        if isinstance(pos, RoadPos):
            return pos.s, pos.t, self._direction(pos.heading, 1, pos.node)
        if isinstance(pos, WorldPos):
            s, t = road_st(road, pos.x, pos.y)
            return s, t, self._direction(("absolute", pos.h), 1, pos.node)
        if pos.entity not in self.st:
            raise located(pos.node, f"{pos.entity} is not placed yet", "teleport it earlier in <Init>")
        (rs, rt), rdir = self.st[pos.entity], self.dirs[pos.entity]
        if isinstance(pos, RelativeLanePos):
            lane_id = step_lanes(self._lane_at(rt), pos.d_lane)
            if not self._has_lane(lane_id):
                raise located(pos.node, f"lane {lane_id} does not exist on road {road.id}")
            return rs + pos.ds, self._centre_t(lane_id) + pos.offset, rdir
        if isinstance(pos, RelativeRoadPos):  # its lane's direction unless an Orientation says otherwise
            s, t = rs + pos.ds, rt + pos.dt
            lane_id = self._lane_at(t)
            if not self._has_lane(lane_id):
                raise located(pos.node, f"t={t:g} is beside every lane of road {road.id}", "give a dt onto a lane")
            return s, t, self._direction(pos.heading, road.direction(lane_id), pos.node)
        assert isinstance(pos, RelativeObjectPos)
        return rs + pos.dx * rdir, rt + pos.dy * rdir, rdir

    # --- the world ---------------------------------------------------------------------------

    def state(self, name: str) -> EntityState:
        if name not in self._states:
            m, t = self.motions[name], np.array(self.t)
            speed, lateral = m.profile("speed"), m.profile("lateral")
            cx, cy = m.entity.center
            u_c = m.u0 + float(speed.integral(t))
            lat_c = float(lateral.value(t))
            h = 1e-4
            lat_acc = float((rate(lateral, float(t) + h) - rate(lateral, float(t))) / h)
            still = self._still_since[name]
            self._states[name] = EntityState(  # speed as esmini has it at t, the position from the profile
                u=u_c - cx, lateral=lat_c + cy, speed=m.value("speed", self.t), lateral_speed=rate(lateral, float(t)),
                acceleration=m.rate("speed", self.t), lateral_acceleration=lat_acc, length=m.entity.size[0],
                width=m.entity.size[1], center_u=u_c, center_lateral=lat_c,
                standstill_s=0.0 if still is None else self.t - still, odometer=u_c - m.u0)
        return self._states[name]

    def point(self, pos: Any) -> tuple[float, float]:
        """A Position (now) -> (u, lateral) of the point."""
        if isinstance(pos, (LanePos, RoadPos, WorldPos)):
            s, t, _ = self._absolute("the position", pos)
            return self.frame.forward(s), self.frame.lateral(t)
        ref = self.state(pos.entity)
        if isinstance(pos, RelativeObjectPos):
            return ref.u + pos.dx, ref.lateral - pos.dy
        if isinstance(pos, RelativeRoadPos):
            return ref.u + pos.ds * self.frame.direction, self.frame.lateral(self.frame.t_of(ref.lateral) + pos.dt)
        lane_id = step_lanes(self._lane_at(self.frame.t_of(ref.lateral)), pos.d_lane)
        if not self._has_lane(lane_id):
            raise located(pos.node, f"lane {lane_id} does not exist on road {self.road.id}")
        return ref.u + pos.ds * self.frame.direction, self.frame.lateral(self._centre_t(lane_id) + pos.offset)

    def _lane_of(self, name: str) -> int:
        return self._lane_at(self.frame.t_of(self.state(name).lateral))

    # The road's lanes are the same all along it (opendrive.read_road refuses others): read at s = 0.

    def _lane_at(self, t: float) -> int:
        """The lane holding t; 0 (the centre line's id) beyond the road."""
        return self.road.lane_at(0.0, t) or 0

    def _has_lane(self, lane_id: int) -> bool:
        return lane_id != 0 and lane_id in self.road.laneSections[0].lanes

    def _centre_t(self, lane_id: int) -> float:
        return float(self.road.lane_center_t(lane_id, 0.0)[0])

    # --- actions -----------------------------------------------------------------------------

    @staticmethod
    def _prop(action: Any) -> Optional[str]:
        if isinstance(action, SpeedAct):
            return "speed"
        if isinstance(action, (LaneChangeAct, LaneOffsetAct)):
            return "lateral"
        return None

    def _record(self, entity: str, prop: str, change: Change) -> None:
        self.motions[entity].add(prop, change)
        if prop == "speed":  # continuous RelativeTargetSpeed: followers copy every later change of their leader
            for run in self.runs:
                if run.follows == entity and not run.done and run.entity != entity:
                    copy = Change(change.at, change.duration, run.transform(change.target), change.shape, True,
                                  change.node, lead=change.lead)
                    self._record(run.entity, "speed", copy)

    def _execute(self, run: Run, t: float, init: bool = False) -> None:
        a = run.action
        if isinstance(a, EnvironmentAct):
            if a.time_of_day is None:  # an environment of weather only: warned about when it was read
                pass
            elif t == 0.0:
                self.time_of_day = a.time_of_day
            else:
                self.env_events.append((t, a.time_of_day, a.node))
            run.end = t
            return
        m = self.motions[run.entity]
        if isinstance(a, SpeedAct):
            self._speed(run, a, m, t, init)
        elif isinstance(a, LaneChangeAct):
            self._lane_change(run, a, m, t)
        elif isinstance(a, LaneOffsetAct):
            self._lane_offset(run, a, m, t)

    def _speed(self, run: Run, a: SpeedAct, m: Motion, t: float, init: bool) -> None:
        v0 = m.value("speed", t)  # with what an action started earlier in this frame did (a step: at once)
        if a.absolute is not None:
            v1 = a.absolute
        else:
            ref = self.motions[a.entity].value("speed", t)
            run.transform = (lambda v, d=a.value: v + d) if a.value_type == "delta" else (lambda v, f=a.value: v * f)
            v1 = run.transform(ref)
            if a.continuous:
                if self.motions[a.entity].busy("speed", t):
                    raise located(a.node, f"a continuous RelativeTargetSpeed that starts while {a.entity} is "
                                  "changing speed is not supported", "start it when the reference drives steadily")
                run.follows = a.entity
        perf = m.entity.performance
        if perf is not None:
            v1 = max(-perf.max_speed, min(perf.max_speed, v1))
        if not 0.0 <= v1 <= 100.0:
            raise located(a.node, f"target speed {v1:g} m/s for {run.entity}",
                          "drivesim's speeds are 0..100 m/s along the road (no reversing)")
        dyn, dv = a.dynamics, v1 - v0
        shape = dyn.shape
        duration = transition(dyn, abs(dv), (v0 + v1) / 2, a.node, "speed")  # distance: at the mean speed
        if perf is not None and duration > SMALL:  # esmini stretches a transition past the vehicle's limits
            limit = perf.max_acceleration if dv > 0 else perf.max_deceleration
            peak = PEAK[shape] * abs(dv) / duration
            if limit > SMALL and peak > limit:
                duration *= peak / limit
        if duration <= SMALL:
            shape, duration = "step", 0.0
        if init and shape == "step" and not m.changes["speed"]:
            m.set_initial("speed", v1)
            self._states.clear()  # <Init>: before the first frame's snapshot
        else:
            start = self.speed_start(run.entity, t, duration)
            self._record(run.entity, "speed", Change(start, duration, v1, SHAPES[shape], False, a.node, lead=t - start))
        run.end = math.inf if run.follows else t + duration  # a continuous action runs until something ends it

    def speed_start(self, entity: str, t: float, duration: float) -> float:
        """When a speed transition that esmini starts in the step at t is recorded to start: half a step earlier.

        esmini steps an action in the step its trigger held (the speed after that step is the transition's
        value one step in) and then moves the entity by that speed * dt, so its position is the sum of the
        speeds at the ends of the steps: the integral of the same transition begun half a step earlier (exactly
        for a linear one). The recorded profile, the speed drivesim's engine shows, so leads esmini's speed by
        half a step during the transition; `Motion.value` reads the runner's speeds back by that lead (the
        change's `lead`, t - start). A step change starts at t. Never before 0 s or an earlier change of the
        entity's speed (the new one governs)."""
        if duration <= SMALL:
            return t
        latest = self.motions[entity].profile("speed").segments[-1:]  # sorted by start: the latest change's
        return max(round(t - self.dt / 2, 9), 0.0, *(seg[0] for seg in latest))

    def _lane_change(self, run: Run, a: LaneChangeAct, m: Motion, t: float) -> None:
        speed, current = m.value("speed", t), m.value("lateral", t)
        if speed < SMALL:
            raise located(a.node, f"{run.entity} stands still when its lane change starts (at {t:g} s)",
                          "esmini moves a standing entity sideways not at all: give it a speed first")
        if a.absolute_lane is not None:
            target = a.absolute_lane
        else:
            target = step_lanes(self._lane_of(a.entity), a.value * self.frame.direction)
        if target not in self.frame.lane_ids:
            raise located(a.node, f"the lane change of {run.entity} at {t:g} s goes to lane {target}, which is not "
                          f"one of the lanes beside the ego's ({', '.join(map(str, self.frame.lane_ids))})",
                          "change to a traffic lane next to the ego's")
        cy = m.entity.center[1]
        lateral = self.frame.lateral(self._centre_t(target) + a.target_offset) - cy
        dyn = a.dynamics
        duration = transition(dyn, abs(lateral - current), speed, a.node, "lane")
        shape = SHAPES[dyn.shape] if duration > SMALL else "step"
        lane = self.frame.index(target) if a.target_offset == 0 and cy == 0 else None
        self._record(run.entity, "lateral", Change(t, duration, lateral, shape, False, a.node, lane))
        run.end = t + duration

    def _lane_offset(self, run: Run, a: LaneOffsetAct, m: Motion, t: float) -> None:
        current = m.value("lateral", t)
        if a.absolute is not None:
            lane = self._lane_of(run.entity)
            if not self._has_lane(lane):
                raise located(a.node, f"{run.entity} is not in a lane at {t:g} s")
            t_target = self._centre_t(lane) + a.absolute
        else:
            t_target = self.frame.t_of(self.state(a.entity).lateral) + a.value * self.frame.direction
        lateral = self.frame.lateral(t_target) - m.entity.center[1]
        self._record_offset(run, a, lateral, abs(lateral - current), t)

    def _record_offset(self, run: Run, a: LaneOffsetAct, lateral: float, delta: float, t: float) -> None:
        """A lane offset's change, its duration from maxLateralAcc (see the module docstring)."""
        acc = a.max_lateral_acc
        duration = {"step": 0.0, "linear": math.sqrt(6 * delta / acc), "cubic": math.sqrt(6 * delta / acc),
                    "sinusoidal": math.pi * math.sqrt(delta / (2 * acc))}[a.shape]
        shape = SHAPES[a.shape] if duration > SMALL else "step"
        self._record(run.entity, "lateral", Change(t, duration, lateral, shape, False, a.node))
        run.end, run.end_lag = t + duration, 1  # esmini checks a lane offset's end before stepping it

    def _end_conflicts(self, run: Run, t: float) -> None:
        """An action ends every running action of its entity on the same domain (esmini's Event::Start)."""
        if run.prop is None:
            return
        for other in list(self.runs):
            if not other.done and other is not run and other.entity == run.entity and other.prop == run.prop:
                other.done = True  # replaced at once: the new action takes over, nothing to freeze
                if other.node is not None:
                    self.board.end(other.node, t)

    def _freeze(self, run: Run, t: float) -> None:
        """An action stopped before its end: its entity keeps the speed / position it has now."""
        run.done = True
        if run.prop is not None and t < run.end - SMALL:
            m = self.motions[run.entity]
            self._record(run.entity, run.prop, Change(t, 0.0, m.value(run.prop, t), "step", True, run.action.node))

    def _record_pending(self, t: float) -> None:
        """Changes an action planned for later, recorded in the frame before they start (none if it ended)."""
        for run in self.runs:
            while run.pending and not run.done and run.pending[0][1].at < t + self.dt - 1e-9:
                prop, change = run.pending.pop(0)
                self._record(run.entity, prop, change)

    def _over(self, run: Run, t: float) -> bool:
        return t + self.dt * (1 - run.end_lag) >= run.end - 1e-9

    # --- what the storyboard calls (storyboard.py) ---------------------------------------------

    def check(self, c: Condition) -> bool:
        spec = c.spec
        if isinstance(spec, cond.SimulationTime):
            return cond.RULES[spec.rule](self.t, spec.value)
        if isinstance(spec, cond.StaticValue):
            return spec.value
        return spec.holds(self)

    def start_action(self, node: Node, t: float) -> None:
        run = Run(node.definition.action, node.actor, self._prop(node.definition.action), node=node)
        self._end_conflicts(run, t)
        node.run = run
        self.runs.append(run)
        self._execute(run, t)

    def stop_action(self, node: Node, t: float) -> None:
        if node.run is not None and not node.run.done:
            self._freeze(node.run, t)

    def finish_if_over(self, node: Node, t: float) -> bool:
        if node.run is None or not self._over(node.run, t):
            return False
        node.run.done = True
        return True

    # --- the loop ------------------------------------------------------------------------------

    def run(self) -> RunResult:
        self.setup()
        self.board = Storyboard(self.d, self)
        self.board.start()
        frames = max(1, math.ceil(self.max_duration * self.fps - 1e-6))
        stopped, duration = False, frames / self.fps
        for k in range(frames):
            self.t = k / self.fps
            self._record_pending(self.t)
            self._states.clear()
            for name in self.motions:
                moving = self.state(name).speed >= STAND_STILL_MPS
                if moving:
                    self._still_since[name] = None
                elif self._still_since[name] is None:
                    self._still_since[name] = self.t
            self._states.clear()
            for name in self.motions:  # the snapshot every condition of this frame sees
                self.state(name)
            if self.board.stop_trigger_holds(self.t):
                if k == 0:
                    raise located(self.d.stop_trigger.node, "the StopTrigger holds at the start (t = 0)",
                                  "a scenario needs some time to run")
                stopped, duration = True, self.t
                break
            self.board.evaluate(self.t)
            for run in list(self.runs):
                if run.node is None and not run.done and self._over(run, self.t):
                    run.done = True  # an <Init> action
            self.board.step(self.t)
            self.runs = [r for r in self.runs if not r.done]
        if not stopped:
            what = "has no StopTrigger" if self.d.stop_trigger is None else "StopTrigger did not fire"
            self.warnings.append(f"{self.d.file}: the scenario {what} within {self.max_duration:g} s; the clip ends there")
        return RunResult(self.frame, self.fps, duration, stopped, self.d.ego, self.motions, self.time_of_day,
                         self.env_events, self.board.events, self.warnings)


def _uses_network(definition: ScenarioDef) -> bool:
    """Whether an element of the scenario only means something on a road network (routes, ...)."""
    actions = [ia.action for ia in definition.init] + [a.action for story in definition.stories
                                                         for act in story.acts for g in act.groups
                                                         for m in g.maneuvers for e in m.events for a in e.actions]
    positions = [a.position for a in actions if isinstance(a, TeleportAct)]
    return (any(isinstance(a, (RouteAct, SyncAct)) for a in actions)
            or any(isinstance(p, RoutePos) or (isinstance(p, RelativeLanePos) and p.ds_lane) for p in positions))


def step_lanes(lane_id: int, steps: int) -> int:
    """OpenDRIVE lane id `steps` lanes towards +t from `lane_id`, skipping the centre lane 0 (as esmini)."""
    target = lane_id + steps
    if target == 0 or (lane_id != 0 and (target > 0) != (lane_id > 0)):
        target = (1 if target - lane_id > 0 else -1) * (abs(target) + 1)
    return target


def transition(dyn: Dynamics, delta: float, speed: float, node: Element, target: str) -> float:
    """Seconds a change of `delta` (m/s or m) takes by its TransitionDynamics, as esmini: time as given,
    rate -> the shape's peak rate, distance -> driven at `speed`; 0 for a step or no change."""
    if dyn.shape == "step" or delta <= SMALL:
        return 0.0
    if dyn.dimension == "time":
        return _non_negative(dyn.value, node)
    if dyn.dimension == "rate":
        if abs(dyn.value) < SMALL:
            raise located(node, f"a rate of 0 never reaches the target {target}", "give a rate > 0")
        return PEAK[dyn.shape] * delta / abs(dyn.value)
    if speed < SMALL:
        raise located(node, f"a {target} change over a distance needs a speed", "use dimension time")
    return _non_negative(dyn.value, node) / speed


def _non_negative(value: float, node: Optional[Element]) -> float:
    if value < 0:
        raise located(node, f"value {value:g} must be >= 0 for this dynamicsDimension")
    return value
