"""Conditions: UNetConditions batching, build/drop/null, box and road maps.

    python -m pytest tests/test_conditions.py -x -q
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from drivesim.conditions.box_maps import (CLASS_CHANNEL, DEPTH, EDGE, NUM_LAYOUT_CHANNELS, ROAD, depth_value,
                                          render_layout, render_layouts, render_road)
from drivesim.conditions.encode import (NULL_TIME_OF_DAY, build_conditions, drop_conditions, empty_conditions,
                                        null_conditions, without_context)
from drivesim.errors import DrivesimError
from drivesim.scenario.camera import PinholeCamera
from drivesim.scenario.labels import Box, FrameConditions, RoadState

ROAD_3 = RoadState(lanes=3, lane_width_m=3.5, ego_lateral_m=5.25, ego_speed_mps=15.0, ego_travel_m=0.0)


def box(track_id: str, type_: str, xyxy, distance: float) -> Box:
    return Box(track_id, type_, tuple(float(v) for v in xyxy), 0.0, 0.0, (0.0, 1.0, distance), (4.5, 1.8, 1.5),
               0.0, distance)


def frame(index=0, tod="day", crowd=0.5, boxes=(), road=ROAD_3) -> FrameConditions:
    return FrameConditions(index, index / 10, tod, crowd, tuple(boxes), road=road, width=1024, height=512)


# ---------------------------------------------------------------- box maps
def test_box_lands_in_the_right_pixels_and_class_channel():
    # 1024x512 labels -> 32x64 map: scale 1/16 in both axes.
    f = frame(boxes=[box("a", "truck", (160, 96, 320, 192), 20.0)], road=None)
    maps = render_layout(f, (32, 64))
    assert maps.shape == (NUM_LAYOUT_CHANNELS, 32, 64)
    vehicle = maps[CLASS_CHANNEL["truck"]]
    assert vehicle[6:12, 10:20].min() == 1.0 and vehicle.sum() == 6 * 10
    assert maps[CLASS_CHANNEL["pedestrian"]].sum() == 0 and maps[CLASS_CHANNEL["cyclist"]].sum() == 0
    assert maps[EDGE, 6, 10:20].min() == 1.0 and maps[EDGE, 8, 12] == 0.0  # outline, not filled
    assert np.allclose(maps[DEPTH, 6:12, 10:20], depth_value(20.0)) and maps[DEPTH].sum() == pytest.approx(
        60 * depth_value(20.0), rel=1e-5)
    assert maps[ROAD].sum() == 0  # no road state, no road


def test_nearer_box_is_on_top():
    far_car = box("car", "car", (0, 0, 512, 256), 40.0)
    near_ped = box("ped", "pedestrian", (256, 128, 768, 384), 8.0)
    for order in ([far_car, near_ped], [near_ped, far_car]):  # input order must not matter
        maps = render_layout(frame(boxes=order, road=None), (16, 32))
        overlap = (slice(4, 8), slice(8, 16))
        assert np.allclose(maps[DEPTH][overlap], depth_value(8.0))
        assert maps[CLASS_CHANNEL["pedestrian"]][overlap].min() == 1.0
        assert maps[CLASS_CHANNEL["car"]][overlap].max() == 0.0
        assert maps[CLASS_CHANNEL["car"]][0:4, 0:8].min() == 1.0  # the visible part of the car stays
        assert maps[CLASS_CHANNEL["motorcycle"]].max() == 0.0


def test_tiny_box_still_marks_a_pixel_and_unknown_type_fails():
    maps = render_layout(frame(boxes=[box("m", "motorcycle", (500, 250, 503, 253), 60.0)], road=None), (16, 32))
    assert maps[CLASS_CHANNEL["motorcycle"]].sum() == 1.0
    with pytest.raises(DrivesimError, match="tram"):
        render_layout(frame(boxes=[box("x", "tram", (0, 0, 10, 10), 5.0)]), (16, 32))


def test_road_map_flows_with_ego_travel_and_follows_the_ego_lane():
    cam = PinholeCamera.from_fov(1024, 512, 90.0)
    size = (64, 128)
    base = render_road(ROAD_3, size, cam)
    assert base[:31].max() == 0.0  # nothing above the horizon (row 32 with a level camera)
    assert base[-1].min() >= 0.5  # the road fills the bottom row ahead of the ego
    moved = render_road(RoadState(3, 3.5, 5.25, 15.0, 5.0), size, cam)
    assert (moved != base).any()  # dashes moved
    one_period = render_road(RoadState(3, 3.5, 5.25, 15.0, 12.0), size, cam)
    assert np.array_equal(one_period, base)  # a full dash period later the road looks the same
    left_lane = render_road(RoadState(3, 3.5, 1.75, 15.0, 0.0), size, cam)
    # Driving in the leftmost lane puts more of the road to the right of the image centre.
    assert (left_lane[:, 64:] > 0).sum() > (left_lane[:, :64] > 0).sum()
    assert (base[:, 64:] > 0).sum() == pytest.approx((base[:, :64] > 0).sum(), rel=0.05)


def test_render_64_frames_is_fast():
    boxes = [box(f"b{i}", "car", (40 * i, 250, 40 * i + 90, 320), 10.0 + i) for i in range(20)]
    frames = [frame(i, boxes=boxes, road=RoadState(3, 3.5, 5.25, 15.0, 1.5 * i)) for i in range(64)]
    render_layouts(frames, (16, 32))  # warm up
    start = time.perf_counter()
    maps = render_layouts(frames, (64, 128))
    elapsed = time.perf_counter() - start
    assert maps.shape == (64, NUM_LAYOUT_CHANNELS, 64, 128)
    assert elapsed < 0.5, f"{elapsed:.3f} s for 64 frames"  # ~0.05 s unloaded; slack for a shared CPU


# ---------------------------------------------------------------- build / drop / null
def test_build_conditions_fields():
    clips = [[frame(0, "day", 0.2), frame(1, "night", 0.8, road=None)], [frame(0, "night", 1.0)] * 2]
    cond = build_conditions(clips, (16, 32))
    assert cond.time_of_day.tolist() == [[0, 1], [1, 1]]
    assert torch.allclose(cond.crowdedness, torch.tensor([[0.2, 0.8], [1.0, 1.0]]))
    assert cond.ego_speed.tolist() == [[15.0, 0.0], [15.0, 15.0]]
    assert cond.speed_null.tolist() == [[False, True], [False, False]]
    assert not cond.crowd_null.any() and not cond.layout_null.any()
    assert cond.layout.shape == (2, 2, NUM_LAYOUT_CHANNELS, 16, 32) and cond.layout.dtype == torch.float32
    assert cond.layout[0, 0, ROAD].sum() > 0 and cond.layout[0, 1, ROAD].sum() == 0


def test_build_conditions_rejects_bad_input():
    with pytest.raises(DrivesimError, match="same number of frames"):
        build_conditions([[frame()], [frame(), frame(1)]], (16, 32))
    with pytest.raises(DrivesimError, match="dusk"):
        build_conditions([[frame(tod="dusk")]], (16, 32))
    with pytest.raises(DrivesimError, match="at least one"):
        build_conditions([], (16, 32))


def test_drop_conditions_per_clip_and_probabilities():
    cond = build_conditions([[frame(i) for i in range(3)]] * 400, (8, 16))
    none = drop_conditions(cond, 0.0, 0.0)
    assert torch.equal(none.time_of_day, cond.time_of_day) and not none.layout_null.any()
    every = drop_conditions(cond, 1.0, 1.0)
    assert (every.time_of_day == NULL_TIME_OF_DAY).all() and every.crowd_null.all() and every.speed_null.all()
    assert every.layout_null.all()
    some = drop_conditions(cond, 0.3, 0.6, generator=torch.Generator().manual_seed(0))
    label_dropped = some.crowd_null
    assert (label_dropped.all(1) | ~label_dropped.any(1)).all()  # whole clips, never single frames
    assert torch.equal(label_dropped, some.time_of_day == NULL_TIME_OF_DAY)
    assert torch.equal(label_dropped, some.speed_null)
    assert 0.2 < label_dropped[:, 0].float().mean() < 0.4
    assert 0.5 < some.layout_null[:, 0].float().mean() < 0.7
    again = drop_conditions(cond, 0.3, 0.6, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again.layout_null, some.layout_null)
    with pytest.raises(DrivesimError, match="p_label"):
        drop_conditions(cond, 1.5, 0.0)
    with pytest.raises(DrivesimError, match="p_null"):
        drop_conditions(cond, 0.1, 0.1, p_null=-0.1)


def test_joint_null_dropout_is_the_guidance_null():
    """p_null drops labels and layout of the same clips together, as null_conditions does."""
    cond = build_conditions([[frame(i) for i in range(2)]] * 400, (8, 16))
    g = torch.Generator().manual_seed(1)
    independent = drop_conditions(cond, 0.1, 0.1, generator=g)
    both = (independent.crowd_null & independent.layout_null)[:, 0].float().mean()
    assert both < 0.04  # independent drops alone: ~1 % all-null clips
    joint = drop_conditions(cond, 0.1, 0.1, generator=torch.Generator().manual_seed(1), p_null=0.15)
    all_null = joint.crowd_null[:, 0] & joint.layout_null[:, 0] & (joint.time_of_day[:, 0] == NULL_TIME_OF_DAY)
    assert 0.12 < all_null.float().mean() < 0.24
    nulled = null_conditions(cond.select(slice(0, 1)))
    first = joint.select(int(all_null.nonzero()[0]))
    for name in ("time_of_day", "crowd_null", "speed_null", "layout_null"):
        assert torch.equal(getattr(first, name), getattr(nulled, name))


def test_context_dropout_null_and_without_context():
    cond = build_conditions([[frame(i) for i in range(4)]] * 2, (8, 16)).replace(
        context=torch.randn(2, 4, 4, 8, 16), context_mask=torch.tensor([[1.0, 1, 0, 0]] * 2), rate=torch.tensor([0, 1]))
    null = null_conditions(cond)
    assert (null.time_of_day == NULL_TIME_OF_DAY).all() and null.layout_null.all() and null.crowd_null.all()
    assert torch.equal(null.context_mask, cond.context_mask) and torch.equal(null.rate, cond.rate)
    assert without_context(cond).context_mask.sum() == 0
    assert torch.equal(without_context(cond).time_of_day, cond.time_of_day)


# ---------------------------------------------------------------- UNetConditions
def test_unet_conditions_to_repeat_cat_select():
    cond = build_conditions([[frame(i) for i in range(3)]] * 2, (8, 16)).replace(rate=torch.tensor([0, 1]))
    half = cond.to("cpu", torch.float16)
    assert half.layout.dtype == torch.float16 and half.time_of_day.dtype == torch.long
    assert half.crowd_null.dtype == torch.bool
    rep = cond.repeat(3)
    assert rep.batch_size == 6 and rep.rate.tolist() == [0, 1] * 3 and rep.layout.shape[0] == 6
    mixed = type(cond).cat([cond, empty_conditions(2, 3).replace(rate=torch.tensor([1, 1]))])
    assert mixed.layout.shape == (4, 3, NUM_LAYOUT_CHANNELS, 8, 16)
    assert mixed.layout_null.tolist() == [[False] * 3] * 2 + [[True] * 3] * 2
    with pytest.raises(ValueError, match="rate"):
        type(cond).cat([cond, empty_conditions(2, 3)])
    one = cond.select(1)
    assert one.batch_size == 1 and one.rate.tolist() == [1]
