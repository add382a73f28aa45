"""The ego's road frame in the world (scenario/camera.py): a camera that turns and climbs with the ego.

    python -m pytest tests/test_camera_pose.py -q
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from drivesim.scenario.camera import EgoPose, ego_to_world, world_to_ego


def test_a_point_ahead_of_an_ego_facing_north_is_straight_ahead():
    pose = EgoPose(x=10.0, y=5.0, heading=math.pi / 2)
    ahead, right, above = [10.0, 25.0, 0.0], [12.0, 5.0, 0.0], [10.0, 5.0, 3.0]
    got = world_to_ego(np.array([ahead, right, above]), pose)
    np.testing.assert_allclose(got, [[0, 0, 20], [2, 0, 0], [0, -3, 0]], atol=1e-12)


def test_pitch_tilts_forward_up_hill():
    pose = EgoPose(x=0.0, y=0.0, z=1.0, heading=0.0, pitch=math.atan(0.1))  # a 10 % climb
    on_slope = [10.0, 0.0, 2.0]  # 10 m along, 1 m up: on the road ahead
    got = world_to_ego(np.array([on_slope]), pose)[0]
    assert got[0] == pytest.approx(0.0, abs=1e-12) and got[1] == pytest.approx(0.0, abs=1e-12)
    assert got[2] == pytest.approx(math.hypot(10.0, 1.0))


@pytest.mark.parametrize("heading,pitch", [(0.3, 0.0), (-2.5, 0.05), (math.pi, -0.1)])
def test_world_and_ego_frames_round_trip_and_keep_lengths(heading, pitch):
    pose = EgoPose(x=3.0, y=-7.0, z=0.5, heading=heading, pitch=pitch)
    points = np.random.default_rng(0).normal(size=(20, 3)) * 30
    ego = world_to_ego(points, pose)
    np.testing.assert_allclose(ego_to_world(ego, pose), points, atol=1e-9)
    np.testing.assert_allclose(np.linalg.norm(ego - ego[0], axis=1), np.linalg.norm(points - points[0], axis=1))
    assert np.linalg.det(pose.axes) == pytest.approx(1.0)  # x right, y down, z forward: right-handed
