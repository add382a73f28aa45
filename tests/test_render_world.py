"""The procedural renderer on roads other than version 1's: curves, two-way roads, junctions, elevation.

What the labels say the camera sees (lane lines, boxes, lane centres) is what the frame shows: paint
under the labelled lane lines, asphalt under the lane centres and over a junction, an oncoming car
seen from the front with its headlights on at night.

    python -m pytest tests/test_render_world.py -q
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from drivesim.render.canvas import Canvas
from drivesim.render.frames import DAY_VISIBILITY_M, HAZE_DAY, render_frame
from drivesim.render.network_geometry import EDGE_INSET_M
from drivesim.render.network_ground import layer_colors
from drivesim.render.scenery import DASH_M, EDGE_LINE_M, GAP_M, scene_style
from drivesim.road import DRIVING_TYPES, Projector, lane_centre_lines
from drivesim.scenario.camera import ego_to_world, world_to_ego
from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.format import Scenario
from drivesim.scenario.lane_frames import ScenarioLanes
from drivesim.scenario.lane_labels import LaneLine
from drivesim.scenario.loader import load_scenario, parse_scenario

ROOT = Path(__file__).resolve().parents[1]
W, H = 512, 256
BRIGHT = 170  # marking paint (white 228, yellow 215 in its red channel) against asphalt (at most ~111)


def _curve(time_of_day: str = "day", agents: bool = False, seed: int | None = None) -> Scenario:
    """scenarios/curve_oncoming.yaml; without agents and background traffic unless asked (nothing on the paint)."""
    scenario = load_scenario(str(ROOT / "scenarios" / "curve_oncoming.yaml"))
    env = scenario.environment.model_copy(update={"time_of_day": time_of_day, "events": [],
                                                  **({} if agents else {"crowdedness": 0.0})})
    update = {"environment": env, "camera": scenario.camera.model_copy(update={"width": W, "height": H})}
    if not agents:
        update["agents"] = []
    if seed is not None:
        update["seed"] = seed
    return scenario.model_copy(update=update)


def _crossing(seed: int = 4, time_of_day: str = "day") -> Scenario:
    """The ego 10 m before the four-way crossing of scenarios/roads/crossing.xodr, turning left through it."""
    road_file = ROOT / "scenarios" / "roads" / "crossing.xodr"
    return parse_scenario(f"name: crossing\nseed: {seed}\nduration_s: 6\nfps: 5\ncamera: {{width: {W}, height: {H}}}\n"
                          f"environment: {{time_of_day: {time_of_day}, crowdedness: 0.0}}\n"
                          f"road: {{opendrive: {road_file}}}\n"
                          "ego: {position: {road: '3', lane: -1, s: 80}, route: ['3', '1'], speed_mps: 5}\n")


def _world_points(lanes: ScenarioLanes, pose, xyz_cam: np.ndarray) -> np.ndarray:
    """Camera-frame points (KITTI axes) -> world points, for the camera on the ego at `pose`."""
    cam = lanes.camera
    road_frame = xyz_cam @ cam.rotation + cam.centre_road
    return ego_to_world(road_frame, pose)


def _samples(line: LaneLine, spacing_m: float = 0.25) -> np.ndarray:
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


def _asphalt(scenario: Scenario, engine: ScenarioEngine) -> np.ndarray:
    canvas = Canvas.blank(engine.camera.scaled(W, H), night=False, haze=HAZE_DAY, visibility_m=DAY_VISIBILITY_M)
    return np.array(layer_colors(canvas, scene_style(engine.seed))["asphalt"])


def _is_asphalt(image: np.ndarray, uv: np.ndarray, asphalt: np.ndarray) -> np.ndarray:
    """Whether the pixels at uv have the asphalt's colour (less the vignette, up to 12 % darker at the
    corners, and give or take the sensor grain)."""
    px = image[uv[:, 1].astype(int), uv[:, 0].astype(int)].astype(float)
    return ((px >= 0.86 * asphalt - 10) & (px <= asphalt + 10)).all(axis=1)


# --- lane lines on a curve ---------------------------------------------------------------------

@pytest.mark.parametrize("seed", [5, 2, 0])  # the example's own scenery, and two other styles
def test_labelled_lane_lines_lie_on_paint_in_the_bend(seed):
    scenario = _curve(seed=seed)
    engine, lanes = ScenarioEngine(scenario), ScenarioLanes(scenario)
    projector = Projector(engine.world.network)
    for t in (1.0, 4.0, 7.0):  # before, into and in the bend
        frame = engine.conditions_at(t)
        lines, pose = lanes.labels(frame)
        image = render_frame(engine, t, W, H)
        bright = image.max(axis=2) >= BRIGHT
        assert {line.type for line in lines} >= {"edge", "dashed", "solid"}
        for line in lines:
            points = _samples(line)
            points = points[points[:, 2] <= 40.0]
            if len(points) < 10:
                continue
            if line.type == "dashed":  # the paint is where a dash is: DASH_M of every DASH_M + GAP_M from s = 0
                world = _world_points(lanes, pose, points)
                s = np.array([projector.project(x, y).s for x, y, _ in world])
                phase = np.mod(s, DASH_M + GAP_M)
                points = points[(phase > 0.3) & (phase < DASH_M - 0.3)]
                inset = np.zeros(len(points))
            elif line.type == "edge":  # the label is the road's edge; its paint lies a little inside
                inset = lanes.camera.fx * W / lanes.camera.width * (EDGE_INSET_M + EDGE_LINE_M / 2) / points[:, 2]
            else:
                inset = np.zeros(len(points))
            uv = lanes.camera.scaled(W, H).project(points)
            assert _share_near_paint(bright, uv, 2.0 + inset) >= 0.8, (seed, t, line.track_id, line.type)
            if line.type != "edge":  # and a line 1 m to its side is mostly not on paint
                off = lanes.camera.scaled(W, H).project(points + [1.0, 0.0, 0.0])
                assert _share_near_paint(bright, off, np.full(len(off), 2.0)) < 0.5, (seed, t, line.track_id)


# --- road surface ------------------------------------------------------------------------------

def _lane_centre_pixels(engine: ScenarioEngine, t: float, near_m: float = 6.0, far_m: float = 40.0) -> np.ndarray:
    """Pixels (u, v) of points on the driving lanes' centre lines between near_m and far_m ahead, in view,
    where the lane is at least 6 pixels across (farther, or seen side-on, its lines are pixels away)."""
    cam = engine.camera.scaled(W, H)
    pose = engine.ego_pose(t)
    out = []
    for road in engine.world.network.roads.values():
        for line in lane_centre_lines(road, 0.5):
            if line.type not in DRIVING_TYPES:
                continue
            along = np.gradient(line.points, axis=0)
            along /= np.linalg.norm(along, axis=1, keepdims=True)
            across = np.stack([-along[:, 1], along[:, 0], np.zeros(len(along))], axis=-1)
            moved = [line.points + d for d in (0.0, across, -across, 0.5 * along)]
            pts, left, right, ahead = (cam.road_to_camera(world_to_ego(p, pose)) for p in moved)
            keep = (np.stack([p[:, 2] for p in (pts, left, right, ahead)]) > near_m).all(axis=0) & (pts[:, 2] < far_m)
            if not keep.any():
                continue
            uv, uv_left, uv_right, uv_ahead = (cam.project(p[keep]) for p in (pts, left, right, ahead))
            tangent = (uv_ahead - uv) / np.maximum(np.linalg.norm(uv_ahead - uv, axis=1, keepdims=True), 1e-9)
            normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=-1)
            wide = np.minimum(np.abs(((uv_left - uv) * normal).sum(axis=1)),
                              np.abs(((uv_right - uv) * normal).sum(axis=1))) >= 3.0  # across the lane's image
            inside = (uv[:, 0] >= 0) & (uv[:, 0] < W) & (uv[:, 1] >= 0) & (uv[:, 1] < H)
            out.append(uv[inside & wide])
    return np.concatenate(out) if out else np.zeros((0, 2))


@pytest.mark.parametrize("t", [1.0, 6.0])
def test_the_road_surface_covers_the_lanes_ahead(t):
    scenario = _curve()
    engine = ScenarioEngine(scenario)
    uv = _lane_centre_pixels(engine, t)
    assert len(uv) > 100
    image = render_frame(engine, t, W, H)
    assert _is_asphalt(image, uv, _asphalt(scenario, engine)).mean() >= 0.95


def test_a_junction_renders_and_its_area_is_road_surface():
    scenario = _crossing()
    engine = ScenarioEngine(scenario)
    asphalt = _asphalt(scenario, engine)
    cam = engine.camera.scaled(W, H)
    for t in np.arange(0.0, scenario.duration_s, 0.6):
        image = render_frame(engine, float(t), W, H)
        assert image.shape == (H, W, 3)
        uv = _lane_centre_pixels(engine, float(t), near_m=4.0, far_m=25.0)
        assert _is_asphalt(image, uv, asphalt).mean() >= 0.9, t
    # From 10 m before it: the crossing's square (20 m x 20 m around the origin), corners between the
    # connecting roads included, is asphalt but for its painted lines.
    xs, ys = np.meshgrid(np.linspace(-8.0, 8.0, 9), np.linspace(-8.0, 8.0, 9))
    world = np.stack([xs.ravel(), ys.ravel(), np.zeros(xs.size)], axis=-1)
    pts = cam.road_to_camera(world_to_ego(world, engine.ego_pose(0.0)))
    uv = cam.project(pts[pts[:, 2] > 1.0])
    uv = uv[(uv[:, 0] >= 0) & (uv[:, 0] < W) & (uv[:, 1] >= 0) & (uv[:, 1] < H)]
    assert len(uv) > 40
    image = render_frame(engine, 0.0, W, H)
    assert _is_asphalt(image, uv, asphalt).mean() >= 0.9


# --- oncoming traffic ----------------------------------------------------------------------------

def _oncoming_only(time_of_day: str) -> tuple[ScenarioEngine, ScenarioEngine]:
    """The curve with its oncoming car alone, and the same road empty."""
    full = _curve(time_of_day, agents=True)
    env = full.environment.model_copy(update={"crowdedness": 0.0})
    alone = full.model_copy(update={"agents": [a for a in full.agents if a.id == "oncoming_car"], "environment": env})
    empty = alone.model_copy(update={"agents": []})
    return ScenarioEngine(alone), ScenarioEngine(empty)


def test_an_oncoming_car_shows_its_front_with_headlights_on_at_night():
    t = 7.5  # the oncoming car ~25 m ahead, coming round the bend
    for time_of_day in ("day", "night"):
        alone, empty = _oncoming_only(time_of_day)
        (box,) = alone.conditions_at(t).boxes
        assert abs(box.rotation_y - math.pi / 2) < 0.5  # driving towards the camera
        assert 10.0 < box.distance_m < 45.0
        x0, y0, x1, y1 = (int(round(v * W / alone.camera.width)) for v in box.bbox_xyxy)
        assert x1 - x0 >= 8
        with_car = render_frame(alone, t, W, H)[y0:y1, x0:x1].astype(int)
        road = render_frame(empty, t, W, H)[y0:y1, x0:x1].astype(int)
        assert np.abs(with_car - road).max(axis=2).mean() > 20  # the car covers its box
        if time_of_day == "night":
            lower = with_car[(y1 - y0) // 2:]
            white = (lower.min(axis=2) >= 200).sum()  # headlights: white, not red tail lights
            assert white >= 2, white
            assert road.max() < 120  # the dark road under it: the light is the car's


# --- determinism ---------------------------------------------------------------------------------

def test_world_frames_are_deterministic():
    for scenario in (_curve("night", agents=True), _crossing()):
        a = render_frame(ScenarioEngine(scenario), 2.0, W, H)
        b = render_frame(ScenarioEngine(scenario), 2.0, W, H)
        assert np.array_equal(a, b)
        other = render_frame(ScenarioEngine(scenario, seed=99), 2.0, W, H)
        assert not np.array_equal(a, other)
