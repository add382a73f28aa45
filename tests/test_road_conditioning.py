"""Road conditioning: the road network projected into the camera as layout channels (conditions/road_maps.py).

The 6-channel maps of the shipped default stay bit for bit what they were (a golden record written by the
code before the road network existed); the 11-channel maps draw lane lines by type, road edges, drivable
area and driving direction from the scenario's network at any map size.

    python -m pytest tests/test_road_conditioning.py -q
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from drivesim.conditions.box_maps import render_layout, render_layouts
from drivesim.conditions.encode import build_conditions
from drivesim.conditions.layouts import LAYOUT_ROAD, LAYOUT_V1, layout_channels
from drivesim.conditions.road_maps import REACH_M
from drivesim.errors import DrivesimError
from drivesim.scenario.camera import EgoPose, PinholeCamera, world_to_ego
from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.labels import FrameConditions, RoadState
from drivesim.scenario.lane_labels import lane_labels
from drivesim.scenario.loader import load_scenario, parse_scenario

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "data" / "layout_v1_golden.npz"
K = len(LAYOUT_ROAD)
CH = {name: k for k, name in enumerate(LAYOUT_ROAD)}


def engine(name: str) -> ScenarioEngine:
    return ScenarioEngine(load_scenario(REPO / "scenarios" / f"{name}.yaml"))


def bend_engine(radius: float, oncoming: int = 1, lanes: int = 2) -> ScenarioEngine:
    text = f"""
name: bend
duration_s: 2
road:
  lanes: {lanes}
  oncoming_lanes: {oncoming}
  segments: [{{straight: 15}}, {{arc: {{length: 150, radius: {radius}}}}}, {{straight: 100}}]
ego: {{lane: 0, speed_mps: 5}}
"""
    return ScenarioEngine(parse_scenario(text, "bend.yaml"))


def dense_pixels(line_uv: np.ndarray, camera: PinholeCamera, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """A lane line's image polyline, 8 points a segment, as map pixel (rows, cols)."""
    uv = line_uv * np.array([size[1] / camera.width, size[0] / camera.height])
    steps = np.linspace(0.0, 1.0, 8)[:-1]
    dense = np.concatenate([uv[:-1, None] + steps[:, None] * (uv[1:, None] - uv[:-1, None])]).reshape(-1, 2)
    dense = np.concatenate([dense, uv[-1:]])
    return (np.clip(np.floor(dense[:, 1]).astype(int), 0, size[0] - 1),
            np.clip(np.floor(dense[:, 0]).astype(int), 0, size[1] - 1))


def project(camera: PinholeCamera, pose: EgoPose, world: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """World points -> map pixel (row, col) indices, and their camera depth."""
    cam = camera.road_to_camera(world_to_ego(world, pose))
    uv = camera.project(cam) * np.array([size[1] / camera.width, size[0] / camera.height])
    return np.floor(uv[:, ::-1]).astype(int), cam[:, 2]


# ---------------------------------------------------------------- the shipped default's maps
def test_version1_six_channel_maps_are_bit_identical_to_the_golden_record():
    golden = np.load(GOLDEN)
    small = []
    for text, digests in zip(golden["frames"], golden["digests"]):
        record = json.loads(str(text))
        frame = FrameConditions.from_json(record["labels"], record["width"], record["height"])
        frame = dataclasses.replace(frame, road=None if record["road"] is None else RoadState(*record["road"]))
        camera = None if record["camera"] is None else PinholeCamera(**record["camera"])
        for size, digest in zip(golden["sizes"], digests):
            maps = render_layout(frame, tuple(int(v) for v in size), camera)
            assert maps.shape[0] == len(LAYOUT_V1)
            assert hashlib.sha256(maps.tobytes()).hexdigest() == digest, (frame.index, tuple(size))
        small.append(render_layout(frame, (32, 64), camera))
    assert np.array_equal(np.stack(small), golden["maps_32x64"])


def test_six_channels_stay_the_default_everywhere():
    eng = bend_engine(80.0)
    frames = [eng.frame(0)]
    assert render_layouts(frames, (16, 32)).shape == (1, 6, 16, 32)
    cond = build_conditions([frames], (16, 32), camera=eng.camera)
    assert cond.layout.shape == (1, 1, 6, 16, 32)
    # A curved road does not change what a 6-channel model is given (it only knows version 1's road).
    assert np.array_equal(render_layout(frames[0], (16, 32), eng.camera),
                          render_layout(dataclasses.replace(frames[0], ego_pose=None, world_labels=False), (16, 32),
                                        eng.camera))


def test_layouts_by_channel_count():
    assert layout_channels(6) == LAYOUT_V1 and layout_channels(11) == LAYOUT_ROAD
    assert LAYOUT_ROAD[:6] == LAYOUT_V1  # a 6-channel model grown to 11 keeps the meaning of its inputs
    with pytest.raises(DrivesimError, match="6 .*11"):
        layout_channels(7)
    with pytest.raises(DrivesimError, match="num_layout_channels"):
        render_layout(FrameConditions(0, 0.0, "day", 0.0), (8, 16), channels=8)


# ---------------------------------------------------------------- the road channels
@pytest.mark.parametrize("name", ["curve_oncoming", "junction_turn"])
def test_lane_line_channels_coincide_with_lane_labels(name):
    eng = engine(name)
    network, camera, size = eng.world.network, eng.camera, (64, 128)
    for index in (0, eng.num_frames // 2, eng.num_frames - 1):
        frame = eng.frame(index)
        pose = EgoPose(*frame.ego_pose)
        maps = render_layout(frame, size, camera, channels=K, network=network)
        near = np.zeros_like(maps)  # each channel dilated by one pixel
        padded = np.pad(maps, ((0, 0), (1, 1), (1, 1)))
        for dr in range(3):
            for dc in range(3):
                near = np.maximum(near, padded[:, dr:dr + size[0], dc:dc + size[1]])
        drawn = {kind: np.zeros(size, bool) for kind in ("solid", "dashed", "edge")}
        hits, points = 0, 0
        for line in lane_labels(network, camera, pose, max_distance_m=REACH_M - 20.0):
            channel = CH[{"solid": "lane_solid", "dashed": "lane_dashed", "edge": "road_edge"}[line.type]]
            rows, cols = dense_pixels(line.uv, camera, size)
            assert near[channel, rows, cols].min() == 1.0, (index, line.track_id)  # under the line, within a pixel
            hits += int((maps[channel, rows, cols] == 1.0).sum())
            points += len(rows)
        for line in lane_labels(network, camera, pose, max_distance_m=2000.0):
            drawn[line.type][dense_pixels(line.uv, camera, size)] = True
        assert hits >= 0.8 * points  # most exactly under the line
        for kind, channel in (("solid", "lane_solid"), ("dashed", "lane_dashed"), ("edge", "road_edge")):
            labelled = np.pad(drawn[kind], 1)
            close = np.zeros(size, bool)
            for dr in range(3):
                for dc in range(3):
                    close |= labelled[dr:dr + size[0], dc:dc + size[1]]
            painted = maps[CH[channel]] == 1.0
            assert (painted & ~close).sum() <= 0.02 * max(painted.sum(), 1), (index, kind)  # nothing but the lines


def _lane_points(eng: ScenarioEngine, lane: int, s_from: float, s_to: float) -> np.ndarray:
    road = eng.world.network.roads["main"]
    return np.array([road.lane_to_world(lane, s)[:3] for s in np.arange(s_from, s_to, 2.0)])


def test_drivable_area_covers_lane_centres_ahead_and_not_the_sky():
    eng = engine("curve_oncoming")
    size = (32, 64)
    for index in (0, 50, 99):
        frame = eng.frame(index)
        pose = EgoPose(*frame.ego_pose)
        maps = render_layout(frame, size, eng.camera, channels=K, network=eng.world.network)
        s_ego = 40.0 + 14.0 * frame.timestamp_s
        for lane in (-1, -2, 1):
            pixels, depth = project(eng.camera, pose, _lane_points(eng, lane, s_ego + 6.0, s_ego + 40.0), size)
            inside = (depth > 0) & (pixels[:, 0] >= 0) & (pixels[:, 0] < size[0]) & (pixels[:, 1] >= 0) & \
                (pixels[:, 1] < size[1])
            assert inside.sum() >= 3
            assert maps[CH["drivable"], pixels[inside, 0], pixels[inside, 1]].min() == 1.0, (index, lane)
        horizon = int(eng.camera.horizon_v() * size[0] / eng.camera.height)
        assert maps[CH["drivable"], :horizon - 1].max() == 0.0  # a flat road never reaches the sky
        assert maps[CH["drivable"], -1].sum() > size[1] / 3  # and fills much of the bottom row


def test_direction_channel_tells_oncoming_lanes_apart():
    eng = engine("curve_oncoming")
    frame = eng.frame(0)
    pose, size = EgoPose(*frame.ego_pose), (64, 128)
    maps = render_layout(frame, size, eng.camera, channels=K, network=eng.world.network)
    values = {}
    for lane in (-1, -2, 1):
        pixels, _ = project(eng.camera, pose, _lane_points(eng, lane, 50.0, 60.0), size)
        values[lane] = maps[CH["direction"], pixels[:, 0], pixels[:, 1]]
    assert values[-1].min() > 0.9 and values[-2].min() > 0.9  # the ego's direction: driven away from the camera
    assert values[1].max() < -0.9  # oncoming
    assert maps[CH["direction"]][maps[CH["drivable"]] == 0].max() == 0.0  # no direction off the road
    # Inside a junction the connecting lanes cross: no direction there, drivable all the same.
    junction = engine("junction_turn")
    frame = junction.frame(50)  # turning through the junction
    maps = render_layout(frame, size, junction.camera, channels=K, network=junction.world.network)
    road = junction.world.network.roads
    inside = [r for r in road.values() if r.in_junction]
    points = np.array([r.lane_to_world(-1, r.length / 2)[:3] for r in inside])
    pixels, depth = project(junction.camera, EgoPose(*frame.ego_pose), points, size)
    visible = (depth > 1) & (pixels[:, 0] >= 0) & (pixels[:, 0] < size[0]) & (pixels[:, 1] >= 0) & \
        (pixels[:, 1] < size[1])
    assert visible.any()
    assert np.all(maps[CH["drivable"], pixels[visible, 0], pixels[visible, 1]] == 1.0)
    assert np.all(maps[CH["direction"], pixels[visible, 0], pixels[visible, 1]] == 0.0)


@pytest.mark.parametrize("radius", [60.0, 300.0])
def test_curves_bend_the_right_way(radius):
    size = (64, 128)
    centre = {}
    for sign in (1, -1):  # positive radius: a left bend
        eng = bend_engine(sign * radius, oncoming=0)
        frame = eng.frame(0)
        maps = render_layout(frame, size, eng.camera, channels=K, network=eng.world.network)
        horizon = int(np.ceil(eng.camera.horizon_v() * size[0] / eng.camera.height))
        band = maps[CH["drivable"], horizon:horizon + 3]  # the far road, just below the horizon
        cols = np.nonzero(band.any(axis=0))[0]
        centre[sign] = cols.mean()
    assert centre[1] < size[1] / 2 - 2 < size[1] / 2 + 2 < centre[-1]


def test_maps_at_any_size_show_the_same_road():
    eng = engine("curve_oncoming")
    frame = eng.frame(30)
    fine = render_layout(frame, (512, 1024), eng.camera, channels=K, network=eng.world.network)[CH["drivable"]]
    for size in ((16, 32), (32, 64), (128, 256)):
        maps = render_layout(frame, size, eng.camera, channels=K, network=eng.world.network)
        assert maps.shape == (K, *size) and maps.dtype == np.float32
        assert maps[CH["road_edge"]].any() and maps[CH["lane_dashed"]].any()
        f = 512 // size[0]
        pooled = fine.reshape(size[0], f, size[1], f).mean(axis=(1, 3))  # the fine map's cover of each pixel
        assert np.mean(np.abs(maps[CH["drivable"]] - pooled)) < 0.1, size  # they differ on the border pixels only
        assert np.all(maps[CH["drivable"]][pooled > 0.5] == 1.0)


# ---------------------------------------------------------------- where the road comes from
def test_version1_road_draws_as_a_straight_network():
    """A version-1 frame needs no network: its road state is the straight network it stands for."""
    eng = engine("lead_brake")
    size = (64, 128)
    for index in (0, 17, 49):
        frame = eng.frame(index)
        from_state = render_layout(frame, size, eng.camera, channels=K)
        from_network = render_layout(frame, size, eng.camera, channels=K, network=eng.world.network)
        for name in ("drivable", "lane_solid", "road_edge", "direction"):
            assert np.mean(from_state[CH[name]] != from_network[CH[name]]) < 0.002, (index, name)
        # and it covers the road of the 6-channel map
        old = render_layout(frame, size, eng.camera)[5] > 0
        new = from_state[CH["drivable"]] > 0
        assert (old & new).sum() / (old | new).sum() > 0.9
        assert from_state[CH["direction"]][new].min() > 0.9  # one-way: every lane driven away from the camera


def test_road_dashes_flow_with_the_ego():
    road = RoadState(3, 3.5, 5.25, 15.0, 0.0)
    maps = [render_layout(FrameConditions(0, 0.0, "day", 0.0, road=dataclasses.replace(road, ego_travel_m=travel)),
                          (64, 128), channels=K) for travel in (0.0, 5.0, 12.0, 480.0 + 5.0)]
    assert not np.array_equal(maps[0][CH["road"]], maps[1][CH["road"]])  # dashes moved
    assert np.array_equal(maps[0][CH["road"]], maps[2][CH["road"]])  # a dash period later: the same picture
    assert np.array_equal(maps[1], maps[3])  # and far along the road too
    # the line's type does not move: the line stays where it was, to the staircase of a 1-pixel line
    before, after = maps[0][CH["lane_dashed"]], maps[1][CH["lane_dashed"]]
    padded = np.pad(before, 1)
    around = np.max([padded[dr:dr + 64, dc:dc + 128] for dr in range(3) for dc in range(3)], axis=0)
    assert after.any() and np.all(around[after == 1.0] == 1.0)


def test_a_road_other_than_version1_needs_its_network():
    eng = bend_engine(80.0)
    carried = eng.frame(3)  # the engine's road state carries the scenario's network
    assert carried.road.network is eng.world.network
    frame = dataclasses.replace(carried, road=dataclasses.replace(carried.road, network=None))
    with pytest.raises(DrivesimError, match="network"):
        render_layout(frame, (16, 32), eng.camera, channels=K)
    cond = build_conditions([[frame]], (16, 32), camera=eng.camera, channels=K, networks=[eng.world.network])
    assert cond.layout.shape == (1, 1, K, 16, 32) and cond.layout.dtype == torch.float32
    assert np.array_equal(render_layout(carried, (16, 32), eng.camera, channels=K),
                          cond.layout[0, 0].numpy())
    with pytest.raises(DrivesimError, match="one per clip"):
        build_conditions([[frame]], (16, 32), camera=eng.camera, channels=K, networks=[])
    # Without a road state or pose there is nothing to draw: the road channels stay 0.
    bare = FrameConditions(0, 0.0, "day", 0.0)
    assert render_layout(bare, (16, 32), channels=K)[5:].max() == 0.0


def test_maps_of_a_ten_second_clip_are_fast():
    eng = engine("curve_oncoming")  # 10 s at 10 fps, boxes of three road users and traffic
    frames = list(eng.frames())
    render_layouts(frames[:2], (32, 64), eng.camera, channels=K, network=eng.world.network)  # samples the network
    start = time.process_time()
    maps = render_layouts(frames, (32, 64), eng.camera, channels=K, network=eng.world.network)
    elapsed = time.process_time() - start
    assert maps.shape == (100, K, 32, 64)
    assert elapsed < 0.6, f"{elapsed:.3f} s of CPU for 100 frames"  # ~0.12 s on one core
