"""OpenSCENARIO positions on a road network: every Position as a lane spot (road, lane, s, offset), and each
entity's lane path as a frame that measures any world point along and across it.

- `LanePosition`, `RoadPosition`, `WorldPosition` (projected onto the network: `drivesim.road.Projector`,
  the lane facing `h` winning), `RelativeLanePosition` (dLane lanes to the left of the reference entity
  in its driving direction, ds along the road's s or dsLane along its lane), `RelativeRoadPosition` (ds
  along s, dt towards +t), `RelativeObjectPosition` (dx ahead, dy to the left of the reference entity),
  `RoutePosition` (pathS metres of road s along the route from its first waypoint, as esmini, then laneId
  and laneOffset or t there).
- Every entity drives its lane's direction (a left lane, id > 0 under right-hand traffic, towards -s): an
  `Orientation` that turns it against its lane is refused, as drivesim's engine cannot drive it.

    from drivesim.standards.opendrive import read_network
    from drivesim.standards.openscenario.network_places import PathFrame
    from drivesim.scenario.lane_path import follow_lane
    network = read_network("scenarios/roads/crossing.xodr")
    frame = PathFrame(follow_lane(network, "1", -1, 50.0, ["1", "2"], 200.0))
    frame.along(0.0, -1.75, 50.0)  # (u, lateral) of the junction's centre on the ego's way: (110.0, 1.75)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from drivesim.errors import DrivesimError
from drivesim.road import DRIVING_TYPES, Projector, RoadNetwork
from drivesim.scenario.lane_path import LanePath, follow_lane
from drivesim.standards.openscenario.model import (LanePos, RelativeLanePos, RelativeObjectPos, RelativeRoadPos,
                                                  RoadPos, RouteAct, RoutePos, WorldPos)
from drivesim.standards.openscenario.runner import step_lanes
from drivesim.standards.openscenario.xmltree import Element, located

SAMPLE_M = 1.0  # a path frame's samples of its lane centre
SEARCH_M = 300.0  # a point is matched to the path within this distance of the entity (a path may loop)
HEADING_TOLERANCE_RAD = math.radians(60)  # an Orientation this close to the lane's direction drives it


@dataclass(frozen=True)
class LaneSpot:
    """A point in lane coordinates: `offset` metres from the lane's centre towards +t."""

    road: str
    lane: int
    s: float
    offset: float


@dataclass(frozen=True)
class Where:
    """Where an entity's reference point is now: its lane spot, world point, heading and driving direction."""

    spot: LaneSpot
    x: float
    y: float
    heading: float
    direction: int  # +1: its lane is driven towards +s


class PathFrame:
    """A lane path's centre line sampled once; `along` measures world points in its (u, lateral) frame."""

    def __init__(self, path: LanePath):
        self.path = path
        self.u = np.arange(-SEARCH_M, path.length + SEARCH_M, SAMPLE_M)
        poses, lateral = path.poses_and_lateral(self.u, 0.0)
        self.x, self.y, self.heading, self.lateral = poses.x, poses.y, poses.heading, lateral

    def along(self, x: float, y: float, near_u: float) -> tuple[float, float]:
        """(u, lateral) of world (x, y): u of the foot on the lane centre nearest to it within SEARCH_M of
        `near_u`, lateral metres right of the run's left edge (the lane centre's lateral plus the distance)."""
        lo, hi = np.searchsorted(self.u, [near_u - SEARCH_M, near_u + SEARCH_M])
        lo, hi = max(0, lo - 1), max(hi, lo + 1)
        d = np.hypot(self.x[lo:hi] - x, self.y[lo:hi] - y)
        k = lo + int(d.argmin())
        c, s = math.cos(self.heading[k]), math.sin(self.heading[k])
        dx, dy = x - self.x[k], y - self.y[k]
        u = float(self.u[k]) + dx * c + dy * s  # the foot, on the sample's tangent (1 m samples: mm on bends)
        pose = self.path.poses(u, 0.0)
        c, s = math.cos(float(pose.heading)), math.sin(float(pose.heading))
        dx, dy = x - float(pose.x), y - float(pose.y)
        u += dx * c + dy * s
        right = dx * s - dy * c
        return float(u), float(self.path.lane_lateral(u) + right)


class Places:
    """Turns Positions into lane spots on one network; `where(entity)` is the runner's: the entity now."""

    def __init__(self, network: RoadNetwork, where: Callable[[str, Element], Where]):
        self.network = network
        self.where = where
        self._projector: Optional[Projector] = None

    def spot(self, pos: Any, name: str) -> tuple[LaneSpot, Optional[float]]:
        """The lane spot of a Position, and the heading it asks for (None: its lane's)."""
        if isinstance(pos, LanePos):
            road = self._road(pos.road, pos.s, pos.node)
            lanes = road.laneSections[road.section_index(pos.s)].lanes
            if pos.lane == 0 or pos.lane not in lanes:
                raise located(pos.node, f"road {road.id} has no lane {pos.lane} at s={pos.s:g}",
                              f"use one of its lanes there: {', '.join(str(k) for k in sorted(lanes) if k)}")
            spot = LaneSpot(road.id, pos.lane, pos.s, pos.offset)
            return spot, self._heading(spot, pos.heading)
        if isinstance(pos, RoadPos):
            spot = self._at_t(pos.road, pos.s, pos.t, pos.node)
            return spot, self._heading(spot, pos.heading)
        if isinstance(pos, WorldPos):
            return self._projected(pos.x, pos.y, pos.h if pos.has_h else None, pos.node), \
                (pos.h if pos.has_h else None)
        if isinstance(pos, RoutePos):
            return self._on_route(pos, name)
        ref = self.where(pos.entity, pos.node)
        if isinstance(pos, RelativeRoadPos):
            spot = self._at_t(ref.spot.road, ref.spot.s + pos.ds, self._t(ref.spot) + pos.dt, pos.node)
            return spot, self._heading(spot, pos.heading)
        if isinstance(pos, RelativeObjectPos):
            c, s = math.cos(ref.heading), math.sin(ref.heading)
            x, y = ref.x + pos.dx * c - pos.dy * s, ref.y + pos.dx * s + pos.dy * c
            return self._projected(x, y, ref.heading, pos.node), None
        assert isinstance(pos, RelativeLanePos)
        road = self.network.roads[ref.spot.road]
        s = ref.spot.s + pos.ds * (ref.direction if pos.ds_lane else 1)
        lane = step_lanes(ref.spot.lane, pos.d_lane * ref.direction)
        road = self._road(road.id, s, pos.node)
        lanes = road.laneSections[road.section_index(s)].lanes
        if lane not in lanes:
            raise located(pos.node, f"{pos.d_lane} lanes beside {pos.entity}'s lane {ref.spot.lane} is lane {lane}, "
                          f"which road {road.id} does not have at s={s:g}", "change dLane")
        return LaneSpot(road.id, lane, s, pos.offset), None

    def route_roads(self, route: RouteAct, name: str) -> list[str]:
        """The roads of a route's waypoints, in order (a road twice in a row once)."""
        roads: list[str] = []
        for waypoint in route.waypoints:
            road = self.spot(waypoint, name)[0].road
            if not roads or roads[-1] != road:
                roads.append(road)
        return roads

    def _on_route(self, pos: RoutePos, name: str) -> tuple[LaneSpot, Optional[float]]:
        """pathS along the route from its first waypoint (road s, as esmini), then the lane or t there."""
        first, _ = self.spot(pos.route.waypoints[0], name)
        try:
            path = follow_lane(self.network, first.road, first.lane, first.s, self.route_roads(pos.route, name), 0.0)
        except DrivesimError as err:
            message, _, fix = str(err).partition(". Fix: ")
            raise located(pos.route.node, message, fix) from None
        u = path.u_start + pos.path_s
        if not -1e-6 <= pos.path_s <= path.length - path.u_start + 1e-6:
            raise located(pos.node, f"pathS={pos.path_s:g} is off route {pos.route.name!r} "
                          f"(0..{path.length - path.u_start:.6g} m)", "give a pathS on the route")
        step, _, s = path.locate(u)
        if pos.lane is None:
            spot = self._at_t(step.road, s, pos.offset, pos.node)
        else:
            road = self._road(step.road, s, pos.node)
            lanes = road.laneSections[road.section_index(s)].lanes
            if pos.lane == 0 or pos.lane not in lanes:
                raise located(pos.node, f"pathS={pos.path_s:g} of route {pos.route.name!r} is on road {road.id}, "
                              f"which has no lane {pos.lane} at s={s:.6g}",
                              f"use one of its lanes there: {', '.join(str(k) for k in sorted(lanes) if k)}")
            spot = LaneSpot(road.id, pos.lane, s, pos.offset)
        return spot, self._heading(spot, pos.heading)

    def world(self, pos: Any, name: str) -> tuple[float, float]:
        spot, _ = self.spot(pos, name)
        pose = self.network.roads[spot.road].lane_to_world(spot.lane, spot.s, spot.offset)
        return pose.x, pose.y

    def check_drivable(self, spot: LaneSpot, heading: Optional[float], node: Element, name: str) -> None:
        road = self.network.roads[spot.road]
        lane = road.lane(spot.lane, spot.s)
        if lane.type not in DRIVING_TYPES:
            raise located(node, f"{name} starts in lane {spot.lane} of road {road.id}, a {lane.type} lane",
                          f"drivesim's entities drive traffic lanes ({', '.join(DRIVING_TYPES[:3])}, ...)")
        if heading is None:
            return
        lane_heading = road.lane_to_world(spot.lane, spot.s).heading
        if abs(math.remainder(heading - lane_heading, 2 * math.pi)) > HEADING_TOLERANCE_RAD:
            raise located(node, f"{name} faces {heading:.3g} rad, against the driving direction of lane {spot.lane} "
                          f"of road {road.id} ({lane_heading:.3g} rad)",
                          "drivesim's entities drive their lane's direction: place it in a lane driven its way")

    # -- helpers ---------------------------------------------------------------------------------

    def _road(self, road_id: str, s: float, node: Element):
        if road_id not in self.network.roads:
            known = ", ".join(sorted(self.network.roads)[:20])
            raise located(node, f"there is no road {road_id!r} in the road network", f"use one of its roads: {known}")
        road = self.network.roads[road_id]
        if not -1e-6 <= s <= road.length + 1e-6:
            raise located(node, f"s={s:g} is off road {road_id} (0..{road.length:g})", "give an s on the road")
        return road

    def _at_t(self, road_id: str, s: float, t: float, node: Element) -> LaneSpot:
        road = self._road(road_id, s, node)
        lane = road.lane_at(s, t)
        if lane is None:
            raise located(node, f"t={t:g} at s={s:g} is beside every lane of road {road_id}", "give a t on a lane")
        return LaneSpot(road_id, lane, s, t - float(road.lane_center_t(lane, s)[0]))

    def _t(self, spot: LaneSpot) -> float:
        return float(self.network.roads[spot.road].lane_center_t(spot.lane, spot.s)[0]) + spot.offset

    def _heading(self, spot: LaneSpot, heading: Optional[tuple[str, float]]) -> Optional[float]:
        if heading is None:
            return None
        kind, h = heading
        lane_heading = self.network.roads[spot.road].lane_to_world(spot.lane, spot.s).heading
        return lane_heading + h if kind == "relative" else h

    def _projected(self, x: float, y: float, heading: Optional[float], node: Element) -> LaneSpot:
        if self._projector is None:
            self._projector = Projector(self.network)
        point = self._projector.project(x, y, heading)
        if point is None or point.lane is None:
            where = "" if point is None else f" (nearest: road {point.road}, {point.distance:.3g} m off its lanes)"
            raise located(node, f"({x:g}, {y:g}) is not on a lane of the road network{where}",
                          "give a point on a lane")
        return LaneSpot(point.road, point.lane, point.s, point.offset)

