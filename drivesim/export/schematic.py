"""The schematic frame source: plain drawings of the engine's ground truth, no model needed.

    drivesim export scenarios/ -o out/dataset --source schematic

Each frame is the scenario camera's view of a flat world (`drivesim.draw.schematic.render_schematic`:
sky, verge, road and lane markings, every labelled agent's box in its class colour). It
exports exactly the labels the diffusion pipeline would condition on, so it is the dry run of
an export (layout, counts, label formats) and the backend of the tests.

DRIVESIM_SCHEMATIC_FRAME_DELAY_S (seconds, default 0) makes every frame that long, to stand
in for a slow generator in the resume tests; nothing else reads it.
"""

from __future__ import annotations

import os
import time
from typing import Iterator

import numpy as np

from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.format import Scenario
from drivesim.scenario.labels import FrameConditions
from drivesim.draw.schematic import render_schematic  # the drawing, shared with the server's schematic backend

FRAME_DELAY_ENV = "DRIVESIM_SCHEMATIC_FRAME_DELAY_S"


def schematic_source(scenario: Scenario, seed: int) -> Iterator[tuple[np.ndarray, FrameConditions]]:
    """FrameSource: (RGB uint8 H x W x 3 at the scenario camera size, its FrameConditions) per frame."""
    engine = ScenarioEngine(scenario, seed=seed)
    delay = float(os.environ.get(FRAME_DELAY_ENV) or 0.0)
    for conditions in engine.frames():
        if delay > 0:
            time.sleep(delay)
        yield render_schematic(engine.camera, conditions), conditions
