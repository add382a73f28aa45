"""Training data: a procedural dashcam renderer, seeded random scenarios, `drivesim synth-data`,
and the clip / frame / patch datasets the trainers read (format: docs/data-format.md).

    drivesim synth-data -o data/synth --clips 200 --frames 16 --size 128x256 --workers 2

Modules: render.py (frame from engine state) with draw.py (3D polygons onto the image),
scenery.py (road, markings, roadside objects) and actors.py (vehicles, people);
random_scenarios.py; synth.py; clips.py.
"""
