"""OpenDRIVE attribute values -> Python values, each failure a located error (file:line:column, the
element, what is wrong, how to fix it).

OpenDRIVE numbers are XML Schema doubles ("12", "-0.5", "1.2e-3"). NaN and infinities are valid XML
doubles but never a valid road, so they are refused wherever they appear in a file -- in records drivesim
reads and in the ones it only names as unsupported. A number drivesim reads is at most MAX_NUMBER in size:
larger ones (a lane 1e308 m wide) overflow the road's arithmetic into NaN.

    from drivesim.standards.openscenario.xmltree import parse_xml
    from drivesim.standards.opendrive.attributes import number
    node = parse_xml(b'<arc curvature="0.01"/>', "road.xodr")
    number(node, "curvature")  # 0.01; "abc" or "NaN" -> ScenarioError road.xodr:1:1: arc: ...
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from drivesim.standards.openscenario.xmltree import Element, located

REQUIRED: Any = object()  # no default: the attribute must be there
MAX_NUMBER = 1e12  # metres, radians, 1/m: far beyond any map (and its georeferenced coordinates)
_DOUBLE = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_NON_FINITE = {"nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
# Attributes that hold names rather than numbers: a road may well be named "Inf".
_NAME_ATTRIBUTES = {"id", "name", "vendor", "version", "date", "type", "subtype", "color", "country",
                    "elementId", "incomingRoad", "connectingRoad", "linkedRoad", "junction", "text", "unit"}


def text(node: Element, attr: str, default: Any = REQUIRED, choices: Sequence[str] = ()) -> str:
    """The attribute's text, stripped; one of `choices` when they are given."""
    raw = node.attrib.get(attr)
    if raw is None:
        if default is REQUIRED:
            raise located(node, f"missing attribute {attr}", f'add {attr}="..." to <{node.tag}>')
        return default
    value = raw.strip()
    if choices and value not in choices:
        raise located(node, f"{attr} is {value!r}", f"use one of {', '.join(choices)}")
    return value


def number(node: Element, attr: str, default: Any = REQUIRED) -> float:
    """A finite number (metres, radians, 1/m, ... as OpenDRIVE defines the attribute)."""
    raw = text(node, attr, None)
    if raw is None:
        if default is REQUIRED:
            raise located(node, f"missing attribute {attr}", f'add {attr}="..." to <{node.tag}>')
        return default
    if raw.lower() in _NON_FINITE:
        raise located(node, f"{attr} is {raw!r}, not a finite number", f"give {attr} a finite number")
    if not _DOUBLE.fullmatch(raw):
        raise located(node, f"{attr} is {raw!r}, not a number", f'write {attr} as a decimal number, e.g. {attr}="1.5"')
    value = float(raw)
    if not math.isfinite(value):  # e.g. 1e999 overflows
        raise located(node, f"{attr} is {raw!r}, which overflows a double", f"give {attr} a finite number")
    if abs(value) > MAX_NUMBER:
        raise located(node, f"{attr} is {raw!r}, beyond +-{MAX_NUMBER:g}",
                      f"give {attr} in metres, radians or 1/m: no road needs a number this large")
    return value


def integer(node: Element, attr: str, default: Any = REQUIRED) -> int:
    """A whole number (lane ids, laneLink from/to)."""
    raw = text(node, attr, None)
    if raw is None:
        if default is REQUIRED:
            raise located(node, f"missing attribute {attr}", f'add {attr}="..." to <{node.tag}>')
        return default
    if not _INTEGER.fullmatch(raw):
        raise located(node, f"{attr} is {raw!r}, not a whole number", f'write {attr} as an integer, e.g. {attr}="-1"')
    return int(raw)


def refuse_non_finite(root: Element) -> None:
    """A located error at the first NaN or infinity in any numeric attribute of the file."""
    for node in root.walk():
        for attr, raw in node.attrib.items():
            if attr not in _NAME_ATTRIBUTES and raw.strip().lower() in _NON_FINITE:
                raise located(node, f"{attr} is {raw.strip()!r}, not a finite number",
                              f"give {attr} a finite number (NaN and infinities are never a valid road)")
