"""<lanes> -> the road's laneOffset records and `drivesim.road.LaneSection`s: lanes with their width
records, road marks and lane links, as the file gives them.

Checked here, at the element's line: lane ids on their side (left > 0, centre 0, right < 0), OpenDRIVE
lane and road mark types, and widths that never go negative up to the next record or the section's
end. What the model checks beyond that (ids without gaps, links to existing lanes) is reported at the
<road>. A lane with more than one predecessor or successor keeps the first (reported as unsupported). A
`singleSide="true"` section gives one side only: the other side keeps the previous section's lanes
(their width and road mark records re-based to the new section's start), which is reported too.

    from drivesim.standards.openscenario.xmltree import parse_xml
    from drivesim.standards.opendrive.lanes import read_lanes
    from drivesim.standards.opendrive.unsupported import Notes
    lanes = parse_xml(b'<lanes><laneSection s="0"><center><lane id="0" type="none"/></center><right>'
                      b'<lane id="-1" type="driving"><width sOffset="0" a="3.5" b="0" c="0" d="0"/></lane>'
                      b'</right></laneSection></lanes>', "a.xodr")
    offsets, sections = read_lanes(lanes, "1", 100.0, Notes())
    sections[0].lanes[-1].widths  # (LaneWidth(sOffset=0.0, a=3.5, b=0.0, c=0.0, d=0.0),)
"""

from __future__ import annotations

from dataclasses import replace

from drivesim.road import LANE_TYPES, ROAD_MARK_TYPES, CubicRecord, Lane, LaneSection, LaneWidth, RoadMark
from drivesim.road.cubic import cubic_minimum
from drivesim.standards.opendrive.attributes import integer, number, text
from drivesim.standards.opendrive.unsupported import Notes
from drivesim.standards.openscenario.xmltree import Element, located

NEGATIVE_WIDTH_TOLERANCE_M = 1e-6  # rounding in a file's coefficients, not a lane
_SIDES = (("left", 1), ("center", 0), ("right", -1))
SINGLE_SIDE = ("read as: the side a singleSide lane section leaves out keeps the previous section's lanes "
               "(a first section leaves that side empty)")
_MULTIPLE_LINKS = "road/lanes/laneSection/*/lane/link (more than one predecessor or successor)"


def read_cubic(node: Element, start: str) -> CubicRecord:
    """An <elevation> or <laneOffset> record: a required, b, c, d zero when absent."""
    return CubicRecord(number(node, start), number(node, "a"), *(number(node, k, 0.0) for k in ("b", "c", "d")))


def read_lanes(lanes: Element, road_id: str, road_length: float,
               notes: Notes) -> tuple[tuple[CubicRecord, ...], tuple[LaneSection, ...]]:
    """The <laneOffset> records and the lane sections of one road."""
    offsets = tuple(read_cubic(node, "s") for node in lanes.all("laneOffset"))
    nodes = lanes.all("laneSection")
    if not nodes:
        raise located(lanes, f"road {road_id} has no <laneSection>", "give the road at least one lane section")
    starts = [number(node, "s") for node in nodes]
    sections: list[LaneSection] = []
    for k, node in enumerate(nodes):
        end = starts[k + 1] if k + 1 < len(nodes) else road_length
        section = _section(node, starts[k], end - starts[k], notes)
        if text(node, "singleSide", "false") in ("true", "1"):
            notes.add("road/lanes/laneSection/@singleSide", node, SINGLE_SIDE)
            if sections:
                section = _continue_other_side(section, node, sections[-1])
        sections.append(section)
    return offsets, tuple(sections)


def _continue_other_side(section: LaneSection, node: Element, previous: LaneSection) -> LaneSection:
    """A singleSide section: the side it leaves out keeps the previous section's lanes, re-based to its s."""
    shift = section.s - previous.s
    sides = {side: getattr(section, side) if node.child(side) is not None else
             tuple(_rebased(lane, shift) for lane in getattr(previous, side)) for side in ("left", "right")}
    return replace(section, **sides)


def _rebased(lane: Lane, shift: float) -> Lane:
    """The same lane from `shift` metres into its section on: records re-expanded about the new start."""
    widths = []
    for k, w in enumerate(lane.widths):
        if k + 1 < len(lane.widths) and lane.widths[k + 1].sOffset <= shift:
            continue  # ended before the new start
        x = max(shift - w.sOffset, 0.0)  # the cubic about its value at the new start
        widths.append(LaneWidth(max(w.sOffset - shift, 0.0), w.a + x * (w.b + x * (w.c + x * w.d)),
                                w.b + x * (2 * w.c + 3 * w.d * x), w.c + 3 * w.d * x, w.d))
    marks = [replace(m, sOffset=max(m.sOffset - shift, 0.0)) for k, m in enumerate(lane.road_marks)
             if k + 1 == len(lane.road_marks) or lane.road_marks[k + 1].sOffset > shift]
    return replace(lane, widths=tuple(widths), road_marks=tuple(marks), predecessor=lane.id)


def _section(node: Element, s: float, length: float, notes: Notes) -> LaneSection:
    sides: dict[str, list[Lane]] = {"left": [], "center": [], "right": []}
    for side, sign in _SIDES:
        side_node = node.child(side)
        for lane_node in side_node.all("lane") if side_node is not None else ():
            sides[side].append(_lane(lane_node, side, sign, s, length, notes))
    if len(sides["center"]) != 1:
        raise located(node.child("center") or node, f"a lane section has one centre lane, this one has "
                      f"{len(sides['center'])}", 'give <center> exactly one <lane id="0">')
    return LaneSection(s, left=tuple(sides["left"]), center=sides["center"][0], right=tuple(sides["right"]))


def _lane(node: Element, side: str, sign: int, section_s: float, section_length: float, notes: Notes) -> Lane:
    lane_id = integer(node, "id")
    if (lane_id > 0) - (lane_id < 0) != sign:
        want = {1: "positive", 0: "0", -1: "negative"}[sign]
        raise located(node, f"lane id {lane_id} does not belong in <{side}>", f"give lanes in <{side}> {want} ids")
    lane_type = text(node, "type")
    if lane_type not in LANE_TYPES:
        raise located(node, f"type {lane_type!r} is not an OpenDRIVE lane type", f"use one of {', '.join(LANE_TYPES)}")
    widths: tuple[LaneWidth, ...] = ()
    if sign == 0:
        for width in node.all("width"):
            notes.add("road/lanes/laneSection/*/lane/width (centre lane)", width)
    else:
        widths = _widths(node, lane_id, section_s, section_length)
    predecessor, successor = _links(node, notes)
    return Lane(lane_id, lane_type, widths, tuple(_road_mark(m) for m in node.all("roadMark")), predecessor, successor)


def _widths(node: Element, lane_id: int, section_s: float, section_length: float) -> tuple[LaneWidth, ...]:
    records = node.all("width")
    if not records:
        given = " (it is given by <border>, which drivesim does not read)" if node.child("border") else ""
        raise located(node, f"lane {lane_id} has no <width>{given}", "give the lane its <width> records")
    widths = tuple(LaneWidth(number(w, "sOffset"), number(w, "a"), *(number(w, k, 0.0) for k in ("b", "c", "d")))
                   for w in records)
    for k, (record, w) in enumerate(zip(records, widths)):
        end = widths[k + 1].sOffset if k + 1 < len(widths) else section_length
        lowest, at = cubic_minimum(w.a, w.b, w.c, w.d, end - w.sOffset)
        if lowest < -NEGATIVE_WIDTH_TOLERANCE_M:
            raise located(record, f"lane {lane_id}'s width goes negative ({lowest:.3g} m at road "
                          f"s={section_s + w.sOffset + at:g})",
                          "change a, b, c, d so the width stays >= 0 up to the next <width> or the section's end")
    return widths


def _road_mark(node: Element) -> RoadMark:
    mark_type = text(node, "type")
    if mark_type not in ROAD_MARK_TYPES:
        raise located(node, f"type {mark_type!r} is not an OpenDRIVE road mark type",
                      f"use one of {', '.join(ROAD_MARK_TYPES)}")
    return RoadMark(number(node, "sOffset", 0.0), mark_type, text(node, "color", "standard"),
                    number(node, "width", None))


def _links(node: Element, notes: Notes) -> tuple[int | None, int | None]:
    link = node.child("link")
    if link is None:
        return None, None
    found = []
    for end in ("predecessor", "successor"):
        records = link.all(end)
        if len(records) > 1:
            notes.add(_MULTIPLE_LINKS, records[1], "a lane links to one lane each way: the first "
                      f"<{end}> is kept")
        found.append(integer(records[0], "id") if records else None)
    return found[0], found[1]
