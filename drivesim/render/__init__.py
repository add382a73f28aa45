"""The procedural renderer: a dashcam frame from the scenario engine's state -- road, markings,
roadside objects, vehicles and people drawn as 3D polygons through the pinhole camera. It is the
training data's painter (`drivesim synth-data`) and a frame source of its own (`--source render`, the
non-neural baseline of generate, export and eval).

Modules: frames.py (a frame from engine state), canvas.py (3D polygons onto the image), scenery.py
(road, markings, roadside objects), actors.py (vehicles, people). Imports the scenario layer only.
"""
