"""An OpenDRIVE 1.4-1.8 file -> `drivesim.road.RoadNetwork`, with what the model does not hold named.

`read_opendrive(path)` returns the network, the header and the `Unsupported` records (one per kind:
element path, reason, first file:line, count). `read_network(path)` returns the network alone and
emits each unsupported kind as an `OpenDriveWarning` -- the reader registered for ".xodr" files.
Every error is a located `ScenarioError` (a DrivesimError): file:line:column, the element, what is
wrong and how to fix it: malformed or non-finite numbers, missing attributes, unknown geometry,
negative widths, links to roads or junctions the file does not have, duplicate ids.

    import warnings
    from drivesim.standards.opendrive import read_network, read_opendrive
    network = read_network("scenarios/roads/crossing.xodr")
    sorted(network.junctions)  # ['100']
    for unsupported in read_opendrive("scenarios/roads/crossing.xodr").unsupported:
        print(unsupported)  # file:line: <tag> (path) xN not read: why
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from drivesim.errors import DrivesimError
from drivesim.road import Junction, Road, RoadNetwork
from drivesim.standards.opendrive.attributes import integer, number, refuse_non_finite, text
from drivesim.standards.opendrive.junctions import read_junction
from drivesim.standards.opendrive.roads import link_elements, read_road_element
from drivesim.standards.opendrive.unsupported import Notes, Unsupported, scan
from drivesim.standards.openscenario.xmltree import Element, located, read_xml

READ_MINOR_VERSIONS = range(4, 9)  # OpenDRIVE 1.4 .. 1.8


class OpenDriveWarning(UserWarning):
    """A kind of OpenDRIVE record drivesim does not read: its path, why, where the first one is, how many."""


@dataclass(frozen=True)
class OpenDriveHeader:
    """<header>: the standard's version and the file's own name, version and date."""

    revMajor: int  # camelCase: OpenDRIVE's attribute names
    revMinor: int
    name: str = ""
    version: str = ""
    date: str = ""
    vendor: str = ""


@dataclass(frozen=True)
class OpenDriveFile:
    """What `read_opendrive` read: the network, the header, and every kind of record it did not read."""

    network: RoadNetwork
    header: OpenDriveHeader
    unsupported: tuple[Unsupported, ...]
    elements: dict[str, Element] = field(repr=False, default_factory=dict)  # each <road> by id: its line


def read_opendrive(path: str | os.PathLike[str]) -> OpenDriveFile:
    """Read an OpenDRIVE file (see the module docstring); no warnings are emitted."""
    root = read_xml(Path(path), "OpenDRIVE")
    refuse_non_finite(root)
    notes = Notes()
    header = _header(root.require("header"), notes)
    road_nodes = _unique(root.all("road"), "road")
    junction_nodes = _unique(root.all("junction"), "junction")
    roads = {road_id: read_road_element(node, notes) for road_id, node in road_nodes.items()}
    junctions = {junction_id: read_junction(node) for junction_id, node in junction_nodes.items()}
    _check_references(roads, road_nodes, junctions, junction_nodes)
    scan(root, notes)
    try:
        network = RoadNetwork(roads, junctions)
    except DrivesimError as err:  # the model's own checks of links between roads
        raise located(_blamed(str(err), root, road_nodes, junction_nodes), str(err)) from None
    return OpenDriveFile(network, header, notes.grouped(), dict(road_nodes))


def read_network(path: str | os.PathLike[str]) -> RoadNetwork:
    """The road network of an OpenDRIVE file; each kind of record drivesim does not read is one
    `OpenDriveWarning` ("file:line: <tag> (path) xN not read: why")."""
    read = read_opendrive(path)
    for unsupported in read.unsupported:
        warnings.warn(str(unsupported), OpenDriveWarning, stacklevel=2)
    return read.network


def _header(node: Element, notes: Notes) -> OpenDriveHeader:
    major, minor = integer(node, "revMajor"), integer(node, "revMinor")
    if major != 1:
        raise located(node, f"this is OpenDRIVE {major}.{minor}", "drivesim reads OpenDRIVE 1.4 to 1.8 files")
    if minor not in READ_MINOR_VERSIONS:
        notes.add("header/@revMinor", node, f"this file is OpenDRIVE 1.{minor}; drivesim reads 1.4 to 1.8 and "
                  "reads it as if it were one of them")
    for bound in ("north", "south", "east", "west"):
        number(node, bound, 0.0)  # not used, but a malformed one is an error like any other number
    return OpenDriveHeader(major, minor, *(text(node, k, "") for k in ("name", "version", "date", "vendor")))


def _unique(nodes: list[Element], kind: str) -> dict[str, Element]:
    found: dict[str, Element] = {}
    for node in nodes:
        key = text(node, "id")
        if key in found:
            raise located(node, f"a second {kind} with id {key!r} (the first is at line {found[key].line})",
                          f"give every {kind} its own id")
        found[key] = node
    return found


def _check_references(roads: dict[str, Road], road_nodes: dict[str, Element], junctions: dict[str, Junction],
                      junction_nodes: dict[str, Element]) -> None:
    """Links and connections name roads and junctions the file has: else an error at the naming element."""
    for road_id, road in roads.items():
        if road.in_junction and road.junction not in junctions:
            raise located(road_nodes[road_id], f"road {road_id} lies in junction {road.junction!r}, which the file "
                          "does not have", 'add the <junction>, or set junction="-1"')
        ends = link_elements(road_nodes[road_id])
        for end, link in (("predecessor", road.predecessor), ("successor", road.successor)):
            known = roads if link is not None and link.elementType == "road" else junctions
            if link is not None and link.elementId not in known:
                raise located(ends[end], f"road {road_id}'s {end} is {link.elementType} {link.elementId!r}, which "
                              f"the file does not have ({link.elementType}s: {', '.join(sorted(known)) or 'none'})",
                              f"name one of the file's {link.elementType}s, or drop the <{end}>")
    for junction_id, junction in junctions.items():
        for connection, node in zip(junction.connections, junction_nodes[junction_id].all("connection")):
            for role in ("incomingRoad", "connectingRoad"):
                if getattr(connection, role) not in roads:
                    raise located(node, f"{role} {getattr(connection, role)!r} is not a road of the file",
                                  "name one of the file's roads")


def _blamed(message: str, root: Element, road_nodes: dict[str, Element],
            junction_nodes: dict[str, Element]) -> Element:
    """The element a model error's message starts with (road 'x' / junction 'y'), else the root."""
    match = re.match(r"(road|junction) '([^']*)'", message)
    if match:
        nodes = road_nodes if match.group(1) == "road" else junction_nodes
        return nodes.get(match.group(2), root)
    return root
