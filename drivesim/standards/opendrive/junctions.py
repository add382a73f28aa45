"""<junction> -> `drivesim.road.Junction`: its connections (incoming road -> connecting road, entered
at the connecting road's contact point) and their lane links.

Only default junctions (connecting roads inside the junction) are modelled; a direct or virtual
junction is reported as unsupported (junction/@type) and its connections are not read.

    from drivesim.standards.openscenario.xmltree import parse_xml
    from drivesim.standards.opendrive.junctions import read_junction
    node = parse_xml(b'<junction id="9"><connection id="0" incomingRoad="1" connectingRoad="5" '
                     b'contactPoint="start"><laneLink from="-1" to="-1"/></connection></junction>', "a.xodr")
    read_junction(node).connections[0].laneLinks  # (JunctionLaneLink(from_lane=-1, to_lane=-1),)
"""

from __future__ import annotations

from drivesim.road import Connection, Junction, JunctionLaneLink
from drivesim.standards.opendrive.attributes import integer, text
from drivesim.standards.openscenario.xmltree import Element


def read_junction(node: Element) -> Junction:
    junction_id = text(node, "id")
    if text(node, "type", "default") != "default":
        return Junction(junction_id, (), text(node, "name", ""))
    return Junction(junction_id, tuple(read_connection(c) for c in node.all("connection")), text(node, "name", ""))


def read_connection(node: Element) -> Connection:
    links = tuple(JunctionLaneLink(integer(k, "from"), integer(k, "to")) for k in node.all("laneLink"))
    return Connection(text(node, "id"), text(node, "incomingRoad"), text(node, "connectingRoad"),
                      text(node, "contactPoint", choices=("start", "end")), links)  # type: ignore[arg-type]
