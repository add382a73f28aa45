"""The schematic renderer (drivesim/draw/schematic.py) is shared by the export's dry run and the server's
schematic backend, and the server's backend needs neither the export package nor torch.

    python -m pytest tests/test_schematic.py -q
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np

from drivesim.export.schematic import schematic_source
from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.format import Scenario
from drivesim.draw.schematic import render_schematic
from drivesim.serve.generator import SchematicGenerator

SCENARIO = Scenario(name="s", duration_s=0.4, camera=dict(width=128, height=64),
                    agents=[dict(id="lead", type="truck", lane=0, distance_m=15)])


def test_export_and_server_draw_the_same_frames():
    engine = ScenarioEngine(SCENARIO, seed=1)
    drawn = [render_schematic(engine.camera, fc) for fc in engine.frames()]
    exported = [image for image, _ in schematic_source(SCENARIO, 1)]
    served = [image for image, _ in SchematicGenerator().generate(SCENARIO, 1, lambda: False)]
    assert len(drawn) == 4 and drawn[0].shape == (64, 128, 3)
    for a, b, c in zip(drawn, exported, served):
        assert np.array_equal(a, b) and np.array_equal(a, c)


def test_the_servers_schematic_backend_imports_no_export_code_and_no_torch():
    code = ("import sys; from drivesim.serve.generator import SchematicGenerator; "
            "from drivesim.scenario.format import Scenario; "
            "list(SchematicGenerator().generate(Scenario(name='x', duration_s=0.2), 0, lambda: False)); "
            "print(sorted(m for m in sys.modules if m.startswith('drivesim.export') or m == 'torch'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
