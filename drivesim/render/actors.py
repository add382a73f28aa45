"""Agents drawn as simple shaded 3D models that stay inside their labelled cuboid.

Every part (body, cabin, wheels, limbs) is placed in the agent's local frame (u forward,
v right, h up, metres) inside its cuboid (length x width x height from `AgentState.size_m`),
so the projected pixels stay inside the label's 2D box. Colours are a pure function of the
track id (stable across frames and processes).

    from drivesim.render.actors import draw_agent
    draw_agent(canvas, agent_state, t=1.5)
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

from drivesim.render.canvas import Canvas, Color, Pose, draw_solid, face_rect, hash01, hexahedron, shade, stable_hash

if TYPE_CHECKING:
    from drivesim.scenario.engine import AgentState

# Car paints in rough proportion to what is on the road (white, black, silver, grey dominate).
CAR_COLORS: tuple[tuple[Color, float], ...] = (
    ((225, 225, 222), 0.24), ((22, 22, 26), 0.2), ((165, 168, 172), 0.16), ((92, 95, 100), 0.14),
    ((30, 45, 95), 0.08), ((150, 25, 25), 0.08), ((40, 80, 150), 0.04), ((190, 175, 140), 0.03),
    ((35, 70, 45), 0.03),
)
BUS_COLORS: tuple[Color, ...] = ((230, 180, 30), (235, 235, 230), (190, 35, 35), (40, 90, 160), (50, 120, 70))
CARGO_COLORS: tuple[Color, ...] = ((228, 228, 224), (200, 200, 196), (150, 40, 35), (40, 70, 130), (120, 120, 118))
CLOTHES: tuple[Color, ...] = ((40, 40, 45), (60, 70, 120), (150, 40, 40), (200, 200, 195), (90, 110, 70),
                               (180, 140, 60), (110, 60, 110), (70, 70, 72))
SKIN: tuple[Color, ...] = ((225, 190, 160), (190, 140, 100), (120, 80, 55), (240, 210, 180))
TYRE: Color = (24, 24, 26)
GLASS_DAY: Color = (52, 62, 76)
GLASS_NIGHT: Color = (8, 9, 12)
TAIL_DAY: Color = (140, 18, 18)
TAIL_NIGHT: Color = (255, 60, 40)
HEAD_DAY: Color = (215, 215, 205)
HEAD_NIGHT: Color = (255, 250, 230)
PLATE: Color = (225, 225, 215)
GRILLE: Color = (30, 31, 34)
SHADOW: Color = (28, 28, 30)

# Shares of the cuboid height where the parts sit (cars: lower body up to BODY_TOP, cabin above).
CAR_CLEARANCE, CAR_BODY_TOP = 0.2, 0.55
LOD_PX = 7.0  # agents smaller than this (pixels) are drawn as one shaded body


def draw_agent(canvas: Canvas, agent: "AgentState", t: float) -> None:
    """Draw one `AgentState` (engine) at time t onto the canvas."""
    pose = Pose.on_road(agent.x_m, agent.z_m, agent.heading_rad, agent.y_m)
    size = tuple(float(v) for v in agent.size_m)
    distance = float(np.linalg.norm(canvas.to_cam(np.array([[agent.x_m, agent.y_m - size[2] / 2, agent.z_m]]))[0]))
    key = stable_hash(agent.track_id)
    if canvas.depth(pose.origin) + size[0] / 2 < 0.1:
        return  # wholly behind the camera
    px = canvas.px_per_m(distance) * max(size[1], size[2])
    if px < 1.0 or not canvas.sphere_visible(pose.origin + [0.0, -size[2] / 2, 0.0], 0.5 * float(np.linalg.norm(size))):
        return  # smaller than a pixel, or out of view
    if px < LOD_PX:
        _blob(canvas, pose, size, key, distance, agent)
        return
    draw = {"car": _car, "truck": _truck, "bus": _bus, "motorcycle": _motorcycle, "cyclist": _cyclist,
            "pedestrian": _pedestrian}.get(agent.type, _car)
    draw(canvas, pose, size, key, distance, agent, t)


def _blob(canvas: Canvas, pose: Pose, size, key: int, distance: float, agent) -> None:
    """A few pixels tall: one shaded body (and its lights at night) is all that shows."""
    length, width, height = size
    if agent.type == "pedestrian":
        color = _pick(CLOTHES, key, 5)
        canvas.line(pose.to_road(np.array([0.0, 0.0, 0.15 * height])),
                    pose.to_road(np.array([0.0, 0.0, 0.85 * height])),
                    0.45 * width, canvas.hazed(color, distance))
        return
    color = _car_color(key) if agent.type in ("car", "motorcycle") else _pick(CARGO_COLORS, key, 3)
    hl, hw = length / 2, width / 2
    body = hexahedron(pose, (-hl, hl), (-hw, hw), (0.12 * height, height), top_u=(-0.6 * hl, 0.4 * hl))
    vis = draw_solid(canvas, body, color, distance)
    if canvas.night:
        _lights(canvas, body, vis, (0.3, 0.5), ((0.0, 0.25), (0.75, 1.0)), distance)


# --- vehicles ------------------------------------------------------------------------------

def _pick(options, key: int, salt: int):
    return options[int(_unit(key, salt) * len(options))]


@lru_cache(maxsize=4096)
def _unit(key: int, salt: int) -> float:
    """A fixed uniform number per (track, purpose): colours are looked up every frame."""
    return float(hash01(key, salt)[()])


def _car_color(key: int) -> Color:
    u, acc = _unit(key, 1), 0.0
    for color, weight in CAR_COLORS:
        acc += weight
        if u < acc:
            return color
    return CAR_COLORS[0][0]


def _shadow(canvas: Canvas, pose: Pose, length: float, width: float) -> None:
    if canvas.night:
        return  # no sun; the car's own darkness is enough at night
    foot = pose.to_road(np.array([[-length / 2, -width / 2, 0], [length / 2, -width / 2, 0],
                                  [length / 2, width / 2, 0], [-length / 2, width / 2, 0]]) * [0.98, 0.95, 0])
    canvas.poly(foot, SHADOW)


def _wheels(canvas: Canvas, pose: Pose, axles_u: tuple[float, ...], width: float, radius: float,
            distance: float) -> None:
    tyre = canvas.hazed(TYRE, distance)
    for u in axles_u:
        for side in (-1, 1):
            v = (side * (width / 2 - 0.24), side * width / 2)
            draw_solid(canvas, hexahedron(pose, (u - radius, u + radius), (min(v), max(v)), (0.0, 2 * radius)),
                       tyre, distance)


def _lights(canvas: Canvas, corners: np.ndarray, vis: dict, rows: tuple[float, float],
            cols: tuple[tuple[float, float], ...], distance: float) -> None:
    """Tail lights on the back face, headlights on the front face; glowing at night."""
    night = canvas.night
    for face, day, lit in (("back", TAIL_DAY, TAIL_NIGHT), ("front", HEAD_DAY, HEAD_NIGHT)):
        if face not in vis:
            continue
        for s in cols:
            rect = face_rect(corners, face, s, rows)
            if night:
                canvas.poly(rect, lit, glow=shade(lit, 0.9))
            else:
                canvas.poly(rect, canvas.hazed(day, distance))


def _windows(canvas: Canvas, corners: np.ndarray, vis: dict, faces: dict[str, tuple], distance: float) -> None:
    glass = GLASS_NIGHT if canvas.night else GLASS_DAY
    for face, (s, r) in faces.items():
        if face in vis:
            canvas.poly(face_rect(corners, face, s, r), canvas.hazed(shade(glass, vis[face]), distance))


def _car(canvas: Canvas, pose: Pose, size, key: int, distance: float, agent, t: float) -> None:
    length, width, height = size
    paint = _car_color(key)
    radius = min(0.34, CAR_BODY_TOP * height * 0.45)
    _shadow(canvas, pose, length, width)
    axle = length / 2 - min(0.85, 0.19 * length)
    _wheels(canvas, pose, (-axle, axle), width, radius, distance)
    hl, hw = length / 2, width / 2
    body_top = CAR_BODY_TOP * height
    body = hexahedron(pose, (-hl, hl), (-hw, hw), (CAR_CLEARANCE * height, body_top),
                      top_u=(-hl + 0.05 * length, hl - 0.06 * length))
    vis = draw_solid(canvas, body, paint, distance)
    _lights(canvas, body, vis, (0.55, 0.85), ((0.04, 0.2), (0.8, 0.96)), distance)
    if "back" in vis:
        canvas.poly(face_rect(body, "back", (0.4, 0.6), (0.2, 0.45)), canvas.hazed(PLATE, distance))
    if "front" in vis:  # oncoming: the grille between the headlights, the plate under it
        canvas.poly(face_rect(body, "front", (0.24, 0.76), (0.5, 0.85)), canvas.hazed(GRILLE, distance))
        canvas.poly(face_rect(body, "front", (0.4, 0.6), (0.12, 0.38)), canvas.hazed(PLATE, distance))
    if canvas.px_per_m(distance) * height < 3:
        return  # too small for a cabin to matter
    cabin = hexahedron(pose, (-0.33 * length, 0.2 * length), (-hw + 0.06, hw - 0.06), (body_top, height),
                       top_u=(-0.24 * length, 0.07 * length), top_v=(-hw + 0.2, hw - 0.2))
    cvis = draw_solid(canvas, cabin, paint, distance)
    _windows(canvas, cabin, cvis, {"back": ((0.08, 0.92), (0.12, 0.88)), "front": ((0.06, 0.94), (0.1, 0.9)),
                                   "left": ((0.06, 0.94), (0.12, 0.86)), "right": ((0.06, 0.94), (0.12, 0.86))},
             distance)


def _truck(canvas: Canvas, pose: Pose, size, key: int, distance: float, agent, t: float) -> None:
    length, width, height = size
    hl, hw = length / 2, width / 2
    radius = min(0.5, 0.16 * height)
    cab_len = min(2.4, 0.3 * length)
    _shadow(canvas, pose, length, width)
    _wheels(canvas, pose, (hl - 1.2, -hl + 2.6, -hl + 1.3), width, radius, distance)
    chassis = hexahedron(pose, (-hl, hl - cab_len), (-hw + 0.1, hw - 0.1), (0.45 * radius * 2, 0.33 * height))
    vis = draw_solid(canvas, chassis, (45, 45, 48), distance)
    _lights(canvas, chassis, vis, (0.35, 0.8), ((0.02, 0.14), (0.86, 0.98)), distance)
    cab_color = _pick(CARGO_COLORS + ((30, 60, 140), (170, 30, 30)), key, 2)
    cab = hexahedron(pose, (hl - cab_len, hl), (-hw, hw), (radius, 0.8 * height),
                     top_u=(hl - cab_len, hl - 0.15))
    cvis = draw_solid(canvas, cab, cab_color, distance)
    if "front" in cvis:  # oncoming: the grille between the headlights
        canvas.poly(face_rect(cab, "front", (0.22, 0.78), (0.06, 0.42)), canvas.hazed(GRILLE, distance))
    _lights(canvas, cab, {k: v for k, v in cvis.items() if k == "front"}, (0.08, 0.2),
            ((0.04, 0.18), (0.82, 0.96)), distance)
    _windows(canvas, cab, cvis, {"front": ((0.06, 0.94), (0.55, 0.92)), "left": ((0.45, 0.92), (0.55, 0.9)),
                                 "right": ((0.45, 0.92), (0.55, 0.9))}, distance)
    cargo = hexahedron(pose, (-hl, hl - cab_len - 0.2), (-hw, hw), (0.3 * height, height))
    box_color = _pick(CARGO_COLORS, key, 3)
    bvis = draw_solid(canvas, cargo, box_color, distance)
    if "back" in bvis:  # the two rear doors
        seam = canvas.hazed(shade(box_color, 0.5), distance)
        canvas.poly(face_rect(cargo, "back", (0.49, 0.51), (0.04, 0.97)), seam)


def _bus(canvas: Canvas, pose: Pose, size, key: int, distance: float, agent, t: float) -> None:
    length, width, height = size
    hl, hw = length / 2, width / 2
    radius = min(0.5, 0.16 * height)
    color = _pick(BUS_COLORS, key, 4)
    _shadow(canvas, pose, length, width)
    _wheels(canvas, pose, (hl - 2.6, -hl + 3.0), width, radius, distance)
    body = hexahedron(pose, (-hl, hl), (-hw, hw), (0.55 * radius, height),
                      top_u=(-hl + 0.1, hl - 0.1), top_v=(-hw + 0.08, hw - 0.08))
    vis = draw_solid(canvas, body, color, distance)
    _windows(canvas, body, vis, {"back": ((0.1, 0.9), (0.58, 0.88)), "front": ((0.04, 0.96), (0.42, 0.92)),
                                 "left": ((0.03, 0.97), (0.52, 0.86)), "right": ((0.03, 0.97), (0.52, 0.86))},
             distance)
    _lights(canvas, body, vis, (0.1, 0.3), ((0.03, 0.13), (0.87, 0.97)), distance)
    if canvas.night:  # a lit interior shows through the windows
        for face in ("left", "right", "back"):
            if face in vis:
                rect = face_rect(body, face, (0.05, 0.95), (0.56, 0.84))
                canvas.poly(rect, (120, 115, 90), glow=(30, 28, 20))


# --- two wheelers and people ---------------------------------------------------------------

def _wheel_ring(canvas: Canvas, pose: Pose, u: float, radius: float, width_m: float, color: Color) -> None:
    """A wheel in the agent's vertical u-h plane, as a polyline (edge-on it becomes a line)."""
    a = np.linspace(0.0, 2 * math.pi, 13)
    ring = pose.to_road(np.stack([u + radius * np.cos(a), np.zeros_like(a), radius + radius * np.sin(a)], axis=-1))
    for p, q in zip(ring[:-1], ring[1:]):
        canvas.line(p, q, width_m, color)


def _rider(canvas: Canvas, pose: Pose, key: int, distance: float, hip: tuple[float, float],
           shoulder: tuple[float, float], hand: tuple[float, float], foot: tuple[float, float],
           head_r: float, helmet: bool) -> None:
    top = _pick(CLOTHES, key, 5)
    legs = _pick(CLOTHES, key, 6)
    head = (40, 40, 44) if helmet else _pick(SKIN, key, 7)
    p = lambda u, h, v=0.0: pose.to_road(np.array([u, v, h]))  # noqa: E731 - a tiny local shorthand
    for side in (-0.1, 0.1):
        knee = ((hip[0] + foot[0]) / 2 + 0.12, (hip[1] + foot[1]) / 2 + 0.1)
        canvas.line(p(*hip, side), p(*knee, side), 0.13, canvas.hazed(legs, distance))
        canvas.line(p(*knee, side), p(*foot, side), 0.11, canvas.hazed(legs, distance))
    canvas.line(p(*hip), p(*shoulder), 0.34, canvas.hazed(top, distance))
    for side in (-0.17, 0.17):
        canvas.line(p(*shoulder, side), p(*hand, side * 1.3), 0.08, canvas.hazed(top, distance))
    canvas.disc(p(shoulder[0] + 0.04, shoulder[1] + head_r + 0.04), head_r, canvas.hazed(head, distance))


def _motorcycle(canvas: Canvas, pose: Pose, size, key: int, distance: float, agent, t: float) -> None:
    length, width, height = size
    hl = length / 2
    radius = min(0.32, 0.2 * height)
    axle = hl - radius - 0.02
    tyre = canvas.hazed(TYRE, distance)
    for u in (-axle, axle):
        _wheel_ring(canvas, pose, u, radius, 0.1, tyre)
    body = hexahedron(pose, (-0.32 * length, 0.3 * length), (-0.2, 0.2), (0.35 * height * 0.75, 0.58 * height),
                      top_u=(-0.28 * length, 0.18 * length), top_v=(-0.16, 0.16))
    vis = draw_solid(canvas, body, _car_color(key), distance)
    _lights(canvas, body, vis, (0.5, 0.9), ((0.3, 0.7),), distance)
    h = height
    _rider(canvas, pose, key, distance, hip=(-0.15 * length, 0.62 * h), shoulder=(0.0, 0.86 * h),
           hand=(0.26 * length, 0.68 * h), foot=(0.0, 0.3 * h), head_r=min(0.15, width / 3), helmet=True)


def _cyclist(canvas: Canvas, pose: Pose, size, key: int, distance: float, agent, t: float) -> None:
    length, width, height = size
    hl = length / 2
    radius = min(0.34, 0.2 * height)
    axle = hl - radius - 0.04
    frame = canvas.hazed(_pick(((30, 30, 32), (170, 30, 30), (40, 80, 160), (200, 200, 200)), key, 8), distance)
    tyre = canvas.hazed(TYRE, distance)
    for u in (-axle, axle):
        _wheel_ring(canvas, pose, u, radius, 0.05, tyre)
    p = lambda u, h: pose.to_road(np.array([u, 0.0, h]))  # noqa: E731
    seat, bar, crank = (-0.12 * length, 0.55 * height), (0.25 * length, 0.58 * height), (0.0, radius)
    for a, b in ((( -axle, radius), seat), (seat, crank), (crank, (-axle, radius)), (seat, bar), (crank, bar),
                 (bar, (axle, radius))):
        canvas.line(p(*a), p(*b), 0.04, frame)
    phase = t * max(agent.speed_mps, 0.0) / 2.2 * 2 * math.pi  # about one pedal turn per 2.2 m
    foot = (0.16 * math.cos(phase), radius + 0.16 * math.sin(phase) + 0.04)
    _rider(canvas, pose, key, distance, hip=(seat[0], seat[1] + 0.05), shoulder=(0.08 * length, 0.84 * height),
           hand=bar, foot=foot, head_r=min(0.12, width / 4), helmet=_unit(key, 9) < 0.6)
    if canvas.night:  # a small rear light
        canvas.disc(p(seat[0] - 0.1, seat[1] - 0.05), 0.04, TAIL_NIGHT, glow=TAIL_NIGHT, glow_scale=2.0)


def _pedestrian(canvas: Canvas, pose: Pose, size, key: int, distance: float, agent, t: float) -> None:
    length, width, height = size
    moving = abs(agent.speed_mps) > 0.1 or abs(agent.heading_rad) > 0.05
    phase = (t * 1.8 * 2 * math.pi + _unit(key, 10) * 6.28) if moving else 0.0
    swing = 0.3 * length * math.sin(phase) if moving else 0.0
    top = canvas.hazed(_pick(CLOTHES, key, 5), distance)
    legs = canvas.hazed(_pick(CLOTHES, key, 6), distance)
    skin = canvas.hazed(_pick(SKIN, key, 7), distance)
    hip_h, neck_h, head_r = 0.52 * height, 0.8 * height, min(0.11, 0.065 * height)
    p = lambda u, h, v=0.0: pose.to_road(np.array([u, v, h]))  # noqa: E731
    # Proportions follow the cuboid's width, so the figure fills its box (shoulders ~75% of it).
    for side, s in ((-0.17 * width, 1.0), (0.17 * width, -1.0)):
        canvas.line(p(0.0, hip_h, side), p(s * swing, 0.05, side), 0.22 * width, legs)
    canvas.line(p(0.0, hip_h), p(0.0, neck_h), 0.66 * width, top)
    for side, s in ((-0.36 * width, -1.0), (0.36 * width, 1.0)):
        canvas.line(p(0.0, neck_h - 0.04, side), p(s * swing * 0.6, hip_h - 0.05, side * 1.1), 0.14 * width, top)
    canvas.disc(p(0.0, height - head_r - 0.02), head_r, skin)
