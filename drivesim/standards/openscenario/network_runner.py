"""The OpenSCENARIO runner on a whole OpenDRIVE road network: curved roads, both directions, junctions, routes.

`Runner` (runner.py) runs a scenario on one straight road in drivesim's version-1 road frame. When a
scenario does not fit one (a curved road, entities on several roads or in both directions, routes,
SynchronizeAction, ...), `import_openscenario` runs it here instead, with the same storyboard, conditions
and action timing, in the coordinates drivesim's engine uses on any road (drivesim/scenario/lane_path.py):
- each entity drives a `LanePath`: its lane's chain through lane sections, road links and junctions, along
  its route (AssignRouteAction: the roads of its waypoints, the shortest chain of lane links through them)
  or, without one, its lane's first successor at each junction (drivesim's rule);
- its bounding-box centre is at u metres along that path (u = u0 + the integral of its speed) and r metres
  right of the path lane's centre (its lateral profile: lane changes and offsets move r), so the converted
  YAML (`convert_network.py`: `position`, `route`, the same actions) replays the very same motion;
- it turns as esmini's do, with its lane at its reference point: `BoundingBox/Center` x (`reference_behind`)
  behind the box centre, the converted YAML's `reference_behind_m`; the point at (u - x, r) follows the lane,
  the box centre is x ahead of it along the heading there (drivesim/scenario/motion.py's rule);
- conditions measure along and across the triggering entity's path (coordinateSystem road / lane) or in
  its heading's frame (entity), from world poses (conditions.py);
- SynchronizeAction: when it starts, the master's time T to its position (less targetToleranceMaster) is
  read from the master's motion as recorded so far; the entity's speed then ramps linearly so that it covers
  the distance to its target (less targetTolerance) in T (without FinalSpeed: to 2 d / T - v0; with it, as
  esmini: to an apex speed and then to the final speed at T, both ramps with the same |acceleration|). A
  later change of the master's speed is not followed (esmini re-plans each step).

    from drivesim.standards.openscenario import import_openscenario
    imported = import_openscenario("scenarios/openscenario/left_turn_across.xosc")
    imported.scenario.road.opendrive, imported.scenario.agents[0].route
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import numpy as np

from drivesim.errors import DrivesimError
from drivesim.scenario.format import EGO_LENGTH_M
from drivesim.scenario.lane_path import LanePath, follow_lane, run_lanes
from drivesim.scenario.motion import ahead_of_reference
from drivesim.standards.opendrive.network import read_opendrive
from drivesim.standards.openscenario.conditions import SMALL, EntityState, WorldPoint
from drivesim.standards.openscenario.model import EntityDef, LaneChangeAct, LaneOffsetAct, RouteAct, SyncAct
from drivesim.standards.openscenario.motion import SHAPES, Change, Motion, rate
from drivesim.standards.openscenario.network_places import LaneSpot, PathFrame, Places, Where
from drivesim.standards.openscenario.runner import Run, Runner, RunResult, step_lanes, transition
from drivesim.standards.openscenario.xmltree import Element, located

MAX_SPEED_MPS = 100.0  # drivesim's fastest entity: how far ahead a path must reach
PATH_MARGIN_M = 500.0
SYNC_HORIZON_S = 600.0  # how far ahead a master's arrival is looked for
SYNC_STEP_S = 1e-3


def reference_behind(entity: EntityDef, ego: bool) -> float:
    """How far the box centre is ahead of the point that follows the lane (drivesim's `reference_behind_m`):
    `BoundingBox/Center` x, kept on the box (0 .. its length; the ego's box is drivesim's car)."""
    return min(max(entity.center[0], 0.0), EGO_LENGTH_M if ego else entity.size[0])


class NetworkRunner(Runner):
    """`Runner` on a road network (see the module docstring); `run()` returns paths, no road frame."""

    def setup(self) -> None:
        self.frame = None
        self.network = read_opendrive(self.d.logic_file).network
        self.places = Places(self.network, self._where)
        self.paths: dict[str, LanePath] = {}
        self.frames: dict[str, PathFrame] = {}
        self.ahead = MAX_SPEED_MPS * self.max_duration + PATH_MARGIN_M
        routes = {ia.entity: ia.action for ia in self.d.init if isinstance(ia.action, RouteAct)}
        motions: dict[str, Motion] = {}
        self.motions = motions  # filled in <Init> order: relative positions see the entities placed before them
        for name, tp in self._teleports().items():
            spot, heading = self.places.spot(tp.position, name)
            self.places.check_drivable(spot, heading, tp.position.node, name)
            route = routes.get(name)
            roads = self._route_roads(route, name) if route is not None else None
            self._set_path(name, self._follow(spot, roads, route.node if route else tp.position.node))
            direction = self.network.roads[spot.road].direction(spot.lane)
            entity = self.d.entities[name]
            cx, cy = entity.center
            motions[name] = Motion(entity, self.paths[name].u_start + cx, -spot.offset * direction - cy, 0.0)
            self._still_since[name] = 0.0
            self._states.clear()
        self.motions = {name: motions[name] for name in self.d.entities}  # the labels' order
        self._init_actions(skip=(RouteAct,))

    def run(self) -> RunResult:
        result = super().run()
        result.paths = dict(self.paths)
        return result

    # --- paths --------------------------------------------------------------------------------

    def _set_path(self, name: str, path: LanePath) -> None:
        self.paths[name], self.frames[name] = path, PathFrame(path)

    def _follow(self, spot: LaneSpot, roads: Optional[list[str]], node: Element) -> LanePath:
        try:
            return follow_lane(self.network, spot.road, spot.lane, spot.s, roads, self.ahead)
        except DrivesimError as err:
            message, _, fix = str(err).partition(". Fix: ")
            raise located(node, message, fix) from None

    def _route_roads(self, route: RouteAct, name: str) -> list[str]:
        return self.places.route_roads(route, name)

    def _assign_route(self, name: str, route: RouteAct, t: float) -> None:
        """A route assigned while driving: the path so far, then the route from the lane section it is in."""
        path, u = self.paths[name], self._centre_u(name, t)
        index = int(np.clip(np.searchsorted(path.bounds, u, side="right") - 1, 0, len(path.steps) - 1))
        step, _, s = path.locate(u)
        new = self._follow(LaneSpot(step.road, step.lane, s, 0.0), self._route_roads(route, name), route.node)
        self._set_path(name, LanePath(self.network, path.steps[:index] + new.steps, path.u_start))

    # --- the world ------------------------------------------------------------------------------

    def _centre_u(self, name: str, t: float) -> float:
        m = self.motions[name]
        return m.u0 + float(m.profile("speed").integral(np.array(t)))

    def state(self, name: str) -> EntityState:
        if name in self._states:
            return self._states[name]
        m, t = self.motions[name], np.array(self.t)
        speed, lateral = m.profile("speed"), m.profile("lateral")
        cx, cy = m.entity.center
        u_c, r_c = m.u0 + float(speed.integral(t)), float(lateral.value(t))
        v, lat_rate = m.value("speed", self.t), rate(lateral, float(t))  # speed as esmini has it at t
        path = self.paths[name]
        pose, centre_lateral = path.poses_and_lateral(u_c, r_c)
        behind = reference_behind(m.entity, name == self.d.ego)
        if behind:  # the lane's heading where the entity turns, and its box centre ahead of there (as drivesim)
            pose = ahead_of_reference(path.poses(u_c - behind, r_c), math.atan2(lat_rate, v), behind)
        yaw = float(pose.heading) - math.atan2(lat_rate, v)  # drivesim's heading: the lane's, turned by the lane change
        x, y, c, s = float(pose.x), float(pose.y), math.cos(yaw), math.sin(yaw)
        h = 1e-4
        still = self._still_since[name]
        frame = self.frames[name]
        self._states[name] = EntityState(
            u=u_c - cx, lateral=float(path.lane_lateral(u_c - cx)) + r_c + cy, speed=v, lateral_speed=lat_rate,
            acceleration=m.rate("speed", self.t),
            lateral_acceleration=float((rate(lateral, float(t) + h) - lat_rate) / h),
            length=m.entity.size[0], width=m.entity.size[1], center_u=u_c,
            center_lateral=float(centre_lateral) + r_c, standstill_s=0.0 if still is None else self.t - still,
            odometer=u_c - m.u0, world=WorldPoint(x - cx * c + cy * s, y - cx * s - cy * c),
            center_world=WorldPoint(x, y), heading=yaw, along=_memo(lambda px, py: frame.along(px, py, u_c)))
        return self._states[name]

    def _where(self, name: str, node: Element) -> Where:
        """Where `name`'s reference point is now, in lane coordinates."""
        if name not in self.motions:
            raise located(node, f"{name} is not placed yet", "teleport it earlier in <Init>")
        state = self.state(name)
        m, path = self.motions[name], self.paths[name]
        step, _, s = path.locate(state.u)
        road = self.network.roads[step.road]
        r_ref = float(m.profile("lateral").value(np.array(self.t))) + m.entity.center[1]
        t = float(road.lane_center_t(step.lane, s)[0]) - r_ref * step.direction
        lane = road.lane_at(s, t) or step.lane
        offset = t - float(road.lane_center_t(lane, s)[0])
        return Where(LaneSpot(step.road, lane, s, offset), state.world.x, state.world.y, state.heading,
                     road.direction(lane))

    def point(self, pos: Any) -> WorldPoint:
        return WorldPoint(*self.places.world(pos, "the position"))

    # --- actions ------------------------------------------------------------------------------

    @staticmethod
    def _prop(action: Any) -> Optional[str]:
        if isinstance(action, SyncAct):
            return "speed"
        return Runner._prop(action)

    def _execute(self, run: Run, t: float, init: bool = False) -> None:
        a = run.action
        if isinstance(a, RouteAct):
            self._assign_route(run.entity, a, t)
            run.end = t
        elif isinstance(a, SyncAct):
            self._synchronize(run, a, t)
        else:
            super()._execute(run, t, init)

    def _lane_at(self, name: str, t: float) -> tuple[Any, int, float, float]:
        """(road, lane section, s, t of the path lane's centre) where `name`'s box centre is at time t."""
        step, section, s = self.paths[name].locate(self._centre_u(name, t))
        road = self.network.roads[step.road]
        return road, section, s, float(road.lane_center_t(step.lane, s)[0])

    def _r_of(self, name: str, t_target: float, t: float) -> float:
        """r (metres right of the path lane's centre) of the box centre when the reference point is at t_target."""
        step = self.paths[name].locate(self._centre_u(name, t))[0]
        _, _, _, t_path = self._lane_at(name, t)
        return (t_path - t_target) * step.direction - self.motions[name].entity.center[1]

    def _lane_change(self, run: Run, a: LaneChangeAct, m: Motion, t: float) -> None:
        speed, current = m.value("speed", t), m.value("lateral", t)
        if speed < SMALL:
            raise located(a.node, f"{run.entity} stands still when its lane change starts (at {t:g} s)",
                          "esmini moves a standing entity sideways not at all: give it a speed first")
        road, section, s, _ = self._lane_at(run.entity, t)
        step = self.paths[run.entity].locate(self._centre_u(run.entity, t))[0]
        if a.absolute_lane is not None:
            target = a.absolute_lane
        else:
            ref = self._same_road(a.entity, road.id, a.node)
            target = step_lanes(ref.spot.lane, a.value * ref.direction)
        lanes = run_lanes(road, section, step.direction)
        if target not in lanes:
            raise located(a.node, f"the lane change of {run.entity} at {t:g} s goes to lane {target}, which road "
                          f"{road.id} does not have beside its lane at s={s:g} (lanes driven its way: "
                          f"{', '.join(map(str, lanes))})", "change to a traffic lane driven the entity's way")
        r = self._r_of(run.entity, float(road.lane_center_t(target, s)[0]) + a.target_offset, t)
        duration = transition(a.dynamics, abs(r - current), speed, a.node, "lane")
        shape = SHAPES[a.dynamics.shape] if duration > SMALL else "step"
        lane = lanes.index(target) if a.target_offset == 0 and m.entity.center[1] == 0 else None
        self._record(run.entity, "lateral", Change(t, duration, r, shape, False, a.node, lane))
        run.end = t + duration

    def _lane_offset(self, run: Run, a: LaneOffsetAct, m: Motion, t: float) -> None:
        road, _, s, _ = self._lane_at(run.entity, t)
        if a.absolute is not None:
            lane = self._where(run.entity, a.node).spot.lane
            t_target = float(road.lane_center_t(lane, s)[0]) + a.absolute
        else:
            ref = self._same_road(a.entity, road.id, a.node)
            reference = self.network.roads[ref.spot.road]
            t_target = float(reference.lane_center_t(ref.spot.lane, ref.spot.s)[0]) + ref.spot.offset \
                + a.value * ref.direction
        r = self._r_of(run.entity, t_target, t)
        self._record_offset(run, a, r, abs(r - m.value("lateral", t)), t)

    def _same_road(self, name: str, road: str, node: Element) -> Where:
        ref = self._where(name, node)
        if ref.spot.road != road:
            raise located(node, f"{name} is on road {ref.spot.road}, the actor on road {road}",
                          "relative lanes and offsets are measured on one road: use an absolute target")
        return ref

    def _synchronize(self, run: Run, a: SyncAct, t: float) -> None:
        """Ramp the speed so that the entity reaches its target when the master reaches its own (see above)."""
        name = run.entity
        need_master = max(self._distance_to(a.master, a.master_target, a.node) - a.tolerance_master, SMALL)
        need = max(self._distance_to(name, a.target, a.node) - a.tolerance, SMALL)
        arrival = self._time_to_travel(a.master, t, need_master)
        if arrival is None:
            raise located(a.node, f"{a.master} does not reach its master position within {SYNC_HORIZON_S:g} s "
                          f"of {t:g} s at the speeds it has", "give the master a speed that gets it there")
        v0 = self.motions[name].value("speed", t)
        if a.final_speed is None:
            targets = [(arrival, 2 * need / arrival - v0)]
        else:
            kind, value = a.final_speed
            master_v = self.motions[a.master].value("speed", t + arrival)
            final = {"absolute": value, "delta": master_v + value, "factor": master_v * value}[kind]
            x, middle = _apex(need, arrival, v0, final)
            targets = [(x, middle), (arrival - x, final)]
        for _, v in targets:
            if not 0.0 <= v <= MAX_SPEED_MPS:
                raise located(a.node, f"{name} would need a speed of {v:.3g} m/s to cover {need:.3g} m in "
                              f"{arrival:.3g} s", "move the target or master positions (drivesim: 0..100 m/s)")
        start = self.speed_start(name, t, arrival)
        lead = t - start
        for k, (duration, v) in enumerate(targets):
            change = Change(start, duration, v, "linear", False, a.node, lead=lead)
            if k == 0:
                self._record(name, "speed", change)
            else:
                run.pending.append(("speed", change))
            start += duration
        run.end = t + arrival

    def _distance_to(self, name: str, pos: Any, node: Element) -> float:
        """Metres `name`'s reference point drives along its path to the point of a Position."""
        state = self.state(name)
        u, _ = self.frames[name].along(*self.places.world(pos, name), state.center_u)
        if u - state.u <= SMALL:
            raise located(node, f"{name} is already at or past its position (at {self.t:g} s)",
                          "give a position ahead of it on its route")
        return u - state.u

    def _time_to_travel(self, name: str, t: float, distance: float) -> Optional[float]:
        times = t + np.arange(0.0, SYNC_HORIZON_S, SYNC_STEP_S)
        travelled = self.motions[name].profile("speed").integral(times) - self.motions[name].profile(
            "speed").integral(np.array(t))
        k = int(np.searchsorted(travelled, distance))
        if k >= len(times):
            return None
        if k == 0:
            return 0.0
        frac = (distance - travelled[k - 1]) / max(travelled[k] - travelled[k - 1], 1e-12)
        return float(times[k - 1] + frac * SYNC_STEP_S - t)


def _memo(along: Callable[[float, float], tuple[float, float]]) -> Callable[[float, float], tuple[float, float]]:
    """`along` remembering its answers: a state lives one frame, in which every condition that measures the
    same point from the entity (copies of an event, several conditions on one pair) gets it measured once."""
    seen: dict[tuple[float, float], tuple[float, float]] = {}

    def remembered(px: float, py: float) -> tuple[float, float]:
        key = (px, py)
        if key not in seen:
            seen[key] = along(px, py)
        return seen[key]
    return remembered


def _apex(s: float, t: float, v0: float, v1: float) -> tuple[float, float]:
    """esmini's two-phase synchronisation with a final speed: from v0 to the apex speed vx in x seconds, then to
    v1 at t, both phases with the same |acceleration|, covering s metres: (x, vx)."""
    if abs(v1 - v0) < SMALL:
        return t / 2, (s - t / 2 * v0) / (t / 2)
    root = math.sqrt(2.0) * math.sqrt(max(2 * s * s - 2 * (v1 + v0) * t * s + (v1 * v1 + v0 * v0) * t * t, 0.0))
    for sign in (1.0, -1.0):
        x = -(sign * root + 2 * s - 2 * v1 * t) / (2 * (v1 - v0))
        if 0 < x < t:
            return x, (2 * s - sign * root) / (2 * t)
    return t / 2, 2 * s / t - (v0 + v1) / 2  # no two-phase solution: the middle speed at half time
