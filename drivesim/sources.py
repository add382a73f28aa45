"""A user's scenario, however it is given: the one rule every entry point uses to read it.

    from drivesim.sources import read_scenario
    read_scenario("scenarios/lead_brake.yaml")                 # a file: YAML, or OpenSCENARIO .xosc
    read_scenario(Path("scenarios/openscenario/cut_in.xosc"))  # run into a drivesim scenario
    read_scenario("name: demo\\nduration_s: 2\\n")             # YAML text
    read_scenario(scenario)                                    # a Scenario, as it is

This module sits above the scenario layer and the standards: it imports `drivesim.standards`, so the
formats they register (.xosc) are read wherever a scenario is. The API (`DriveSimPipeline`), the
bridges (highway-env, trajectory replay, the world camera), generate, export and the dataset reader
take scenarios through `read_scenario`. A server never does: it parses the YAML text it is sent
(`parse_scenario`), so that no request can name a file on the server's disk.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

import drivesim.standards  # noqa: F401 - registers .xosc with the loader
from drivesim.errors import DrivesimError
from drivesim.scenario.file_formats import scenario_suffixes
from drivesim.scenario.format import Scenario
from drivesim.scenario.loader import load_scenario, parse_scenario, read_scenario_text

ScenarioSource = Scenario | str | os.PathLike


def read_scenario(source: ScenarioSource, text_name: str = "<scenario text>") -> Scenario:
    """A `Scenario` as it is; a file's (a path, or a string naming one); or YAML text, named `text_name` in
    its errors. Raises `ScenarioError` with every located issue, `DrivesimError` for anything else."""
    if isinstance(source, Scenario):
        return source
    if isinstance(source, os.PathLike):
        return load_scenario(source)
    if isinstance(source, str):
        return parse_scenario(source, text_name) if _is_text(source) else load_scenario(source)
    raise DrivesimError(f"a scenario is a Scenario, a YAML file path or YAML text, got {type(source).__name__}")


def _is_text(source: str) -> bool:
    """Whether a string is YAML text rather than a path: it has a line break, or a colon (`{name: x, ...}`)
    while it neither ends in a scenario suffix nor names a file (so C:\\drive.yaml stays a path)."""
    if "\n" in source:
        return True
    if ":" not in source:
        return False
    return not (source.lower().endswith(scenario_suffixes()) or os.path.exists(source))


def scenario_yaml_text(path: str | os.PathLike) -> str:
    """The YAML text a server is sent for a scenario file: a YAML file as written (its errors keep their
    lines), any other format (.xosc) read here and sent as the drivesim scenario it becomes."""
    if Path(path).suffix.lower() in (".yaml", ".yml", ""):
        return read_scenario_text(path)
    return yaml.safe_dump(load_scenario(path).model_dump(mode="json"), sort_keys=False)
