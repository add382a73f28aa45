"""The road network: roads and junctions by id, and which lane a vehicle continues into when it leaves
a lane section at the end it drives towards (next section, linked road, or through a junction).

A junction (<junction>) holds connections: traffic from `incomingRoad` enters `connectingRoad` (a road
whose `junction` is the junction's id) at the connecting road's `contactPoint`, lane `from_lane` of the
incoming road into lane `to_lane` of the connecting road (OpenDRIVE's <laneLink from= to=>). Lane links
at road ends follow OpenDRIVE: a lane's `successor` is a lane of the road linked at s = length,
its `predecessor` one of the road linked at s = 0.

    from drivesim.road import RoadNetwork, straight_road
    network = RoadNetwork.of([straight_road(100.0, [3.5, 3.5], road_id="1")])
    start = network.lane_ref("1", -1, s=10.0)  # LaneRef(road='1', section=0, lane=-1, direction=1)
    network.successors(start)  # []: nothing is linked past this road's end
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from drivesim.errors import DrivesimError
from drivesim.road.checks import road_error
from drivesim.road.lanes import LaneSection
from drivesim.road.road import ContactPoint, Road, RoadLink


@dataclass(frozen=True)
class JunctionLaneLink:
    """<laneLink from= to=>: lane `from_lane` of the incoming road enters lane `to_lane` of the connecting road."""

    from_lane: int
    to_lane: int


@dataclass(frozen=True)
class Connection:
    id: str
    incomingRoad: str  # camelCase: OpenDRIVE's attribute names, so a reader maps records 1:1
    connectingRoad: str
    contactPoint: ContactPoint
    laneLinks: tuple[JunctionLaneLink, ...] = ()


@dataclass(frozen=True)
class Junction:
    id: str
    connections: tuple[Connection, ...] = ()
    name: str = ""


class LaneRef(NamedTuple):
    """A lane of one lane section, and which way along s it is travelled (+1 / -1)."""

    road: str
    section: int  # index into the road's laneSections
    lane: int
    direction: int


@dataclass(frozen=True)
class RoadNetwork:
    roads: dict[str, Road]
    junctions: dict[str, Junction]

    @classmethod
    def of(cls, roads: Iterable[Road], junctions: Iterable[Junction] = ()) -> RoadNetwork:
        return cls({r.id: r for r in roads}, {j.id: j for j in junctions})

    def __post_init__(self) -> None:
        for key, road in self.roads.items():
            if key != road.id:
                raise DrivesimError(f"road '{road.id}' is filed under id '{key}'. Fix: key roads by their id")
        for road in self.roads.values():
            self._check_road_links(road)
        for junction in self.junctions.values():
            for connection in junction.connections:
                self._check_connection(junction, connection)

    def road(self, road_id: str) -> Road:
        if road_id not in self.roads:
            raise DrivesimError(f"there is no road '{road_id}' (roads: {', '.join(sorted(self.roads))}). "
                                "Fix: name a road of the network")
        return self.roads[road_id]

    def lane_ref(self, road_id: str, lane_id: int, s: float) -> LaneRef:
        """Lane `lane_id` of road `road_id` at `s`, travelled in its driving direction."""
        road = self.road(road_id)
        road.lane(lane_id, s)
        return LaneRef(road_id, road.section_index(s), lane_id, road.direction(lane_id))

    def successors(self, ref: LaneRef) -> list[LaneRef]:
        """The lanes `ref` continues into past the end of its lane section it drives towards."""
        road = self.roads[ref.road]
        forward = ref.direction > 0
        lane = road.laneSections[ref.section].lanes[ref.lane]
        linked = lane.successor if forward else lane.predecessor
        next_section = ref.section + ref.direction
        if 0 <= next_section < len(road.laneSections):
            return [] if linked is None else [LaneRef(road.id, next_section, linked, ref.direction)]
        link = road.successor if forward else road.predecessor
        if link is None:
            return []
        if link.elementType == "road":
            return [] if linked is None else [self._enter(link.elementId, link.contactPoint, linked)]
        return [self._enter(c.connectingRoad, c.contactPoint, lane_link.to_lane)
                for c in self.junctions[link.elementId].connections if c.incomingRoad == road.id
                for lane_link in c.laneLinks if lane_link.from_lane == ref.lane]

    def _enter(self, road_id: str, contact: ContactPoint | None, lane_id: int) -> LaneRef:
        if contact == "start":
            return LaneRef(road_id, 0, lane_id, 1)
        return LaneRef(road_id, len(self.roads[road_id].laneSections) - 1, lane_id, -1)

    def end_section(self, road_id: str, contact: ContactPoint | None) -> LaneSection:
        """The lane section of a road at its start or end."""
        sections = self.roads[road_id].laneSections
        return sections[0] if contact == "start" else sections[-1]

    # -- checks ------------------------------------------------------------------------------------

    def _check_road_links(self, road: Road) -> None:
        if road.in_junction and road.junction not in self.junctions:
            raise road_error(road.id, "<road>", None, f"it lies in junction '{road.junction}', which the network "
                             "does not have", "add the junction, or set junction to -1")
        for end, link in (("predecessor", road.predecessor), ("successor", road.successor)):
            if link is None:
                continue
            known = self.roads if link.elementType == "road" else self.junctions
            if link.elementId not in known:
                raise road_error(road.id, f"<link><{end}>", None, f"it names {link.elementType} '{link.elementId}', "
                                 "which the network does not have", f"add {link.elementType} '{link.elementId}' "
                                 "or drop the link")
            if link.elementType == "road":
                self._check_lane_links_at_end(road, end, link)

    def _check_lane_links_at_end(self, road: Road, end: str, link: RoadLink) -> None:
        section = road.laneSections[0 if end == "predecessor" else -1]
        other = self.end_section(link.elementId, link.contactPoint)
        for lane in section.lanes.values():
            linked = lane.predecessor if end == "predecessor" else lane.successor
            if linked is not None and linked not in other.lanes:
                raise road_error(road.id, f"<laneSection> lane {lane.id} <link><{end}>", section.s,
                                 f"it names lane {linked}, but road '{link.elementId}' has lanes "
                                 f"{sorted(other.lanes)} at its {link.contactPoint}",
                                 "link a lane that exists there, or drop the link")

    def _check_connection(self, junction: Junction, c: Connection) -> None:
        record = f"<junction id={junction.id}><connection id={c.id}>"
        for role, road_id in (("incomingRoad", c.incomingRoad), ("connectingRoad", c.connectingRoad)):
            if road_id not in self.roads:
                raise DrivesimError(f"junction '{junction.id}', connection '{c.id}': its {role} '{road_id}' is not "
                                    "a road of the network. Fix: add the road or correct the id")
        connecting, incoming = self.roads[c.connectingRoad], self.roads[c.incomingRoad]
        if c.contactPoint not in ("start", "end"):
            raise road_error(connecting.id, record, None, f"contactPoint is {c.contactPoint!r}", "use start or end")
        if connecting.junction != junction.id:
            raise road_error(connecting.id, record, None, f"it connects through road '{connecting.id}', whose junction "
                             f"is '{connecting.junction}'", f"set the connecting road's junction to '{junction.id}'")
        ends = [e for e, link in (("start", incoming.predecessor), ("end", incoming.successor))
                if link is not None and link.elementType == "junction" and link.elementId == junction.id]
        if not ends:
            raise road_error(incoming.id, record, None, f"road '{incoming.id}' comes into junction '{junction.id}' "
                             "but neither of its links names the junction",
                             "link the incoming road's predecessor or successor to the junction")
        from_lanes = {lane for e in ends for lane in self.end_section(incoming.id, e).lanes}
        to_section = self.end_section(connecting.id, c.contactPoint)
        for lane_link in c.laneLinks:
            for lane_id, lanes, road_id, s in ((lane_link.from_lane, from_lanes, incoming.id, None),
                                               (lane_link.to_lane, to_section.lanes, connecting.id, to_section.s)):
                if lane_id not in lanes:
                    raise road_error(road_id, f"{record}<laneLink from={lane_link.from_lane} to={lane_link.to_lane}>",
                                     s, f"road '{road_id}' has no lane {lane_id} where it meets the junction "
                                     f"(lanes {sorted(lanes)})", "link lanes that exist, or drop the lane link")
