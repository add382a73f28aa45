"""The standards drivesim reads and writes: ASAM OpenSCENARIO 1.x in (openscenario/, docs/openscenario.md),
ASAM OpenDRIVE roads (opendrive.py), ASAM OSI GroundTruth traces out (osi.py).

Importing this package registers the `.xosc` format with the scenario loader; the scenario layer
never imports it back. `import drivesim` imports it, so every entry point reads .xosc files.
"""

from drivesim.scenario.file_formats import register_format
from drivesim.standards.openscenario import SUFFIXES, load_openscenario

for _suffix in SUFFIXES:
    register_format(_suffix, load_openscenario)
