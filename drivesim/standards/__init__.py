"""The standards drivesim reads and writes: ASAM OpenSCENARIO 1.x in (openscenario/, docs/openscenario.md),
ASAM OpenDRIVE 1.4-1.8 road networks in (opendrive/, docs/opendrive.md), ASAM OSI GroundTruth traces out
(osi.py).

Importing this package registers the `.xosc` scenario format and the `.xodr` road format with the
scenario layer's registry (drivesim/scenario/file_formats.py); the scenario layer never imports it back.
`import drivesim` imports it, so every entry point reads .xosc and .xodr files.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from drivesim.scenario.file_formats import register_format, register_road_format
from drivesim.standards.openscenario import SUFFIXES, load_openscenario

if TYPE_CHECKING:  # registering must not load numpy: the reader is imported when a road file is read
    from drivesim.road import RoadNetwork


def read_opendrive_network(path: str | os.PathLike[str]) -> RoadNetwork:
    """`drivesim.standards.opendrive.read_network`, imported on first use."""
    from drivesim.standards.opendrive import read_network

    return read_network(path)


for _suffix in SUFFIXES:
    register_format(_suffix, load_openscenario)
register_road_format(".xodr", read_opendrive_network)
