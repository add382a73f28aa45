"""<planView> -> `drivesim.road.ReferenceLine`: each <geometry> record becomes the piece of its kind
(line, arc, spiral, poly3, paramPoly3) with the record's attributes unchanged.

Pieces must follow one another in s: each starts where the pieces before it end, to within
`S_CHAIN_TOLERANCE_M` (files round their s values); beyond that the record is refused at its line.

    from drivesim.standards.openscenario.xmltree import parse_xml
    from drivesim.standards.opendrive.plan_view import read_plan_view
    road = parse_xml(b'<road id="1"><planView><geometry s="0" x="0" y="0" hdg="0" length="10">'
                     b'<arc curvature="0.1"/></geometry></planView></road>', "a.xodr")
    read_plan_view(road, "1").pose(10.0)  # x = sin(1) / 0.1, y = (1 - cos(1)) / 0.1, heading 1
"""

from __future__ import annotations

from collections.abc import Callable

from drivesim.road import Arc, Geometry, Line, ParamPoly3, Poly3, ReferenceLine, Spiral
from drivesim.standards.opendrive.attributes import number, text
from drivesim.standards.openscenario.xmltree import Element, located

S_CHAIN_TOLERANCE_M = 1e-3


def _line(shape: Element, start: tuple[float, ...]) -> Geometry:
    return Line(*start)


def _arc(shape: Element, start: tuple[float, ...]) -> Geometry:
    return Arc(*start, curvature=number(shape, "curvature"))


def _spiral(shape: Element, start: tuple[float, ...]) -> Geometry:
    return Spiral(*start, curvStart=number(shape, "curvStart"), curvEnd=number(shape, "curvEnd"))


def _poly3(shape: Element, start: tuple[float, ...]) -> Geometry:
    return Poly3(*start, *(number(shape, k) for k in ("a", "b", "c", "d")))


def _param_poly3(shape: Element, start: tuple[float, ...]) -> Geometry:
    coefficients = (number(shape, k) for k in ("aU", "bU", "cU", "dU", "aV", "bV", "cV", "dV"))
    # OpenDRIVE 1.4 has no pRange and means "normalized"
    p_range = text(shape, "pRange", "normalized", choices=("arcLength", "normalized"))
    return ParamPoly3(*start, *coefficients, pRange=p_range)  # type: ignore[arg-type]


SHAPES: dict[str, Callable[[Element, tuple[float, ...]], Geometry]] = {
    "line": _line, "arc": _arc, "spiral": _spiral, "poly3": _poly3, "paramPoly3": _param_poly3,
}


def read_geometry(node: Element) -> Geometry:
    """One <geometry> record as the piece of its kind."""
    start = tuple(number(node, k) for k in ("s", "x", "y", "hdg", "length"))
    shapes = [c for c in node.children if c.tag != "userData"]
    if len(shapes) != 1:
        found = ", ".join(f"<{c.tag}>" for c in shapes) or "nothing"
        raise located(node, f"a <geometry> holds one shape, this one holds {found}",
                      f"give it one of {', '.join(f'<{k}>' for k in SHAPES)}")
    shape = shapes[0]
    if shape.tag not in SHAPES:
        raise located(shape, f"<{shape.tag}> is not an OpenDRIVE geometry",
                      f"use one of {', '.join(f'<{k}>' for k in SHAPES)}")
    length = start[4]
    if length < 0 or (length == 0 and shape.tag not in ("line", "arc")):
        raise located(node, f"length is {length:g}", f"give the <{shape.tag}> a positive length, or drop the record")
    return SHAPES[shape.tag](shape, start)


def read_plan_view(road: Element, road_id: str) -> ReferenceLine:
    """The road's reference line, its pieces in file order, chained in s."""
    plan = road.require("planView")
    records = plan.all("geometry")
    if not records:
        raise located(plan, f"road {road_id} has no <geometry>", "give the reference line at least one piece")
    pieces = []
    expected_s = 0.0
    for node in records:
        piece = read_geometry(node)
        if abs(piece.s - expected_s) > S_CHAIN_TOLERANCE_M:
            before = f"the pieces before it end at s={expected_s:g}" if pieces else "a road starts at s=0"
            raise located(node, f"road {road_id}: this piece starts at s={piece.s:g}, but {before}",
                          "make each <geometry>'s s the previous one's s + length (to within 1 mm)")
        pieces.append(piece)
        expected_s = piece.s + piece.length
    return ReferenceLine(tuple(pieces))
