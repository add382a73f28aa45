"""A road network written as an OpenDRIVE 1.6 file, so that a header can name it (`road: {opendrive: FILE}`).

The bridges build `drivesim.road` networks from a simulator's own road (highway-env's lanes); a session
header names its road by file, so the network is written out and read back by drivesim's OpenDRIVE reader
(and any other OpenDRIVE tool). Written: every road's reference line (line, arc, spiral pieces), elevation,
lane offset, lane sections with their lanes' types, widths and links. Not written (the bridges' networks
have none; a network holding them is refused): poly3 / paramPoly3 pieces, road links and junctions.
Numbers are written with `repr`, so a network reads back to the same floats.

    from drivesim.road import RoadNetwork, straight_road
    from drivesim.bridges.opendrive_out import write_opendrive
    write_opendrive(RoadNetwork.of([straight_road(100.0, [3.5])]), "road.xodr")
"""

from __future__ import annotations

import os
from pathlib import Path
from xml.sax.saxutils import quoteattr

from drivesim.errors import DrivesimError
from drivesim.road import Arc, Lane, Line, RoadNetwork, Spiral
from drivesim.road.cubic import CubicRecord

__all__ = ["write_opendrive", "opendrive_text"]


def write_opendrive(network: RoadNetwork, path: str | os.PathLike[str], name: str = "") -> Path:
    """Write the network to `path` (its folder must exist); returns the path."""
    out = Path(path)
    out.write_text(opendrive_text(network, name), encoding="utf-8")
    return out


def opendrive_text(network: RoadNetwork, name: str = "") -> str:
    if network.junctions:
        raise DrivesimError("writing OpenDRIVE junctions is not supported; the network has "
                            f"{len(network.junctions)}")
    out = ['<?xml version="1.0" encoding="UTF-8"?>', "<OpenDRIVE>",
           f'  <header revMajor="1" revMinor="6" name={quoteattr(name)}/>']
    for road in network.roads.values():
        if road.predecessor is not None or road.successor is not None:
            raise DrivesimError(f"road '{road.id}': writing road links is not supported")
        out.append(f"  <road id={quoteattr(road.id)} length={_q(road.length)} junction={quoteattr(road.junction)} "
                   f"rule={quoteattr(road.rule)}>")
        out.append("    <planView>")
        out += [f"      {_geometry(road.id, g)}" for g in road.planView.geometries]
        out.append("    </planView>")
        out.append("    <elevationProfile>")
        out += [f"      {_cubic('elevation', r)}" for r in road.elevationProfile]
        out.append("    </elevationProfile>")
        out.append("    <lanes>")
        out += [f"      {_cubic('laneOffset', r)}" for r in road.laneOffset]
        for section in road.laneSections:
            out.append(f"      <laneSection s={_q(section.s)}>")
            for side, lanes in (("left", section.left), ("center", (section.center,)), ("right", section.right)):
                if lanes:
                    out.append(f"        <{side}>")
                    out += [f"          {_lane(lane)}" for lane in sorted(lanes, key=lambda lane: -lane.id)]
                    out.append(f"        </{side}>")
            out.append("      </laneSection>")
        out.append("    </lanes>")
        out.append("  </road>")
    out.append("</OpenDRIVE>")
    return "\n".join(out) + "\n"


def _geometry(road_id: str, g: object) -> str:
    start = f"<geometry s={_q(g.s)} x={_q(g.x)} y={_q(g.y)} hdg={_q(g.hdg)} length={_q(g.length)}>"
    if type(g) is Line:
        shape = "<line/>"
    elif type(g) is Arc:
        shape = f"<arc curvature={_q(g.curvature)}/>"
    elif type(g) is Spiral:
        shape = f"<spiral curvStart={_q(g.curvStart)} curvEnd={_q(g.curvEnd)}/>"
    else:
        raise DrivesimError(f"road '{road_id}': writing <{g.element}> pieces is not supported")
    return f"{start}{shape}</geometry>"


def _cubic(tag: str, r: CubicRecord) -> str:
    return f"<{tag} s={_q(r.s)} a={_q(r.a)} b={_q(r.b)} c={_q(r.c)} d={_q(r.d)}/>"


def _lane(lane: Lane) -> str:
    link = ""
    if lane.predecessor is not None or lane.successor is not None:
        link = "<link>" + "".join(f"<{end} id=\"{v}\"/>" for end, v in (("predecessor", lane.predecessor),
                                                                     ("successor", lane.successor)) if v is not None)
        link += "</link>"
    widths = "".join(f"<width sOffset={_q(w.sOffset)} a={_q(w.a)} b={_q(w.b)} c={_q(w.c)} d={_q(w.d)}/>"
                     for w in lane.widths)
    return f"<lane id=\"{lane.id}\" type={quoteattr(lane.type)}>{link}{widths}</lane>"


def _q(x: float) -> str:
    return f'"{float(x)!r}"'
