"""Pictures of scenarios and frames for people: label boxes and lane lines over frames (overlay.py), the
bird's-eye preview (preview.py; on road networks its world map, world_map.py, and its camera views of the
lane surfaces, road_camera.py, both over road_shapes.py; its drawing kit, ui.py), schematic frames
(schematic.py: flat boxes on a road, the export dry run's and the server's schematic backend), and strips
of generated clips (strip.py, the README's picture).

Imports the scenario layer and output.files; no model, no torch.
"""
