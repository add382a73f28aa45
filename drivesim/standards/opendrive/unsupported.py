"""What an OpenDRIVE file holds that drivesim does not read, named -- never skipped in silence.

Every element of the file is either one the reader reads (`READ`), one `drivesim.road.UNSUPPORTED`
lists with why, or one drivesim does not know; the last two are reported with their element path, the
reason, where the first one is (file:line) and how many there are: one `Unsupported` line per kind,
which a CLI prints as it is. Attributes the model does not hold are reported the same way when their
value would change the road (`level="true"`, `direction="reversed"`, a junction of type "direct", ...);
records whose values change nothing (a zero superelevation, a zero header offset) are not.

    from drivesim.standards.openscenario.xmltree import parse_xml
    from drivesim.standards.opendrive.unsupported import Notes, scan
    root = parse_xml(b'<OpenDRIVE><road><objects/><signals/><objects/></road></OpenDRIVE>', "a.xodr")
    notes = Notes()
    scan(root, notes)
    [str(u) for u in notes.grouped()]
    # ["a.xodr:1: <objects> (road/objects) x2 not read: road objects ... are not modelled", ...]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from drivesim.road import UNSUPPORTED
from drivesim.standards.openscenario.xmltree import Element

_LANE = "road/lanes/laneSection/*/lane"
# Element paths (below <OpenDRIVE>; "*" for left/center/right) the reader turns into the road model.
READ: frozenset[str] = frozenset({
    "header", "road", "road/link", "road/link/predecessor", "road/link/successor", "road/planView",
    "road/planView/geometry", *(f"road/planView/geometry/{kind}" for kind in ("line", "arc", "spiral", "poly3",
                                                                               "paramPoly3")),
    "road/elevationProfile", "road/elevationProfile/elevation", "road/lateralProfile", "road/lanes",
    "road/lanes/laneOffset", "road/lanes/laneSection", "road/lanes/laneSection/*", _LANE, f"{_LANE}/link",
    f"{_LANE}/link/predecessor", f"{_LANE}/link/successor", f"{_LANE}/width", f"{_LANE}/roadMark",
    "junction", "junction/connection", "junction/connection/laneLink",
})

# What drivesim.road.UNSUPPORTED does not list: the reader's own reasons.
OTHER_REASONS: dict[str, str] = {
    "userData": "vendor data is not read",
    "include": "included files are not read: give the whole network in one file",
    "dataQuality": "data quality records do not change the road",
    "road/link/neighbor": "OpenDRIVE 1.4 <neighbor> links are not read (the model links roads end to end)",
    "road/link/predecessor/@elementS": "links into the middle of a road (virtual junctions) are not modelled",
    "road/link/successor/@elementS": "links into the middle of a road (virtual junctions) are not modelled",
    f"{_LANE}/width (centre lane)": "the centre lane has no width in OpenDRIVE: its <width> records are ignored",
    "header/@revMinor": "drivesim reads OpenDRIVE 1.4 to 1.8; other minor versions are read as if they were",
}
UNKNOWN_REASON = "drivesim does not know this element (it is not one OpenDRIVE 1.4-1.8 defines for this place)"

_ZERO_COEFFICIENTS = ("a", "b", "c", "d")


def _all_zero(node: Element, attrs: tuple[str, ...]) -> bool:
    try:
        return all(float(node.attrib.get(a, "0")) == 0.0 for a in attrs)
    except ValueError:
        return False


# Unsupported elements whose values change nothing: not reported.
_NO_EFFECT: dict[str, Callable[[Element], bool]] = {
    "header/offset": lambda node: _all_zero(node, ("x", "y", "z", "hdg")),
    "road/lateralProfile/superelevation": lambda node: _all_zero(node, _ZERO_COEFFICIENTS),
    "road/lateralProfile/crossfall": lambda node: _all_zero(node, _ZERO_COEFFICIENTS),
    "road/lateralProfile/shape": lambda node: _all_zero(node, _ZERO_COEFFICIENTS),
}
# Attributes of read elements: the values that mean what the model assumes anyway.
_ATTRIBUTE_DEFAULTS: dict[str, Callable[[str], bool]] = {
    f"{_LANE}/@level": lambda v: v in ("false", "0"),
    f"{_LANE}/@direction": lambda v: v == "standard",
    f"{_LANE}/roadMark/@weight": lambda v: v == "standard",
    f"{_LANE}/roadMark/@laneChange": lambda v: v == "both",
    f"{_LANE}/roadMark/@height": lambda v: _is_zero(v),
    f"{_LANE}/roadMark/@material": lambda v: v == "standard",
    "junction/@type": lambda v: v == "default",
    "road/link/predecessor/@elementS": lambda v: False,
    "road/link/successor/@elementS": lambda v: False,
}


def _is_zero(value: str) -> bool:
    try:
        return float(value) == 0.0
    except ValueError:
        return False


def reason_for(path: str) -> str:
    """Why drivesim does not read the record at `path`."""
    if path in UNSUPPORTED:
        return UNSUPPORTED[path]
    return OTHER_REASONS.get(path) or OTHER_REASONS.get(path.rpartition("/")[2]) or UNKNOWN_REASON


@dataclass(frozen=True)
class Unsupported:
    """One kind of record drivesim does not read (or reads only as its `reason` says, "read as: ..."): its
    path, why, where the first one is, how many."""

    record: str  # element path below <OpenDRIVE>, "@" before an attribute
    reason: str
    file: str
    line: int
    count: int

    def __str__(self) -> str:
        tag = self.record.split(" ")[0].rpartition("/")[2]
        shown = tag if tag.startswith("@") else f"<{tag}>"
        times = f" x{self.count}" if self.count > 1 else ""
        verdict = "" if self.reason.startswith("read as") else " not read:"  # an interpretation says so itself
        return f"{self.file}:{self.line}: {shown} ({self.record}){times}{verdict} {self.reason}"


class Notes:
    """Unsupported records as the reader meets them, grouped by kind in the order first met."""

    def __init__(self) -> None:
        self._kinds: dict[str, list] = {}

    def add(self, record: str, node: Element, reason: str | None = None) -> None:
        if record in self._kinds:
            self._kinds[record][3] += 1
        else:
            self._kinds[record] = [reason or reason_for(record), node.file, node.line, 1]

    def grouped(self) -> tuple[Unsupported, ...]:
        return tuple(Unsupported(record, *values) for record, values in self._kinds.items())


def element_path(parents: list[str], tag: str) -> str:
    """The path of an element below <OpenDRIVE>, lane sides as "*"."""
    if parents[-1:] == ["laneSection"] and tag in ("left", "center", "right"):
        tag = "*"
    return "/".join([*parents, tag])


def scan(root: Element, notes: Notes) -> None:
    """Note every element and attribute of the file the road model does not hold."""
    stack = [(child, []) for child in reversed(root.children)]
    while stack:
        node, parents = stack.pop()
        path = element_path(parents, node.tag)
        if path not in READ:
            if not _NO_EFFECT.get(path, lambda _: False)(node):
                notes.add(path, node)
            continue  # the whole element is unsupported: its children are part of it
        for attr, value in node.attrib.items():
            key = f"{path}/@{attr}"
            if key in _ATTRIBUTE_DEFAULTS and not _ATTRIBUTE_DEFAULTS[key](value.strip()):
                notes.add(key, node)
        names = [*parents, path.rpartition("/")[2]]
        stack.extend((child, names) for child in reversed(node.children))
