"""World poses in the one world-state vocabulary: session steps and trajectory lines with world poses on a
curved road, the highway-env bridge on roads that are not straight (merge-v0, roundabout-v0,
intersection-v0) checked against an independent projection of the env's own vehicles, the located
errors of poses, and the frame-time rule of sessions and trajectory files.

    python -m pytest tests/test_world_bridges.py -x -q
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import drivesim.serve  # noqa: F401,I001 - first: sets gRPC's fork option before grpc loads
import numpy as np
import pytest

from drivesim.errors import DrivesimError, ScenarioError
from drivesim.road import WorldPose
from drivesim.scenario.inline_road import inline_road
from drivesim.scenario.loader import parse_scenario
from drivesim.scenario.trajectory import (check_frame_rate, parse_trajectory_lines, read_trajectory,
                                          trajectory_conditions)
from drivesim.scenario.world_state import ClosedLoop, Step, StepAgent, StepError

W, H, FOV, MOUNT = 256, 128, 90.0, 1.5
BEND = f"""\
version: 1
name: bend
duration_s: 1
fps: 10
camera: {{width: {W}, height: {H}, fov_deg: {FOV:g}, mount_height_m: {MOUNT}}}
road:
  lanes: 2
  lane_width_m: 3.5
  segments: [{{straight: 30}}, {{arc: {{length: 120, radius: 80}}}}, {{straight: 50}}]
"""


def camera_sees(camera: WorldPose, point: WorldPose) -> tuple[float, float, float]:
    """(x right, y down, z forward) of a ground point, from a level camera MOUNT m above `camera`'s ground point."""
    dx, dy = point.x - camera.x, point.y - camera.y
    c, s = math.cos(camera.heading), math.sin(camera.heading)
    return dx * s - dy * c, MOUNT - (point.z - camera.z), dx * c + dy * s


# --- trajectories and sessions on a bend -------------------------------------------------------------

def bend_lines(frames: int = 60) -> list[dict]:
    """The ego drives lane -1 of the bend at 12 m/s from s = 10, a car parked in lane -2 at s = 100 (in the arc):
    every pose computed from the road geometry (lane_to_world), none from drivesim's session code."""
    road = inline_road(parse_scenario(BEND).road)
    parked = road.lane_to_world(-2, 100.0)
    out = []
    for k in range(frames):
        t = round(k / 10, 6)
        ego = road.lane_to_world(-1, 10.0 + 12.0 * t)
        out.append({"timestamp_s": t, "ego": {"speed_mps": 12.0, "pose": dict(zip("x y z heading pitch".split(), ego))},
                    "actors": [{"id": "parked", "type": "car",
                                "pose": {"x": parked.x, "y": parked.y, "z": 0.0, "heading": parked.heading}}]})
    return out


def test_a_trajectory_driving_a_bend_turns_the_camera_and_places_the_actor_at_its_pose():
    header = parse_scenario(BEND)
    lines = bend_lines()
    frames = list(trajectory_conditions(header, parse_trajectory_lines(json.dumps(x) for x in lines)))
    headings = [fc.ego_pose.heading for fc in frames]
    assert headings[-1] - headings[0] > 0.5  # the camera turned left with the road (+ counter-clockwise)
    seen = 0
    for fc, line in zip(frames, lines):
        ego = WorldPose(**{**line["ego"]["pose"]})
        assert fc.ego_pose == pytest.approx(ego)  # the camera follows the ego's pose
        assert fc.to_json()["ego_pose"]["heading"] == pytest.approx(ego.heading, abs=1e-5)
        parked = WorldPose(**{**line["actors"][0]["pose"], "pitch": 0.0})
        x, y, z = camera_sees(ego, parked)
        boxes = {b.track_id: b for b in fc.boxes}
        if z > 5 and abs(x / z) < 0.8:  # well inside the 90 degree view
            box = boxes["parked"]
            assert box.location_m == pytest.approx((x, y, z), abs=1e-6)
            assert box.world_pose == pytest.approx(parked)
            yaw = -math.remainder(parked.heading - ego.heading, 2 * math.pi)  # + yawing right
            assert box.rotation_y == pytest.approx(math.remainder(yaw - math.pi / 2, 2 * math.pi), abs=1e-9)
            seen += 1
    assert seen >= 10


def test_session_steps_with_world_poses_give_the_trajectory_labels():
    header = parse_scenario(BEND)
    lines = bend_lines(12)
    replay = list(trajectory_conditions(header, parse_trajectory_lines(json.dumps(x) for x in lines)))
    loop = ClosedLoop(header)
    stepped = []
    for line in lines:
        actor = line["actors"][0]
        stepped += loop.plan(Step(agents=(StepAgent(id="parked", type="car", pose=actor["pose"]),),
                                  ego_speed_mps=12.0, ego_pose=line["ego"]["pose"], timestamps_s=(line["timestamp_s"],)))
    assert [fc.to_json() for fc in stepped] == [fc.to_json() for fc in replay]


def test_a_posed_ego_drives_on_between_given_poses_and_road_frame_actors_ride_with_its_camera():
    header = parse_scenario(BEND)
    loop = ClosedLoop(header)
    start = WorldPose(5.0, -1.75, 0.0, 0.0, 0.0)
    first = loop.plan(Step(ego_pose=start, ego_speed_mps=10.0))[0]
    later = loop.plan(Step(agents=(StepAgent(id="lead", type="car", x_m=0.0, distance_m=20.0),), num_frames=2))
    assert first.ego_pose == start
    assert [fc.ego_pose.x for fc in later] == pytest.approx([6.0, 7.0])  # 10 m/s along its heading
    assert later[0].boxes[0].location_m == pytest.approx((0.0, MOUNT, 20.0))
    assert later[0].boxes[0].world_pose[:2] == pytest.approx((26.0, -1.75))


@pytest.mark.parametrize("pose, words", [
    ({"x": 1.0, "y": float("nan"), "z": 0, "heading": 0}, ["actors[0].pose.y", "finite"]),
    ({"x": 1.0, "y": 0.0, "z": 0, "heading": 0, "roll": 0}, ["actors[0].pose.roll", "unknown key"]),
    ({"x": 1.0, "y": 0.0, "heading": 0}, ["actors[0].pose.z", "missing"]),
])
def test_bad_poses_in_a_trajectory_are_located(pose, words):
    line = json.dumps({"timestamp_s": 0, "actors": [{"id": "a", "type": "car", "pose": pose}]}, allow_nan=True)
    with pytest.raises(ScenarioError) as err:
        parse_trajectory_lines([line], "drive.jsonl")
    text = str(err.value)
    assert "drive.jsonl:1" in text and all(w in text for w in words), text


def test_both_forms_at_once_are_refused():
    line = {"timestamp_s": 0, "actors": [{"id": "a", "type": "car", "distance_m": 5, "x_m": 0,
                                          "pose": {"x": 1, "y": 0, "z": 0, "heading": 0}}]}
    with pytest.raises(ScenarioError, match="either pose"):
        parse_trajectory_lines([json.dumps(line)])
    with pytest.raises(StepError, match="either pose"):
        ClosedLoop(parse_scenario(BEND)).plan(Step(ego_pose=(0, 0, 0, 0), ego_lateral_m=1.0))


def test_a_pose_far_off_the_road_says_how_far_and_from_which_road():
    loop = ClosedLoop(parse_scenario(BEND))
    with pytest.raises(StepError) as err:
        loop.plan(Step(ego_pose=(20.0, 0.0, 0.0, 0.0),
                       agents=(StepAgent(id="lost", type="car", pose=(20.0, 60.0, 0.0, 0.0)),)))
    text = str(err.value)
    assert "agents[0] ('lost')" in text and "road 'main'" in text and "m from the nearest lane" in text
    assert "(20, 60) is 60.0 m" in text  # both lanes lie right of the centre line (y <= 0 there)
    assert loop.frame_index == 0  # nothing changed
    with pytest.raises(StepError, match=r"ego.pose \(0, 40\) is 40.0 m"):  # version 1's road: y in [-10.5, 0]
        ClosedLoop(parse_scenario(BEND.split("road:")[0])).plan(Step(ego_pose=(0.0, 40.0, 0.0, 0.0)))


# --- time as given -------------------------------------------------------------------------------------

def test_session_timestamps_must_keep_the_header_fps():
    loop = ClosedLoop(parse_scenario(BEND))
    loop.plan(Step(timestamps_s=(2.0, 2.1)))  # a session may start at any time
    loop.plan(Step(timestamps_s=(2.2 + 0.01,)))  # jitter within a quarter frame is fine
    loop.plan(Step(num_frames=2))  # then on the grid from the first frame: 2.3, 2.4
    with pytest.raises(StepError) as err:
        loop.plan(Step(timestamps_s=(2.7,)))  # a dropped frame
    text = str(err.value)
    assert "step 3" in text and "0.3 s after the previous frame (2.4 s)" in text and "fps 10" in text
    assert "frame 5 belongs at 2.5 s" in text and "resample" in text
    assert [fc.timestamp_s for fc in loop.plan(Step(timestamps_s=(2.5,)))] == [2.5]


def test_a_diffusion_session_refuses_frames_off_the_video_timeline():
    from drivesim.pipeline import GenerateOptions, VideoPipeline
    from drivesim.scenario.engine import ScenarioEngine

    from pipeline_fixtures import micro_bundle, scenario

    scn = scenario(duration_s=1.0)
    plan = list(ScenarioEngine(scn).frames())
    session = VideoPipeline(micro_bundle(), GenerateOptions(progress=False, steps=2)).session(scn, seed=1)
    skipped = [plan[0], plan[2]]  # 0.2 s apart at 10 fps
    with pytest.raises(DrivesimError, match=r"session frame 1: 0.2 s after the previous frame .*fps 10"):
        session.step(skipped)


def write(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def test_trajectory_timestamps_must_keep_the_header_fps(tmp_path):
    header = parse_scenario(BEND)
    even = [{"timestamp_s": round(0.5 + k / 10 + (0.01 if k % 2 else 0.0), 6)} for k in range(20)]
    check_frame_rate(header, read_trajectory(write(tmp_path / "even.jsonl", even)), "bend.yaml")  # jitter: fine
    gap = even[:8] + [{"timestamp_s": x["timestamp_s"] + 0.1} for x in even[8:]]  # a dropped frame at line 9
    with pytest.raises(ScenarioError) as err:
        check_frame_rate(header, read_trajectory(write(tmp_path / "gap.jsonl", gap)), "bend.yaml")
    issues = err.value.issues if hasattr(err.value, "issues") else None
    text = str(err.value)
    assert "gap.jsonl:9" in text and "0.19 s after the previous frame (1.21 s)" in text and "fps 10" in text, text
    assert text.count("gap.jsonl:") == 1, issues  # each gap once: the frames after it are judged from it on


# --- highway-env on any road -----------------------------------------------------------------------------

HIGHWAY_HEADER = f"""\
version: 1
name: highway_world
duration_s: 1
fps: 5
camera: {{width: {W}, height: {H}, fov_deg: {FOV:g}, mount_height_m: {MOUNT}}}
"""


def _highway_env():
    return pytest.importorskip("drivesim.bridges.highway_env")


@pytest.mark.parametrize("env_id", ["merge-v0", "roundabout-v0", "intersection-v0"])
def test_highway_env_on_any_road_boxes_are_the_env_vehicles_seen_from_the_ego(env_id):
    bridge = _highway_env()
    fx = (W / 2) / math.tan(math.radians(FOV) / 2)
    env = bridge.DrivesimCamera(env_id, header=HIGHWAY_HEADER, seed=3)
    obs, info = env.reset(seed=3)
    idle = env.unwrapped.action_type.actions_indexes["IDLE"]
    headings, checked = [], 0
    try:
        for _ in range(4):
            state, frame = info["env_state"], info["camera_frames"][-1]
            assert frame.timestamp_s == pytest.approx(state["timestamp_s"])  # the frame at the step's end
            # the env's own vehicles, straight from highway-env (not from the wrapper's record)
            ids = {id(o): i for o, i in env._ids.values()}
            ego = env.unwrapped.vehicle
            h = float(ego.heading)
            ahead = ego.LENGTH / 2 - 1.0
            cam = (ego.position[0] + ahead * math.cos(h), ego.position[1] + ahead * math.sin(h))
            assert frame.labels.ego_pose.heading == pytest.approx(math.remainder(-h, 2 * math.pi))  # turns with the ego
            headings.append(h)
            boxes = {b.track_id: b for b in frame.labels.boxes}
            for v in env.unwrapped.road.vehicles:
                if v is ego:
                    continue
                vid = ids.get(id(v))
                if vid is None:  # spawned after the env's last sub-step: in the next frame
                    continue
                dx, dy = v.position[0] - cam[0], v.position[1] - cam[1]
                right, forward = -dx * math.sin(h) + dy * math.cos(h), dx * math.cos(h) + dy * math.sin(h)
                if vid in boxes:
                    box = boxes[vid]
                    assert box.location_m == pytest.approx((right, MOUNT, forward), abs=1e-6)
                    yaw = math.remainder(float(v.heading) - h, 2 * math.pi)  # + yawing right, as drivesim's
                    assert box.rotation_y == pytest.approx(math.remainder(yaw - math.pi / 2, 2 * math.pi), abs=1e-6)
                    checked += 1
                elif 3.0 < forward < 60.0 and abs(right / forward) * fx < W / 2 - 8:
                    # in view: only a nearer box covering its centre may hide it
                    u = W / 2 + fx * right / forward
                    v_px = H / 2 + fx * (MOUNT - 0.75) / forward
                    assert any(b.bbox_xyxy[0] <= u <= b.bbox_xyxy[2] and b.bbox_xyxy[1] <= v_px <= b.bbox_xyxy[3]
                               and b.distance_m < math.hypot(right, forward) for b in boxes.values()), (vid, right, forward)
            obs, reward, terminated, truncated, info = env.step(idle)
            if terminated or truncated:
                break
    finally:
        env.close()
    assert checked >= 2, checked
    if env_id == "roundabout-v0":
        assert max(headings) - min(headings) > 0.2  # the ego turned, and the camera with it


def test_highway_env_network_is_the_env_lanes_and_reads_back_from_its_opendrive_file(tmp_path):
    _highway_env()
    import gymnasium

    from drivesim.bridges.highway_road import env_network, road_id
    from drivesim.bridges.opendrive_out import write_opendrive
    from drivesim.scenario.file_formats import read_road_network

    for env_id in ("merge-v0", "roundabout-v0", "intersection-v0"):
        env = gymnasium.make(env_id)
        env.reset(seed=0)
        network = env.unwrapped.road.network
        back = read_road_network(write_opendrive(env_network(network, env_id), tmp_path / f"{env_id}.xodr"))
        for start, ends in network.graph.items():
            for end, lanes in ends.items():
                for k, lane in enumerate(lanes):
                    road = back.roads[road_id((start, end, k))]
                    assert road.length == pytest.approx(lane.length)
                    for s in np.linspace(0.0, lane.length, 9):
                        x, y = lane.position(s, 0.0)
                        pose = road.lane_to_world(-1, float(s))
                        assert (pose.x, pose.y) == pytest.approx((x, -y), abs=2e-4)  # mirrored y
                        assert math.remainder(pose.heading + lane.heading_at(s), 2 * math.pi) == pytest.approx(0, abs=2e-4)
        env.close()


def test_highway_env_lane_classes_it_cannot_read_are_refused():
    _highway_env()
    from highway_env.road.lane import PolyLaneFixedWidth

    from drivesim.bridges.highway_road import lane_road

    lane = PolyLaneFixedWidth([(0.0, 0.0), (10.0, 1.0), (20.0, 0.0)])
    with pytest.raises(DrivesimError, match="lane a>b>0 is a PolyLaneFixedWidth"):
        lane_road(lane, "a>b>0", "my-env")


def test_highway_env_roundabout_over_grpc_gives_the_in_process_boxes():
    bridge = _highway_env()
    from drivesim.serve.generator import SchematicGenerator
    from drivesim.serve.server import DrivesimServer, ServeConfig

    def run(**kw) -> list:
        env = bridge.DrivesimCamera("roundabout-v0", header=HIGHWAY_HEADER, **kw)
        frames = list(env.reset(seed=1)[1]["camera_frames"])
        for _ in range(2):
            frames += env.step(env.unwrapped.action_type.actions_indexes["IDLE"])[4]["camera_frames"]
        env.close()
        return frames

    server = DrivesimServer(SchematicGenerator(), ServeConfig(port=0)).start()
    try:
        remote = run(server=server.address)  # the world poses travel in the session steps (proto Pose)
    finally:
        server.stop(0)
    local = run()
    assert sum(len(f.labels.boxes) for f in local) > 0
    assert [[b.to_json() for b in f.labels.boxes] for f in remote] == [[b.to_json() for b in f.labels.boxes]
                                                                      for f in local]
