"""The standards drivesim reads and writes: ASAM OpenSCENARIO 1.x in (openscenario/, docs/openscenario.md),
ASAM OpenDRIVE roads (opendrive.py), ASAM OSI GroundTruth traces out (osi.py).

Importing this package registers the `.xosc` format with the scenario loader; the scenario layer
never imports it back.
"""
