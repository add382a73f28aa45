"""The OpenSCENARIO importer's view of an OpenDRIVE road: one road of a file read by `read_opendrive`,
accepted when its plan view is straight, and drivesim's `RoadFrame` (drivesim/scenario/road.py) around
the ego's lane.

A road is accepted when every `<geometry>` of its plan view is a `<line>` on one straight line (same
heading, each starting where the line goes), its lane widths are constant (`b = c = d = 0`), any
`<laneOffset>` is constant, every lane is driven in its standard direction and every lane section has
the same lanes. Anything else is refused with the element and its line. The whole file is read (and
checked) first: the road is the network model's, with everything the file gives it.

    from pathlib import Path
    from drivesim.standards.opendrive import read_road
    road, element = read_road(Path("scenarios/openscenario/straight_highway.xodr"), "1", where=None)
    road.lane_center_t(-1, 0.0)[0], road.direction(-1)  # (-1.75, 1)
"""

from __future__ import annotations

import math
from pathlib import Path

from drivesim.road import Line, Road
from drivesim.scenario.road import RoadFrame
from drivesim.standards.opendrive.network import read_opendrive
from drivesim.standards.openscenario.xmltree import Element, located, read_xml

# Lane types that carry traffic: the drivesim road is the run of adjacent lanes of these types.
DRIVING_TYPES = ("driving", "entry", "exit", "onRamp", "offRamp", "connectingRamp", "slipLane")
HEADING_TOLERANCE_RAD = 1e-6
POSITION_TOLERANCE_M = 1e-3
_ONLY_STRAIGHT = "only straight roads (collinear <line> geometries) are supported for now"


def read_road(path: Path, road_id: str, where: Element) -> tuple[Road, Element]:
    """The road `road_id` of an OpenDRIVE file, if its plan view is straight (else a located error), and its
    <road> element (errors about the road point there)."""
    read = read_opendrive(path)
    if road_id not in read.network.roads:
        known = ", ".join(sorted(read.network.roads)) or "none"
        raise located(where, f"road {road_id} is not in {path.name} (its roads: {known})",
                      "use one of the file's road ids in the positions")
    road, node = read.network.roads[road_id], read.elements[road_id]
    _check_plan_view(road, node)
    _check_lanes(road, node)
    return road, node


def road_ids(path: Path) -> list[str]:
    return [r.attrib.get("id", "") for r in read_xml(path, "OpenDRIVE").all("road")]


def _check_plan_view(road: Road, node: Element) -> None:
    geometries = road.planView.geometries
    first = geometries[0]
    for g, g_node in zip(geometries, node.require("planView").all("geometry")):
        if not isinstance(g, Line):
            raise located(g_node, f"road {road.id} is not straight: this geometry is a <{g.element}>", _ONLY_STRAIGHT)
        expect_x = first.x + (g.s - first.s) * math.cos(first.hdg)
        expect_y = first.y + (g.s - first.s) * math.sin(first.hdg)
        turn = math.remainder(g.hdg - first.hdg, 2 * math.pi)
        if abs(turn) > HEADING_TOLERANCE_RAD or math.hypot(g.x - expect_x, g.y - expect_y) > POSITION_TOLERANCE_M:
            raise located(g_node, f"road {road.id} is not straight: this <line> is not on the line of the first "
                          f"geometry (heading differs by {turn:.4g} rad)", _ONLY_STRAIGHT)


def _check_lanes(road: Road, node: Element) -> None:
    lanes_node = node.require("lanes")
    for record, r_node in zip(road.laneOffset, lanes_node.all("laneOffset")):
        if (record.b, record.c, record.d) != (0.0, 0.0, 0.0) or record.a != road.laneOffset[0].a:
            raise located(r_node, f"road {road.id} has a lane offset that changes along the road",
                          "only constant lane offsets (b = c = d = 0) are supported")
    first_lanes = None
    for section, s_node in zip(road.laneSections, lanes_node.all("laneSection")):
        lane_nodes = [n for side in ("left", "right") for side_node in s_node.all(side) for n in side_node.all("lane")]
        for lane, l_node in zip((*section.left, *section.right), lane_nodes):
            direction = l_node.attrib.get("direction", "standard")
            if direction != "standard":
                raise located(l_node, f"lane {lane.id} has direction={direction!r}",
                              "only lanes driven in their standard direction are supported")
            for w, w_node in zip(lane.widths, l_node.all("width")):
                if (w.b, w.c, w.d) != (0.0, 0.0, 0.0) or w.a != lane.widths[0].a:
                    raise located(w_node, f"lane {lane.id} changes its width along the road",
                                  "only lanes of constant width (b = c = d = 0) are supported")
        lanes = [(lane.id, lane.type, lane.widths[0].a if lane.widths else 0.0) for lane in section.lanes.values()]
        if first_lanes is not None and lanes != first_lanes:
            raise located(s_node, f"road {road.id}: the lanes change at this lane section",
                          "only roads with the same lanes along their whole length are supported")
        first_lanes = first_lanes or lanes


def road_frame(road: Road, road_element: Element, ego_lane: int, direction: int, where: Element,
               cross_centre: bool = False) -> RoadFrame:
    """The drivesim road around the ego's lane (`direction` +1 / -1: the ego drives towards +s / -s). The run
    stops at the centre line unless `cross_centre` (an entity starts beyond it, driving the ego's way).
    The road's lanes are the same all along it (`read_road` refuses others): they are read at s = 0."""
    borders = {lid: border for lid, border in road.borders(0.0).items() if lid}
    kinds = {lid: road.lane(lid, 0.0).type for lid in borders}
    by_t = sorted(borders, key=lambda lid: -(borders[lid][0] + borders[lid][1]))  # left to right for +s
    if ego_lane not in borders or kinds[ego_lane] not in DRIVING_TYPES:
        kind = kinds.get(ego_lane, "no such")
        raise located(where, f"the ego starts in lane {ego_lane} of road {road.id} ({kind} lane)",
                      f"start the ego in a lane of type {', '.join(DRIVING_TYPES[:3])}, ...")
    k = by_t.index(ego_lane)
    lo = hi = k

    def joins(i: int) -> bool:
        return kinds[by_t[i]] in DRIVING_TYPES and (cross_centre or (by_t[i] > 0) == (ego_lane > 0))

    while lo > 0 and joins(lo - 1):
        lo -= 1
    while hi + 1 < len(by_t) and joins(hi + 1):
        hi += 1
    run = by_t[lo:hi + 1] if direction > 0 else by_t[lo:hi + 1][::-1]
    widths = {lid: float(road.lane(lid, 0.0).width(0.0)[0]) for lid in run}
    width = widths[run[0]]
    for lid in run:
        if abs(widths[lid] - width) > 1e-3:
            raise located(road_element, f"road {road.id}: lane {lid} is {widths[lid]:g} m wide, lane "
                          f"{run[0]} {width:g} m", "drivesim's road has lanes of one width: make the "
                          "traffic lanes beside the ego's equally wide")
    if not 1.0 < width <= 10.0 or len(run) > 8:
        raise located(road_element, f"road {road.id}: {len(run)} traffic lanes of {width:g} m",
                      "drivesim supports 1..8 lanes of more than 1 m and at most 10 m")
    t_left = max(borders[run[0]]) if direction > 0 else min(borders[run[0]])
    return RoadFrame(road, direction, tuple(run), width, t_left)
