"""Routes through the network: from a lane, along lane links (never changing lane), to a target road or
along a given sequence of roads, through junctions.

A route is the chain of `RouteStep`s a vehicle drives: each one lane of one lane section, its s-range
in the order driven (`s_start > s_end` when driven towards -s). The route starts at the given s and
ends where the last road named ends (its lanes followed to that road's far end). Roads inside
junctions (connecting roads) need not be named: the route picks them.

    from drivesim.road import RoadNetwork, route, straight_road
    network = RoadNetwork.of([straight_road(100.0, [3.5], road_id="1")])
    route(network, "1", -1, to="1", s=20.0)  # [RouteStep(road='1', lane=-1, s_start=20.0, s_end=100.0, direction=1)]
    # across a junction: route(network, "S", -1, to="W") -> S lane -1, connecting road lane -1, W lane 1
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import NamedTuple

from drivesim.errors import DrivesimError
from drivesim.road.network import LaneRef, RoadNetwork


class RouteStep(NamedTuple):
    road: str
    lane: int
    s_start: float
    s_end: float
    direction: int  # +1: driven towards +s

    @property
    def length(self) -> float:
        return abs(self.s_end - self.s_start)


def route(network: RoadNetwork, road: str, lane: int, to: str | Sequence[str],
          s: float | None = None) -> list[RouteStep]:
    """The shortest lane chain from `lane` of `road` (at `s`; default: where the lane's driving direction
    enters the road) to the road `to` by any roads, or through the roads `to` names, in order.
    DrivesimError when no chain of lane links gets there, naming the start lanes that would."""
    free = isinstance(to, str)
    if free:
        roads = [road] if to == road else [road, to]
    else:
        roads = [road, *(r for k, r in enumerate(to) if k or r != road)]
    for road_id in roads:
        network.road(road_id)
    first_road = network.roads[road]
    s0 = s if s is not None else (0.0 if first_road.direction(lane) > 0 else first_road.length)
    start = network.lane_ref(road, lane, s0)
    found = _search(network, start, roads, free)
    if found is None:
        raise DrivesimError(_no_route_message(network, start, s0, roads, free))
    steps = [_step(network, ref) for ref in found]
    steps[0] = steps[0]._replace(s_start=s0)
    return steps


def _step(network: RoadNetwork, ref: LaneRef) -> RouteStep:
    start, end = network.roads[ref.road].section_range(ref.section)
    return RouteStep(ref.road, ref.lane, *((start, end) if ref.direction > 0 else (end, start)), ref.direction)


def _search(network: RoadNetwork, start: LaneRef, roads: list[str], free: bool) -> list[LaneRef] | None:
    """Dijkstra over (lane section lane, how many of `roads` reached), by length driven."""
    first = (start, 0)
    queue: list[tuple[float, int, tuple[LaneRef, int]]] = [(0.0, 0, first)]
    best = {first: 0.0}
    came_from: dict[tuple[LaneRef, int], tuple[LaneRef, int] | None] = {first: None}
    pushed = 1  # tie-breaker: states themselves are not ordered
    while queue:
        cost, _, state = heapq.heappop(queue)
        if cost > best[state]:
            continue
        ref, reached = state
        if reached == len(roads) - 1 and not _continues_in_road(network, ref):
            chain: list[LaneRef] = []
            at: tuple[LaneRef, int] | None = state
            while at is not None:
                chain.append(at[0])
                at = came_from[at]
            return chain[::-1]
        for nxt in network.successors(ref):
            progress = _progress(network, ref, nxt, roads, reached, free)
            if progress is None:
                continue
            key, new_cost = (nxt, progress), cost + _step(network, nxt).length
            if new_cost < best.get(key, float("inf")):
                best[key], came_from[key] = new_cost, state
                heapq.heappush(queue, (new_cost, pushed, key))
                pushed += 1
    return None


def _continues_in_road(network: RoadNetwork, ref: LaneRef) -> bool:
    return any(nxt.road == ref.road for nxt in network.successors(ref))


def _progress(network: RoadNetwork, ref: LaneRef, nxt: LaneRef, roads: list[str], reached: int,
              free: bool) -> int | None:
    """How many named roads are reached after moving into `nxt`; None where the move leaves the route."""
    if nxt.road == ref.road:
        return reached
    if reached + 1 < len(roads) and nxt.road == roads[reached + 1]:
        return reached + 1
    if reached == len(roads) - 1:
        return None  # past the last named road
    return reached if free or network.roads[nxt.road].in_junction else None


def _no_route_message(network: RoadNetwork, start: LaneRef, s: float, roads: list[str], free: bool) -> str:
    section = network.roads[start.road].laneSections[start.section]
    road = network.roads[start.road]
    others = [lane_id for lane_id in section.lanes
              if lane_id not in (0, start.lane) and road.direction(lane_id) == start.direction]
    working = [lane_id for lane_id in others if _search(network, start._replace(lane=lane_id), roads, free) is not None]
    goal = f"road '{roads[-1]}'" + ("" if free or len(roads) < 3 else f" through roads {', '.join(roads[1:-1])}")
    fix = (f"start in lane {', '.join(map(str, working))} of road '{start.road}' instead" if working
           else "check the lane links of the roads and junctions on the way")
    return f"no chain of lane links leads from road '{start.road}' lane {start.lane} at s={s:g} to {goal}. Fix: {fix}"
