"""OpenDRIVE roads whose plan view is straight -> `drivesim.scenario.road.StraightRoad` (lanes, widths,
driving directions), and drivesim's `RoadFrame` around the ego's lane.

A road is accepted when every `<geometry>` of its plan view is a `<line>` on one straight line (same
heading, each starting where the line goes), its lane widths are constant (`b = c = d = 0`), any
`<laneOffset>` is constant, and every lane section has the same lanes. Anything else is refused
with the element and its line (curved roads come later).

OpenDRIVE's road coordinates (s along the reference line, t to its left), lane ids and traffic rule are
the road type's own (drivesim/scenario/road.py): a road read here is used as it is.

    road = read_road(Path("scenarios/openscenario/straight_3lane.xodr"), "1", where=logic_file_element)
    road.lanes[-1].t_center, road.direction_of_lane(-1)
"""

from __future__ import annotations

import math
from pathlib import Path

from drivesim.scenario.road import Lane, RoadFrame, StraightRoad
from drivesim.standards.openscenario.params import Params
from drivesim.standards.openscenario.xmltree import Element, located, read_xml

# Lane types that carry traffic: the drivesim road is the run of adjacent lanes of these types.
DRIVING_TYPES = ("driving", "entry", "exit", "onRamp", "offRamp", "connectingRamp", "slipLane")
HEADING_TOLERANCE_RAD = 1e-6
POSITION_TOLERANCE_M = 1e-3


def read_road(path: Path, road_id: str, where: Element) -> StraightRoad:
    """The road `road_id` of an OpenDRIVE file, if its plan view is straight (else a located error)."""
    root = read_xml(path, "OpenDRIVE")
    roads = {r.attrib.get("id", ""): r for r in root.all("road")}
    if road_id not in roads:
        known = ", ".join(sorted(roads)) or "none"
        raise located(where, f"road {road_id} is not in {path.name} (its roads: {known})",
                      "use one of the file's road ids in the positions")
    return _straight_road(roads[road_id])


def road_ids(path: Path) -> list[str]:
    return [r.attrib.get("id", "") for r in read_xml(path, "OpenDRIVE").all("road")]


_PLAIN = Params()  # OpenDRIVE has no parameters: numbers read with the same located errors


def _float(node: Element, attr: str, default: float | None = None) -> float:
    return _PLAIN.number(node, attr) if default is None else _PLAIN.number(node, attr, default)


def _straight_road(road: Element) -> StraightRoad:
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
    sections = lanes_el.all("laneSection")
    if not sections:
        raise located(lanes_el, f"road {rid} has no <laneSection>")
    layouts = [_section_lanes(sec, offset) for sec in sections]
    for sec, layout in zip(sections[1:], layouts[1:]):
        if layout != layouts[0]:
            raise located(sec, f"road {rid}: the lanes change at this lane section",
                          "only roads with the same lanes along their whole length are supported")
    return StraightRoad(rid, x0, y0, hdg, length, layouts[0], rule, source=road)


def _section_lanes(section: Element, offset: float) -> dict[int, Lane]:
    lanes: dict[int, Lane] = {}
    for side, sign in (("left", 1), ("right", -1)):
        side_el = section.child(side)
        if side_el is None:
            continue
        specs = []
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
            specs.append((abs(lid), lid, lane.attrib.get("type", "driving"), a))
        t = offset
        for _, lid, kind, width in sorted(specs):
            outer = t + sign * width
            lanes[lid] = Lane(lid, kind, width, t, outer)
            t = outer
    return lanes


def road_frame(road: StraightRoad, ego_lane: int, direction: int, where: Element,
               cross_centre: bool = False) -> RoadFrame:
    """The drivesim road around the ego's lane (`direction` +1 / -1: the ego drives towards +s / -s). The run
    stops at the centre line unless `cross_centre` (an entity starts beyond it, driving the ego's way)."""
    by_t = sorted(road.lanes.values(), key=lambda lane: -lane.t_center)  # left to right for +s
    if ego_lane not in road.lanes or road.lanes[ego_lane].type not in DRIVING_TYPES:
        kind = road.lanes[ego_lane].type if ego_lane in road.lanes else "no such"
        raise located(where, f"the ego starts in lane {ego_lane} of road {road.id} ({kind} lane)",
                      f"start the ego in a lane of type {', '.join(DRIVING_TYPES[:3])}, ...")
    k = next(i for i, lane in enumerate(by_t) if lane.id == ego_lane)
    lo = hi = k
    def joins(i: int) -> bool:
        return by_t[i].type in DRIVING_TYPES and (cross_centre or (by_t[i].id > 0) == (ego_lane > 0))

    while lo > 0 and joins(lo - 1):
        lo -= 1
    while hi + 1 < len(by_t) and joins(hi + 1):
        hi += 1
    run = by_t[lo:hi + 1] if direction > 0 else by_t[lo:hi + 1][::-1]
    width = run[0].width_m
    for lane in run:
        if abs(lane.width_m - width) > 1e-3:
            raise located(road.source, f"road {road.id}: lane {lane.id} is {lane.width_m:g} m wide, lane "
                          f"{run[0].id} {width:g} m", "drivesim's road has lanes of one width: make the "
                          "traffic lanes beside the ego's equally wide")
    if not 1.0 < width <= 10.0 or len(run) > 8:
        raise located(road.source, f"road {road.id}: {len(run)} traffic lanes of {width:g} m",
                      "drivesim supports 1..8 lanes of more than 1 m and at most 10 m")
    t_left = run[0].t_max if direction > 0 else run[0].t_min
    return RoadFrame(road, direction, tuple(lane.id for lane in run), width, t_left)
