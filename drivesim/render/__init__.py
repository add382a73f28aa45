"""The procedural renderer: a dashcam frame from the scenario engine's state -- road, markings,
roadside objects, vehicles and people drawn as 3D polygons through the pinhole camera. It is the
training data's painter (`drivesim synth-data`) and a frame source of its own (`--source render`, the
non-neural baseline of generate, export and eval).

Two ways to draw the road. Version 1's straight one-way road (`scenario.network.is_straight_road`) is drawn
as it always was, so the frames the trained model and the evaluation's detector learnt from stay the
same, to the bit. Any other road (inline segments, oncoming lanes, OpenDRIVE networks with junctions and
elevation) is drawn from the road network model around the ego, through the camera that turns and
climbs with it.

Modules: frames.py (a frame from engine state), canvas.py (3D polygons onto the image), scenery.py
(version 1's road, markings and roadside objects; the scene styles), network_geometry.py (a network's
surfaces and road marks as world quads), network_ground.py (them seen from the ego), network_scenery.py
(roadside objects along a network's roads), actors.py (vehicles, people). Imports the road and scenario
layers only.
"""
