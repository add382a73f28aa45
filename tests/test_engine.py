"""Scenario engine: pinhole projection, motion, events, background traffic, plan output.

    python -m pytest tests/test_engine.py -q
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from drivesim.cli import main as cli_main
from drivesim.errors import DrivesimError
from drivesim.scenario.boxes import MAX_RANGE_M, occlusion_shares
from drivesim.scenario.engine import BlendedProfile, ScenarioEngine
from drivesim.scenario.format import AGENT_TYPES, Scenario
from drivesim.scenario.traffic import SWITCH_RANGE_M

W, H, FX = 1024, 512, 512.0  # 90 deg horizontal fov: fx = (1024 / 2) / tan(45 deg)
CAM_H = 1.5
LANE_W = 3.5


def scenario(agents=(), crowdedness=0.0, events=(), pitch_deg=0.0, duration_s=2.0, fps=10, seed=0,
             ego_speed=10.0, lanes=3) -> Scenario:
    return Scenario.model_validate({
        "name": "test", "seed": seed, "duration_s": duration_s, "fps": fps,
        "camera": {"width": W, "height": H, "fov_deg": 90, "mount_height_m": CAM_H, "pitch_deg": pitch_deg},
        "environment": {"time_of_day": "day", "crowdedness": crowdedness, "events": list(events)},
        "road": {"lanes": lanes, "lane_width_m": LANE_W},
        "ego": {"lane": 1, "speed_mps": ego_speed},
        "agents": list(agents),
    })


def car(id="a", lane=1, distance=20.0, speed=10.0, size=(4.5, 1.8, 1.2), **kw) -> dict:
    return {"id": id, "type": "car", "lane": lane, "distance_m": distance, "speed_mps": speed,
            "size_m": list(size), **kw}


def box_of(fc, track_id):
    found = [b for b in fc.boxes if b.track_id == track_id]
    return found[0] if found else None


def hand_box(x, d, size):
    """Axis-aligned cuboid ahead of a pitch-0 camera, by hand: the extremes lie on its near or far face."""
    length, width, height = size
    faces = (d - length / 2, d + length / 2)
    us = [W / 2 + FX * xx / z for xx in (x - width / 2, x + width / 2) for z in faces]
    vs = [H / 2 + FX * yy / z for yy in (CAM_H - height, CAM_H) for z in faces]
    return min(us), min(vs), max(us), max(vs)


# --- projection --------------------------------------------------------------------------

def test_centred_car_projects_to_hand_computed_box():
    fc = ScenarioEngine(scenario([car(distance=20.0)])).frame(0)
    b = box_of(fc, "a")
    near, far = 20.0 - 2.25, 20.0 + 2.25
    # width from the near face; top is the roof (0.3 m below the camera) seen at the far face;
    # bottom is the ground seen at the near face.
    expected = (512 - FX * 0.9 / near, 256 + FX * 0.3 / far, 512 + FX * 0.9 / near, 256 + FX * 1.5 / near)
    assert b.bbox_xyxy == pytest.approx(expected, abs=0.5)
    assert (b.bbox_xyxy[0] + b.bbox_xyxy[2]) / 2 == pytest.approx(512, abs=0.5)
    assert b.location_m == pytest.approx((0.0, CAM_H, 20.0))
    assert b.distance_m == pytest.approx(math.hypot(CAM_H - 0.6, 20.0))
    assert b.rotation_y == pytest.approx(-math.pi / 2)  # KITTI: driving away along +z
    assert b.truncation == 0.0 and b.occlusion == 0.0
    assert fc.width == W and fc.height == H


def test_pitch_down_moves_boxes_up_by_the_pinhole_amount():
    boxes = {}
    for pitch in (-5.0, 0.0, 5.0):
        boxes[pitch] = box_of(ScenarioEngine(scenario([car()], pitch_deg=pitch)).frame(0), "a").bbox_xyxy
    assert boxes[5.0][3] < boxes[0.0][3] < boxes[-5.0][3]
    assert boxes[5.0][1] < boxes[0.0][1] < boxes[-5.0][1]
    # The bottom edge is the ground line under the near face: a ray depressed atan(h / z) below
    # the horizontal, seen by a camera looking 5 deg down.
    near = 20.0 - 2.25
    assert boxes[5.0][3] == pytest.approx(256 + FX * math.tan(math.atan(CAM_H / near) - math.radians(5)), abs=0.5)


def test_agent_behind_the_camera_is_dropped():
    fc = ScenarioEngine(scenario([car("behind", distance=-20.0), car("ahead", distance=20.0)])).frame(0)
    assert [b.track_id for b in fc.boxes] == ["ahead"]


def test_agent_beyond_max_range_is_dropped():
    far = MAX_RANGE_M + 20
    fc = ScenarioEngine(scenario([car("far", distance=far, size=(4.5, 1.8, 1.5)), car("near", lane=0)])).frame(0)
    assert box_of(fc, "far") is None and box_of(fc, "near") is not None


def test_truncation_of_an_agent_at_the_image_edge():
    size = (4.5, 1.8, 1.5)
    fc = ScenarioEngine(scenario([car("side", lane=2, distance=5.0, size=size)])).frame(0)
    b = box_of(fc, "side")
    u0, v0, u1, v1 = hand_box(LANE_W, 5.0, size)
    assert u1 > W and v1 > H  # sticks out right and bottom
    assert b.bbox_xyxy == pytest.approx((u0, v0, W, H), abs=0.5)
    expected = 1 - (W - u0) * (H - v0) / ((u1 - u0) * (v1 - v0))
    assert b.truncation == pytest.approx(expected, abs=1e-3)


def test_occlusion_share_of_a_partly_hidden_agent():
    truck = {"id": "truck", "type": "truck", "lane": 1, "distance_m": 25.0, "speed_mps": 10.0,
             "size_m": [9.0, 2.5, 3.4]}
    hidden = {"id": "hidden", "type": "car", "lateral_m": (1.5 * LANE_W) + 2.0, "distance_m": 40.0,
              "speed_mps": 10.0, "size_m": [4.5, 1.8, 1.5]}
    fc = ScenarioEngine(scenario([truck, hidden])).frame(0)
    a = hand_box(0.0, 25.0, (9.0, 2.5, 3.4))
    c = hand_box(2.0, 40.0, (4.5, 1.8, 1.5))
    a = (a[0], max(a[1], 0), a[2], min(a[3], H))
    inter = max(0, min(a[2], c[2]) - max(a[0], c[0])) * max(0, min(a[3], c[3]) - max(a[1], c[1]))
    expected = inter / ((c[2] - c[0]) * (c[3] - c[1]))
    assert 0.2 < expected < 0.9
    assert box_of(fc, "hidden").occlusion == pytest.approx(expected, abs=1e-3)
    assert box_of(fc, "truck").occlusion == 0.0
    assert [b.track_id for b in fc.boxes] == ["truck", "hidden"]  # nearest first


def test_fully_hidden_agent_is_dropped():
    truck = {"id": "truck", "type": "truck", "lane": 1, "distance_m": 15.0, "speed_mps": 10.0}
    fc = ScenarioEngine(scenario([truck, car("hidden", distance=40.0)])).frame(0)
    assert [b.track_id for b in fc.boxes] == ["truck"]


def test_occlusion_uses_the_union_of_nearer_boxes():
    boxes = np.array([[0, 0, 10, 10], [5, 5, 15, 15], [0, 0, 20, 20]], float)
    occ = occlusion_shares(boxes)
    # third box: union of the first two = 100 + 100 - 25 = 175 of its 400
    assert occ == pytest.approx([0.0, 0.25, 175 / 400])


# --- motion ------------------------------------------------------------------------------

def test_lane_change_to_the_right_moves_right_and_yaws_right():
    agent = car(distance=20.0, actions=[{"at_s": 1.0, "lane_change_to": 2, "duration_s": 2.0}])
    eng = ScenarioEngine(scenario([agent], duration_s=4.0))
    before, mid, after = (eng.agent_states(t)[0] for t in (0.5, 2.0, 3.5))
    assert before.x_m == pytest.approx(0.0) and after.x_m == pytest.approx(LANE_W)
    assert mid.x_m == pytest.approx(LANE_W / 2)  # the smoothstep is half way at half time
    # peak lateral speed of a smoothstep is 1.5 * distance / duration
    assert mid.heading_rad == pytest.approx(math.atan2(1.5 * LANE_W / 2.0, 10.0))
    assert before.heading_rad == 0.0 and after.heading_rad == pytest.approx(0.0)
    boxes = [box_of(eng.conditions_at(t), "a") for t in (0.5, 2.0, 3.5)]
    centres = [(b.bbox_xyxy[0] + b.bbox_xyxy[2]) / 2 for b in boxes]
    assert centres[0] < centres[1] < centres[2]
    assert -math.pi / 2 < boxes[1].rotation_y < 0  # yawed right of straight ahead (-pi/2)


def test_speed_change_integrates_position():
    agent = car(distance=20.0, speed=10.0, actions=[{"at_s": 2.0, "speed_mps": 20.0, "duration_s": 4.0}])
    eng = ScenarioEngine(scenario([agent], duration_s=10.0, ego_speed=10.0))
    # same speed as the ego until 2 s; the smoothstep blend adds (20 - 10) * 4 s / 2 = 20 m; then +10 m/s.
    assert eng.agent_states(2.0)[0].z_m == pytest.approx(20.0)
    assert eng.agent_states(6.0)[0].z_m == pytest.approx(40.0)
    assert eng.agent_states(8.0)[0].z_m == pytest.approx(60.0)
    assert eng.agent_states(4.0)[0].speed_mps == pytest.approx(15.0)
    # and it agrees with a fine numerical integration of the speed
    t = np.linspace(0, 5.0, 501)
    v = np.array([eng.agent_states(float(ti))[0].speed_mps for ti in t])
    assert eng.agent_states(5.0)[0].z_m == pytest.approx(20.0 + np.trapezoid(v - 10.0, t), abs=1e-3)
    # frame-rate independent: the same time at another fps gives the same place
    fast = ScenarioEngine(scenario([agent], duration_s=10.0, ego_speed=10.0, fps=30))
    assert fast.frame(150).boxes == eng.frame(50).boxes


def test_overlapping_actions_hand_over_smoothly():
    p = BlendedProfile(0.0, [(0.0, 2.0, 10.0), (1.0, 2.0, 0.0)])
    # the second change starts from where the first had got to (5.0 at 1 s)
    assert p.value(np.array([1.0]))[0] == pytest.approx(5.0)
    assert p.value(np.array([2.0]))[0] == pytest.approx(2.5)
    assert p.value(np.array([5.0]))[0] == pytest.approx(0.0)


def test_events_apply_at_their_frame():
    events = [{"at_s": 0.55, "crowdedness": 0.5}, {"at_s": 1.0, "time_of_day": "night"}]
    eng = ScenarioEngine(scenario(events=events, duration_s=2.0, fps=10))
    tods = [eng.frame(i).time_of_day for i in range(20)]
    crowd = [eng.frame(i).crowdedness for i in range(20)]
    assert tods == ["day"] * 10 + ["night"] * 10
    assert crowd == [0.0] * 6 + [0.5] * 14


# --- background traffic ------------------------------------------------------------------

def background_ids(eng, t):
    return [s.track_id for s in eng.agent_states(t) if s.is_background]


def test_crowdedness_zero_means_no_background():
    eng = ScenarioEngine(scenario([car()], crowdedness=0.0, duration_s=3.0))
    assert all(not background_ids(eng, i / 10) for i in range(30))
    assert all(b.track_id == "a" for fc in eng.frames() for b in fc.boxes)


def test_full_crowdedness_labels_every_background_agent_like_named_ones():
    eng = ScenarioEngine(scenario([car()], crowdedness=1.0, duration_s=1.0))
    fc = eng.frame(0)
    bg = [b for b in fc.boxes if b.track_id.startswith("bg_")]
    assert len(bg) >= 15
    assert {s.type for s in eng.agent_states(0.0) if s.is_background} >= {"car", "pedestrian"}
    named_keys = set(box_of(fc, "a").to_json())
    for b in bg:
        assert set(b.to_json()) == named_keys
        assert b.type in AGENT_TYPES
        x0, y0, x1, y1 = b.bbox_xyxy
        assert 0 <= x0 < x1 <= W and 0 <= y0 < y1 <= H
        assert 0 <= b.truncation <= 1 and 0 <= b.occlusion < 1
        assert b.distance_m <= MAX_RANGE_M and min(b.size_m) > 0
    # every background agent in view has a box unless hidden or too small
    ids = {b.track_id for b in fc.boxes}
    assert len(ids) == len(fc.boxes)


def test_background_is_deterministic_by_seed():
    def run(seed):
        return [json.dumps(fc.to_json()) for fc in ScenarioEngine(scenario(crowdedness=0.7), seed=seed).frames()]
    assert run(3) == run(3)
    assert run(3) != run(4)
    assert ScenarioEngine(scenario(crowdedness=0.7, seed=3)).frame(5) == ScenarioEngine(
        scenario(crowdedness=0.7), seed=3).frame(5)


def test_background_never_overlaps_named_agents_or_each_other():
    agents = [car("cut", lane=2, distance=12.0, speed=12.0, actions=[{"at_s": 1.0, "lane_change_to": 0, "duration_s": 3}]),
              car("slow", lane=0, distance=40.0, speed=4.0)]
    eng = ScenarioEngine(scenario(agents, crowdedness=1.0, duration_s=8.0))
    for i in range(0, eng.num_frames, 2):
        states = eng.agent_states(i / 10)
        for j, a in enumerate(states):
            for b in states[j + 1:]:
                if not (a.is_background or b.is_background):
                    continue
                lateral = abs(a.lateral_m - b.lateral_m) < (a.size_m[1] + b.size_m[1]) / 2
                along = abs(a.z_m - b.z_m) < (a.size_m[0] + b.size_m[0]) / 2
                assert not (lateral and along), (i, a.track_id, b.track_id)


def test_background_never_hides_named_agents():
    agents = [car("lead", distance=30.0, speed=9.0),
              car("cut", lane=2, distance=15.0, speed=11.0, actions=[{"at_s": 1.0, "lane_change_to": 1}])]
    eng = ScenarioEngine(scenario(agents, crowdedness=1.0, duration_s=4.0))
    for fc in eng.frames():
        named = {b.track_id: b for b in fc.boxes if not b.track_id.startswith("bg_")}
        assert set(named) == {"lead", "cut"}, fc.index
        assert named["cut"].occlusion == 0.0  # the nearer one; lead may be hidden by cut only
        assert len(fc.boxes) > 10


def test_crowdedness_event_changes_background_without_pop_in():
    eng = ScenarioEngine(scenario(crowdedness=0.0, events=[{"at_s": 1.0, "crowdedness": 1.0}], duration_s=6.0))
    assert not background_ids(eng, 0.5)
    assert len(background_ids(eng, 5.0)) > 20
    seen: set[str] = set()
    for fc in eng.frames():
        for b in fc.boxes:
            if b.track_id not in seen:
                seen.add(b.track_id)
                # a new box comes from far away, the image border or from behind another agent
                assert (b.distance_m > SWITCH_RANGE_M - 5 or b.truncation > 0 or b.occlusion > 0.5
                        or min(b.bbox_xyxy[0], b.bbox_xyxy[1]) <= 1
                        or b.bbox_xyxy[2] >= W - 1 or b.bbox_xyxy[3] >= H - 1), (fc.index, b)
    assert len(seen) > 10


# --- errors and CLI ----------------------------------------------------------------------

def test_lane_that_does_not_exist_is_an_error():
    with pytest.raises(DrivesimError, match=r"agents\[0\]\.actions\[0\]\.lane_change_to: lane 5 does not exist"):
        ScenarioEngine(scenario([car(actions=[{"at_s": 1.0, "lane_change_to": 5}])]))
    with pytest.raises(DrivesimError, match="reserved for background"):
        ScenarioEngine(scenario([car("bg_0")]))
    with pytest.raises(DrivesimError, match=r"agents\[1\]\.id: id 'x' is already used by agents\[0\]"):
        ScenarioEngine(scenario([car("x"), car("x", lane=0)]))


def test_plan_writes_exactly_the_contract_keys(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        "version: 1\nname: plan_test\nduration_s: 1\nfps: 5\n"
        "environment: {time_of_day: night, crowdedness: 0.5}\n"
        "agents:\n  - {id: lead, type: car, lane: 0, distance_m: 20, speed_mps: 10}\n")
    out = tmp_path / "labels.jsonl"
    assert cli_main(["plan", str(path), "-o", str(out)]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [d["index"] for d in lines] == list(range(5))
    assert [d["timestamp_s"] for d in lines] == [0.0, 0.2, 0.4, 0.6, 0.8]
    for d in lines:
        assert set(d) == {"index", "timestamp_s", "environment", "boxes"}
        assert d["environment"] == {"time_of_day": "night", "crowdedness": 0.5}
        for b in d["boxes"]:
            assert set(b) == {"track_id", "type", "bbox_xyxy", "truncation", "occlusion", "location_m",
                              "size_m", "rotation_y", "distance_m"}
    assert "lead" in {b["track_id"] for b in lines[0]["boxes"]}
