"""One PNG that shows what a scenario does, readable at a glance (no model involved).

On version 1's straight one-way road:
Left: a bird's-eye view in the ego frame (the ego is fixed, the road flows past): road, lane
markings, the ego's car, each named agent's trajectory over the whole scenario as a polyline
with time ticks, its id, and its footprint at the camera views' times (numbered);
background traffic faint, at the first view's time. Agents are drawn in their class colour,
the same as their boxes in the camera views and in the legend: a colour always means a class
(per-agent colours once drew a truck in the cyclist's colour); two agents of one class are told
apart by their id labels. The lateral axis is stretched so lanes stay readable (the factor is
printed).
Right: camera views at 4 evenly spaced frames, drawn with the scenario's camera model (sky,
road, lane lines, night darkened) with the label boxes (class colour, track id, dashed when
at least half occluded) and a caption (t, time of day, crowdedness, number of boxes).

On any other road (bends, oncoming lanes, junctions, OpenDRIVE files) the bird's-eye view is the road
network from above (`world_map.py`: every road's lanes and marks, junction areas, each road user's path
and its footprint with a heading arrow at the views' times), and the camera views paint the network's
lane surfaces as the camera sees them (`road_camera.py`). On every road the camera views carry the
frame's lane-line labels (`draw_lane_lines`: painted lines green, dashed ones dashed, road edges red)
under the boxes.

    drivesim preview scenarios/night_merge.yaml -o out/preview.png
    drivesim preview scenarios/junction_turn.yaml -o out/junction_turn.png
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

from drivesim.draw.overlay import (CLASS_COLORS, DASHED_FROM_OCCLUSION, LANE_COLORS, class_color, draw_boxes,
                                   draw_lane_lines)
from drivesim.draw.road_camera import RoadSurface
from drivesim.draw.ui import FONT as _FONT
from drivesim.draw.ui import FONT_TITLE as _FONT_TITLE
from drivesim.draw.ui import UI_BG, UI_DIM, UI_TEXT, badge, dashed_h, place_label
from drivesim.draw.world_map import world_birds_eye
from drivesim.scenario.camera import EgoPose, PinholeCamera
from drivesim.scenario.engine import EGO_CAMERA_BEHIND_FRONT_M, EGO_SIZE_M, ScenarioEngine
from drivesim.scenario.format import Scenario
from drivesim.scenario.labels import FrameConditions
from drivesim.scenario.lane_frames import ScenarioLanes
from drivesim.output.files import write_png

NUM_VIEWS = 4
VIEW_W = 640  # each camera view's width in the preview (height follows the camera's aspect)
BEV_W = 420
MARGIN = 18
TITLE_H = 78
CAPTION_H = 34
LEGEND_H = 40
DASH_M, DASH_PERIOD_M = 3.0, 12.0  # lane dash length and period on the road
SIDEWALK_M = 3.0
BG_CAPTION_MIN_PX = 40  # background boxes lower than this (in the view) get no caption


def render_preview(scenario: Scenario, path: Path, seed: int | None = None, engine=None) -> np.ndarray:
    """Write the preview PNG to `path`; returns the RGB image. `engine`: see preview_image."""
    image = preview_image(scenario, seed=seed, engine=engine)
    write_png(Path(path), image)
    return image


def view_indices(num_frames: int, count: int = NUM_VIEWS) -> list[int]:
    """`count` evenly spaced frame indices from the first to the last frame."""
    return sorted({int(round(v)) for v in np.linspace(0, num_frames - 1, count)})


def preview_size(scenario: Scenario) -> tuple[int, int]:
    """(width, height) of the preview image for this scenario."""
    vw, vh = _view_size(scenario.camera.width, scenario.camera.height)
    grid_h = 2 * (vh + CAPTION_H) + MARGIN // 2
    return 4 * MARGIN + BEV_W + 2 * vw, TITLE_H + grid_h + LEGEND_H + MARGIN


def preview_image(scenario: Scenario, seed: int | None = None, engine=None) -> np.ndarray:
    """The preview as an RGB uint8 array of `preview_size(scenario)` (height, width, 3). `engine`: the
    scenario's ScenarioEngine (default), or another source of frames and tracks with its interface
    (a replayed trajectory: drivesim/bridges/replay.py)."""
    engine = engine or ScenarioEngine(scenario, seed=seed)
    world = getattr(engine, "world", None)  # None: a replayed trajectory, drawn in version 1's ego frame
    flat = world is None or world.version1_road
    width, height = preview_size(scenario)
    vw, vh = _view_size(scenario.camera.width, scenario.camera.height)
    canvas = np.full((height, width, 3), UI_BG, np.uint8)
    _title(canvas, engine, flat)

    indices = view_indices(engine.num_frames)
    frames = [engine.frame(i) for i in indices]
    grid_h = 2 * (vh + CAPTION_H) + MARGIN // 2
    times = [f.timestamp_s for f in frames]
    bev = _birds_eye(engine, times, BEV_W, grid_h) if flat else world_birds_eye(engine, times, BEV_W, grid_h)
    canvas[TITLE_H:TITLE_H + grid_h, MARGIN:MARGIN + BEV_W] = bev

    x_grid = 2 * MARGIN + BEV_W
    small = engine.camera.scaled(vw, vh)
    surface = None if flat else RoadSurface(world.network)
    lanes = ScenarioLanes(scenario, seed) if world is not None else None  # one per picture: samples the road once
    for k, fc in enumerate(frames):
        x = x_grid + (k % 2) * (vw + MARGIN)
        y = TITLE_H + (k // 2) * (vh + CAPTION_H + MARGIN // 2)
        canvas[y:y + vh, x:x + vw] = _camera_view(engine, small, fc, surface, lanes)
        badge(canvas, str(k + 1), (x + vw - 32, y + 8))  # top right: captions of boxes sit top left
        caption = (f"t = {fc.timestamp_s:.1f} s  |  {fc.time_of_day}  |  crowdedness {fc.crowdedness:.2f}  |  "
                   f"{len(fc.boxes)} boxes")
        cv2.putText(canvas, caption, (x + 2, y + vh + 22), _FONT, 0.5, UI_TEXT, 1, cv2.LINE_AA)
    _legend(canvas, TITLE_H + grid_h + 8, flat, lanes is not None)
    return canvas


# --- layout pieces ---------------------------------------------------------------------------

def _view_size(width: int, height: int) -> tuple[int, int]:
    vw = VIEW_W
    vh = round(vw * height / width)
    if vh > 480:  # tall cameras: keep the grid on screen
        vh = 480
        vw = round(vh * width / height)
    return vw, max(vh, 120)


def _title(canvas: np.ndarray, engine: ScenarioEngine, flat: bool) -> None:
    sc = engine.scenario
    cv2.putText(canvas, sc.name, (MARGIN, 40), _FONT_TITLE, 1.1, UI_TEXT, 2, cv2.LINE_AA)
    env = sc.environment
    events = f", {len(env.events)} environment event(s)" if env.events else ""
    road = (f"{sc.road.lanes} lanes x {sc.road.lane_width_m:g} m  |  ego lane {sc.ego.lane}" if flat
            else _road_summary(engine))
    sub = (f"{sc.duration_s:g} s at {sc.fps:g} fps ({engine.num_frames} frames)  |  {road} at "
           f"{sc.ego.speed_mps:g} m/s  |  {len(sc.agents)} named agents  |  starts {env.time_of_day}, "
           f"crowdedness {env.crowdedness:g}{events}  |  seed {engine.seed}")
    cv2.putText(canvas, sub, (MARGIN, 66), _FONT, 0.5, UI_DIM, 1, cv2.LINE_AA)


def _road_summary(engine: ScenarioEngine) -> str:
    """The road of a scenario that is not on version 1's road, and where the ego drives on it."""
    sc, network = engine.scenario, engine.world.network
    if sc.road.opendrive is not None:
        source = Path(sc.road.opendrive).name
    else:
        source = (f"inline road, {len(sc.road.segments or ())} segment(s), {sc.road.lanes} + "
                  f"{sc.road.oncoming_lanes} oncoming lanes")
    junctions = f", {len(network.junctions)} junction(s)" if network.junctions else ""
    step = engine.world.ego.path.steps[0]
    route = f", route {' > '.join(sc.ego.route)}" if sc.ego.route else ""
    return f"{source}{junctions}  |  ego on road {step.road} lane {step.lane}{route}"


def _legend(canvas: np.ndarray, y: int, flat: bool, lane_lines: bool) -> None:
    x = MARGIN
    for kind, color in CLASS_COLORS.items():
        cv2.rectangle(canvas, (x, y + 6), (x + 16, y + 22), color, -1)
        cv2.putText(canvas, kind, (x + 22, y + 20), _FONT, 0.5, UI_TEXT, 1, cv2.LINE_AA)
        x += 30 + cv2.getTextSize(kind, _FONT, 0.5, 1)[0][0]
    x += 10
    if lane_lines:  # the lane-line labels' colours in the camera views
        for name, kind in (("lane line", "solid"), ("road edge", "edge")):
            cv2.line(canvas, (x, y + 14), (x + 20, y + 14), LANE_COLORS[kind], 3 if kind == "edge" else 2)
            cv2.putText(canvas, name, (x + 26, y + 20), _FONT, 0.5, UI_TEXT, 1, cv2.LINE_AA)
            x += 40 + cv2.getTextSize(name, _FONT, 0.5, 1)[0][0]
    dashed_h(canvas, (x, y + 14), 30, UI_TEXT)
    where = "where the agent is in camera views 2-4" if flat else "camera views 2-4, arrows: heading"
    note = (f"= at least {DASHED_FROM_OCCLUSION:.0%} occluded    bird's-eye: class colours, filled = start, "
            f"numbered outlines = {where}, grey = background traffic")
    if lane_lines:  # the lane-line keys took room: the short form
        note = (f"= {DASHED_FROM_OCCLUSION:.0%}+ occluded    bird's-eye: filled = start, numbered = {where}, "
                "grey = background")
    cv2.putText(canvas, note, (x + 38, y + 20), _FONT, 0.5, UI_DIM, 1, cv2.LINE_AA)


# --- camera view -----------------------------------------------------------------------------

def _camera_view(engine: ScenarioEngine, cam: PinholeCamera, fc: FrameConditions, surface: RoadSurface | None = None,
                 lanes: ScenarioLanes | None = None) -> np.ndarray:
    """A schematic render of the road seen by `cam` with the frame's lane lines and boxes drawn on it:
    version 1's road painted from its lane count, any other road's lane surfaces from `surface`."""
    night = fc.time_of_day == "night"
    h, w = cam.height, cam.width
    img = np.empty((h, w, 3), np.uint8)
    horizon = cam.horizon_v()
    rows = np.arange(h, dtype=float)[:, None]
    sky_top, sky_low = ((10, 12, 30), (38, 44, 78)) if night else ((86, 140, 215), (198, 219, 240))
    ground_far, ground_near = ((22, 26, 24), (14, 17, 15)) if night else ((150, 160, 140), (92, 112, 78))
    f_sky = np.clip(rows / max(horizon, 1.0), 0, 1)
    f_ground = np.clip((rows - horizon) / max(h - horizon, 1.0), 0, 1)
    sky = (1 - f_sky) * np.array(sky_top) + f_sky * np.array(sky_low)
    ground = (1 - f_ground) * np.array(ground_far) + f_ground * np.array(ground_near)
    img[:] = np.where(rows < horizon, sky, ground)[:, None, :].astype(np.uint8)
    if surface is not None:
        surface.draw(img, cam, EgoPose(*(fc.ego_pose or engine.ego_pose(fc.timestamp_s))), night)
    else:
        _straight_road(img, engine, cam, fc, night)

    if night:  # headlight glow keeps the near road readable
        glow = np.clip(1.0 - np.abs(np.linspace(-1, 1, w))[None, :] - (1 - f_ground) * 1.2, 0, 1) * 0.25
        img[:] = np.clip(img + glow[..., None] * np.array([255, 240, 200]), 0, 255).astype(np.uint8)

    sx, sy = w / fc.width, h / fc.height
    if lanes is not None:
        img = draw_lane_lines(img, lanes.labels(fc)[0], scale=(sx, sy))
    for box in sorted(fc.boxes, key=lambda b: -b.distance_m):  # painter's order: near boxes on top
        x0, y0, x1, y1 = (int(round(v)) for v in (box.bbox_xyxy[0] * sx, box.bbox_xyxy[1] * sy,
                                                  box.bbox_xyxy[2] * sx, box.bbox_xyxy[3] * sy))
        if x1 > x0 and y1 > y0:
            patch = img[y0:y1, x0:x1].astype(float)
            img[y0:y1, x0:x1] = (0.62 * patch + 0.38 * np.array(class_color(box.type)) * 0.7).astype(np.uint8)
    # Named agents on top and always captioned; far background traffic without captions.
    background = [b for b in fc.boxes if b.track_id.startswith("bg_")]
    named = [b for b in fc.boxes if not b.track_id.startswith("bg_")]
    img = draw_boxes(img, background, scale=(sx, sy), caption_min_height_px=BG_CAPTION_MIN_PX)
    return draw_boxes(img, named, scale=(sx, sy))


def _straight_road(img: np.ndarray, engine: ScenarioEngine, cam: PinholeCamera, fc: FrameConditions,
                   night: bool) -> None:
    """Version 1's road: sidewalks, asphalt, edge lines and lane dashes from the lane count and the ego's place."""
    road = fc.road or engine.road_state(fc.timestamp_s)  # the frame's own: the ego may change lanes
    road_w = road.lanes * road.lane_width_m
    x_of = lambda lateral: lateral - road.ego_lateral_m  # noqa: E731 - road lateral -> camera-relative x
    sidewalk = (40, 40, 44) if night else (150, 148, 140)
    asphalt = (30, 31, 35) if night else (88, 90, 96)
    paint = (150, 150, 140) if night else (245, 245, 240)
    _ground_strip(img, cam, x_of(-SIDEWALK_M), x_of(0.0), 0.3, 400.0, sidewalk)
    _ground_strip(img, cam, x_of(road_w), x_of(road_w + SIDEWALK_M), 0.3, 400.0, sidewalk)
    _ground_strip(img, cam, x_of(0.0), x_of(road_w), 0.3, 400.0, asphalt)
    line = 0.15
    for edge in (0.2, road_w - 0.2):
        _ground_strip(img, cam, x_of(edge) - line / 2, x_of(edge) + line / 2, 0.3, 400.0, paint)
    phase = fc.road.ego_travel_m % DASH_PERIOD_M if fc.road is not None else 0.0
    for k in range(1, road.lanes):
        xk = x_of(k * road.lane_width_m)
        for z0 in np.arange(-phase, 250.0, DASH_PERIOD_M):
            if z0 + DASH_M > 0.3:
                _ground_strip(img, cam, xk - line / 2, xk + line / 2, max(z0, 0.3), z0 + DASH_M, paint)


def _ground_strip(img: np.ndarray, cam: PinholeCamera, x_left: float, x_right: float, z_near: float,
                  z_far: float, color: tuple[int, int, int]) -> None:
    """Fill the ground-plane region x in [x_left, x_right], z in [z_near, z_far] (road frame, camera-relative)."""
    z = np.geomspace(max(z_near, 0.05), z_far, 24)
    left = np.stack([np.full_like(z, x_left), np.zeros_like(z), z], axis=-1)
    right = np.stack([np.full_like(z, x_right), np.zeros_like(z), z], axis=-1)
    pts = cam.road_to_camera(np.concatenate([left, right[::-1]]))
    pts = pts[pts[:, 2] > 0.05]  # a camera pitched up cannot see the nearest ground
    if len(pts) < 3:
        return
    uv = np.clip(cam.project(pts), -1e5, 1e5)
    cv2.fillPoly(img, [np.round(uv * 16).astype(np.int32)], color, cv2.LINE_AA, shift=4)


# --- bird's-eye view -------------------------------------------------------------------------

def _birds_eye(engine: ScenarioEngine, view_times: list[float], w: int, h: int) -> np.ndarray:
    sc = engine.scenario
    img = np.full((h, w, 3), (30, 33, 38), np.uint8)
    road_w = sc.road.lanes * sc.road.lane_width_m
    n = int(np.clip(math.ceil(sc.duration_s * 10) + 1, 2, 2000))
    ts = np.linspace(0.0, max(sc.duration_s - 1.0 / sc.fps, 0.0), n)
    agents = sc.agents
    tracks = [engine.named_trajectory(a.id, ts)[:2] for a in agents]  # (lateral, z) over time

    all_z = np.concatenate([z for _, z in tracks] + [np.zeros(1)])
    all_z = all_z[np.isfinite(all_z)]  # NaN: an agent absent at that time (a replayed trajectory)
    z_lo = float(np.clip(min(-12.0, all_z.min() - 8.0), -60.0, -12.0))
    z_hi = float(np.clip(max(45.0, all_z.max() + 10.0), 45.0, 220.0))
    lat_lo, lat_hi = -SIDEWALK_M - 1.0, road_w + SIDEWALK_M + 1.0
    pad_l, pad_r, pad_t, pad_b = 46, 12, 14, 30
    kx = (w - pad_l - pad_r) / (lat_hi - lat_lo)
    kz = (h - pad_t - pad_b) / (z_hi - z_lo)

    def px(lateral, z) -> np.ndarray:
        return np.stack([pad_l + (np.asarray(lateral) - lat_lo) * kx,
                         h - pad_b - (np.asarray(z) - z_lo) * kz], axis=-1)

    def rect(lateral: float, z: float, length: float, width: float, color, thickness: int) -> None:
        a = px(lateral - width / 2, z + length / 2)
        b = px(lateral + width / 2, z - length / 2)
        cv2.rectangle(img, tuple(int(round(v)) for v in a), tuple(int(round(v)) for v in b), color,
                      thickness, cv2.LINE_AA)

    # road, sidewalks, markings
    top, bottom = z_hi + 5, z_lo - 5
    for lo, hi, color in ((-SIDEWALK_M, 0.0, (62, 62, 66)), (road_w, road_w + SIDEWALK_M, (62, 62, 66)),
                          (0.0, road_w, (52, 54, 60))):
        cv2.rectangle(img, tuple(px(lo, top).astype(int)), tuple(px(hi, bottom).astype(int)), color, -1)
    for edge in (0.0, road_w):
        cv2.line(img, tuple(px(edge, top).astype(int)), tuple(px(edge, bottom).astype(int)), (220, 220, 215), 2)
    for k in range(1, sc.road.lanes):
        for z0 in np.arange(math.floor(bottom / DASH_PERIOD_M) * DASH_PERIOD_M, top, DASH_PERIOD_M):
            cv2.line(img, tuple(px(k * sc.road.lane_width_m, z0).astype(int)),
                     tuple(px(k * sc.road.lane_width_m, z0 + DASH_M).astype(int)), (200, 200, 195), 1)

    # distance axis
    step = next(s for s in (5, 10, 20, 25, 50, 100) if (z_hi - z_lo) / s <= 10)
    for z in np.arange(math.ceil(z_lo / step) * step, z_hi + 1e-6, step):
        y = int(round(px(0.0, z)[1]))
        cv2.line(img, (pad_l - 5, y), (pad_l, y), UI_DIM, 1)
        cv2.putText(img, f"{z:g}m", (2, y + 4), _FONT, 0.36, UI_DIM, 1, cv2.LINE_AA)

    # background traffic, faint, at the first view's time
    for s in engine.agent_states(view_times[0] if view_times else 0.0):
        if s.is_background:
            rect(s.lateral_m, s.z_m, s.size_m[0], s.size_m[1], (92, 96, 104), 1)

    # the ego's car: the camera sits EGO_CAMERA_BEHIND_FRONT_M behind its front
    ego_len, ego_w, _ = EGO_SIZE_M
    ego_z = EGO_CAMERA_BEHIND_FRONT_M - ego_len / 2
    rect(engine.ego_lateral_m, ego_z, ego_len, ego_w, (245, 245, 245), -1)
    lab = px(engine.ego_lateral_m - ego_w / 2, ego_z - ego_len / 2 - 1.0).astype(int)
    cv2.putText(img, "ego", (int(lab[0]), int(lab[1]) + 12), _FONT, 0.42, (245, 245, 245), 1, cv2.LINE_AA)

    # named agents: trajectory, time ticks, footprints at the views' times, id
    tick = next(s for s in (1, 2, 5, 10, 20, 30, 60, 120, 300, 600) if sc.duration_s / s <= 12)
    labels: list[tuple[int, int, int, int]] = []  # placed id labels, kept from overlapping
    for agent, (lat, z) in zip(agents, tracks):
        color = class_color(agent.type)  # the legend's colour: a colour never names an agent
        present = np.isfinite(lat) & np.isfinite(z)
        runs = np.split(np.arange(len(lat)), np.flatnonzero(np.diff(present.astype(int))) + 1)
        pts = [np.round(px(lat[r], z[r]) * 16).astype(np.int32) for r in runs if present[r[0]]]
        cv2.polylines(img, pts, False, color, 2, cv2.LINE_AA, shift=4)
        tick_lat, tick_z = engine.named_trajectory(agent.id, np.arange(tick, ts[-1] + 1e-6, tick))[:2]
        ticks = np.isfinite(tick_lat) & np.isfinite(tick_z)
        for p in px(tick_lat[ticks], tick_z[ticks]).astype(int):
            cv2.circle(img, (int(p[0]), int(p[1])), 3, color, -1, cv2.LINE_AA)
        length, width, _ = agent.size
        drawn: list[tuple[float, float]] = []
        for k, t in enumerate(view_times):
            la, zz = (float(v[0]) for v in engine.named_trajectory(agent.id, np.array([t]))[:2])
            if not (math.isfinite(la) and math.isfinite(zz)):
                continue  # not there at this view's time
            if any(abs(la - a) < width and abs(zz - b) < length for a, b in drawn):
                continue  # an agent keeping its place relative to the ego: one footprint says it
            drawn.append((la, zz))
            rect(la, zz, length, width, color, -1 if k == 0 else 1)
            if k > 0:
                p = px(la + width / 2, zz).astype(int)
                cv2.putText(img, str(k + 1), (int(p[0]) + 3, int(p[1]) + 4), _FONT, 0.38, color, 1, cv2.LINE_AA)
        if present.any():
            first = int(np.argmax(present))
            p = px(lat[first] + width / 2, z[first]).astype(int)
            place_label(img, agent.id, (int(p[0]) + 4, int(p[1]) - 4), color, labels)

    note = f"bird's-eye (ego frame)  lateral x{kx / kz:.1f}  dots every {tick:g} s"
    cv2.rectangle(img, (0, h - pad_b + 6), (w, h), (30, 33, 38), -1)
    cv2.putText(img, note, (6, h - 8), _FONT, 0.42, UI_DIM, 1, cv2.LINE_AA)
    return img
