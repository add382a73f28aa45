"""Training data: seeded random scenarios painted by the procedural renderer (drivesim.render), `drivesim synth-data`,
and the clip / frame / patch datasets the trainers read (format: docs/data-format.md).

    drivesim synth-data -o data/synth --clips 200 --frames 16 --size 128x256 --workers 2

Modules: random_scenarios.py (seeded scenarios), synth.py (`drivesim synth-data`, painted by
drivesim.render), clips.py (the datasets).
"""
