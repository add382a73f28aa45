"""Which reader a scenario file gets, by its suffix. YAML is the scenario layer's own format; any other
format registers its reader here (`drivesim.standards` registers OpenSCENARIO's .xosc when imported, and
`import drivesim` imports it), so the scenario layer never imports the packages that read other formats.

    from drivesim.scenario.loader import load_scenario, register_format
    register_format(".json", read_json_scenario)   # read(path) -> Scenario, raising ScenarioError
    load_scenario("drive.json")

The registry sits apart from the loader so that registering a format loads neither YAML nor pydantic.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Union

from drivesim.errors import ScenarioError
from drivesim.scenario.issues import ScenarioIssue

if TYPE_CHECKING:
    from drivesim.road import RoadNetwork
    from drivesim.scenario.format import Scenario

PathLike = Union[str, "os.PathLike[str]"]
Reader = Callable[[PathLike], "Scenario"]

RoadReader = Callable[[PathLike], "RoadNetwork"]

YAML_SUFFIXES = (".yaml", ".yml")
_READERS: dict[str, Reader] = {}
_ROAD_READERS: dict[str, RoadReader] = {}


def register_format(suffix: str, read: Reader) -> None:
    """`load_scenario` reads files ending in `suffix` (e.g. ".xosc", any case) with `read(path)`."""
    key = suffix.lower()
    if len(key) < 2 or not key.startswith(".") or key in YAML_SUFFIXES:
        raise ValueError(f"a format's suffix looks like '.xosc' and is not YAML's, got {suffix!r}")
    _READERS[key] = read


def scenario_suffixes() -> tuple[str, ...]:
    """Every suffix `load_scenario` reads: YAML's, then the registered formats'."""
    return YAML_SUFFIXES + tuple(sorted(_READERS))


def reader_for(path: PathLike) -> Reader | None:
    """The registered reader of the file's suffix; None for YAML (.yaml, .yml, or no suffix at all, as
    /dev/stdin); a ScenarioError that names the suffix and the fix for any other suffix."""
    name = os.fspath(path)
    suffix = Path(name).suffix.lower()
    if suffix in _READERS:
        return _READERS[suffix]
    if not suffix or suffix in YAML_SUFFIXES:
        return None
    raise ScenarioError([ScenarioIssue(
        name, None, None, "", f"no reader for '{suffix}' files is registered (scenario files end in "
        f"{', '.join(scenario_suffixes())})",
        f"save a YAML scenario as .yaml, or register a reader of '{suffix}' files first: "
        f"drivesim.scenario.loader.register_format('{suffix}', read)")])


def register_road_format(suffix: str, read: RoadReader) -> None:
    """A scenario's `road: {opendrive: FILE}` (or any road file ending in `suffix`) is read by `read(path)`,
    which returns the `drivesim.road.RoadNetwork` or raises a located DrivesimError (`drivesim.standards`
    registers OpenDRIVE's .xodr)."""
    key = suffix.lower()
    if len(key) < 2 or not key.startswith("."):
        raise ValueError(f"a road format's suffix looks like '.xodr', got {suffix!r}")
    _ROAD_READERS[key] = read


def read_road_network(path: PathLike) -> "RoadNetwork":
    """The road network in a road file, by its suffix's registered reader; a ScenarioError naming the suffix
    and the registered ones where none reads it."""
    name = os.fspath(path)
    suffix = Path(name).suffix.lower()
    if suffix not in _ROAD_READERS:
        known = ", ".join(sorted(_ROAD_READERS)) or "none (import drivesim.standards to register .xodr)"
        raise ScenarioError([ScenarioIssue(name, None, None, "", f"no reader for '{suffix}' road files is "
                                           f"registered (road files: {known})", "give an OpenDRIVE .xodr file")])
    return _ROAD_READERS[suffix](path)
