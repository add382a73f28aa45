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
    ('{"timestamp_s": 1' + "0" * 5000 + '}', "timestamp_s", "got a number of 5001 digits"),
    ('{"timestamp_s": 0.1, "ego": {"lanes": -' + "9" * 5000 + '}}', "ego.lanes", "got a number of 5000 digits"),
    ('{"timestamp_s": 0.1,', "", "not valid JSON"),
    ("[0.1]", "", "expected a JSON object"),
], ids=["negative_speed", "unknown_type", "no_position", "duplicate_id", "quoted_number", "zero_size", "typo_key",
        "time_not_increasing", "agents_key", "lanes", "time_of_day", "no_timestamp", "duplicate_key", "nan",
        "5000_digits", "5000_digits_lanes", "broken_json", "not_an_object"])
def test_bad_lines_are_located_errors_from_the_cli(tmp_path, capsys, line, where, words):
    header = tmp_path / "header.yaml"
    header.write_text(HEADER)
    bad = write(tmp_path / "bad.jsonl", [GOOD, "", line])  # line 3 (a blank line 2 is no frame)
    out = tmp_path / "labels.jsonl"
    assert main(["plan", str(header), "--trajectory", str(bad), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:3: {where}{': ' if where else ''}" in err and words in err and "Traceback" not in err
    assert not out.exists()


NUMBER_PLACES = ["timestamp_s", "ego.speed_mps", "ego.lateral_m", "ego.lane_width_m", "ego.lanes", "ego.pose.x",
                 "ego.pose.pitch", "environment.crowdedness", "actors[0].lateral_m", "actors[0].distance_m",
                 "actors[0].speed_mps", "actors[0].heading_rad", "actors[0].size_m[1]", "actors[1].x_m",
                 "actors[2].pose.y", "actors[2].pose.heading"]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999", "-1" + "0" * 400])
def test_a_non_finite_number_anywhere_in_a_line_is_refused_at_its_line(tmp_path, token):
    base = {"timestamp_s": 0.1, "ego": {"speed_mps": 10, "lateral_m": 5.0, "lane_width_m": 3.5, "lanes": 3},
            "environment": {"crowdedness": 0.5},
            "actors": [{"id": "a", "type": "car", "lateral_m": 5.0, "distance_m": 10.0, "speed_mps": 1,
                        "heading_rad": 0.0, "size_m": [4, 2, 1.5]},
                       {"id": "b", "type": "car", "x_m": 1.0, "distance_m": 12.0}]}
    for place in NUMBER_PLACES:
        line = json.loads(json.dumps(base))
        if place.startswith("ego.pose"):
            del line["ego"]["lateral_m"]
            line["ego"]["pose"] = {"x": 1.0, "y": -5.0, "z": 0.0, "heading": 0.0, "pitch": 0.0}
        if place.startswith("actors[2]"):
            line["actors"].append({"id": "c", "type": "car", "pose": {"x": 9.0, "y": -5.0, "z": 0.0, "heading": 0.0}})
            line["ego"] = {"pose": {"x": 1.0, "y": -5.0, "z": 0.0, "heading": 0.0}}
        target, *path = place.replace("]", "").replace("[", ".").split(".")
        holder = line
        for key in [target, *path][:-1]:
            holder = holder[int(key)] if key.isdigit() else holder[key]
        last = ([target, *path])[-1]
        holder[int(last) if last.isdigit() else last] = "__TOKEN__"
        text = json.dumps(line).replace('"__TOKEN__"', token)
        with pytest.raises(ScenarioError) as err:
            read_trajectory(write(tmp_path / "t.jsonl", [GOOD, text]))
        assert [(i.line, i.key_path) for i in err.value.issues] == [(2, place)], (place, str(err.value))


def test_actors_per_line_are_capped_like_a_server_step(tmp_path, capsys):
    """Default: the server's agents per session step (one constant). Before: nothing capped a line; 20,000
    actors took 1 GB, 100,000 took 4.3 GB and then crashed."""
    import tracemalloc

    from drivesim.scenario.step_limits import MAX_AGENTS_PER_STEP
    from drivesim.serve.limits import Limits

    assert MAX_AGENTS_PER_STEP == Limits().max_agents_per_step == 500

    def line(n: int, t: float = 0.0) -> dict:
        return {"timestamp_s": t, "actors": [{"id": f"a{k}", "type": "car", "lateral_m": 5.25, "distance_m": 20.0}
                                             for k in range(n)]}

    path = write(tmp_path / "many.jsonl", [line(500), line(501, 0.1)])
    with pytest.raises(ScenarioError) as err:
        read_trajectory(path)
    assert [(i.line, i.key_path) for i in err.value.issues] == [(2, "actors")]
    assert "501 actors in one line; at most 500 per line" in str(err.value)
    assert "--max-agents-per-line" in str(err.value) and "max_agents_per_line=" in str(err.value)
    assert len(read_trajectory(path, max_agents_per_line=501)) == 2
    assert len(parse_trajectory_lines([json.dumps(line(501))], max_agents_per_line=501)[0].step.agents) == 501
    with pytest.raises(ScenarioError, match="at most 2 per line"):
        parse_trajectory_lines([json.dumps(line(3))], max_agents_per_line=2)
    with pytest.raises(DrivesimError, match="max_agents_per_line must be a whole number >= 1, got 0"):
        read_trajectory(path, max_agents_per_line=0)

    # A huge line is refused while it is parsed: its actors' objects are never all built.
    huge = write(tmp_path / "huge.jsonl", [line(100_000)])
    tracemalloc.start()
    with pytest.raises(ScenarioError, match="more than 500 actors in one line"):
        read_trajectory(huge)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 64 * 2**20  # the line's text and a thousand objects (parsing all of it: ~400 MB)

    # the command line: the flag on every command that reads a trajectory, an error naming it
    header = tmp_path / "header.yaml"
    header.write_text(HEADER)
    out = tmp_path / "labels.jsonl"
    assert main(["plan", str(header), "--trajectory", str(path), "-o", str(out)]) == 1
    err_text = capsys.readouterr().err
    assert f"{path}:2: actors: 501 actors in one line" in err_text and "--max-agents-per-line" in err_text
    assert not out.exists()
    assert main(["plan", str(header), "--trajectory", str(path), "-o", str(out), "--max-agents-per-line", "501"]) == 0
    assert len(out.read_text().splitlines()) == 2
    assert main(["plan", str(header), "--trajectory", str(path), "-o", str(out), "--max-agents-per-line", "0"]) == 1
    assert "--max-agents-per-line must be in 1..1000000000, got 0" in capsys.readouterr().err
    for command in ("preview", "generate", "export"):
        assert "--max-agents-per-line" in _help(command, capsys)


def _help(command: str, capsys) -> str:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return capsys.readouterr().out


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
