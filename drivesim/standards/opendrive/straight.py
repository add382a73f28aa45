"""OpenDRIVE roads whose plan view is straight -> the road network model's `drivesim.road.Road`, and
drivesim's `RoadFrame` (drivesim/scenario/road.py) around the ego's lane.

A road is accepted when every `<geometry>` of its plan view is a `<line>` on one straight line (same
heading, each starting where the line goes), its lane widths are constant (`b = c = d = 0`), any
`<laneOffset>` is constant, and every lane section has the same lanes. Anything else is refused
with the element and its line (curved roads come later).

The model's road coordinates (s along the reference line, t to its left), lane ids and traffic rule are
OpenDRIVE's: a road read here keeps its records (one straight <line> for the collinear ones).

    road, element = read_road(Path("scenarios/openscenario/straight_highway.xodr"), "1", where=logic_file_element)
    road.lane_center_t(-1, 0.0)[0], road.direction(-1)
"""

from __future__ import annotations

import math
from pathlib import Path

from drivesim.errors import DrivesimError
from drivesim.road import Lane, LaneOffset, LaneSection, LaneWidth, Line, ReferenceLine, Road
from drivesim.scenario.road import RoadFrame
from drivesim.standards.openscenario.params import Params
from drivesim.standards.openscenario.xmltree import Element, located, read_xml

# Lane types that carry traffic: the drivesim road is the run of adjacent lanes of these types.
DRIVING_TYPES = ("driving", "entry", "exit", "onRamp", "offRamp", "connectingRamp", "slipLane")
HEADING_TOLERANCE_RAD = 1e-6
POSITION_TOLERANCE_M = 1e-3


def read_road(path: Path, road_id: str, where: Element) -> tuple[Road, Element]:
    """The road `road_id` of an OpenDRIVE file, if its plan view is straight (else a located error), and its
    <road> element (errors about the road point there)."""
    root = read_xml(path, "OpenDRIVE")
    roads = {r.attrib.get("id", ""): r for r in root.all("road")}
    if road_id not in roads:
        known = ", ".join(sorted(roads)) or "none"
        raise located(where, f"road {road_id} is not in {path.name} (its roads: {known})",
                      "use one of the file's road ids in the positions")
    return _straight_road(roads[road_id]), roads[road_id]


def road_ids(path: Path) -> list[str]:
    return [r.attrib.get("id", "") for r in read_xml(path, "OpenDRIVE").all("road")]


_PLAIN = Params()  # OpenDRIVE has no parameters: numbers read with the same located errors


def _float(node: Element, attr: str, default: float | None = None) -> float:
    return _PLAIN.number(node, attr) if default is None else _PLAIN.number(node, attr, default)


def _straight_road(road: Element) -> Road:
    rid = road.attrib.get("id", "")
    plan = road.require("planView")
    geoms = plan.all("geometry")
    if not geoms:
        raise located(plan, f"road {rid} has no <geometry>")
    first = geoms[0]
    x0, y0, hdg, s0 = _float(first, "x"), _float(first, "y"), _float(first, "hdg"), _float(first, "s")
    for g in geoms:
        shape = g.children[0].tag if g.children else "nothing"
        if shape != "line":
            raise located(g, f"road {rid} is not straight: this geometry is a <{shape}>",
                          "only straight roads (collinear <line> geometries) are supported for now")
        gs, gx, gy, gh = _float(g, "s"), _float(g, "x"), _float(g, "y"), _float(g, "hdg")
        expect_x = x0 + (gs - s0) * math.cos(hdg)
        expect_y = y0 + (gs - s0) * math.sin(hdg)
        turn = math.remainder(gh - hdg, 2 * math.pi)
        if abs(turn) > HEADING_TOLERANCE_RAD or math.hypot(gx - expect_x, gy - expect_y) > POSITION_TOLERANCE_M:
            raise located(g, f"road {rid} is not straight: this <line> is not on the line of the first "
                          f"geometry (heading differs by {turn:.4g} rad)",
                          "only straight roads (collinear <line> geometries) are supported for now")
    if s0 != 0.0:  # s of the first geometry: shift the origin back to s = 0
        x0, y0 = x0 - s0 * math.cos(hdg), y0 - s0 * math.sin(hdg)
    length = _float(road, "length", default=sum(_float(g, "length", 0.0) for g in geoms))
    rule = road.attrib.get("rule", "RHT")
    if rule not in ("RHT", "LHT"):
        raise located(road, f"rule: expected RHT or LHT, got {rule!r}")
    lanes_el = road.require("lanes")
    offset = 0.0
    for lo in lanes_el.all("laneOffset"):
        if any(_float(lo, k, 0.0) != 0.0 for k in ("b", "c", "d")):
            raise located(lo, f"road {rid} has a lane offset that changes along the road",
                          "only constant lane offsets (b = c = d = 0) are supported")
        if lo is not lanes_el.all("laneOffset")[0] and _float(lo, "a", 0.0) != offset:
            raise located(lo, f"road {rid} has a lane offset that changes along the road")
        offset = _float(lo, "a", 0.0)
    section_els = lanes_el.all("laneSection")
    if not section_els:
        raise located(lanes_el, f"road {rid} has no <laneSection>")
    sections = [_section(sec) for sec in section_els]
    for el, section in zip(section_els[1:], sections[1:]):
        if section.lanes != sections[0].lanes:
            raise located(el, f"road {rid}: the lanes change at this lane section",
                          "only roads with the same lanes along their whole length are supported")
    try:  # the model checks the rest (lane ids without gaps, OpenDRIVE lane types, ...)
        return Road(id=rid, length=length, planView=ReferenceLine((Line(0.0, x0, y0, hdg, length),)),
                    laneSections=tuple(sections), laneOffset=(LaneOffset(0.0, offset),) if offset else (),
                    rule=rule)
    except DrivesimError as err:
        raise located(road, str(err)) from None


def _section(section: Element) -> LaneSection:
    sides: dict[str, list[Lane]] = {"left": [], "right": []}
    for side, sign in (("left", 1), ("right", -1)):
        side_el = section.child(side)
        if side_el is None:
            continue
        for lane in side_el.all("lane"):
            lid = int(_float(lane, "id"))
            if lid == 0 or (lid > 0) != (sign > 0):
                raise located(lane, f"lane id {lid} does not belong in <{side}>")
            direction = lane.attrib.get("direction", "standard")
            if direction != "standard":
                raise located(lane, f"lane {lid} has direction={direction!r}",
                              "only lanes driven in their standard direction are supported")
            widths = lane.all("width")
            if not widths:
                raise located(lane, f"lane {lid} has no <width>", "lanes given by <border> are not supported")
            a = _float(widths[0], "a")
            for w in widths:
                if any(_float(w, k, 0.0) != 0.0 for k in ("b", "c", "d")) or _float(w, "a") != a:
                    raise located(w, f"lane {lid} changes its width along the road",
                                  "only lanes of constant width (b = c = d = 0) are supported")
            sides[side].append(Lane(lid, lane.attrib.get("type", "driving"), widths=(LaneWidth(0.0, a),)))
    return LaneSection(_float(section, "s", 0.0), left=tuple(sides["left"]), right=tuple(sides["right"]))


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
