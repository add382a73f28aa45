"""ASAM OSI ground truth: `export --formats osi` and `generate --osi` traces, read back with the OSI tools.

    python -m pytest tests/test_osi.py -q
"""

from __future__ import annotations

import builtins
import json
import math

import pytest
from osi3.osi_object_pb2 import MovingObject
from osi3trace.osi_trace import OSITrace

from drivesim.cli import main
from drivesim.errors import DrivesimError
from drivesim.standards.osi import BACKGROUND_ID_BASE, HOST_ID, LANE_ID_BASE, GroundTruthBuilder
from drivesim.scenario.engine import EGO_CAMERA_BEHIND_FRONT_M, EGO_SIZE_M
from drivesim.scenario.loader import parse_scenario

SCENARIO = """version: 1
name: osi_check
duration_s: 1.5
fps: 4
camera: {width: 96, height: 48}
environment: {crowdedness: 0.6}
road: {lanes: 3, lane_width_m: 3.5}
ego: {lane: 1, speed_mps: 12, actions: [{at_s: 0.5, lane_change_to: 2, duration_s: 1}]}
agents:
  - {id: lead, type: truck, lane: 1, distance_m: 30, speed_mps: 10}
  - {id: walker, type: pedestrian, lateral_m: -2, distance_m: 15, actions: [{at_s: 0, lateral_m: 1, duration_s: 3}]}
"""


def read(path):
    return list(OSITrace(str(path), "GroundTruth"))


def test_export_writes_one_ground_truth_per_frame_that_the_osi_tools_read_back(tmp_path):
    (tmp_path / "s.yaml").write_text(SCENARIO)
    out = tmp_path / "ds"
    assert main(["export", str(tmp_path / "s.yaml"), "-o", str(out), "--source", "schematic", "--formats", "osi",
                 "-q"]) == 0
    frames = read(out / "osi" / "osi_check.osi")
    labels = [json.loads(line) for line in (out / "clips" / "osi_check.jsonl").read_text().splitlines()]
    assert len(frames) == len(labels) == 6
    scenario = parse_scenario(SCENARIO)
    for i, (gt, fc) in enumerate(zip(frames, labels)):
        t = gt.timestamp.seconds + gt.timestamp.nanos * 1e-9
        assert t == pytest.approx(i / 4) and gt.host_vehicle_id.value == HOST_ID
        objects = {o.source_reference[0].identifier[0]: o for o in gt.moving_object}
        assert {"ego", "lead", "walker"} <= set(objects)
        assert {b["track_id"] for b in fc["boxes"]} <= set(objects)  # every labelled box is in the ground truth
        ids = [o.id.value for o in gt.moving_object]
        assert len(set(ids)) == len(ids) and all(o.id.value >= BACKGROUND_ID_BASE for n, o in objects.items()
                                                 if n.startswith("bg_"))
        lead, ego, walker = objects["lead"], objects["ego"], objects["walker"]
        assert (lead.base.dimension.length, lead.base.dimension.width) == pytest.approx((9.0, 2.5))
        assert lead.type == MovingObject.TYPE_VEHICLE
        assert lead.vehicle_classification.type == MovingObject.VehicleClassification.TYPE_HEAVY_TRUCK
        assert walker.type == MovingObject.TYPE_PEDESTRIAN
        # x along the road, y to the left: the lead is 30 m + 10 t ahead of the camera, which has driven 12 t
        camera_x = 12 * t
        assert lead.base.position.x == pytest.approx(camera_x + 30 - 2 * t)
        assert lead.base.position.y == pytest.approx(-1.5 * 3.5) and lead.base.position.z == pytest.approx(3.4 / 2)
        assert lead.base.velocity.x == pytest.approx(10)
        assert ego.base.position.x == pytest.approx(camera_x + EGO_CAMERA_BEHIND_FRONT_M - EGO_SIZE_M[0] / 2)
        # the walker crosses to the right (-y), 1 m / s on average over 3 s with a smoothstep
        u = t / 3
        assert walker.base.velocity.y == pytest.approx(-3 * 6 * u * (1 - u) / 3)
        for box in fc["boxes"]:  # the camera-frame label and the world position agree
            o = objects[box["track_id"]]
            assert o.base.position.x - camera_x == pytest.approx(box["location_m"][2], abs=1e-3)
        lanes = {lane.id.value: lane for lane in gt.lane}
        assert set(lanes) == {LANE_ID_BASE + k for k in range(3)}
        assert lead.moving_object_classification.assigned_lane_id[0].value == LANE_ID_BASE + 1
        ego_lane = 1 if t < 1.0 else 2  # the ego changes lanes 0.5 .. 1.5 s
        assert ego.moving_object_classification.assigned_lane_id[0].value == LANE_ID_BASE + ego_lane
        assert not walker.moving_object_classification.assigned_lane_id or t > 0  # on the sidewalk at first
        assert math.isfinite(ego.base.orientation.yaw)
    assert scenario.num_frames == 6


def test_generate_osi_writes_ground_truth_beside_the_frames(tmp_path):
    (tmp_path / "s.yaml").write_text(SCENARIO.replace("duration_s: 1.5", "duration_s: 0.5").replace("at_s: 0.5,", "at_s: 0.25,"))
    out = tmp_path / "out"
    assert main(["generate", str(tmp_path / "s.yaml"), "-o", str(out), "--source", "render", "--osi", "-q"]) == 0
    frames = read(out / "ground_truth.osi")
    assert [gt.timestamp.nanos for gt in frames] == [0, 250_000_000]
    assert json.loads((out / "manifest.json").read_text())["osi_trace"] == "ground_truth.osi"


def test_openscenario_entities_keep_their_names_in_the_trace(tmp_path):
    from openscenario_fixtures import EXAMPLES

    from drivesim.standards.openscenario import load_openscenario

    builder = GroundTruthBuilder(load_openscenario(EXAMPLES / "cut_in.xosc"))
    gt = builder.at(6.6)
    names = [o.source_reference[0].identifier[0] for o in gt.moving_object]
    assert names == ["ego", "Overtaker"] and gt.moving_object[1].id.value == 1


def test_a_missing_osi_package_is_a_clear_error(monkeypatch):
    real_import = builtins.__import__

    def no_osi(name, *args, **kwargs):
        if name.startswith("osi3"):
            raise ImportError("No module named 'osi3'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_osi)
    with pytest.raises(DrivesimError, match=r"pip install 'drivesim\[asam\]'"):
        GroundTruthBuilder(parse_scenario(SCENARIO))


def test_version_1_road_has_its_lane_boundaries_in_the_old_frame():
    """Version 1's road in the frame its traces always had: the left edge on y = 0, lanes to -y; each border
    a two-point line along the whole road, dashed between lanes and solid at the edges."""
    from osi3.osi_lane_pb2 import LaneBoundary

    gt = GroundTruthBuilder(parse_scenario(SCENARIO)).at(0.5)
    kinds = {}
    for b in gt.lane_boundary:
        ys = {round(p.position.y, 9) for p in b.boundary_line}
        assert len(ys) == 1 and len(b.boundary_line) == 2 and b.boundary_line[0].position.x < -600
        kinds[ys.pop()] = b.classification.type
    solid, dashed = LaneBoundary.Classification.TYPE_SOLID_LINE, LaneBoundary.Classification.TYPE_DASHED_LINE
    assert kinds == {0.0: solid, -3.5: dashed, -7.0: dashed, -10.5: solid}
    lanes = {lane.id.value: lane for lane in gt.lane}
    for k in range(3):
        centre = lanes[LANE_ID_BASE + k].classification.centerline
        assert {round(p.y, 9) for p in centre} == {-(k + 0.5) * 3.5} and centre[0].x < centre[-1].x
    host = [lane_id for lane_id, lane in lanes.items() if lane.classification.is_host_vehicle_lane]
    assert host == [LANE_ID_BASE + 1]
