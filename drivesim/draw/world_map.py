"""The preview's bird's-eye view of a road network (any road but version 1's straight one, whose view in
the ego's frame stays as it was): the roads from above at one scale in both directions, turned so that
the ego's heading at t = 0 points up (a compass shows north, the world's +y).

Drawn: every lane (asphalt; sidewalks and verges lighter) with its road marks (solid, broken dashed),
a chevron every LANE_ARROW_M along each driving lane in its direction, junction areas (hatched, outlined
and named); each road user's path over the scenario (the ego white, agents in their class colour) with
a dot every few seconds; the ego and every agent at the camera views' times, as footprints with an
arrow along the heading (filled at the first view, outlined and numbered at the others); background
traffic in grey at the first view's time; a scale bar.

    from drivesim.draw.world_map import world_birds_eye
    image = world_birds_eye(engine, [0.0, 3.3, 6.6, 9.9], 420, 700)
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from drivesim.draw.overlay import class_color
from drivesim.draw.road_shapes import lane_strips
from drivesim.draw.ui import FONT, PANEL_BG, UI_DIM, footprint, place_label, polyline
from drivesim.road import border_lines
from drivesim.scenario.engine import EGO_CAMERA_BEHIND_FRONT_M, EGO_SIZE_M, ScenarioEngine
from drivesim.scenario.motion import EntityMotion

MARGIN_M = 18.0  # road shown around the paths
MIN_SPAN_M = 60.0
LANE_ARROW_M = 30.0
DASH_M, DASH_PERIOD_M = 3.0, 12.0
SURFACE_COLORS = {"road": (52, 54, 60), "walk": (74, 74, 78), "verge": (44, 50, 42)}
JUNCTION_FILL = (60, 58, 52)
JUNCTION_LINE = (196, 168, 96)
MARK_COLOR = (220, 220, 215)
ARROW_COLOR = (104, 108, 118)
EGO_COLOR = (245, 245, 245)
BACKGROUND_COLOR = (110, 114, 122)


class _View:
    """World metres -> panel pixels: turned so `heading` points up, scaled to fit `points` in w x h."""

    def __init__(self, points: np.ndarray, heading: float, w: int, h: int, pad: tuple[int, int, int, int]):
        self.turn = math.pi / 2 - heading
        c, s = math.cos(self.turn), math.sin(self.turn)
        self.rot = np.array([[c, -s], [s, c]])
        p = points @ self.rot.T
        lo, hi = p.min(axis=0) - MARGIN_M, p.max(axis=0) + MARGIN_M
        span = np.maximum(hi - lo, MIN_SPAN_M)
        left, right, top, bottom = pad
        self.k = float(min((w - left - right) / span[0], (h - top - bottom) / span[1]))
        self.mid = (lo + hi) / 2
        self.centre = np.array([left + (w - left - right) / 2, top + (h - top - bottom) / 2])

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        p = (np.asarray(xy, float)[..., :2] @ self.rot.T - self.mid) * self.k
        return np.stack([self.centre[0] + p[..., 0], self.centre[1] - p[..., 1]], axis=-1)


def world_birds_eye(engine: ScenarioEngine, view_times: list[float], w: int, h: int) -> np.ndarray:
    sc = engine.scenario
    img = np.full((h, w, 3), PANEL_BG, np.uint8)
    n = int(np.clip(math.ceil(sc.duration_s * 10) + 1, 2, 2000))
    ts = np.linspace(0.0, max(sc.duration_s - 1.0 / sc.fps, 0.0), n)
    motions = [EntityMotion(p) for p in engine.world.agents]
    ego_path = _positions(engine.ego, ts)
    paths = [_positions(m, ts) for m in motions]
    view = _View(np.concatenate([ego_path] + paths), float(engine.ego.at(0.0).lane.heading), w, h, (10, 10, 14, 34))

    _roads(img, engine, view)
    # paths over the scenario, a dot every `tick` seconds
    tick = next(s for s in (1, 2, 5, 10, 20, 30, 60, 120, 300, 600) if sc.duration_s / s <= 12)
    ticks = np.arange(tick, ts[-1] + 1e-6, tick)
    for motion, path, color in [(engine.ego, ego_path, EGO_COLOR)] + [
            (m, p, class_color(a.type)) for m, p, a in zip(motions, paths, sc.agents)]:
        polyline(img, view(path), color, 2)
        for p in view(_positions(motion, ticks)):
            cv2.circle(img, (int(round(p[0])), int(round(p[1]))), 3, color, -1, cv2.LINE_AA)

    # background traffic at the first view's time
    t0 = view_times[0] if view_times else 0.0
    for s in engine.agent_states(t0):
        if s.is_background:
            _entity(img, view, s.world.x, s.world.y, s.world.heading, s.size_m, BACKGROUND_COLOR, False, None)

    # the ego and the agents at the views' times
    labels: list[tuple[int, int, int, int]] = []
    ego_len, ego_w, _ = EGO_SIZE_M
    back = EGO_CAMERA_BEHIND_FRONT_M - ego_len / 2
    for k, t in enumerate(view_times):
        camera = engine.ego_pose(t)
        x, y = camera.x + back * math.cos(camera.heading), camera.y + back * math.sin(camera.heading)
        _entity(img, view, x, y, float(engine.ego.at(t).heading), EGO_SIZE_M, EGO_COLOR, k == 0, k + 1)
        if k == 0:
            place_label(img, "ego", tuple(int(v) + 8 for v in view(np.array([x, y]))), EGO_COLOR, labels)
    for agent, motion in zip(sc.agents, motions):
        color = class_color(agent.type)
        drawn: list[np.ndarray] = []
        for k, t in enumerate(view_times):
            s = motion.at(t)
            at = np.array([float(s.lane.x), float(s.lane.y)])
            if k and any(np.linalg.norm(at - d) < agent.size[0] / 2 for d in drawn):
                continue  # standing still: one footprint says it
            drawn.append(at)
            _entity(img, view, at[0], at[1], float(s.heading), agent.size, color, k == 0, k + 1)
        p = view(paths[sc.agents.index(agent)][0])
        place_label(img, agent.id, (int(p[0]) + 8, int(p[1]) - 6), color, labels)

    _scale_and_compass(img, view, w, h)
    cv2.rectangle(img, (0, h - 26), (w, h), PANEL_BG, -1)
    cv2.putText(img, f"bird's-eye (world, ego's start heading up)  dots every {tick:g} s", (6, h - 8), FONT, 0.42,
                UI_DIM, 1, cv2.LINE_AA)
    return img


def _positions(motion: EntityMotion, t: np.ndarray) -> np.ndarray:
    lane = motion.at(np.asarray(t, float)).lane
    return np.stack([np.atleast_1d(lane.x), np.atleast_1d(lane.y)], axis=-1)


def _entity(img: np.ndarray, view: _View, x: float, y: float, heading: float, size, color, filled: bool,
            number: int | None) -> None:
    length, width = float(size[0]), float(size[1])
    fwd, left = np.array([math.cos(heading), math.sin(heading)]), np.array([-math.sin(heading), math.cos(heading)])
    centre = np.array([x, y])
    corners = np.array([centre + a * fwd * length / 2 + b * left * width / 2 for a, b in
                        ((1, 1), (1, -1), (-1, -1), (-1, 1))])
    arrow = (view(centre), view(centre + fwd * (length / 2 + max(2.0, 4.0 / view.k))))
    footprint(img, view(corners), color, filled, arrow)
    if number is not None and number > 1:
        p = view(centre + left * (width / 2 + 1.0))
        cv2.putText(img, str(number), (int(p[0]) + 3, int(p[1]) + 4), FONT, 0.38, color, 1, cv2.LINE_AA)


def _roads(img: np.ndarray, engine: ScenarioEngine, view: _View) -> None:
    network = engine.world.network
    strips = lane_strips(network, 1.0)
    junctions: dict[str, list[np.ndarray]] = {}
    for surface in ("verge", "walk", "road"):
        for strip in strips:
            if strip.surface != surface:
                continue
            poly = view(np.concatenate([strip.outer, strip.inner[::-1]]))
            cv2.fillPoly(img, [np.round(np.clip(poly, -1e5, 1e5) * 16).astype(np.int32)],
                         SURFACE_COLORS[surface], cv2.LINE_AA, shift=4)
            if strip.junction is not None:
                junctions.setdefault(strip.junction, []).append(poly)
    for junction_id, polys in junctions.items():  # the junction's area: the hull of its connecting roads
        hull = cv2.convexHull(np.concatenate(polys).astype(np.float32))[:, 0]
        area = img.copy()
        cv2.fillPoly(area, [np.round(hull * 16).astype(np.int32)], JUNCTION_FILL, cv2.LINE_AA, shift=4)
        img[:] = (0.55 * img + 0.45 * area).astype(np.uint8)
        _hatch(img, hull)
        polyline(img, hull, JUNCTION_LINE, 1, closed=True)
        corner = hull[np.argmax(hull[:, 0] - hull[:, 1])]  # top right: the road users' labels sit top left
        cv2.putText(img, f"junction {junction_id}", (int(corner[0]) + 4, int(corner[1]) - 4), FONT, 0.38,
                    JUNCTION_LINE, 1, cv2.LINE_AA)
    for road in network.roads.values():
        if road.in_junction:
            continue  # connecting roads overlap: their marks would hide the junction's shape
        for line in border_lines(road, 1.0):
            if line.mark == "none":
                continue
            pts = view(line.points)
            if line.mark.startswith("broken") or line.mark == "botts dots":
                arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(line.points[:, :2], axis=0), axis=1))])
                on = (arc % DASH_PERIOD_M) < DASH_M
                for run in np.split(np.arange(len(pts)), np.flatnonzero(np.diff(on.astype(int))) + 1):
                    if on[run[0]] and len(run) >= 2:
                        polyline(img, pts[run], MARK_COLOR, 1)
            else:
                polyline(img, pts, MARK_COLOR, 2 if " " in line.mark else 1)
    for strip in strips:  # chevrons along the driving lanes in their direction
        if strip.surface != "road" or strip.junction is not None:
            continue
        centre = (strip.inner + strip.outer) / 2
        if network.roads[strip.road].direction(strip.lane) < 0:
            centre = centre[::-1]
        step = max(1, int(LANE_ARROW_M))
        for i in range(step // 2, len(centre) - 3, step):
            a, b = view(centre[i]), view(centre[i + 3])
            cv2.arrowedLine(img, tuple(int(v) for v in np.round(a * 16)), tuple(int(v) for v in np.round(b * 16)),
                            ARROW_COLOR, 1, cv2.LINE_AA, shift=4, tipLength=0.5)


def _hatch(img: np.ndarray, hull: np.ndarray) -> None:
    """Diagonal hatching inside a polygon (pixels)."""
    mask = np.zeros(img.shape[:2], np.uint8)
    cv2.fillPoly(mask, [np.round(hull).astype(np.int32)], 1)
    rows, cols = np.indices(mask.shape)
    lines = (mask == 1) & (((rows + cols) % 9) == 0)
    img[lines] = (0.6 * img[lines] + 0.4 * np.array(JUNCTION_LINE)).astype(np.uint8)


def _scale_and_compass(img: np.ndarray, view: _View, w: int, h: int) -> None:
    metres = next(m for m in (5, 10, 20, 25, 50, 100, 200, 500, 1000) if m * view.k >= 50)
    x0, y0 = 12, h - 38
    x1 = x0 + int(round(metres * view.k))
    cv2.line(img, (x0, y0), (x1, y0), UI_DIM, 2)
    for x in (x0, x1):
        cv2.line(img, (x, y0 - 4), (x, y0 + 4), UI_DIM, 1)
    cv2.putText(img, f"{metres} m", (x1 + 6, y0 + 4), FONT, 0.4, UI_DIM, 1, cv2.LINE_AA)
    centre = np.array([w - 26.0, 30.0])
    north = view.rot @ np.array([0.0, 1.0])  # the world's +y on the panel (y up)
    tip = centre + 14 * np.array([north[0], -north[1]])
    cv2.circle(img, tuple(int(v) for v in centre), 17, (50, 54, 60), -1, cv2.LINE_AA)
    cv2.arrowedLine(img, tuple(int(v) for v in centre - (tip - centre)), tuple(int(v) for v in tip), UI_DIM, 1,
                    cv2.LINE_AA, tipLength=0.35)
    label = centre + 24 * np.array([north[0], -north[1]]) + np.array([-4, 4])
    cv2.putText(img, "N", tuple(int(v) for v in label), FONT, 0.38, UI_DIM, 1, cv2.LINE_AA)
