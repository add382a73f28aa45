"""Lane lines as labels: hand-computed projections on a flat straight road, cuts at the near plane and the
image border, a camera turned with the road, curved roads, the JSON round trip, types and attributes,
and the drawing.

    python -m pytest tests/test_lane_labels.py -q
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from drivesim.draw.overlay import LANE_COLORS, draw_lane_lines
from drivesim.road import (Arc, Lane, LaneSection, LaneWidth, Line, ReferenceLine, Road, RoadMark, RoadNetwork,
                           straight_road)
from drivesim.scenario.camera import EgoPose, PinholeCamera, ego_to_world
from drivesim.scenario.frustum import clip_to_view
from drivesim.scenario.lane_frames import lane_frame_json
from drivesim.scenario.lane_labels import LaneLine, lane_labels

W = 3.5
CAMERA = PinholeCamera.from_fov(1024, 512, fov_deg=90, mount_height_m=1.5)  # fx = fy = 512, centre (512, 256)


def _straight(lanes: int = 3, length: float = 300.0, **kw) -> RoadNetwork:
    return RoadNetwork.of([straight_road(length, [W] * lanes, **kw)])


def _turned(road: Road, x: float, y: float, hdg: float) -> Road:
    """The same road with its reference line starting at (x, y) heading `hdg` (straight or one arc)."""
    piece = road.planView.geometries[0]
    moved = replace(piece, x=x, y=y, hdg=hdg)
    return replace(road, planView=ReferenceLine((moved,)))


def _by_id(lines: list[LaneLine]) -> dict[str, LaneLine]:
    return {line.track_id: line for line in lines}


# --- a flat straight road, by hand --------------------------------------------------------------

def test_straight_road_projects_as_computed_by_hand():
    # The ego in the middle lane (drivesim lane 1: 5.25 m right of the left edge), 50 m along the road.
    lines = _by_id(lane_labels(_straight(), CAMERA, EgoPose(x=50.0, y=-5.25)))
    offsets = {"0/-1/left": -5.25, "0/-1/right": -1.75, "0/-2/right": 1.75, "0/-3/right": 5.25}
    assert set(lines) == set(offsets)
    for track_id, d in offsets.items():
        line = lines[track_id]
        z = line.xyz[:, 2]
        np.testing.assert_allclose(line.xyz[:, 0], d, atol=1e-9)
        np.testing.assert_allclose(line.xyz[:, 1], 1.5, atol=1e-9)  # the ground, 1.5 m below the camera
        np.testing.assert_allclose(line.uv[:, 0], 512 + 512 * d / z, atol=1e-6)  # u = cx + fx d / z
        np.testing.assert_allclose(line.uv[:, 1], 256 + 512 * 1.5 / z, atol=1e-6)  # v = cy + fy h / z
        assert np.all(np.diff(z) > 0) and z[-1] == pytest.approx(80.0)  # near to far, cut at max_distance_m
    types = {t: lines[t].type for t in offsets}
    assert types == {"0/-1/left": "edge", "0/-1/right": "dashed", "0/-2/right": "dashed", "0/-3/right": "edge"}
    assert [lines[t].attribute for t in offsets] == [1, 2, 3, 4]
    assert [lines[t].category for t in offsets] == [20, 1, 1, 21]  # OpenLane: curbs and white dashes
    assert {(lines[t].road, lines[t].lane, lines[t].side) for t in offsets} == {
        ("0", -1, "left"), ("0", -1, "right"), ("0", -2, "right"), ("0", -3, "right")}


def test_lines_are_cut_at_the_image_border_with_points_on_it():
    lines = _by_id(lane_labels(_straight(), CAMERA, EgoPose(x=50.0, y=-5.25)))
    # The lane lines at +-1.75 m leave the image at its bottom row: v = 512 where z = fy h / 256 = 3 m.
    for track_id in ("0/-1/right", "0/-2/right"):
        first = lines[track_id]
        assert first.uv[0, 1] == pytest.approx(512.0, abs=1e-9) and first.xyz[0, 2] == pytest.approx(3.0)
    # The right edge at 5.25 m leaves at the right border first: u = 1024 where z = fx d / 512 = 5.25 m.
    edge = lines["0/-3/right"]
    assert edge.uv[0, 0] == pytest.approx(1024.0, abs=1e-9) and edge.xyz[0, 2] == pytest.approx(5.25)
    assert edge.uv[0, 1] == pytest.approx(256 + 512 * 1.5 / 5.25, abs=1e-9)
    for line in lines.values():
        assert np.all((line.uv >= -1e-9) & (line.uv <= np.array([1024, 512]) + 1e-9))


def test_lines_are_cut_at_the_near_plane():
    # A tall, narrow image sees the ground right below the camera: the near plane (z = 0.5 m) cuts first.
    tall = PinholeCamera.from_fov(256, 4096, fov_deg=90, mount_height_m=1.5)
    lines = _by_id(lane_labels(_straight(), tall, EgoPose(x=50.0, y=-(W + 0.1))))  # 0.1 m right of a line
    under = lines["0/-1/right"]
    assert under.xyz[0, 2] == pytest.approx(0.5, abs=1e-12)
    assert under.uv[0] == pytest.approx([128 + 128 * -0.1 / 0.5, 2048 + 128 * 1.5 / 0.5], abs=1e-6)


def test_a_polyline_that_leaves_and_comes_back_is_two_runs():
    # Across the view at 10 m depth, out of the image on the right, back, then behind the camera.
    pts = np.array([[0.0, 0.1, 10.0], [20.0, 0.1, 10.0], [0.0, 0.1, 10.0], [0.0, 0.1, -10.0]])
    runs = clip_to_view(pts, CAMERA, near_m=0.5, far_m=80.0)
    assert len(runs) == 2
    u = [CAMERA.project(run)[:, 0] for run in runs]
    assert u[0][-1] == pytest.approx(1024.0) and u[1][0] == pytest.approx(1024.0)
    assert runs[1][-1][2] == pytest.approx(0.5)  # the second run ends at the near plane
    assert clip_to_view(pts[:3] * [1, 1, -1], CAMERA, 0.5, 80.0) == []  # all behind: nothing


# --- the camera turns with the ego ---------------------------------------------------------------

def test_a_camera_turned_with_the_road_sees_the_same_lines():
    along_x = lane_labels(_straight(), CAMERA, EgoPose(x=50.0, y=-5.25))
    # The road built along +y (heading 90 degrees) from (100, -20): the ego 50 m along it, in its middle
    # lane, heading 90 degrees too. t points to -x now, so 5.25 m right of the left edge is x = 105.25.
    north = RoadNetwork.of([_turned(straight_road(300.0, [W] * 3), 100.0, -20.0, math.pi / 2)])
    pose = EgoPose(x=105.25, y=30.0, heading=math.pi / 2)
    turned = _by_id(lane_labels(north, CAMERA, pose))
    assert set(turned) == {line.track_id for line in along_x}
    for line in along_x:
        np.testing.assert_allclose(turned[line.track_id].xyz, line.xyz, atol=1e-9)
        np.testing.assert_allclose(turned[line.track_id].uv, line.uv, atol=1e-6)
    # Looking along +x instead, across the road: the lines it sees run across the picture at one depth.
    across = lane_labels(north, CAMERA, replace(pose, heading=0.0, x=100.0))
    assert across
    for line in across:
        assert np.ptp(line.xyz[:, 2]) < 1e-9 and np.ptp(line.uv[:, 1]) < 1e-6


@pytest.mark.parametrize("curvature", [1 / 120.0, -1 / 120.0])
def test_lines_bend_the_way_the_arc_does(curvature):
    road = straight_road(150.0, [W] * 3)
    road = replace(road, planView=ReferenceLine((Arc(0.0, 0.0, 0.0, 0.0, 150.0, curvature),)))
    ego = road.lane_to_world(-2, 10.0)
    pose = EgoPose(x=ego.x, y=ego.y, heading=ego.heading)
    lines = lane_labels(RoadNetwork.of([road]), CAMERA, pose)
    assert {line.track_id for line in lines} >= {"0/-1/right", "0/-2/right"}
    for line in lines:
        d, z = line.xyz[0, 0], line.xyz[:, 2]
        straight_u = 512 + 512 * d / z  # where the line would be if the road went on straight
        bend = np.sign(curvature) * (line.uv[:, 0] - straight_u)
        # A left bend pulls the lines left (smaller u), a right bend right, more with distance.
        assert np.all(bend <= 1e-9) and bend[-1] < -1.0, line.track_id
        # The points are on the lane border: at radius 1/k - t from the arc's centre.
        world = ego_to_world(_to_road(line.xyz), pose)
        t = {"0/-1/left": 0.0, "0/-1/right": -W, "0/-2/right": -2 * W, "0/-3/right": -3 * W}[line.track_id.split("#")[0]]
        radius = np.hypot(world[1:-1, 0], world[1:-1, 1] - 1 / curvature)
        np.testing.assert_allclose(radius, abs(1 / curvature - t), atol=1e-9)


def _to_road(xyz: np.ndarray) -> np.ndarray:
    """Camera frame -> road frame for the unpitched CAMERA: the camera sits 1.5 m above the ground."""
    return xyz + np.array([0.0, -1.5, 0.0])


# --- which borders, which types -------------------------------------------------------------------

def test_two_way_road_centre_line_is_solid_and_sidewalks_are_not_edges():
    centre = Lane(0, "none", road_marks=(RoadMark(0.0, "solid", "yellow"),))
    section = LaneSection(0.0, left=(Lane(1, widths=(LaneWidth(0.0, W),), road_marks=(RoadMark(0.0, "none"),)),),
                          center=centre,
                          right=(Lane(-1, widths=(LaneWidth(0.0, W),), road_marks=(RoadMark(0.0, "solid broken"),)),
                                 Lane(-2, widths=(LaneWidth(0.0, W),), road_marks=(RoadMark(0.0, "none"),)),
                                 Lane(-3, "sidewalk", widths=(LaneWidth(0.0, 2.0),))))
    road = Road("7", 300.0, ReferenceLine((Line(0.0, 0.0, 0.0, 0.0, 300.0),)), (section,))
    lines = _by_id(lane_labels(RoadNetwork.of([road]), CAMERA, EgoPose(x=50.0, y=-W / 2)))
    assert {t: (line.type, line.category) for t, line in lines.items()} == {
        "7/-1/left": ("solid", 8),  # the yellow centre line between the directions
        "7/1/left": ("edge", 20),  # the outer border of the outermost left driving lane, unmarked
        "7/-1/right": ("solid", 6),  # solid inside (left, seen along +s), broken outside: white-lsolid-rdash
        "7/-2/right": ("edge", 21),  # the carriageway's edge; the sidewalk's outer border gets no label
    }


def test_lines_are_stable_track_ids_across_frames():
    network = _straight()
    ids = [sorted(line.track_id for line in lane_labels(network, CAMERA, EgoPose(x=x, y=-5.25)))
           for x in (20.0, 21.0, 60.0)]
    assert ids[0] == ids[1] == ids[2]


# --- JSON -----------------------------------------------------------------------------------------

def test_json_round_trip_is_exact_to_a_micrometre():
    lines = lane_labels(_straight(), CAMERA, EgoPose(x=50.3, y=-5.1, heading=0.01))
    back = [LaneLine.from_json(json.loads(json.dumps(line.to_json()))) for line in lines]
    for a, b in zip(lines, back, strict=True):
        np.testing.assert_allclose(b.xyz, a.xyz, atol=1e-6, rtol=0)
        np.testing.assert_allclose(b.uv, a.uv, atol=1e-6, rtol=0)
        assert (b.track_id, b.type, b.category, b.road, b.lane, b.side, b.mark, b.color, b.attribute) == (
            a.track_id, a.type, a.category, a.road, a.lane, a.side, a.mark, a.color, a.attribute)
        assert b.to_json() == a.to_json()  # and from there on exact
    doc = lines[0].to_json()
    assert len(doc["xyz"]) == 3 and len(doc["uv"]) == 2 and len(doc["visibility"]) == len(doc["xyz"][0])


def test_frame_json_has_openlane_keys_and_consistent_matrices():
    pose = EgoPose(x=50.0, y=-5.25, z=2.0, heading=0.3)
    camera = replace(CAMERA, pitch_deg=5.0)
    lines = lane_labels(_straight(), camera, pose)
    doc = json.loads(json.dumps(lane_frame_json(lines, camera, pose, 7, 0.7, "images/c/000007.png")))
    assert {"file_path", "intrinsic", "extrinsic", "lane_lines", "camera_to_ego", "ego_pose"} <= set(doc)
    assert doc["intrinsic"] == [[512.0, 0.0, 512.0], [0.0, 512.0, 256.0], [0.0, 0.0, 1.0]]
    # extrinsic: camera -> world. The camera centre sits 1.5 m above the pose's origin.
    extrinsic = np.array(doc["extrinsic"])
    np.testing.assert_allclose(extrinsic[:3, 3], [50.0, -5.25, 3.5], atol=1e-9)
    line = lines[0]
    world = (extrinsic @ np.c_[line.xyz, np.ones(len(line.xyz))].T).T[:, :3]
    np.testing.assert_allclose(world[:, 2], 0.0, atol=1e-6)  # lane points lie on the ground (z = 0)


# --- drawing --------------------------------------------------------------------------------------

def test_draw_lane_lines_by_type():
    lines = lane_labels(_straight(), CAMERA, EgoPose(x=50.0, y=-5.25))
    image = np.zeros((512, 1024, 3), np.uint8)
    shown = draw_lane_lines(image, lines)
    assert not image.any()  # the input is left alone
    for line in lines:
        u, v = (int(c) for c in line.uv[len(line.uv) // 3])
        patch = shown[max(v - 3, 0):v + 4, max(u - 3, 0):u + 4].reshape(-1, 3).astype(int)
        near = np.abs(patch - np.array(LANE_COLORS[line.type])).sum(axis=1).min()
        assert near < 60, line.track_id
    half = draw_lane_lines(np.zeros((256, 512, 3), np.uint8), lines, scale=(0.5, 0.5))
    assert half.any()
    dashed = next(line for line in lines if line.type == "dashed")
    solid = replace(dashed, type="solid")
    assert draw_lane_lines(image, [dashed]).sum() < 0.8 * draw_lane_lines(image, [solid]).sum()  # the gaps
