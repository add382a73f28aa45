"""The world around the road: a seeded scene style, the ground (road, markings, verges) and roadside objects.

Everything placed along the road is a pure function of (scene seed, slot index along the road),
where a slot is a fixed stretch of road in *world* coordinates: s = ego_travel_m + z. So lane
dashes, patches, trees, poles and buildings stay put on the ground and flow past the camera at
the ego's speed, with no state carried between frames.

Roadside objects stand at least ROADSIDE_CLEARANCE_M outside the road edges, beyond the
sidewalks where the engine's pedestrians and cyclists move, so scenery never hides a labelled agent.

    from drivesim.render.scenery import scene_style, draw_ground, roadside_items
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

from drivesim.render.canvas import Canvas, Color, Pose, draw_solid, hash01, hexahedron, shade
from drivesim.scenario.labels import RoadState

ROADSIDE_CLEARANCE_M = 5.5  # tall objects stand this far outside the road edges
DASH_M, GAP_M = 3.0, 9.0  # lane dashes: 3 m painted, 9 m gap
LANE_LINE_M, EDGE_LINE_M = 0.12, 0.16
GROUND_FAR_M = 1500.0  # the road polygon runs this far (it converges at the horizon)
DETAIL_FAR_M = 160.0  # markings and roadside objects are drawn up to here
BEHIND_M = 8.0  # roadside objects this far behind the camera can still show at the image edges

KINDS = ("urban", "suburban", "highway", "rural")


@dataclass(frozen=True)
class SceneStyle:
    """What kind of road this scene is: picked once per scenario seed."""

    kind: str
    seed: int
    asphalt: Color
    verge: Color  # the ground beyond the sidewalk / shoulder
    sidewalk_m: float  # paved strip beside the road (urban), 0 for none
    shoulder: Color  # colour of that strip, or of the gravel shoulder
    yellow_left_edge: bool
    building_density: float  # share of building slots that hold one
    tree_density: float
    streetlight_spacing_m: float  # 0 for none
    pole_spacing_m: float  # utility poles, 0 for none
    median_barrier: bool


def scene_style(seed: int) -> SceneStyle:
    u = hash01(seed, 7001, np.arange(8))
    kind = KINDS[int(u[0] * len(KINDS))]
    grey = 78 + 30 * u[1]
    asphalt = (grey, grey, grey * 1.03)
    grass = ((70 + 30 * u[2], 100 + 25 * u[2], 50 + 10 * u[3]) if u[3] < 0.7
             else (125 + 20 * u[2], 118 + 15 * u[2], 80))  # green, or dry late-summer grass
    common = dict(seed=int(seed), asphalt=asphalt, yellow_left_edge=bool(u[4] < 0.3))
    if kind == "urban":
        return SceneStyle(kind=kind, verge=(150, 147, 140), sidewalk_m=5.0, shoulder=(165, 162, 155),
                          building_density=0.92, tree_density=0.25, streetlight_spacing_m=30.0,
                          pole_spacing_m=0.0, median_barrier=False, **common)
    if kind == "suburban":
        return SceneStyle(kind=kind, verge=grass, sidewalk_m=3.0, shoulder=(160, 158, 150),
                          building_density=0.45, tree_density=0.55, streetlight_spacing_m=40.0,
                          pole_spacing_m=45.0 if u[5] < 0.5 else 0.0, median_barrier=False, **common)
    if kind == "highway":
        return SceneStyle(kind=kind, verge=grass, sidewalk_m=2.5, shoulder=(120, 116, 108),
                          building_density=0.05, tree_density=0.45, streetlight_spacing_m=50.0 if u[5] < 0.6 else 0.0,
                          pole_spacing_m=0.0, median_barrier=True, **common)
    return SceneStyle(kind=kind, verge=grass, sidewalk_m=1.2, shoulder=(130, 118, 95),
                      building_density=0.08, tree_density=0.7, streetlight_spacing_m=0.0,
                      pole_spacing_m=40.0, median_barrier=False, **common)


@dataclass(frozen=True)
class RoadGeometry:
    """The road's edges in the road frame (x relative to the camera)."""

    left_x: float
    right_x: float
    lanes: int
    lane_width_m: float
    travel_m: float

    @classmethod
    def from_state(cls, road: RoadState) -> "RoadGeometry":
        left = -road.ego_lateral_m
        return cls(left_x=left, right_x=left + road.lanes * road.lane_width_m, lanes=road.lanes,
                   lane_width_m=road.lane_width_m, travel_m=road.ego_travel_m)


def ground_near_z(canvas: Canvas) -> float:
    """Smallest road-frame z at which ground points are safely in front of the camera."""
    p = math.radians(canvas.cam.pitch_deg)
    return max(0.3, (0.2 - canvas.cam.mount_height_m * math.sin(p)) / max(math.cos(p), 1e-3))


def _strip(x0: float, x1: float, z0: float, z1: float, y: float = 0.0) -> np.ndarray:
    return np.array([[x0, y, z0], [x1, y, z0], [x1, y, z1], [x0, y, z1]], float)


def _slots(travel: float, spacing: float, z0: float, z1: float) -> np.ndarray:
    """Indices of road slots of length `spacing` overlapping [z0, z1] ahead of the camera."""
    return np.arange(math.floor((travel + z0) / spacing), math.ceil((travel + z1) / spacing) + 1)


# --- ground --------------------------------------------------------------------------------

def draw_ground(canvas: Canvas, style: SceneStyle, road: RoadGeometry) -> None:
    """Verges, road surface, patches, crossings and lane markings (flat, drawn before any object)."""
    near = ground_near_z(canvas)
    far = GROUND_FAR_M
    haze = canvas.hazed
    for x_edge, sign in ((road.left_x, -1), (road.right_x, 1)):
        if style.sidewalk_m > 0:
            outer = x_edge + sign * style.sidewalk_m
            canvas.poly(_strip(min(x_edge, outer), max(x_edge, outer), near, far), haze(style.shoulder, 60))
            if style.kind in ("urban", "suburban"):  # the kerb: a light line at the road edge
                canvas.poly(_strip(min(x_edge, x_edge + sign * 0.2), max(x_edge, x_edge + sign * 0.2), near, far),
                            haze(shade(style.shoulder, 1.15), 40))
    canvas.poly(_strip(road.left_x, road.right_x, near, far), haze(style.asphalt, 80))
    _road_patches(canvas, style, road, near)
    if style.kind == "urban":
        _crossings(canvas, style, road, near)
    _markings(canvas, style, road, near)
    if style.median_barrier:
        _median_barrier(canvas, road, near)


def _road_patches(canvas: Canvas, style: SceneStyle, road: RoadGeometry, near: float) -> None:
    """Repair patches and tar seams: texture on the asphalt that flows with the ego."""
    spacing = 7.0
    n = _slots(road.travel_m, spacing, near, 90.0)
    u = hash01(style.seed, 7100, n[:, None], np.arange(5)[None, :])
    width = road.right_x - road.left_x
    for k in np.nonzero(u[:, 0] < 0.45)[0]:
        s0 = n[k] * spacing + u[k, 1] * spacing
        z0 = s0 - road.travel_m
        if u[k, 2] < 0.6:  # a patch
            x0 = road.left_x + u[k, 3] * (width - 1.5)
            quad = _strip(x0, x0 + 0.8 + 2.0 * u[k, 4], z0, z0 + 1.0 + 3.0 * u[k, 4])
            tone = 0.9 + 0.16 * u[k, 4]
        else:  # a thin seam across the lane
            x0 = road.left_x + u[k, 3] * width * 0.5
            quad = _strip(x0, x0 + width * 0.5, z0, z0 + 0.12)
            tone = 0.7
        canvas.poly(quad, canvas.hazed(shade(style.asphalt, tone), z0))


def _crossings(canvas: Canvas, style: SceneStyle, road: RoadGeometry, near: float) -> None:
    spacing = 120.0
    for n in _slots(road.travel_m, spacing, near, DETAIL_FAR_M):
        u = hash01(style.seed, 7200, n, np.arange(2))
        if u[0] > 0.5:
            continue
        z0 = n * spacing + 20.0 + u[1] * 60.0 - road.travel_m
        xs = np.arange(road.left_x + 0.3, road.right_x - 0.5, 1.0)
        stripes = np.stack([_strip(x, x + 0.5, z0, z0 + 3.0) for x in xs])
        canvas.polys(stripes, canvas.hazed((215, 215, 210), z0))


def _markings(canvas: Canvas, style: SceneStyle, road: RoadGeometry, near: float) -> None:
    paint = (228, 228, 222)
    far = DETAIL_FAR_M
    # Dashes: world positions k * period; the phase follows the ego's travel.
    period = DASH_M + GAP_M
    k = _slots(road.travel_m, period, near - period, far)
    z0 = k * period - road.travel_m
    z0, z1 = np.maximum(z0, near), np.minimum(z0 + DASH_M, far)
    keep = z1 > z0
    dashes = []
    for lane in range(1, road.lanes):
        x = road.left_x + lane * road.lane_width_m
        for a, b in zip(z0[keep], z1[keep]):
            dashes.append(_strip(x - LANE_LINE_M / 2, x + LANE_LINE_M / 2, a, b))
    if dashes:
        canvas.polys(np.stack(dashes), paint)
    left = (215, 175, 40) if style.yellow_left_edge else paint
    half = EDGE_LINE_M / 2
    canvas.poly(_strip(road.left_x + 0.15 - half, road.left_x + 0.15 + half, near, GROUND_FAR_M), left)
    canvas.poly(_strip(road.right_x - 0.15 - half, road.right_x - 0.15 + half, near, GROUND_FAR_M), paint)


def _median_barrier(canvas: Canvas, road: RoadGeometry, near: float) -> None:
    """A concrete barrier just left of the road (highways): road-facing side and top."""
    x_face, x_back, height = road.left_x - 0.4, road.left_x - 0.9, 0.8
    concrete = (165, 163, 158)
    for z0 in np.arange(near, 300.0, 25.0):  # pieces, so the haze follows distance
        z1 = z0 + 25.0
        side = np.array([[x_face, 0, z0], [x_face, 0, z1], [x_face, -height, z1], [x_face, -height, z0]], float)
        top = np.array([[x_face, -height, z0], [x_back, -height, z0], [x_back, -height, z1],
                        [x_face, -height, z1]], float)
        canvas.poly(side, canvas.hazed(shade(concrete, 0.75), z0))
        canvas.poly(top, canvas.hazed(concrete, z0))


# --- roadside objects ------------------------------------------------------------------------

Item = tuple[float, Callable[[Canvas], None]]  # (distance from the camera, draw function)
# Roadside objects before culling: bounding sphere (centre in the road frame, radius) and draw function.
Placed = tuple[tuple[float, float, float], float, Callable[[Canvas], None]]


def roadside_items(canvas: Canvas, style: SceneStyle, road: RoadGeometry) -> list[Item]:
    """Every roadside object near enough to draw, with its distance (for painter's order)."""
    placed: list[Placed] = []
    sides = ((0, road.left_x, -1), (1, road.right_x, 1))
    for side, x_edge, sign in sides:
        if style.median_barrier and side == 0:
            continue  # beyond the median barrier lies the other carriageway: keep it open
        placed += _buildings(style, road, side, x_edge, sign)
        placed += _trees(style, road, side, x_edge, sign)
        placed += _streetlights(style, road, side, x_edge, sign)
        placed += _poles(style, road, side, x_edge, sign)
    return visible_items(canvas, placed)


def visible_items(canvas: Canvas, placed: list[Placed]) -> list[Item]:
    """The placed objects that can show (in view, at least half a pixel big), with their distances."""
    items: list[Item] = []
    for centre, radius, fn in placed:
        c = np.array(centre)
        if not canvas.sphere_visible(c, radius):
            continue
        distance = float(np.linalg.norm(canvas.to_cam(c[None])[0]))
        if canvas.px_per_m(distance) * radius < 0.5:
            continue  # smaller than a pixel
        items.append((distance, fn))
    return items


def _buildings(style: SceneStyle, road: RoadGeometry, side: int, x_edge: float, sign: int) -> list:
    if style.building_density <= 0:
        return []
    spacing = 22.0 if style.kind == "urban" else 35.0
    out = []
    slots = _slots(road.travel_m, spacing, -BEHIND_M - spacing, DETAIL_FAR_M + 40)
    for n, u in zip(slots, hash01(style.seed, 7300 + side, slots[:, None], np.arange(8)[None])):
        if u[0] > style.building_density:
            continue
        if style.kind == "urban":
            length, height = spacing - 1.0 - 4.0 * u[1], 8.0 + 30.0 * u[2] ** 2
            setback = ROADSIDE_CLEARANCE_M + 0.5 + 2.0 * u[3]
        else:
            length, height = 8.0 + 6.0 * u[1], 4.5 + 3.5 * u[2]
            setback = ROADSIDE_CLEARANCE_M + 6.0 + 10.0 * u[3]
        z0 = n * spacing + (spacing - length) * u[4] - road.travel_m
        depth = 10.0 + 8.0 * u[5]
        x_near = x_edge + sign * setback
        palette = ((180, 170, 155), (150, 135, 120), (200, 195, 185), (120, 110, 105), (170, 150, 130),
                   (110, 120, 130))
        color = palette[int(u[6] * len(palette))]
        out.append(((x_near + sign * depth / 2, -height / 2, z0 + length / 2),
                    0.5 * math.sqrt(length ** 2 + depth ** 2 + height ** 2),
                    partial(_draw_building, x_near=x_near, sign=sign, z0=z0, length=length, depth=depth,
                            height=height, color=color, key=int(n) * 2 + side, seed=style.seed)))
    return out


def _draw_building(canvas: Canvas, x_near: float, sign: int, z0: float, length: float, depth: float,
                   height: float, color: Color, key: int, seed: int) -> None:
    x_far = x_near + sign * depth
    pose = Pose.on_road(0.0, 0.0, 0.0)
    corners = hexahedron(pose, (z0, z0 + length), (min(x_near, x_far), max(x_near, x_far)), (0.0, height))
    distance = math.hypot(x_near, z0 + length / 2)
    vis = draw_solid(canvas, corners, color, distance)
    road_face = "left" if sign > 0 else "right"  # the facade facing the road
    if road_face not in vis and "back" not in vis:
        return
    floors, cols = max(1, int(height / 3.2)), max(1, int(length / 3.0))
    if canvas.px_per_m(max(canvas.depth(corners.mean(0)), 1.0)) * 3.0 < 3.0:
        return  # windows smaller than ~3 px: skip
    i, j = np.meshgrid(np.arange(floors), np.arange(cols), indexing="ij")
    i, j = i.ravel(), j.ravel()
    z_a = z0 + (j + 0.25) * length / cols
    z_b = z0 + (j + 0.75) * length / cols
    h_a = (i + 0.35) * height / floors
    h_b = (i + 0.8) * height / floors
    x = x_near - sign * 0.02
    quads = np.stack([np.stack([np.full_like(z_a, x), -h_a, z_a], -1), np.stack([np.full_like(z_a, x), -h_a, z_b], -1),
                      np.stack([np.full_like(z_a, x), -h_b, z_b], -1), np.stack([np.full_like(z_a, x), -h_b, z_a], -1)],
                     axis=1)
    if road_face in vis:
        lit = hash01(seed, 7400, key, np.arange(len(quads))) < (0.35 if canvas.night else 0.0)
        glass = (25, 28, 35) if canvas.night else (70, 85, 100)
        canvas.polys(quads[~lit], canvas.hazed(glass, distance))
        if lit.any():
            canvas.polys(quads[lit], (255, 215, 140), glow=(120, 95, 55))


def _trees(style: SceneStyle, road: RoadGeometry, side: int, x_edge: float, sign: int) -> list:
    spacing = 9.0
    out = []
    slots = _slots(road.travel_m, spacing, -BEHIND_M, DETAIL_FAR_M)
    for n, u in zip(slots, hash01(style.seed, 7500 + side, slots[:, None], np.arange(7)[None])):
        if u[0] > style.tree_density:
            continue
        setback = ROADSIDE_CLEARANCE_M + 0.5 + (1.0 if style.kind == "urban" else 12.0) * u[1]
        x = x_edge + sign * setback
        z = n * spacing + spacing * u[2] - road.travel_m
        size = 0.7 + 0.7 * u[3]
        out.append(((x, -4.0 * size, z), 4.5 * size,
                    partial(draw_tree, pose=Pose.on_road(x, z, 0.0), size=size, conifer=bool(u[4] < 0.3),
                            tint=float(u[5]))))
    return out


def draw_tree(canvas: Canvas, pose: Pose, size: float, conifer: bool, tint: float) -> None:
    """A tree standing at `pose` (crowns and the conifer's tiers face the camera)."""
    distance = math.hypot(pose.origin[0], pose.origin[2])
    trunk_h = 2.2 * size
    at = lambda u, v, h: pose.to_road(np.array([u, v, h]))  # noqa: E731 - a tiny local shorthand
    draw_solid(canvas, hexahedron(pose, (-0.15, 0.15), (-0.15, 0.15), (0.0, trunk_h + 0.5)), (85, 62, 45),
               distance, faces=("back", "left", "right"))
    green = (45 + 40 * tint, 85 + 40 * tint, 40 + 15 * tint)
    if conifer:
        base, top = trunk_h * 0.5, trunk_h + 5.5 * size
        for k, (h0, half) in enumerate(((base, 1.8 * size), (base + 2.0 * size, 1.4 * size))):
            tri = np.stack([at(0.0, -half, h0), at(0.0, half, h0), at(0.0, 0.0, top)])
            canvas.poly(tri, canvas.hazed(shade(green, 0.7 + 0.15 * k), distance))
        return
    r = 2.0 * size
    centre_h = trunk_h + r * 0.7
    canvas.disc(at(0.0, 0.0, centre_h), r, canvas.hazed(shade(green, 0.7), distance))
    canvas.disc(at(-0.1, -0.4 * r, centre_h + 0.2 * r), 0.65 * r, canvas.hazed(green, distance))
    canvas.disc(at(-0.2, 0.35 * r, centre_h - 0.15 * r), 0.55 * r, canvas.hazed(shade(green, 0.85), distance))


def _streetlights(style: SceneStyle, road: RoadGeometry, side: int, x_edge: float, sign: int) -> list:
    spacing = style.streetlight_spacing_m
    if spacing <= 0:
        return []
    out = []
    offset = spacing / 2 * side  # the two sides alternate
    for n in _slots(road.travel_m - offset, spacing, -BEHIND_M, DETAIL_FAR_M):
        z = n * spacing + offset - road.travel_m
        x = x_edge + sign * (ROADSIDE_CLEARANCE_M - 0.3)
        out.append(((x - sign * 1.75, -4.0, z), 5.0,
                    partial(draw_streetlight, pose=Pose.on_road(x, z, 0.0), reach=-sign * 3.5)))
    return out


def draw_streetlight(canvas: Canvas, pose: Pose, reach: float) -> None:
    """A street light at `pose`, its lamp `reach` metres along the pose's right; a pool of light at night."""
    distance = math.hypot(pose.origin[0], pose.origin[2])
    height = 8.0
    metal = canvas.hazed((120, 122, 125), distance)
    draw_solid(canvas, hexahedron(pose, (-0.1, 0.1), (-0.1, 0.1), (0.0, height)), metal, distance,
               faces=("back", "left", "right"))
    lamp = pose.to_road(np.array([0.0, reach, height - 0.15]))
    canvas.line(pose.to_road(np.array([0.0, 0.0, height])), lamp + [0, -0.15, 0], 0.1, metal)
    head = Pose(origin=pose.to_road(np.array([0.0, reach, 0.0])), fwd=pose.fwd, right=pose.right)
    corners = hexahedron(head, (-0.25, 0.25), (-0.35, 0.35), (height - 0.25, height - 0.05))
    if canvas.night:
        canvas.poly(corners[[0, 1, 3, 2]], (255, 230, 170), glow=(255, 220, 150))  # bottom face: the bulb
        canvas.disc(lamp, 0.18, (255, 240, 200), glow=(150, 125, 80), glow_scale=2.0)
        a = np.linspace(0.0, 2 * math.pi, 16, endpoint=False)
        pool = (head.origin + (7.0 * np.cos(a))[:, None] * pose.right + (7.0 * np.sin(a))[:, None] * pose.fwd)
        canvas.add_light(pool, 0.5)
    else:
        draw_solid(canvas, corners, (90, 92, 96), distance)


def _poles(style: SceneStyle, road: RoadGeometry, side: int, x_edge: float, sign: int) -> list:
    spacing = style.pole_spacing_m
    if spacing <= 0 or side == 0:  # one line of poles, on the right
        return []
    out = []
    for n in _slots(road.travel_m, spacing, -BEHIND_M, DETAIL_FAR_M):
        z = n * spacing - road.travel_m
        x = x_edge + sign * (ROADSIDE_CLEARANCE_M + 1.0)
        out.append(((x, -4.5, z), 4.8, partial(draw_pole, pose=Pose.on_road(x, z, 0.0))))
    return out


def draw_pole(canvas: Canvas, pose: Pose) -> None:
    """A wooden utility pole at `pose`, its cross-arm along the pose's right."""
    distance = math.hypot(pose.origin[0], pose.origin[2])
    wood = canvas.hazed((95, 75, 55), distance)
    draw_solid(canvas, hexahedron(pose, (-0.13, 0.13), (-0.13, 0.13), (0.0, 9.0)), wood,
               distance, faces=("back", "left", "right"))
    canvas.line(pose.to_road(np.array([0.0, -1.0, 8.4])), pose.to_road(np.array([0.0, 1.0, 8.4])), 0.12, wood)
