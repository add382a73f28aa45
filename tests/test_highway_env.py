"""The highway-env bridge: drivesim's camera on a highway-env episode, in process and over gRPC, checked
against an independent projection of the env's own vehicles (schematic backend, tiny camera).

    python -m pytest tests/test_highway_env.py -x -q
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import drivesim.serve  # noqa: F401,I001 - first: sets gRPC's fork option before grpc loads
import cv2
import numpy as np
import pytest

from drivesim.bridges.highway_env import DrivesimCamera
from drivesim.errors import DrivesimError

ROOT = Path(__file__).resolve().parents[1]
ENV_ID = "highway-fast-v0"  # a straight 3-lane road, 5 simulation sub-steps per 1 s env step
SEED, STEPS = 2, 12  # this episode changes lanes (2 -> 1 -> 2 -> 1) and runs 12 steps without a crash
W, H, FOV, MOUNT = 256, 128, 90.0, 1.5
HEADER = f"""\
version: 1
name: highway_test
duration_s: 1
fps: 10
camera: {{width: {W}, height: {H}, fov_deg: {FOV:g}, mount_height_m: {MOUNT}}}
"""
# The labelling rules as docs/labels.md states them, and the camera's place on the ego (docs/simulators.md).
NEAR_M, RANGE_M, MIN_SIDE_PX, FULLY_OCCLUDED = 0.1, 200.0, 2.0, 0.98
CAR_HEIGHT_M, CAMERA_BEHIND_FRONT_M = 1.5, 1.0


# --- an independent camera: highway-env state -> boxes ----------------------------------------------

def vehicle_record(v) -> tuple:
    return (float(v.position[0]), float(v.position[1]), float(v.heading), float(v.LENGTH), float(v.WIDTH))


def lerp(a: tuple, b: tuple, w: float) -> tuple:
    turn = math.remainder(b[2] - a[2], 2 * math.pi)
    return (a[0] + w * (b[0] - a[0]), a[1] + w * (b[1] - a[1]), a[2] + w * turn, b[3], b[4])


def project(ego: tuple, vehicle: tuple) -> tuple[tuple[float, ...], float, float] | None:
    """(clipped xyxy, distance to the cuboid's centre, lateral X) of one vehicle's cuboid; None: no label."""
    fx = (W / 2) / math.tan(math.radians(FOV) / 2)
    cam_x, cam_y = ego[0] + ego[3] / 2 - CAMERA_BEHIND_FRONT_M, ego[1]  # highway-env x along, y right
    x, y, h, length, width = vehicle
    corners = []
    for sl, sw, up in itertools.product((-0.5, 0.5), (-0.5, 0.5), (0.0, CAR_HEIGHT_M)):
        px = x + sl * length * math.cos(h) - sw * width * math.sin(h)
        py = y + sl * length * math.sin(h) + sw * width * math.cos(h)
        corners.append(np.array([py - cam_y, MOUNT - up, px - cam_x]))  # camera: X right, Y down, Z forward
    points = [c for c in corners if c[2] >= NEAR_M]
    for i, j in itertools.combinations(range(8), 2):  # edges: corners that differ in one coordinate
        if bin(i ^ j).count("1") == 1 and (corners[i][2] >= NEAR_M) != (corners[j][2] >= NEAR_M):
            a, b = corners[i], corners[j]
            points.append(a + (NEAR_M - a[2]) / (b[2] - a[2]) * (b - a))
    if not points:
        return None
    u = [W / 2 + fx * p[0] / p[2] for p in points]
    v = [H / 2 + fx * p[1] / p[2] for p in points]
    box = (min(max(min(u), 0), W), min(max(min(v), 0), H), min(max(max(u), 0), W), min(max(max(v), 0), H))
    distance = math.dist((y - cam_y, MOUNT - CAR_HEIGHT_M / 2, x - cam_x), (0, 0, 0))
    if distance > RANGE_M or box[2] - box[0] < MIN_SIDE_PX or box[3] - box[1] < MIN_SIDE_PX:
        return None
    return box, distance, y - cam_y


def covered(box: tuple, nearer: list[tuple]) -> float:
    """Exact share of `box` under the union of `nearer` boxes (a grid of all their edges)."""
    xs = sorted({box[0], box[2], *[min(max(b[k], box[0]), box[2]) for b in nearer for k in (0, 2)]})
    ys = sorted({box[1], box[3], *[min(max(b[k], box[1]), box[3]) for b in nearer for k in (1, 3)]})
    area = 0.0
    for x0, x1 in zip(xs, xs[1:]):
        for y0, y1 in zip(ys, ys[1:]):
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            if any(b[0] < cx < b[2] and b[1] < cy < b[3] for b in nearer):
                area += (x1 - x0) * (y1 - y0)
    return area / max((box[2] - box[0]) * (box[3] - box[1]), 1e-12)


def expected_boxes(ego: tuple, vehicles: dict[str, tuple]) -> tuple[dict[str, tuple], set[str]]:
    """(track id -> (xyxy, lateral X) of every labelled vehicle, ids too close to a threshold to judge)."""
    seen = sorted(((p, k) for k, p in ((k, project(ego, v)) for k, v in vehicles.items()) if p is not None),
                  key=lambda item: item[0][1])
    out, borderline, nearer = {}, set(), []
    for (box, distance, lateral), k in seen:
        occlusion = covered(box, nearer)
        nearer.append(box)
        if abs(occlusion - FULLY_OCCLUDED) < 0.01 or abs(distance - RANGE_M) < 0.5:
            borderline.add(k)
        if occlusion < FULLY_OCCLUDED:
            out[k] = (box, lateral)
    return out, borderline


# --- one episode through the wrapper --------------------------------------------------------------

def run_episode(**camera) -> tuple[list, list[tuple[float, tuple, dict]]]:
    """Every camera frame of SEED's episode, and the env's world after every simulation sub-step,
    recorded here straight from highway-env's vehicles (the reset first)."""
    env = DrivesimCamera(ENV_ID, HEADER, **camera)
    subs: list[tuple[float, tuple, dict]] = []

    def record() -> None:
        base = env.unwrapped
        others = [v for v in base.road.vehicles if v is not base.vehicle]
        # track ids: the k-th other vehicle of road.vehicles at reset is vehicle_k (docs/simulators.md)
        subs.append((len(subs) * dt, vehicle_record(base.vehicle),
                     {f"vehicle_{k}": vehicle_record(v) for k, v in enumerate(others, 1)}))

    try:
        obs, info = env.reset(seed=SEED)
        base = env.unwrapped
        dt = 1 / base.config["simulation_frequency"]
        wrapped = base.road.step  # the bridge's hook; ours runs after it

        def step(dt_: float) -> None:
            wrapped(dt_)
            record()

        base.road.step = step
        record()
        frames = list(info["camera_frames"])
        env.action_space.seed(SEED)
        for _ in range(STEPS):
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            assert not (terminated or truncated)
            assert len(info["camera_frames"]) == 10  # 10 fps, one env step a second
            assert np.array_equal(info["camera"], info["camera_frames"][-1].image)
            assert info["camera_labels"] == info["camera_frames"][-1].labels
            frames += info["camera_frames"]
    finally:
        env.close()
    return frames, subs


def check_against_independent_projection(frames, subs) -> None:
    ahead = right = moving = 0
    last_ego_y = None
    for frame in frames:
        t = frame.timestamp_s
        k = min(int(t * 5 + 1e-6), len(subs) - 2)  # the sub-steps around t (5 a second)
        (t0, ego0, v0), (t1, ego1, v1) = subs[k], subs[k + 1]
        w = (t - t0) / (t1 - t0)
        ego = lerp(ego0, ego1, w)
        want, borderline = expected_boxes(ego, {i: lerp(v0[i], v1[i], w) for i in v1 if i in v0})
        got = {b.track_id: b for b in frame.labels.boxes}
        assert set(got) - borderline == set(want) - borderline, t  # the same vehicles, so the counts agree
        for track_id, (box, lateral) in want.items():
            if track_id in got:
                assert got[track_id].bbox_xyxy == pytest.approx(box, abs=0.05), (t, track_id)
                x1, _, x2, _ = got[track_id].bbox_xyxy
                if abs(lateral) < 0.2 and abs(v1[track_id][2]) < 0.01:  # ahead in the ego's lane, straight
                    assert abs((x1 + x2) / 2 - W / 2) < 2.0, (t, track_id)
                    ahead += 1
                if 3.0 < lateral < 5.0:  # one lane (4 m) to the right
                    assert (x1 + x2) / 2 > W / 2, (t, track_id)
                    right += 1
        moving += last_ego_y is not None and abs(ego[1] - last_ego_y) > 1e-6  # the camera follows lane changes
        last_ego_y = ego[1]
    assert ahead >= 20 and right >= 20 and moving >= 10, (ahead, right, moving)


@pytest.fixture(scope="module")
def episode():
    return run_episode(backend="schematic")


def test_boxes_match_an_independent_projection_in_process(episode):
    frames, subs = episode
    assert len(frames) == 1 + 10 * STEPS and [f.index for f in frames] == list(range(len(frames)))
    assert [f.timestamp_s for f in frames] == pytest.approx([k / 10 for k in range(len(frames))])
    assert all(f.image.shape == (H, W, 3) and f.image.dtype == np.uint8 for f in frames)
    check_against_independent_projection(frames, subs)


def test_over_grpc_the_frames_are_the_same(episode):
    from drivesim.serve.generator import SchematicGenerator
    from drivesim.serve.server import DrivesimServer, ServeConfig

    server = DrivesimServer(SchematicGenerator(), ServeConfig(port=0)).start()
    try:
        remote, subs = run_episode(server=server.address)
    finally:
        server.stop(0)
    check_against_independent_projection(remote, subs)
    local = episode[0]
    assert [f.labels.to_json() for f in remote] == [f.labels.to_json() for f in local]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(remote, local, strict=True))


def test_diffusion_backend_in_process_labels_the_same_world():
    from drivesim.pipeline import GenerateOptions, VideoPipeline

    from pipeline_fixtures import micro_bundle

    pipeline = VideoPipeline(micro_bundle(), GenerateOptions(steps=2, progress=False))
    header = HEADER.replace(f"width: {W}, height: {H}", "width: 128, height: 64")
    drawn, ldm = (DrivesimCamera(ENV_ID, header, backend) for backend in ("schematic", pipeline))
    try:
        for env in (drawn, ldm):
            env.reset(seed=SEED)
        a, b = drawn.step(1)[-1], ldm.step(1)[-1]
    finally:
        drawn.close()
        ldm.close()
    assert len(b["camera_frames"]) == 10 and b["camera"].shape == (64, 128, 3)
    assert [f.labels for f in b["camera_frames"]] == [f.labels for f in a["camera_frames"]]
    assert not np.array_equal(b["camera"], a["camera"])  # drawn by the model, not the schematic


def test_env_state_is_what_highway_env_reports():
    env = DrivesimCamera(ENV_ID, HEADER)
    try:
        _, info = env.reset(seed=SEED)
        _, _, _, _, info = env.step(1)
        base = env.unwrapped
        state = info["env_state"]
        assert state["step"] == 1 and state["timestamp_s"] == pytest.approx(1.0)
        assert state["ego"]["position"] == base.vehicle.position.tolist()
        assert state["ego"]["lane"] == base.vehicle.lane_index[2]
        others = [v for v in base.road.vehicles if v is not base.vehicle]
        assert [s["position"] for s in state["vehicles"]] == [v.position.tolist() for v in others]
        assert [(s["heading"], s["speed"], s["length"], s["width"]) for s in state["vehicles"]] == \
            [(v.heading, v.speed, v.LENGTH, v.WIDTH) for v in others]
        assert env.header_used.road.lanes == 3 and env.header_used.road.lane_width_m == 4.0
    finally:
        env.close()


@pytest.mark.parametrize("env_id", ["merge-v0", "two-way-v0"])
def test_roads_that_are_not_straight_are_filmed_on_the_env_network(env_id):
    # tests/test_world_bridges.py checks their boxes against the env's vehicles
    env = DrivesimCamera(env_id, HEADER)
    try:
        obs, info = env.reset(seed=0)
        assert env.road is None and env.header_used.road.opendrive == env.road_file
        assert Path(env.road_file).read_text().startswith("<?xml") and info["camera_labels"].ego_pose is not None
    finally:
        env.close()
    env = DrivesimCamera(env_id, HEADER + "road: {lanes: 2}\n")
    with pytest.raises(DrivesimError, match="leave road out of the header"):
        env.reset(seed=0)
    env.close()


def test_a_header_with_another_road_or_agents_is_refused():
    env = DrivesimCamera(ENV_ID, HEADER + "road: {lanes: 5}\n")
    with pytest.raises(DrivesimError, match="leave road out of the header"):
        env.reset(seed=0)
    env.close()
    env = DrivesimCamera(ENV_ID, HEADER + "agents:\n  - {id: a, type: car, lane: 0, distance_m: 5}\n")
    with pytest.raises(DrivesimError, match="agents"):
        env.reset(seed=0)
    env.close()


def test_drivesim_never_needs_highway_env_and_says_how_to_get_it():
    code = ("import sys; import drivesim, drivesim.cli, drivesim.bridges.replay, drivesim.bridges.world_camera, drivesim.bridges; "
            "assert 'highway_env' not in sys.modules and 'gymnasium' not in sys.modules; "
            "sys.modules['highway_env'] = None\n"
            "try:\n    import drivesim.bridges.highway_env\n"
            "except ImportError as err:\n    print(err)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert 'pip install "drivesim[sim]"' in out.stdout


def test_ci_installs_the_sim_extra():
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert extras["sim"] and set(extras["sim"]) <= set(extras["dev"])


def test_example_writes_the_generate_layout_and_env_states(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("highway_env_loop", ROOT / "examples" / "highway_env_loop.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    header = tmp_path / "header.yaml"
    header.write_text(HEADER)
    out = tmp_path / "out"
    assert example.main(["--env", ENV_ID, "--steps", "2", "--seed", "1", "--policy", "idle", "--backend", "schematic",
                         "--header", str(header), "-o", str(out)]) == 0
    assert "steps/s" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["env_states.jsonl", "frames", "header.yaml", "labels.jsonl",
                                                     "manifest.json", "overlay.mp4", "video.mp4"]
    assert len(list((out / "frames").glob("*.png"))) == 21 == len((out / "labels.jsonl").read_text().splitlines())
    states = [json.loads(line) for line in (out / "env_states.jsonl").read_text().splitlines()]
    assert [s["step"] for s in states] == [0, 1, 2] and [s["timestamp_s"] for s in states] == [0.0, 1.0, 2.0]
    assert {"position", "heading", "speed", "length", "width"} <= set(states[0]["vehicles"][0])
    assert "lanes: 3" in (out / "header.yaml").read_text()
    for name in ("video.mp4", "overlay.mp4"):
        video = cv2.VideoCapture(str(out / name))
        assert video.get(cv2.CAP_PROP_FRAME_COUNT) == 21 and video.read()[1].shape == (H, W, 3)
    merge = tmp_path / "merge"
    assert example.main(["--env", "merge-v0", "--steps", "1", "--header", str(header), "-o", str(merge)]) == 0
    assert "opendrive: road.xodr" in (merge / "header.yaml").read_text() and (merge / "road.xodr").is_file()


# --- configs and states the env cannot run: clear errors, never the env's traceback -------------------------

@pytest.mark.parametrize("config, words", [
    ({"policy_frequency": 0}, ["policy_frequency", "(0, 1000]"]),
    ({"simulation_frequency": -5}, ["simulation_frequency", "(0, 1000]"]),
    ({"lanes_count": 0}, ["lanes_count", "1..100"]),
    ({"lanes_count": 2.5}, ["lanes_count", "integer"]),
    ({"vehicles_count": "many"}, ["vehicles_count", "0..1000"]),
    ({"duration": float("nan")}, ["duration", "finite"]),
    ({"reward_speed_range": [20, float("inf")]}, ["reward_speed_range[1]", "finite"]),
    ({"simulation_frequency": 1, "policy_frequency": 2}, ["simulation_frequency", ">= policy_frequency"]),
    ({"initial_lane_id": 3}, ["initial_lane_id", "0..2"]),  # highway-fast-v0: 3 lanes
    ({"observation": 3}, ["observation", "an object"]),
    ({"normalize_reward": 1}, ["normalize_reward", "true or false"]),
    ({"lane_count": 2}, ["'lane_count'", "lanes_count"]),  # a typo: the env's keys are listed
    ([1, 2], ["JSON object", "a list"]),
    ("lanes_count", ["JSON object", "text"]),
])
def test_an_env_config_is_checked_before_the_env_is_made(config, words):
    with pytest.raises(DrivesimError) as err:
        DrivesimCamera(ENV_ID, HEADER, env_config=config)
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def test_the_envs_own_failures_name_the_env_and_its_config():
    with pytest.raises(DrivesimError, match=r"could not make highway-fast-v0 with env config .*Nope"):
        DrivesimCamera(ENV_ID, HEADER, env_config={"observation": {"type": "Nope"}})
    with pytest.raises(DrivesimError, match="'no-such-v0' is not a registered env.*highway-v0"):
        DrivesimCamera("no-such-v0", HEADER)
    env = DrivesimCamera(ENV_ID, HEADER, env_config={"vehicles_count": 3})
    try:
        env.unwrapped.config["lanes_count"] = 0  # broken behind the check's back: reset fails inside the env
        with pytest.raises(DrivesimError, match=r"highway-fast-v0 failed to reset with env config "
                                                r"\{'vehicles_count': 3\}: ValueError"):
            env.reset(seed=0)
    finally:
        env.close()


def test_non_finite_actions_and_states_are_errors_not_a_nan_world():
    env = DrivesimCamera(ENV_ID, HEADER, env_config={"action": {"type": "ContinuousAction"}, "vehicles_count": 0})
    try:
        env.reset(seed=0)
        with pytest.raises(DrivesimError, match="action .*nan.* is not finite"):
            env.step(np.array([np.nan, 0.0]))
        env.unwrapped.vehicle.speed = float("nan")  # a state the env got into by itself
        with pytest.raises(DrivesimError, match="ego.s x is nan at t = 0.2 s"):
            env.step(np.array([0.0, 0.0]))
    finally:
        env.close()


def test_example_refuses_bad_configs_with_exit_1_and_no_traceback(tmp_path, capsys):
    import importlib.util

    spec = importlib.util.spec_from_file_location("highway_env_loop", ROOT / "examples" / "highway_env_loop.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    for config, words in (('{"policy_frequency": 0}', "policy_frequency must be"),
                          ('{"lanes_count": 0}', "lanes_count must be"), ("[1,2]", "--config must be a JSON object")):
        assert example.main(["--env", ENV_ID, "--steps", "1", "--config", config, "-o", str(tmp_path / "o")]) == 1
        err = capsys.readouterr().err
        assert words in err and "Traceback" not in err, err
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "highway_env_loop.py"), "--steps", "1", "--config",
                          '{"policy_frequency": 0}', "-o", str(tmp_path / "o")], capture_output=True, text=True,
                         cwd=ROOT, timeout=300)
    assert out.returncode == 1 and "Traceback" not in out.stderr and "policy_frequency" in out.stderr, out.stderr
