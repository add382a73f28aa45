"""Roadside objects along the roads of a network: version 1's buildings, trees, street lights and poles
(scenery.py), placed along each side of each road outside a junction and turned with the road.

Each object is a pure function of (scene seed, road id, side, slot along the road's s), so it stays put
on the ground while the ego drives past, with no state between frames. It stands at least
ROADSIDE_CLEARANCE_M outside its road's carriageway and beyond the road's last lane or sidewalk strip,
and an object whose footprint comes near another road or a junction is left out (the crossing road
stays open).

    from drivesim.render.network_scenery import network_roadside_items
    items = network_roadside_items(canvas, style, geometry, engine.ego_pose(t))  # [(distance, draw), ...]
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from drivesim.render.canvas import FACES, Canvas, Color, Pose, draw_solid, hash01, hexahedron, stable_hash
from drivesim.render.network_geometry import NetworkGeometry, RoadSide
from drivesim.render.scenery import (DETAIL_FAR_M, ROADSIDE_CLEARANCE_M, Item, Placed, SceneStyle, draw_pole,
                                     draw_streetlight, draw_tree, visible_items)
from drivesim.scenario.camera import EgoPose, ego_to_world, world_to_ego

REACH_M = DETAIL_FAR_M + 40.0  # sides of roads within this distance of the camera get objects
BUILDING_COLORS: tuple[Color, ...] = ((180, 170, 155), (150, 135, 120), (200, 195, 185), (120, 110, 105),
                                      (170, 150, 130), (110, 120, 130))  # version 1's palette


def network_roadside_items(canvas: Canvas, style: SceneStyle, geometry: NetworkGeometry, pose: EgoPose) -> list[Item]:
    """Every roadside object near enough to draw, with its distance (for painter's order)."""
    camera_world = ego_to_world(canvas.centre, pose)
    placed: list[Placed] = []
    for road_side in geometry.sides:
        near = np.linalg.norm(road_side.outer_xyz - camera_world, axis=1) <= REACH_M
        if not near.any():
            continue
        s_near = road_side.s[near]
        span = (float(s_near.min()), float(s_near.max()))
        side = _Side(road_side, geometry, pose, style, span)
        placed += side.buildings() + side.trees() + side.streetlights() + side.poles()
    return visible_items(canvas, placed)


class _Side:
    """Placing objects along one road side seen from one ego pose."""

    def __init__(self, side: RoadSide, geometry: NetworkGeometry, pose: EgoPose, style: SceneStyle,
                 span: tuple[float, float]):
        self.side, self.geometry, self.pose, self.style, self.span = side, geometry, pose, style, span
        self.key = stable_hash(side.road.id) & 0x7FFFFFFF
        self.salt = 0 if side.side > 0 else 1  # version 1's side index: 0 left, 1 right
        self.sign = -side.side  # the outward direction along a pose's right (which points to -t)

    def _slots(self, spacing: float, offset: float = 0.0) -> np.ndarray:
        lo, hi = self.span
        return np.arange(math.floor((lo - offset) / spacing), math.ceil((hi - offset) / spacing) + 1)

    def _hash(self, base: int, slots: np.ndarray, n: int) -> np.ndarray:
        return hash01(self.style.seed, base + self.salt, self.key, slots[:, None], np.arange(n)[None])

    def _poses(self, s: np.ndarray, extra_m: np.ndarray | float) -> list[Pose | None]:
        """Poses (in the ego's road frame) `extra_m` beyond the side's clearance line at road s, facing +s;
        None where the spot is off the road's length or near another road."""
        side, road = self.side, self.side.road
        s = np.asarray(s, float)
        driving = np.interp(s, side.s, side.driving_t)
        outer = np.interp(s, side.s, side.outer_t)
        beyond = np.maximum(ROADSIDE_CLEARANCE_M, np.abs(outer - driving) + 0.5) + extra_m
        t = driving + side.side * beyond
        x, y, hdg, _ = road.planView.evaluate(s)
        z, _ = road.elevation(s)
        world = np.stack([x - t * np.sin(hdg), y + t * np.cos(hdg), np.broadcast_to(z, x.shape)], axis=-1)
        blocked = self.geometry.on_other_road(road.id, world[:, :2])
        origin = world_to_ego(world, self.pose)
        tangent = np.stack([np.cos(hdg), np.sin(hdg), np.zeros_like(hdg)], axis=-1) @ self.pose.axes.T
        out: list[Pose | None] = []
        for k in range(len(s)):
            if blocked[k] or not 0.0 <= s[k] <= road.length:
                out.append(None)
                continue
            fx, fz = tangent[k, 0], tangent[k, 2]
            norm = math.hypot(fx, fz) or 1.0
            fwd = np.array([fx / norm, 0.0, fz / norm])
            out.append(Pose(origin=origin[k], fwd=fwd, right=np.array([fwd[2], 0.0, -fwd[0]])))
        return out

    def _centre(self, pose: Pose, u: float, v: float, h: float) -> tuple[float, float, float]:
        return tuple(float(c) for c in pose.to_road(np.array([u, v, h])))

    def buildings(self) -> list[Placed]:
        style = self.style
        if style.building_density <= 0:
            return []
        urban = style.kind == "urban"
        spacing = 22.0 if urban else 35.0
        slots = self._slots(spacing)
        u = self._hash(7300, slots, 8)
        keep = u[:, 0] <= style.building_density
        slots, u = slots[keep], u[keep]
        length = np.where(urban, spacing - 1.0 - 4.0 * u[:, 1], 8.0 + 6.0 * u[:, 1])
        height = np.where(urban, 8.0 + 30.0 * u[:, 2] ** 2, 4.5 + 3.5 * u[:, 2])
        extra = np.where(urban, 0.5 + 2.0 * u[:, 3], 6.0 + 10.0 * u[:, 3])
        depth = 10.0 + 8.0 * u[:, 5]
        s0 = slots * spacing + (spacing - length) * u[:, 4]
        out = []
        starts, ends = self._poses(s0, extra), self._poses(s0 + length, extra + depth)
        for k, (pose, far_corner) in enumerate(zip(starts, ends)):
            if pose is None or far_corner is None:
                continue  # its front or its back corner would stand on another road
            size = (float(length[k]), float(depth[k]), float(height[k]))
            centre = self._centre(pose, size[0] / 2, self.sign * size[1] / 2, size[2] / 2)
            color = BUILDING_COLORS[int(u[k, 6] * len(BUILDING_COLORS))]
            out.append((centre, 0.5 * float(np.linalg.norm(size)),
                        partial(draw_building, pose=pose, sign=self.sign, size=size, color=color,
                                key=int(slots[k]) * 2 + self.salt + 4 * self.key, seed=style.seed)))
        return out

    def trees(self) -> list[Placed]:
        style = self.style
        spacing = 9.0
        slots = self._slots(spacing)
        u = self._hash(7500, slots, 7)
        keep = u[:, 0] <= style.tree_density
        slots, u = slots[keep], u[keep]
        extra = 0.5 + (1.0 if style.kind == "urban" else 12.0) * u[:, 1]
        out = []
        for k, pose in enumerate(self._poses(slots * spacing + spacing * u[:, 2], extra)):
            if pose is None:
                continue
            size = 0.7 + 0.7 * float(u[k, 3])
            out.append((self._centre(pose, 0.0, 0.0, 4.0 * size), 4.5 * size,
                        partial(draw_tree, pose=pose, size=size, conifer=bool(u[k, 4] < 0.3), tint=float(u[k, 5]))))
        return out

    def streetlights(self) -> list[Placed]:
        spacing = self.style.streetlight_spacing_m
        if spacing <= 0:
            return []
        offset = spacing / 2 * self.salt  # the two sides alternate
        slots = self._slots(spacing, offset)
        out = []
        for pose in self._poses(slots * spacing + offset, -0.3):
            if pose is not None:
                out.append((self._centre(pose, 0.0, -self.sign * 1.75, 4.0), 5.0,
                            partial(draw_streetlight, pose=pose, reach=-self.sign * 3.5)))
        return out

    def poles(self) -> list[Placed]:
        spacing = self.style.pole_spacing_m
        if spacing <= 0 or self.side.side > 0:  # one line of poles, on the right of the road's +s
            return []
        slots = self._slots(spacing)
        return [(self._centre(pose, 0.0, 0.0, 4.5), 4.8, partial(draw_pole, pose=pose))
                for pose in self._poses(slots * spacing, 1.0) if pose is not None]


def draw_building(canvas: Canvas, pose: Pose, sign: int, size: tuple[float, float, float], color: Color,
                  key: int, seed: int) -> None:
    """A block `size` = (length along the road, depth away from it, height), its road-facing front corner at
    `pose`; windows on the facade that faces the road (lit at random at night)."""
    length, depth, height = size
    v = (0.0, sign * depth) if sign > 0 else (sign * depth, 0.0)
    corners = hexahedron(pose, (0.0, length), v, (0.0, height))
    centre = corners.mean(axis=0)
    distance = math.hypot(centre[0], centre[2])
    vis = draw_solid(canvas, corners, color, distance)
    road_face = "left" if sign > 0 else "right"  # the facade at v = 0
    if road_face not in vis:
        return
    floors, cols = max(1, int(height / 3.2)), max(1, int(length / 3.0))
    if canvas.px_per_m(max(canvas.depth(centre), 1.0)) * 3.0 < 3.0:
        return  # windows smaller than ~3 px: skip
    quads = _facade_grid(corners, road_face, floors, cols)
    lit = hash01(seed, 7400, key, np.arange(len(quads))) < (0.35 if canvas.night else 0.0)
    glass = (25, 28, 35) if canvas.night else (70, 85, 100)
    canvas.polys(quads[~lit], canvas.hazed(glass, distance))
    if lit.any():
        canvas.polys(quads[lit], (255, 215, 140), glow=(120, 95, 55))


def _facade_grid(corners: np.ndarray, face: str, floors: int, cols: int) -> np.ndarray:
    """(floors * cols, 4, 3) window quads on a side face: a column every length / cols, a row every floor."""
    a, b, tb, ta = (corners[i] for i in FACES[face])
    i, j = (g.ravel() for g in np.meshgrid(np.arange(floors), np.arange(cols), indexing="ij"))
    s0, s1 = (j + 0.25) / cols, (j + 0.75) / cols
    r0, r1 = (i + 0.35) / floors, (i + 0.8) / floors

    def at(s: np.ndarray, r: np.ndarray) -> np.ndarray:
        bottom, top = a + (b - a) * s[:, None], ta + (tb - ta) * s[:, None]
        return bottom + (top - bottom) * r[:, None]

    return np.stack([at(s0, r0), at(s1, r0), at(s1, r1), at(s0, r1)], axis=1)
