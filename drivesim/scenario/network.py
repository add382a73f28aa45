"""Where a scenario's road goes and where everything on it starts: the one function every consumer uses.

`scenario_world(scenario)` resolves the road (`road.opendrive`, `road.segments`, or version 1's straight
road) into a `drivesim.road.RoadNetwork`, and every entity (the ego first) into a `Placement`: the lane
path it drives (its `route`, else its lane's successors, the first one at a junction), where on it it
starts, and its actions as speed and lateral-offset changes. Problems are `Finding`s at the scenario's key
paths (`world_findings`), which the loader locates in the file.

Placement rules (docs/scenario-format.md, "Roads"):
- `position: {road, lane, s, offset}`: that OpenDRIVE lane at s, `offset` metres towards the road's left.
- version 1's `lane` / `lateral_m`: lanes of the ego's direction counted from the left; the ego starts at
  the start of an inline road (s = 0; version 1's straight road: `DEFAULT_LEAD_IN_M` from its start), an
  agent `distance_m` along the ego's path from the ego, in lane `lane` (or the lane holding `lateral_m`)
  of the lanes driven in the ego's direction there.
- `lane_change_to: k` moves to lane k of the lanes of the entity's own direction where the action starts;
  `lateral_m` targets are metres right of those lanes' left edge.

    from drivesim.scenario.loader import load_scenario
    from drivesim.scenario.network import scenario_world
    world = scenario_world(load_scenario("scenarios/curve_oncoming.yaml"))
    world.ego.path.poses(world.ego.path.u_start, 0.0)  # the ego's start pose in the world
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from drivesim.errors import DrivesimError, ScenarioError
from drivesim.road import Road, RoadNetwork
from drivesim.scenario.checks import Finding
from drivesim.scenario.file_formats import read_road_network
from drivesim.scenario.format import Action, Agent, Scenario
from drivesim.scenario.inline_road import INLINE_ROAD_ID, inline_road
from drivesim.scenario.issues import KeyPath, ScenarioIssue, format_key_path
from drivesim.scenario.lane_path import LanePath, follow_lane, left_edge, run_lanes
from drivesim.scenario.motion import BlendedProfile, Placement
from drivesim.scenario.user_files import os_problem, shown_path

DEFAULT_LEAD_IN_M = 700.0  # version 1's road behind the ego: agents start up to 500 m behind, traffic 60 m
AHEAD_MARGIN_M = 1500.0  # paths reach this far past an entity's farthest travel (agents start <= 1000 m ahead)


@dataclass(frozen=True)
class TrafficLanes:
    """The lanes background traffic fills, as measured where the ego starts (lateral: metres right of the
    left edge of the ego's lanes)."""

    forward: tuple[float, ...]  # centres of the ego's lanes, from the left
    oncoming: tuple[float, ...]  # centres of the other direction's lanes, nearest the ego's lanes first
    lane_width_m: float
    edges: tuple[float, float]  # the road's left and right edges
    kerb_side: int  # +1: the ego's kerb is on the right (right-hand traffic), -1 on the left
    ego_lane: int  # the ego's lane among `forward`


@dataclass(frozen=True)
class ScenarioWorld:
    network: RoadNetwork
    version1_road: bool  # version 1's straight one-way road: the camera's view is exactly version 1's
    ego: Placement
    agents: tuple[Placement, ...]
    traffic: TrafficLanes


def is_straight_road(scenario: Scenario) -> bool:
    """Whether the road is one the trained model can draw: straight, one-way, not read from a file."""
    road = scenario.road
    return (road.opendrive is None and road.oncoming_lanes == 0
            and all(seg.straight is not None for seg in road.segments or ()))


def scenario_network(scenario: Scenario) -> RoadNetwork:
    return scenario_world(scenario).network


def scenario_world(scenario: Scenario) -> ScenarioWorld:
    """The resolved world; ScenarioError naming each problem's key path (the loader gives line and column)."""
    builder = _Builder(scenario)
    world = builder.build()
    if builder.findings or world is None:
        name = f"scenario '{scenario.name}'"
        raise ScenarioError([ScenarioIssue(name, None, None, format_key_path(f.path), f.message, f.hint)
                             for f in builder.findings])
    return world


def world_findings(scenario: Scenario) -> list[Finding]:
    builder = _Builder(scenario)
    builder.build()
    return builder.findings


@functools.lru_cache(maxsize=8)
def _read_network(path: str, stamp: tuple[int, int]) -> RoadNetwork:
    return read_road_network(path)


class _Problem(Exception):
    def __init__(self, path: KeyPath, message: str, hint: str = ""):
        super().__init__(message)
        self.finding = Finding(path, message, hint)


class _Builder:
    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self.findings: list[Finding] = []

    def build(self) -> ScenarioWorld | None:
        try:
            network = self._network()
            ego, ego_lane = self._ego(network)
        except _Problem as problem:
            self.findings.append(problem.finding)
            return None
        agents = []
        for i, agent in enumerate(self.scenario.agents):
            try:
                agents.append(self._agent(network, ego, i, agent))
            except _Problem as problem:
                self.findings.append(problem.finding)
        if self.findings:
            return None
        return ScenarioWorld(network, self._version1(), ego, tuple(agents), self._traffic(ego, ego_lane))

    def _version1(self) -> bool:
        road = self.scenario.road
        return road.segments is None and road.opendrive is None and road.oncoming_lanes == 0 and road.traffic == "right"

    # -- the road --------------------------------------------------------------------------------

    def _network(self) -> RoadNetwork:
        road = self.scenario.road
        if road.opendrive is not None:
            path = os.path.abspath(road.opendrive)
            try:
                info = os.stat(path)
                return _read_network(path, (info.st_mtime_ns, info.st_size))
            except OSError as err:
                raise _Problem(("road", "opendrive"), f"cannot read the road file '{shown_path(road.opendrive)}': "
                               f"{os_problem(err)}", "give an OpenDRIVE file relative to the scenario's folder")
            except DrivesimError as err:
                raise _Problem(("road", "opendrive"), f"the road file '{road.opendrive}' is not usable: {err}",
                               "fix the road file") from None
        self._check_bends()
        ahead = self._reach(self.scenario.ego.speed_mps, self.scenario.ego.actions) + AHEAD_MARGIN_M
        return RoadNetwork.of([inline_road(road, DEFAULT_LEAD_IN_M + ahead, DEFAULT_LEAD_IN_M)])

    def _check_bends(self) -> None:
        road = self.scenario.road
        own, other = road.lanes * road.lane_width_m, road.oncoming_lanes * road.lane_width_m
        left, right = (other, own) if road.traffic == "right" else (own, other)  # lanes' reach left / right of centre
        for j, seg in enumerate(road.segments or ()):
            curvatures = [(("arc", "radius"), 1.0 / seg.arc.radius)] if seg.arc is not None else []
            if seg.clothoid is not None:
                curvatures = [(("clothoid", "curvature_start"), seg.clothoid.curvature_start),
                              (("clothoid", "curvature_end"), seg.clothoid.curvature_end)]
            for key, k in curvatures:
                reach = left if k > 0 else right
                if k and 1.0 / abs(k) <= reach + 1.0:
                    raise _Problem(("road", "segments", j) + key, f"the bend's radius {1.0 / abs(k):g} m is not "
                                   f"wider than the lanes on its inside ({reach:g} m)",
                                   f"use a radius above {reach + 1.0:g} m")

    def _reach(self, speed: float, actions: Sequence[Action]) -> float:
        """The farthest an entity can drive in the scenario."""
        fastest = max([speed] + [a.speed_mps for a in actions if a.speed_mps is not None])
        return fastest * self.scenario.duration_s

    # -- entities --------------------------------------------------------------------------------

    def _ego(self, network: RoadNetwork) -> tuple[Placement, int]:
        ego, road = self.scenario.ego, self.scenario.road
        ahead = self._reach(ego.speed_mps, ego.actions) + AHEAD_MARGIN_M
        if ego.position is not None:
            path, r0 = self._on_lane(network, ("ego",), ego.position, ego.route, ahead)
        elif road.opendrive is not None:
            raise _Problem(("ego",), "on an OpenDRIVE road the ego needs a position",
                           "add 'position: {road: ID, lane: ID, s: M}' under ego")
        else:
            s = DEFAULT_LEAD_IN_M if road.segments is None else 0.0
            lane_id = run_lanes(network.roads[INLINE_ROAD_ID], 0, 1)[ego.lane]
            path = self._follow(network, ("ego",), INLINE_ROAD_ID, lane_id, s, ego.route, ahead)
            r0 = 0.0 if ego.lateral_m is None else ego.lateral_m - float(path.lane_lateral(path.u_start))
        placement = self._placement(("ego",), path, r0, ego.speed_mps, ego.actions, ego.reference_behind_m)
        step, section, _ = path.locate(path.u_start)
        lanes = run_lanes(network.roads[step.road], section, step.direction)
        return placement, lanes.index(step.lane) if step.lane in lanes else 0

    def _agent(self, network: RoadNetwork, ego: Placement, i: int, agent: Agent) -> Placement:
        at: KeyPath = ("agents", i)
        ahead = self._reach(agent.speed_mps, agent.actions) + AHEAD_MARGIN_M
        if agent.position is not None:
            path, r0 = self._on_lane(network, at, agent.position, agent.route, ahead)
            return self._placement(at, path, r0, agent.speed_mps, agent.actions, agent.reference_behind_m)
        u = ego.path.u_start + agent.distance_m
        if not ego.path.on_road(u):
            where = "before the start" if u < 0 else "past the end"
            raise _Problem(at + ("distance_m",), f"distance_m {agent.distance_m:g} puts the agent {where} of the "
                           "ego's road", "place it on the road, or give it a position")
        step, section, s = ego.path.locate(u)
        lanes = run_lanes(network.roads[step.road], section, step.direction)
        if agent.lane is not None:
            if agent.lane >= len(lanes):
                raise _Problem(at + ("lane",), f"lane {agent.lane} does not exist where the agent starts (road "
                               f"'{step.road}' has {len(lanes)} lanes in the ego's direction at s={s:g})",
                               f"use 0..{len(lanes) - 1}")
            lane_id = lanes[agent.lane]
        else:
            lane_id = ego.path.run_lane_at(u, agent.lateral_m)
        path = self._follow(network, at, step.road, lane_id, s, agent.route, ahead)
        r0 = 0.0 if agent.lateral_m is None else agent.lateral_m - float(path.lane_lateral(path.u_start))
        return self._placement(at, path, r0, agent.speed_mps, agent.actions, agent.reference_behind_m)

    def _on_lane(self, network: RoadNetwork, at: KeyPath, position, roads, ahead: float) -> tuple[LanePath, float]:
        """The path from a `position`, and its offset as metres right of the lane's centre."""
        where = at + ("position",)
        if position.road not in network.roads:
            known = ", ".join(sorted(network.roads)[:20])
            raise _Problem(where + ("road",), f"there is no road '{position.road}'", f"roads: {known}")
        road: Road = network.roads[position.road]
        if not 0.0 <= position.s <= road.length:
            raise _Problem(where + ("s",), f"s {position.s:g} is off road '{road.id}'",
                           f"use 0..{road.length:g} (the road's length)")
        lanes = road.laneSections[road.section_index(position.s)].lanes
        if position.lane not in lanes:
            raise _Problem(where + ("lane",), f"road '{road.id}' has no lane {position.lane} at s={position.s:g}",
                           f"lanes there: {', '.join(str(k) for k in lanes if k)}")
        path = self._follow(network, at, road.id, position.lane, position.s, roads, ahead)
        return path, -position.offset * road.direction(position.lane)

    def _follow(self, network: RoadNetwork, at: KeyPath, road: str, lane: int, s: float,
                roads: Sequence[str] | None, ahead: float) -> LanePath:
        try:
            return follow_lane(network, road, lane, s, roads, ahead)
        except DrivesimError as err:
            key = at + ("route",) if roads else at
            raise _Problem(key, str(err).split(". Fix: ")[0], _fix(err)) from None

    def _placement(self, at: KeyPath, path: LanePath, r0: float, speed: float, actions: Sequence[Action],
                   reference_behind_m: float) -> Placement:
        """Actions as BlendedProfile changes; lateral targets as offsets from the lane where each starts."""
        speed_changes = tuple((a.at_s, a.duration_s, a.speed_mps, a.shape) for a in actions if a.speed_mps is not None)
        travel = BlendedProfile(speed, speed_changes)
        lateral = []
        for j, a in enumerate(actions):
            if a.lane_change_to is None and a.lateral_m is None:
                continue
            u = path.u_start + float(travel.integral(a.at_s))
            target = a.lateral_m
            if a.lane_change_to is not None:
                target = path.run_centre_lateral(u, a.lane_change_to)
                if target is None:
                    step, _, s = path.locate(u)
                    raise _Problem(at + ("actions", j, "lane_change_to"), f"lane {a.lane_change_to} does not exist "
                                   f"where the action starts (road '{step.road}' at s={s:g})",
                                   "change to a lane of the road there")
            lateral.append((a.at_s, a.duration_s, target - float(path.lane_lateral(u)), a.shape))
        return Placement(path, r0, speed, speed_changes, tuple(lateral), reference_behind_m)

    # -- background traffic's lanes --------------------------------------------------------------

    def _traffic(self, ego: Placement, ego_lane: int) -> TrafficLanes:
        road = self.scenario.road
        w = road.lane_width_m
        kerb = 1 if road.traffic == "right" else -1
        if road.opendrive is None:  # constant lanes: version 1's very numbers
            forward = tuple((k + 0.5) * w for k in range(road.lanes))
            if kerb > 0:
                oncoming = tuple(-(j + 0.5) * w for j in range(road.oncoming_lanes))
                edges = (-road.oncoming_lanes * w, road.lanes * w)
            else:
                oncoming = tuple(road.lanes * w + (j + 0.5) * w for j in range(road.oncoming_lanes))
                edges = (0.0, (road.lanes + road.oncoming_lanes) * w)
            return TrafficLanes(forward, oncoming, w, edges, kerb, ego_lane)
        return _measured_lanes(ego.path, kerb, ego_lane)


def _measured_lanes(path: LanePath, kerb: int, ego_lane: int) -> TrafficLanes:
    """TrafficLanes of a road read from a file, measured where the ego starts."""
    step, section, s = path.locate(path.u_start)
    road = path.network.roads[step.road]
    d = step.direction
    borders = road.section_borders(section, s)
    forward_ids, oncoming_ids = run_lanes(road, section, d), run_lanes(road, section, -d)
    left_t = float(left_edge(road, section, d, np.array(s))[0])

    def lateral(t: float) -> float:
        return (left_t - t) * d

    def centre(lane_id: int) -> float:
        return lateral(float(road.lane_center_t(lane_id, s)[0]))

    forward = tuple(centre(k) for k in forward_ids)
    oncoming = tuple(sorted((centre(k) for k in oncoming_ids), key=lambda x: abs(x - (forward[0] if forward else 0))))
    laterals = [lateral(float(t)) for k, (t, _) in borders.items() if k == 0 or k in forward_ids + oncoming_ids]
    widths = [abs(a - b) for a, b in zip(sorted(forward), sorted(forward)[1:])]
    width = min(widths) if widths else 3.5
    return TrafficLanes(forward, oncoming, width, (min(laterals), max(laterals)), kerb, ego_lane)


def _fix(err: DrivesimError) -> str:
    text = str(err)
    return text.split(". Fix: ", 1)[1] if ". Fix: " in text else ""


def resolve_road_file(scenario: Scenario, folder: str | os.PathLike[str] | None) -> Scenario:
    """The scenario with `road.opendrive` made absolute against `folder` (the scenario file's folder)."""
    road = scenario.road
    if road.opendrive is None or folder is None or os.path.isabs(road.opendrive):
        return scenario
    absolute = str(Path(folder) / road.opendrive)
    return scenario.model_copy(update={"road": road.model_copy(update={"opendrive": absolute})})

