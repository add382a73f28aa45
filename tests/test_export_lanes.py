"""`export --formats lanes` on version-1 scenarios: the files, their agreement with the labels computed
from the engine, resuming, and the labelled lines against the markings the procedural renderer paints.

    python -m pytest tests/test_export_lanes.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from drivesim.errors import DrivesimError
from drivesim.export.dataset import ExportOptions, export_dataset, plan_clips
from drivesim.export.schematic import schematic_source
from drivesim.render.frames import render_frame
from drivesim.render.scenery import DASH_M, EDGE_LINE_M, GAP_M
from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.lane_frames import ScenarioLanes
from drivesim.scenario.lane_labels import LaneLine
from drivesim.scenario.loader import parse_scenario

SMALL = """\
version: 1
name: lanes_small
seed: 4
duration_s: 1.0
fps: 5
camera: {width: 256, height: 128}
environment: {time_of_day: day, crowdedness: 0.3}
road: {lanes: 3, lane_width_m: 3.5}
ego: {lane: 1, speed_mps: 12, actions: [{at_s: 0.2, duration_s: 0.6, lane_change_to: 2}]}
agents:
  - {id: lead, type: car, lane: 1, distance_m: 18, speed_mps: 10}
"""
EDGE_PAINT_INSET_M = 0.15  # the renderer paints its edge lines this far inside the road's edges
BRIGHT = 170  # marking paint (white 228, yellow 215 in its red channel) against asphalt (at most ~111)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("scenarios")
    (folder / "small.yaml").write_text(SMALL)
    return plan_clips([str(folder)])


@pytest.fixture(scope="module")
def dataset(tmp_path_factory, clips) -> Path:
    out = tmp_path_factory.mktemp("lanes") / "ds"
    export_dataset(clips, out, schematic_source, ExportOptions(formats=("kitti", "lanes"), progress=False))
    return out


def test_every_frame_has_a_lanes_file_that_parses(dataset, clips):
    clip = clips[0]
    files = sorted((dataset / "lanes" / clip.clip_id).glob("*.json"))
    assert [f.name for f in files] == [f"{i:06d}.json" for i in range(clip.scenario.num_frames)]
    for i, path in enumerate(files):
        doc = json.loads(path.read_text())
        assert doc["frame_index"] == i and doc["file_path"] == f"images/{clip.clip_id}/{i:06d}.png"
        assert (dataset / doc["file_path"]).is_file()
        assert np.array(doc["intrinsic"]).shape == (3, 3) and np.array(doc["extrinsic"]).shape == (4, 4)
        lines = [LaneLine.from_json(d) for d in doc["lane_lines"]]
        assert {line.type for line in lines} == {"edge", "dashed"}
        for line in lines:
            assert np.all((line.uv >= -1e-6) & (line.uv <= np.array([256, 128]) + 1e-6))
    record = json.loads((dataset / "clips" / f"{clip.clip_id}.json").read_text())
    assert record["formats"] == ["kitti", "lanes"]


def test_the_writer_agrees_with_the_engines_frames(dataset, clips):
    """The runner hands writers frames read back from labels.jsonl (no road state): the writer takes the
    ego from the scenario's engine and must label exactly what the engine's own frames give."""
    clip = clips[0]
    lanes = ScenarioLanes(clip.scenario, clip.seed)
    engine = ScenarioEngine(clip.scenario, seed=clip.seed)
    for frame in engine.frames():
        written = json.loads((dataset / "lanes" / clip.clip_id / f"{frame.index:06d}.json").read_text())
        expected = json.loads(json.dumps(lanes.frame_json(frame, written["file_path"])))
        assert written == expected
    # The ego changes lane: its pose moves across the road, and the lines with it.
    first, last = (json.loads((dataset / "lanes" / clip.clip_id / f"{i:06d}.json").read_text()) for i in (0, 4))
    assert first["ego_pose"]["y"] - last["ego_pose"]["y"] == pytest.approx(3.5, abs=1e-6)  # one lane right


def test_a_failed_clip_leaves_nothing_and_the_rerun_makes_the_same_bytes(tmp_path, clips, dataset):
    def dies(scenario, seed):
        for k, item in enumerate(schematic_source(scenario, seed)):
            if k == 3:
                raise RuntimeError("killed")
            yield item

    out = tmp_path / "ds"
    with pytest.raises(RuntimeError):
        export_dataset(clips, out, dies, ExportOptions(formats=("kitti", "lanes"), progress=False))
    assert not (out / "lanes").exists() and not (out / ".tmp").exists()
    export_dataset(clips, out, schematic_source, ExportOptions(formats=("kitti", "lanes"), progress=False))
    assert _tree(out) == _tree(dataset)
    # A clip renamed into place but not committed (no record) is made again, to the same bytes.
    (out / "clips" / f"{clips[0].clip_id}.json").unlink()
    (out / "lanes" / clips[0].clip_id / "000002.json").write_text("partial")
    summary = export_dataset(clips, out, schematic_source, ExportOptions(formats=("kitti", "lanes"), progress=False))
    assert summary.written == 1 and _tree(out) == _tree(dataset)


def test_lanes_is_refused_for_trajectories_and_grown_roads(tmp_path, capsys):
    from drivesim.cli import main

    args = ["export", "header.yaml", "--trajectory", "drive.jsonl", "-o", str(tmp_path / "o"), "--formats", "lanes"]
    assert main(args) == 1 and "--formats lanes" in capsys.readouterr().err
    scenario = parse_scenario(SMALL)
    if "oncoming_lanes" not in type(scenario.road).model_fields:
        return
    from dataclasses import replace

    grown = parse_scenario(SMALL.replace("road: {lanes: 3,", "road: {oncoming_lanes: 1, lanes: 3,"))
    frame = ScenarioEngine(grown).frame(0)
    # With the engine's pose the other direction is labelled too: a solid centre line between them.
    lines = [LaneLine.from_json(d) for d in ScenarioLanes(grown).frame_json(frame)["lane_lines"]]
    assert "solid" in {line.type for line in lines}
    # A road state alone describes only version 1's road.
    bare = replace(frame, ego_pose=None, road=replace(frame.road, ego_pose=None))
    with pytest.raises(DrivesimError, match="oncoming_lanes"):
        ScenarioLanes(grown).frame_json(bare)


@pytest.mark.parametrize("radius", [150.0, -150.0])
def test_labels_of_a_curved_scenario_road_bend_with_it(radius):
    scenario = parse_scenario(SMALL.replace("road: {lanes: 3, lane_width_m: 3.5}",
                                            f"road: {{lanes: 3, segments: [{{straight: 10}}, "
                                            f"{{arc: {{length: 200, radius: {radius}}}}}]}}"))
    lanes = ScenarioLanes(scenario)
    cam = lanes.camera
    lines, _ = lanes.labels(ScenarioEngine(scenario).frame(0))
    assert {line.type for line in lines} == {"edge", "dashed"}
    for line in lines:
        straight_u = cam.cx + cam.fx * line.xyz[0, 0] / line.xyz[:, 2]  # the line if the road went on straight
        assert np.sign(radius) * (line.uv[-1, 0] - straight_u[-1]) < -1.0, line.track_id


def test_a_road_state_alone_gives_the_same_lines_as_the_engines_pose():
    """Frames with a road state but no world pose (closed loops) are placed on version 1's straight road
    (straight_world.py): the camera sees the same lines as from the engine's pose on its network."""
    from dataclasses import replace

    scenario = parse_scenario(SMALL)
    lanes = ScenarioLanes(scenario)
    for frame in ScenarioEngine(scenario).frames():
        bare = replace(frame, ego_pose=None, road=replace(frame.road, ego_pose=None))
        mine, _ = lanes.labels(bare)
        engines, _ = lanes.labels(frame)
        assert [line.track_id for line in mine] == [line.track_id for line in engines]
        for a, b in zip(mine, engines):
            np.testing.assert_allclose(a.xyz, b.xyz, atol=1e-6)
            np.testing.assert_allclose(a.uv, b.uv, atol=1e-6)


# --- against the renderer's paint -----------------------------------------------------------

def _samples(line: LaneLine, spacing_m: float = 0.25) -> np.ndarray:
    """Camera-frame points every `spacing_m` along a line's 3D polyline."""
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(line.xyz, axis=0), axis=1))])
    at = np.arange(0.0, arc[-1], spacing_m)
    return np.stack([np.interp(at, arc, line.xyz[:, k]) for k in range(3)], axis=-1)


def _share_near_paint(bright: np.ndarray, uv: np.ndarray, radius_px: np.ndarray) -> float:
    hits = []
    for (u, v), r in zip(uv, radius_px):
        r = int(np.ceil(r))
        ui, vi = int(np.floor(u)), int(np.floor(v))
        hits.append(bright[max(vi - r, 0):vi + r + 1, max(ui - r, 0):ui + r + 1].any())
    return float(np.mean(hits))


@pytest.mark.parametrize("seed", [0, 2, 5])  # rural, suburban and urban scenery
def test_labelled_lines_lie_on_the_renderers_markings(seed):
    scenario = parse_scenario(f"name: paint\nseed: {seed}\nduration_s: 1.0\nfps: 5\ncamera: {{width: 512, height: 256}}\n"
                              "ego: {lane: 1, speed_mps: 13.7}\n")
    engine, lanes = ScenarioEngine(scenario), ScenarioLanes(scenario)
    cam = lanes.camera
    for index in (0, 3):
        frame = engine.frame(index)
        lines, _ = lanes.labels(frame)
        image = render_frame(engine, frame.timestamp_s, cam.width, cam.height)
        bright = image.max(axis=2) >= BRIGHT
        assert {line.type for line in lines} == {"edge", "dashed"}
        for line in lines:
            points = _samples(line)
            points = points[points[:, 2] <= 40.0]
            if line.type == "dashed":  # labels run through the gaps; the paint is where a dash is
                phase = np.mod(frame.road.ego_travel_m + points[:, 2], DASH_M + GAP_M)
                points = points[(phase > 0.3) & (phase < DASH_M - 0.3)]
                inset = np.zeros(len(points))
            else:  # the label is the road's edge; its paint lies a little inside
                inset = cam.fx * (EDGE_PAINT_INSET_M + EDGE_LINE_M / 2) / points[:, 2]
            uv = cam.project(points)
            assert len(uv) >= 10
            assert _share_near_paint(bright, uv, 2.0 + inset) >= 0.8, (seed, index, line.track_id)
            if line.type == "dashed":  # and a line 1 m off is mostly not on paint
                off = cam.project(points + [1.0, 0.0, 0.0])
                assert _share_near_paint(bright, off, np.full(len(off), 2.0)) < 0.5


def test_the_ego_lanes_lines_are_where_geometry_says():
    """u = cx + fx d / z, v = cy + fy h / z for a line d metres right of a camera h metres up, unpitched."""
    scenario = parse_scenario("name: geometry\nduration_s: 1.0\ncamera: {width: 1024, height: 512, fov_deg: 90, "
                              "mount_height_m: 1.4}\nroad: {lanes: 4, lane_width_m: 3.2}\nego: {lane: 2}\n")
    lanes = ScenarioLanes(scenario)
    lines, _ = lanes.labels(ScenarioEngine(scenario).frame(0))
    ego_lane = {line.attribute: line for line in lines if line.attribute in (2, 3)}
    for attribute, d in ((2, -1.6), (3, 1.6)):  # the ego drives in the middle of a 3.2 m lane
        line = ego_lane[attribute]
        for z in (5.0, 10.0, 20.0, 40.0, 79.0):
            u = np.interp(z, line.xyz[:, 2], line.uv[:, 0])
            v = np.interp(z, line.xyz[:, 2], line.uv[:, 1])
            assert u == pytest.approx(512 + 512 * d / z, abs=1e-6)
            assert v == pytest.approx(256 + 512 * 1.4 / z, abs=1e-6)
