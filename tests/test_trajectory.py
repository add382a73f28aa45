"""Trajectory files: the format's checks (located errors), replay == the same world sent as session
steps, and `--trajectory` of plan, preview, generate and export.

    python -m pytest tests/test_trajectory.py -x -q
"""

from __future__ import annotations

import json
from pathlib import Path

import drivesim.serve  # noqa: F401,I001 - first: sets gRPC's fork option before grpc loads
import cv2
import numpy as np
import pytest

from drivesim.cli import main
from drivesim.errors import DrivesimError, ScenarioError
from drivesim.scenario.loader import parse_scenario
from drivesim.scenario.trajectory import parse_trajectory_lines, read_trajectory, trajectory_conditions

from pipeline_fixtures import HEADER  # 128x64 camera, 10 fps, 3 lanes of 3.5 m, ego in lane 1

EGO_LANE_CENTRE = 1.5 * 3.5


def world(frames: int = 12) -> list[dict]:
    """A drive in the session step vocabulary: a lead car braking ahead, a truck passing on the right, a
    cyclist (placed relative to the camera) appearing halfway, the ego drifting left, night falling."""
    out = []
    for k in range(frames):
        t = round(k / 10, 6)
        actors = [{"id": "lead", "type": "car", "lateral_m": EGO_LANE_CENTRE, "distance_m": 20 - 1.5 * t,
                   "speed_mps": 10 - 3 * t},
                  {"id": "truck", "type": "truck", "lateral_m": EGO_LANE_CENTRE + 3.5, "distance_m": 4 + 3 * t,
                   "speed_mps": 13, "heading_rad": 0.05, "size_m": [8.0, 2.5, 3.2]}]
        if k >= frames // 2:
            actors.append({"id": "bike", "type": "cyclist", "x_m": -2.5, "distance_m": 12 - t, "speed_mps": 4})
        line = {"timestamp_s": t, "ego": {"speed_mps": 10, "lateral_m": EGO_LANE_CENTRE - 0.1 * k}, "actors": actors}
        if k == frames - 3:
            line["environment"] = {"time_of_day": "night", "crowdedness": 0.3}
        out.append(line)
    return out


def write(path: Path, lines: list) -> Path:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return path


@pytest.fixture()
def files(tmp_path):
    header = tmp_path / "header.yaml"
    header.write_text(HEADER)
    return header, write(tmp_path / "drive.jsonl", world())


# --- replay == session steps ---------------------------------------------------------------------

def test_a_replayed_trajectory_equals_the_same_world_sent_as_session_steps(files, tmp_path):
    from drivesim.serve.client import DrivesimClient
    from drivesim.bridges.replay import replay_frames
    from drivesim.serve.generator import SchematicGenerator
    from drivesim.serve.server import DrivesimServer, ServeConfig
    from drivesim.bridges.world_camera import WorldCamera

    header_path, drive = files
    header = parse_scenario(HEADER)
    with WorldCamera(header, "schematic") as camera:
        replayed = list(replay_frames(read_trajectory(drive), camera, chunk=5))
    server = DrivesimServer(SchematicGenerator(), ServeConfig(port=0)).start()
    try:  # the same world, one session step per line, straight through the client
        with DrivesimClient(server.address) as client, client.session(HEADER) as session:
            sent = [session.step(line["actors"], line.get("environment"), line["ego"],
                                 timestamps_s=[line["timestamp_s"]])[0] for line in world()]
        with WorldCamera(header, server=server.address, filename="t.jsonl") as remote:  # a road change: in process only
            with pytest.raises(DrivesimError, match="t.jsonl:1: ego: the road changes to 4 lanes of 3.5 m"):
                remote.render(parse_trajectory_lines(['{"timestamp_s": 0, "ego": {"lanes": 4}}']))
    finally:
        server.stop(0)
    assert len(replayed) == len(sent) == 12
    assert [f.labels.to_json() for f in replayed] == [f.labels.to_json() for f in sent]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(replayed, sent))
    # the world really is in the labels: three actors from line 7 on, night from line 10 on
    assert [len(f.labels.boxes) for f in sent] == [2] * 6 + [3] * 6
    assert [f.labels.time_of_day for f in sent] == ["day"] * 9 + ["night"] * 3
    # ... and `drivesim plan --trajectory` writes the same labels
    assert main(["plan", str(header_path), "--trajectory", str(drive), "-o", str(tmp_path / "labels.jsonl")]) == 0
    planned = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert planned == [f.labels.to_json() for f in sent]


def test_a_road_change_applies_from_its_frame_on():
    lines = [json.dumps({"timestamp_s": 0.0}), json.dumps({"timestamp_s": 0.1, "ego": {"lanes": 4, "lane_width_m": 3.0}}),
             json.dumps({"timestamp_s": 0.2})]
    roads = [fc.road for fc in trajectory_conditions(parse_scenario(HEADER), parse_trajectory_lines(lines))]
    assert [(r.lanes, r.lane_width_m) for r in roads] == [(3, 3.5), (4, 3.0), (4, 3.0)]


# --- bad files -----------------------------------------------------------------------------------

GOOD = {"timestamp_s": 0.0, "actors": [{"id": "a", "type": "car", "lateral_m": 5.0, "distance_m": 10.0}]}


def _actors(*extra: dict) -> dict:
    return {"timestamp_s": 0.1, "actors": [{"id": f"c{k}", "type": "car", "x_m": 0, "distance_m": 9} for k in range(2)]
            + list(extra)}


@pytest.mark.parametrize("line, where, words", [
    (_actors({"id": "s", "type": "car", "x_m": 0, "distance_m": 9, "speed_mps": -2}), "actors[2].speed_mps",
     "-2 is out of range"),
    (_actors({"id": "s", "type": "tank", "x_m": 0, "distance_m": 9}), "actors[2].type", "unknown actor type \"tank\""),
    (_actors({"id": "s", "type": "car", "distance_m": 9}), "actors[2]", "exactly one of lateral_m"),
    (_actors({"id": "c0", "type": "car", "x_m": 1, "distance_m": 3}), "actors[2].id", "also the id of actors[0]"),
    (_actors({"id": "s", "type": "car", "x_m": 0, "distance_m": "9"}), "actors[2].distance_m", "expected a number"),
    (_actors({"id": "s", "type": "car", "x_m": 0, "distance_m": 9, "size_m": [4, 0, 1]}), "actors[2].size_m[1]",
     "out of range"),
    (_actors({"id": "s", "type": "car", "x_m": 0, "distance_m": 9, "sped_mps": 3}), "actors[2].sped_mps",
     "did you mean 'speed_mps'"),
    ({"timestamp_s": 0.0}, "timestamp_s", "not after the previous frame's 0 s (line 1)"),
    ({"timestamp_s": 0.1, "agents": []}, "agents", "calls them 'actors'"),
    ({"timestamp_s": 0.1, "ego": {"lanes": 9}}, "ego.lanes", "use 1..8"),
    ({"timestamp_s": 0.1, "environment": {"time_of_day": "dusk"}}, "environment.time_of_day", "dusk"),
    ({"actors": []}, "timestamp_s", "missing"),
    ('{"timestamp_s": 0.1, "timestamp_s": 0.2}', "timestamp_s", "appears twice"),
    ('{"timestamp_s": NaN}', "timestamp_s", "finite"),
    ('{"timestamp_s": 0.1,', "", "not valid JSON"),
    ("[0.1]", "", "expected a JSON object"),
], ids=["negative_speed", "unknown_type", "no_position", "duplicate_id", "quoted_number", "zero_size", "typo_key",
        "time_not_increasing", "agents_key", "lanes", "time_of_day", "no_timestamp", "duplicate_key", "nan",
        "broken_json", "not_an_object"])
def test_bad_lines_are_located_errors_from_the_cli(tmp_path, capsys, line, where, words):
    header = tmp_path / "header.yaml"
    header.write_text(HEADER)
    bad = write(tmp_path / "bad.jsonl", [GOOD, "", line])  # line 3 (a blank line 2 is no frame)
    out = tmp_path / "labels.jsonl"
    assert main(["plan", str(header), "--trajectory", str(bad), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:3: {where}{': ' if where else ''}" in err and words in err and "Traceback" not in err
    assert not out.exists()


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    lines = [GOOD, _actors({"id": "s", "type": "bus", "x_m": 0, "distance_m": 9, "speed_mps": -1}),
             {"timestamp_s": 0.05, "actors": [{"id": "x", "type": "unicycle", "x_m": 0, "distance_m": 1}]}]
    with pytest.raises(ScenarioError) as err:
        read_trajectory(write(tmp_path / "t.jsonl", lines))
    found = [(i.line, i.key_path) for i in err.value.issues]
    assert found == [(2, "actors[2].speed_mps"), (3, "actors[0].type"), (3, "timestamp_s")]
    assert "unicycle" in str(err.value)


@pytest.mark.parametrize("content, words", [("", "holds no frames"), ("\n\n", "holds no frames"),
                                            (b"\xff\xfe", "not UTF-8")])
def test_empty_and_unreadable_files(tmp_path, content, words):
    path = tmp_path / "t.jsonl"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ScenarioError, match=words):
        read_trajectory(path)
    with pytest.raises(ScenarioError, match="file not found"):
        read_trajectory(tmp_path / "missing.jsonl")


def test_a_header_with_agents_or_another_frame_rate_is_refused(files, tmp_path, capsys):
    header, drive = files
    with_agents = tmp_path / "agents.yaml"
    with_agents.write_text(HEADER + "agents:\n  - {id: a, type: car, lane: 0, distance_m: 5}\n")
    assert main(["plan", str(with_agents), "--trajectory", str(drive), "-o", str(tmp_path / "l.jsonl")]) == 1
    assert "remove the header's agents" in capsys.readouterr().err
    slow = tmp_path / "slow.yaml"
    slow.write_text(HEADER.replace("fps: 10", "fps: 25"))
    assert main(["plan", str(slow), "--trajectory", str(drive), "-o", str(tmp_path / "l.jsonl")]) == 1
    err = capsys.readouterr().err
    assert "0.1 s apart (10 fps)" in err and "set fps: 10 in the header" in err


# --- the other commands --------------------------------------------------------------------------

def test_generate_with_the_diffusion_backend_writes_the_generate_layout(files, tmp_path):
    from drivesim.models.bundle import save_bundle

    from pipeline_fixtures import micro_bundle

    header, drive = files
    save_bundle(micro_bundle(), tmp_path / "bundle")
    out = tmp_path / "out"
    assert main(["generate", str(header), "--trajectory", str(drive), "-o", str(out), "--checkpoint",
                 str(tmp_path / "bundle"), "--steps", "2", "-q"]) == 0
    assert len(list((out / "frames").glob("*.png"))) == 12
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["frames"] == 12 and manifest["trajectory"]["path"] == str(drive) and manifest["steps"] == 2
    assert main(["plan", str(header), "--trajectory", str(drive), "-o", str(tmp_path / "l.jsonl")]) == 0
    assert (out / "labels.jsonl").read_text() == (tmp_path / "l.jsonl").read_text()
    video = cv2.VideoCapture(str(out / "video.mp4"))
    assert video.get(cv2.CAP_PROP_FRAME_COUNT) == 12 and video.read()[1].shape == (64, 128, 3)
    assert main(["generate", str(header), "--trajectory", str(drive), "-o", str(tmp_path / "r"),
                 "--source", "render"]) == 1  # the renderer draws scenarios only


def test_export_and_preview_of_a_trajectory(files, tmp_path):
    from drivesim.draw.preview import preview_size

    header, drive = files
    dataset = tmp_path / "ds"
    assert main(["export", str(header), "--trajectory", str(drive), "-o", str(dataset), "--source", "schematic",
                 "--formats", "coco,kitti", "-q"]) == 0
    coco = json.loads((dataset / "coco" / "annotations.json").read_text())
    assert len(coco["images"]) == 12 and len(coco["annotations"]) == 6 * 2 + 6 * 3
    assert main(["export", str(header), "--trajectory", str(drive), "-o", str(dataset), "--source", "schematic",
                 "--formats", "coco,kitti", "-q"]) == 0  # the same command resumes: nothing to do
    picture = tmp_path / "preview.png"
    assert main(["preview", str(header), "--trajectory", str(drive), "-o", str(picture)]) == 0
    image = cv2.imread(str(picture))
    assert (image.shape[1], image.shape[0]) == preview_size(parse_scenario(HEADER))
