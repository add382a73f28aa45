"""ASAM OpenSCENARIO 1.0-1.2 on OpenDRIVE road networks -> drivesim scenarios (docs/openscenario.md).

    drivesim convert scenarios/openscenario/cut_in.xosc -o out/cut_in.yaml
    drivesim plan scenarios/openscenario/cut_in.xosc -o out/labels.jsonl   # every command reads .xosc

    from drivesim.standards.openscenario import import_openscenario
    imported = import_openscenario("scenarios/openscenario/cut_in.xosc")
    imported.scenario, imported.yaml, imported.events   # Scenario, its YAML, the events and when they fired

Pipeline: `parse.py` reads the file (parameters, catalogs, the road; routes and synchronisation in
`parse_network.py`) into `model.py` data, `runner.py` runs the storyboard frame by frame (its life cycle in
`storyboard.py`, conditions in `conditions.py`) and records each entity's timed changes (`motion.py`);
`convert.py` writes them as a version-1 scenario on one straight road. A scenario that needs more (curves,
several roads, both directions, routes) runs on the whole network (`network_runner.py`, positions in
`network_places.py`) and is written with `road: {opendrive}`, positions and routes (`convert_network.py`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # `import drivesim` registers this format: registering must not load pydantic
    from drivesim.scenario.format import Scenario

DEFAULT_FPS = 10.0
DEFAULT_MAX_DURATION_S = 60.0  # the clip's length when no StopTrigger fires earlier
SUFFIXES = (".xosc",)


@dataclass(frozen=True)
class ImportOptions:
    fps: float = DEFAULT_FPS  # frames per second of the clip, and the runner's time step
    max_duration_s: float = DEFAULT_MAX_DURATION_S
    # where the YAML will be written: on a road network its `road.opendrive` is relative to it (absolute if None)
    output: Optional[Path] = None


@dataclass(frozen=True)
class Imported:
    scenario: Scenario
    yaml: str  # the same scenario as drivesim YAML (with the fired events as comments)
    events: tuple  # storyboard.FiredEvent: (time_s, event path, execution) in firing order
    warnings: tuple[str, ...]
    stopped_by_trigger: bool


def is_openscenario(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in SUFFIXES


def import_openscenario(path: str | os.PathLike[str], options: ImportOptions = ImportOptions()) -> Imported:
    """Read and run an .xosc file; raises `ScenarioError` (located at the element) for what is not supported."""
    from drivesim.errors import DrivesimError
    from drivesim.standards.openscenario.convert import scenario_yaml
    from drivesim.standards.openscenario.convert_network import network_yaml
    from drivesim.standards.openscenario.parse import parse_file
    from drivesim.standards.openscenario.network_runner import NetworkRunner
    from drivesim.standards.openscenario.runner import NeedsNetwork, Runner
    from drivesim.standards.openscenario.xmltree import xml_budget

    if not 0 < options.fps <= 120 or not 0 < options.max_duration_s <= 3600:
        raise DrivesimError(f"fps must be in (0, 120] and the maximum duration in (0, 3600] s, got {options.fps:g} "
                            f"and {options.max_duration_s:g}")
    with xml_budget():  # the .xosc, its catalogs and its road share one budget, each file parsed once
        definition = parse_file(Path(path))
        try:
            result = Runner(definition, options.fps, options.max_duration_s).run()
        except NeedsNetwork:  # curved roads, several roads, both directions, routes: the whole road network
            result = NetworkRunner(definition, options.fps, options.max_duration_s).run()
        _check_finite(result)
        if result.paths is None:
            text, scenario = scenario_yaml(definition, result)
        else:  # the YAML's check reads the road again: the tree read above
            text, scenario = network_yaml(definition, result, options.output)
    return Imported(scenario, text, tuple(result.events), tuple(result.warnings), result.stopped_by_trigger)


def load_openscenario(path: str | os.PathLike[str], options: ImportOptions = ImportOptions()) -> Scenario:
    return import_openscenario(path, options).scenario


def _check_finite(result) -> None:  # a runner.RunResult
    """The last guard: every entity's speed, lateral position and travel at every frame is a finite number
    (the attributes are finite and bounded, params.MAX_NUMBER; this catches arithmetic that still overflows)."""
    import math

    import numpy as np

    from drivesim.standards.openscenario.xmltree import located

    times = np.arange(max(1, math.ceil(result.duration_s * result.fps - 1e-6))) / result.fps
    for name, motion in result.motions.items():
        speed, lateral = motion.profile("speed"), motion.profile("lateral")
        for what, values in (("speed", speed.value(times)), ("lateral position", lateral.value(times)),
                             ("travel", speed.integral(times))):
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                raise located(motion.entity.node, f"{name}'s {what} is not a finite number from {times[bad[0]]:g} s on "
                              "(its actions' numbers overflow)",
                              "check the durations, rates, distances and targets of its actions")
