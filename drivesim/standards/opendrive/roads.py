"""<road> -> `drivesim.road.Road`: its reference line, elevation, lanes, links and traffic rule.

The model checks what it holds when the road is built (drivesim/road/checks.py); a problem it finds is
reported at the <road>'s line with the model's words, which name the record and its s.

    from pathlib import Path
    from drivesim.standards.openscenario.xmltree import read_xml
    from drivesim.standards.opendrive.roads import read_road_element
    from drivesim.standards.opendrive.unsupported import Notes
    root = read_xml(Path("scenarios/roads/country_road.xodr"), "OpenDRIVE")
    road = read_road_element(root.child("road"), Notes())
    road.elevation(400.0)[0]  # 14 m up at the end
"""

from __future__ import annotations

from drivesim.errors import DrivesimError
from drivesim.road import NO_JUNCTION, Road, RoadLink
from drivesim.standards.opendrive.attributes import number, text
from drivesim.standards.opendrive.lanes import read_cubic, read_lanes
from drivesim.standards.opendrive.plan_view import read_plan_view
from drivesim.standards.opendrive.unsupported import Notes
from drivesim.standards.openscenario.xmltree import Element, located


def read_road_element(node: Element, notes: Notes) -> Road:
    """One <road> as the model's Road."""
    road_id = text(node, "id")
    length = number(node, "length")
    plan_view = read_plan_view(node, road_id)
    profile = node.child("elevationProfile")
    elevation = tuple(read_cubic(e, "s") for e in profile.all("elevation")) if profile is not None else ()
    offsets, sections = read_lanes(node.require("lanes"), road_id, length, notes)
    predecessor, successor = road_links(node)
    try:
        return Road(id=road_id, length=length, planView=plan_view, laneSections=sections,
                    elevationProfile=elevation, laneOffset=offsets,
                    junction=text(node, "junction", NO_JUNCTION) or NO_JUNCTION,
                    predecessor=predecessor, successor=successor,
                    rule=text(node, "rule", "RHT", choices=("RHT", "LHT")),  # type: ignore[arg-type]
                    name=text(node, "name", ""))
    except DrivesimError as err:
        raise located(node, str(err)) from None


def road_links(node: Element) -> tuple[RoadLink | None, RoadLink | None]:
    """The road's <link><predecessor>/<successor> (None where there is none)."""
    link = node.child("link")
    ends = [link.child(end) if link is not None else None for end in ("predecessor", "successor")]
    return tuple(_road_link(end) if end is not None else None for end in ends)  # type: ignore[return-value]


def link_elements(node: Element) -> dict[str, Element]:
    """The <predecessor>/<successor> elements of a road's <link>, by end."""
    link = node.child("link")
    found = {end: link.child(end) for end in ("predecessor", "successor")} if link is not None else {}
    return {end: el for end, el in found.items() if el is not None}


def _road_link(node: Element) -> RoadLink:
    kind = text(node, "elementType", choices=("road", "junction"))
    contact = None
    if kind == "road":  # a junction is entered by its connections' contact points
        contact = text(node, "contactPoint", choices=("start", "end"))
    return RoadLink(kind, text(node, "elementId"), contact)  # type: ignore[arg-type]
