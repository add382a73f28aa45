"""The sinks on roads other than version 1's: OSI ground truth in the road network's world frame (read
back with the OSI package's own reader), `plan --osi`, the overlay's lane lines and `generate`'s warning
about roads the frames cannot show.

    python -m pytest tests/test_world_sinks.py -q
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from osi3.osi_lane_pb2 import Lane, LaneBoundary
from osi3trace.osi_trace import OSITrace

from drivesim.cli import main
from drivesim.road import NO_JUNCTION, Projector, RoadNetwork
from drivesim.scenario.boxes import cuboid_corners
from drivesim.scenario.camera import EgoPose, PinholeCamera, world_to_ego
from drivesim.scenario.engine import EGO_CAMERA_BEHIND_FRONT_M, EGO_SIZE_M, ScenarioEngine
from drivesim.scenario.loader import load_scenario
from drivesim.scenario.network import is_straight_road
from drivesim.standards.osi import HOST_ID, GroundTruthBuilder, box_centre
from drivesim.standards.osi_lanes import LANE_BOUNDARY_ID_BASE, LANE_ID_BASE, simplify

REPO = Path(__file__).resolve().parent.parent
JUNCTION = REPO / "scenarios" / "junction_turn.yaml"
CURVE = REPO / "scenarios" / "curve_oncoming.yaml"


def short(path: Path, tmp_path: Path, duration_s: float, fps: float = 10, width: int = 0) -> Path:
    """The example with a shorter clip (and a smaller camera), without its actions (they start later), its
    road file found beside it."""
    text = path.read_text().replace("roads/crossing.xodr", str(REPO / "scenarios" / "roads" / "crossing.xodr"))
    lines = [line for line in text.splitlines() if not line.startswith(("duration_s:", "fps:"))
             and not line.strip().startswith(("actions:", "- {at_s:"))]
    lines.insert(0, f"duration_s: {duration_s}\nfps: {fps}")
    if width:
        lines.insert(0, f"camera: {{width: {width}, height: {width // 2}}}")
    out = tmp_path / path.name
    out.write_text("\n".join(lines) + "\n")
    return out


@pytest.fixture(scope="module")
def junction():
    scenario = load_scenario(JUNCTION)
    return scenario, ScenarioEngine(scenario), GroundTruthBuilder(scenario)


def objects(gt) -> dict:
    return {o.source_reference[0].identifier[0]: o for o in gt.moving_object}


def bottom(o) -> np.ndarray:
    """A moving object's bottom centre: its centre lowered by half its height along its own up axis."""
    b = o.base
    pose = EgoPose(b.position.x, b.position.y, b.position.z, b.orientation.yaw, -b.orientation.pitch)
    return np.array([b.position.x, b.position.y, b.position.z]) + pose.axes[1] * b.dimension.height / 2


def test_the_examples_are_not_straight_roads():
    assert not is_straight_road(load_scenario(JUNCTION)) and not is_straight_road(load_scenario(CURVE))


@pytest.mark.parametrize("t", [0.0, 4.0, 7.5, 11.0])  # before, in and after the left turn
def test_every_entity_is_at_its_world_pose_from_the_engine(junction, t):
    scenario, engine, builder = junction
    gt = builder.at(t)
    found = objects(gt)
    assert gt.host_vehicle_id.value == HOST_ID and found["ego"].id.value == HOST_ID
    states = engine.agent_states(t)
    assert {"oncoming_car", "oncoming_truck", "crossing_pedestrian"} <= {s.track_id for s in states}
    for s in states:
        o = found[s.track_id]
        position = [o.base.position.x, o.base.position.y, o.base.position.z]
        assert position == pytest.approx(list(box_centre(s.world, s.size_m[2])), abs=1e-9)
        assert position[:2] == pytest.approx([s.world.x, s.world.y], abs=1e-9)  # a flat road: right above it
        assert o.base.position.z == pytest.approx(s.world.z + s.size_m[2] / 2)
        assert math.remainder(o.base.orientation.yaw - s.world.heading, 2 * math.pi) == pytest.approx(0, abs=1e-9)
        assert (o.base.dimension.length, o.base.dimension.width, o.base.dimension.height) == pytest.approx(s.size_m)
    # the ego's car: its centre 1.25 m behind the camera's ground point, along the camera's heading
    camera = engine.ego_pose(t)
    back = EGO_CAMERA_BEHIND_FRONT_M - EGO_SIZE_M[0] / 2
    ego = found["ego"].base
    assert [ego.position.x, ego.position.y] == pytest.approx(
        [camera.x + back * math.cos(camera.heading), camera.y + back * math.sin(camera.heading)], abs=1e-9)
    speed = float(engine.ego.speed.value(np.array(t)))
    assert math.hypot(ego.velocity.x, ego.velocity.y) == pytest.approx(speed)


def test_moving_objects_move_as_their_velocity_says(junction):
    _, _, builder = junction
    dt = 0.01
    before, after = objects(builder.at(2.0)), objects(builder.at(2.0 + dt))
    for name in ("ego", "oncoming_car", "oncoming_truck"):
        a, b = before[name].base, after[name].base
        moved = np.array([b.position.x - a.position.x, b.position.y - a.position.y]) / dt
        assert moved == pytest.approx([a.velocity.x, a.velocity.y], abs=0.05), name


def test_the_host_vehicle_lane_and_assigned_lanes_follow_the_route(junction):
    _, _, builder = junction
    gt0, gt_end = builder.at(0.0), builder.at(11.9)
    by_id = {lane.id.value: lane for lane in gt0.lane}

    def source(lane_id):
        return tuple(by_id[lane_id].source_reference[0].identifier)

    host = [lane.id.value for lane in gt0.lane if lane.classification.is_host_vehicle_lane]
    assert [source(k) for k in host] == [("3", "0", "-1")]  # the south arm's northbound lane
    ego_end = objects(gt_end)["ego"].moving_object_classification.assigned_lane_id[0].value
    assert source(ego_end) == ("1", "0", "1")  # after the left turn: the west arm's westbound lane
    car = objects(gt0)["oncoming_car"].moving_object_classification.assigned_lane_id[0].value
    assert source(car) == ("4", "0", "1")


def test_lanes_and_boundaries_cover_the_network_and_lie_on_its_borders(junction):
    scenario, engine, builder = junction
    network = engine.world.network
    gt = builder.at(0.0)
    lanes = {lane.id.value: lane for lane in gt.lane}
    boundaries = {b.id.value: b for b in gt.lane_boundary}
    expected = sum(1 for road in network.roads.values() for sec in road.laneSections for k in sec.lanes if k)
    assert len(lanes) == expected and min(lanes) == LANE_ID_BASE and min(boundaries) == LANE_BOUNDARY_ID_BASE
    types = {b.classification.type for b in boundaries.values()}
    assert LaneBoundary.Classification.TYPE_SOLID_LINE in types
    for b in boundaries.values():  # every point on its border: the OpenDRIVE lane named in its source
        road_id, section, lane_id = b.source_reference[0].identifier
        road = network.roads[road_id]
        projector = Projector(RoadNetwork.of([dataclasses.replace(road, predecessor=None, successor=None,
                                                                  junction=NO_JUNCTION)]))
        assert len(b.boundary_line) >= 2
        for p in b.boundary_line:
            point = projector.project(p.position.x, p.position.y)
            t = float(road.section_borders(int(section), point.s)[int(lane_id)][0])
            assert point.t == pytest.approx(t, abs=1e-6) and abs(p.position.z) < 1e-9
    for lane in lanes.values():
        c = lane.classification
        assert c.centerline_is_driving_direction and len(c.centerline) >= 2
        assert c.left_lane_boundary_id and c.right_lane_boundary_id
        assert all(k.value in boundaries for k in [*c.left_lane_boundary_id, *c.right_lane_boundary_id])
        road_id = lane.source_reference[0].identifier[0]
        assert c.type == (Lane.Classification.TYPE_INTERSECTION if network.roads[road_id].in_junction
                          else Lane.Classification.TYPE_DRIVING)
    # the south arm's northbound lane: the centre line on its left, the road's east edge on its right, and
    # it continues into the three connecting roads of the junction
    south = next(lane for lane in lanes.values() if tuple(lane.source_reference[0].identifier) == ("3", "0", "-1"))
    left = boundaries[south.classification.left_lane_boundary_id[0].value].boundary_line
    right = boundaries[south.classification.right_lane_boundary_id[0].value].boundary_line
    assert [p.position.x for p in left] == pytest.approx([0.0, 0.0], abs=1e-6) and [p.position.x for p in right] == \
        pytest.approx([3.5, 3.5], abs=1e-6)
    after = {lanes[p.successor_lane_id.value].source_reference[0].identifier[0]
             for p in south.classification.lane_pairing if p.HasField("successor_lane_id")}
    assert after == {"107", "108", "109"}


def test_a_camera_box_is_the_osi_object_seen_from_the_ego_camera(junction):
    scenario, engine, builder = junction
    camera = PinholeCamera.from_config(scenario.camera)
    checked = 0
    for index in range(0, scenario.num_frames, 7):
        fc = engine.frame(index)
        found = objects(builder.at(fc.timestamp_s))
        pose = EgoPose(*fc.ego_pose)
        for box in fc.boxes:
            o = found[box.track_id]
            road_point = world_to_ego(bottom(o), pose)
            assert list(camera.road_to_camera(road_point)) == pytest.approx(list(box.location_m), abs=1e-6)
            heading_rad = -math.remainder(o.base.orientation.yaw - pose.heading, 2 * math.pi)
            assert math.remainder(box.rotation_y - (heading_rad - math.pi / 2), 2 * math.pi) == pytest.approx(0, abs=1e-6)
            if box.truncation == 0 and box.occlusion == 0:
                size = np.array([[o.base.dimension.length, o.base.dimension.width, o.base.dimension.height]])
                corners = cuboid_corners(np.array([road_point[0]]), np.array([road_point[2]]), np.array([heading_rad]),
                                         size, road_point[1])[0]
                uv = camera.project(camera.road_to_camera(corners))
                assert list(box.bbox_xyxy) == pytest.approx([*uv.min(axis=0), *uv.max(axis=0)], abs=1e-6)
                checked += 1
    assert checked >= 5


def test_an_inline_road_has_its_oncoming_lane_and_borders_in_the_trace():
    scenario = load_scenario(CURVE)
    builder = GroundTruthBuilder(scenario)
    network = builder.engine.world.network
    gt = builder.at(3.0)
    lanes = {tuple(lane.source_reference[0].identifier): lane for lane in gt.lane}
    assert set(lanes) == {("main", "0", "-1"), ("main", "0", "-2"), ("main", "0", "1")}
    road = network.roads["main"]
    oncoming = lanes[("main", "0", "1")].classification.centerline
    start, end = (road.lane_to_world(1, s) for s in (road.length, 0.0))  # driven towards -s
    assert [oncoming[0].x, oncoming[0].y] == pytest.approx([start.x, start.y], abs=1e-6)
    assert [oncoming[-1].x, oncoming[-1].y] == pytest.approx([end.x, end.y], abs=1e-6)
    projector = Projector(network)
    for b in gt.lane_boundary:
        lane_id = int(b.source_reference[0].identifier[2])
        for p in b.boundary_line:
            point = projector.project(p.position.x, p.position.y)
            assert point.t == pytest.approx(float(road.section_borders(0, point.s)[lane_id][0]), abs=1e-6)
    truck = objects(gt)["oncoming_truck"]
    assert tuple(next(lane for lane in gt.lane if lane.id.value == truck.moving_object_classification
                      .assigned_lane_id[0].value).source_reference[0].identifier) == ("main", "0", "1")


def test_simplify_keeps_the_ends_of_a_straight_line_and_what_a_bend_needs():
    line = np.stack([np.linspace(0, 100, 101), np.zeros(101), np.zeros(101)], axis=-1)
    assert simplify(line, 0.01).tolist() == [[0, 0, 0], [100, 0, 0]]
    a = np.linspace(0, math.pi / 2, 200)
    arc = np.stack([10 * np.cos(a), 10 * np.sin(a), np.zeros_like(a)], axis=-1)
    kept = simplify(arc, 0.01)
    assert 10 < len(kept) < 60
    mids = (kept[1:] + kept[:-1]) / 2  # each chord stays within the tolerance of the arc
    assert np.all(10 - np.linalg.norm(mids[:, :2], axis=1) < 0.011)


@pytest.mark.parametrize("name", ["junction_turn.yaml", "openscenario/cut_in.xosc"])
def test_plan_osi_writes_the_trace_beside_the_labels_without_frames(tmp_path, name):
    source = REPO / "scenarios" / name
    labels, trace = tmp_path / "labels.jsonl", tmp_path / "sub" / "world.osi"
    assert main(["plan", str(source), "-o", str(labels), "--osi", str(trace)]) == 0
    lines = [json.loads(line) for line in labels.read_text().splitlines()]
    frames = list(OSITrace(str(trace), "GroundTruth"))
    assert len(frames) == len(lines) > 0
    for fc, gt in zip(lines[::17], frames[::17]):
        assert gt.timestamp.seconds + gt.timestamp.nanos * 1e-9 == pytest.approx(fc["timestamp_s"])
        assert {b["track_id"] for b in fc["boxes"]} <= set(objects(gt)) and gt.lane and gt.lane_boundary
    assert not list(tmp_path.glob("*.png"))


def test_plan_osi_refuses_a_trajectory(tmp_path, capsys):
    assert main(["plan", str(JUNCTION), "-o", str(tmp_path / "l.jsonl"), "--osi", str(tmp_path / "t.osi"),
                 "--trajectory", str(tmp_path / "drive.jsonl")]) == 1
    assert "--osi" in capsys.readouterr().err


def test_generate_render_on_a_junction_records_the_road_and_draws_lane_lines(tmp_path, capsys, monkeypatch):
    """The renderer draws road networks: no warning, the road recorded as not straight."""
    import drivesim.output.folder as folder

    drawn = []
    real = folder.draw_lane_lines
    monkeypatch.setattr(folder, "draw_lane_lines", lambda image, lines: drawn.append(len(lines)) or real(image, lines))
    scenario = short(JUNCTION, tmp_path, duration_s=0.3, width=128)
    out = tmp_path / "out"
    assert main(["generate", str(scenario), "-o", str(out), "--source", "render", "--osi", "-q"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert json.loads((out / "manifest.json").read_text())["road"] == {"straight": False, "drawn_from": "road network"}
    assert len(list(OSITrace(str(out / "ground_truth.osi"), "GroundTruth"))) == 3
    assert len(drawn) == 3 and min(drawn) >= 2  # every overlay frame got its lane lines


def test_generate_on_version_1_records_a_straight_road_without_a_warning(tmp_path, capsys):
    scenario = tmp_path / "s.yaml"
    scenario.write_text("name: straight\nduration_s: 0.2\nfps: 10\ncamera: {width: 128, height: 64}\n")
    assert main(["generate", str(scenario), "-o", str(tmp_path / "out"), "--source", "render", "-q"]) == 0
    assert "warning" not in capsys.readouterr().err
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["road"] == {"straight": True}
