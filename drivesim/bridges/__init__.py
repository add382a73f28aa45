"""Bridges: drivesim as the camera of other simulators (docs/simulators.md).

Each bridge converts its simulator's own state into drivesim's one world-state vocabulary (a
session step: the ego and every actor in the road frame) and nothing else; frames come from
`drivesim.bridges.world_camera.WorldCamera`. A bridge imports its simulator only when it is imported:
`import drivesim` never needs one.

    pip install "drivesim[sim]"
    from drivesim.bridges.highway_env import DrivesimCamera
"""
