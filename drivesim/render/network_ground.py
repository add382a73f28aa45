"""The ground of a road network seen from the ego: the surfaces and marks of `network_geometry.py` moved
into the camera's road frame each frame (`camera.world_to_ego` with the ego's pose, so the view turns and
climbs with the ego), culled to what the camera can see and painted in layers, back to front: sidewalk
strips and kerbs, medians, shoulders, sidewalks, junction surfaces, asphalt, bike lanes, paint.

Colours are the scene style's, as on version 1's road (scenery.py): one hazed colour per look, paint
unhazed. Within a layer the order does not matter (the pieces of one look are filled in one call);
a road seen over a crest keeps its layers' order rather than being hidden by the crest.

    from drivesim.render.network_ground import draw_network_ground
    draw_network_ground(canvas, style, geometry, engine.ego_pose(t))
"""

from __future__ import annotations

import numpy as np

from drivesim.render.canvas import NEAR_Z_M, Canvas, Color, _clip_near, mix, shade
from drivesim.render.network_geometry import LAYER_ORDER, NetworkGeometry, Quads
from drivesim.render.scenery import GROUND_FAR_M, SceneStyle
from drivesim.scenario.camera import EgoPose, ego_to_world, world_to_ego

PAINT: Color = (228, 228, 222)  # version 1's markings
YELLOW_PAINT: Color = (215, 175, 40)
PAINT_FAR_M = 400.0  # marks farther than this are below a pixel wide
SCREEN_MARGIN_PX = 2.0
# Marks thinner than a pixel (far away, or seen across) are painted with part of their colour over the
# asphalt's, as a camera would blend them, rather than as 1-pixel anti-aliased lines of full paint.
THICKNESS_PX = np.array([0.15, 0.08, 0.04, 0.015])  # at least this thick (pixels) ...
COVERAGE = (1.0, 0.55, 0.3, 0.15)  # ... gets this share of the paint's colour; thinner: not painted
RUN_QUADS = 16  # at most this many pieces of a strip are filled as one polygon (32 m: no strip folds over itself)


def layer_colors(canvas: Canvas, style: SceneStyle) -> dict[str, Color | None]:
    """Each layer's colour in this scene (None: not drawn)."""
    haze = canvas.hazed
    kerbed = style.kind in ("urban", "suburban")
    return {
        "verge_strip": haze(style.shoulder, 60) if style.sidewalk_m > 0 else None,
        "kerb_strip": haze(shade(style.shoulder, 1.15), 40) if kerbed and style.sidewalk_m > 0 else None,
        "median": haze(style.verge, 80),
        "shoulder": haze(shade(style.asphalt, 1.12), 80),
        "sidewalk": haze(style.shoulder, 60),
        "kerb": haze(shade(style.shoulder, 1.15), 40),
        "junction": haze(style.asphalt, 80),
        "asphalt": haze(style.asphalt, 80),
        "patch_dark": haze(shade(style.asphalt, 0.93), 80),  # version 1's patches: 0.9-1.06 of the asphalt
        "patch_light": haze(shade(style.asphalt, 1.03), 80),
        "seam": haze(shade(style.asphalt, 0.7), 80),
        "bike_lane": haze((150, 88, 78), 80),
        "paint": PAINT,
        "centre_paint": YELLOW_PAINT if style.yellow_left_edge else PAINT,
        "yellow_paint": YELLOW_PAINT,
    }


def draw_network_ground(canvas: Canvas, style: SceneStyle, geometry: NetworkGeometry, pose: EgoPose) -> None:
    """Paint every surface and mark of the network the camera at `pose` sees."""
    colors = layer_colors(canvas, style)
    camera_world = ego_to_world(canvas.centre, pose)
    for layer in LAYER_ORDER:
        color = colors.get(layer)
        if color is None:
            continue
        if layer == "junction":
            for polygon in geometry.junctions:
                canvas.poly(world_to_ego(polygon, pose), color)
        quads = geometry.layers.get(layer)
        if quads is None:
            continue
        paint = layer.endswith("paint")
        polygons = _visible_polygons(canvas, quads, camera_world, PAINT_FAR_M if paint else GROUND_FAR_M, pose,
                                     paint)
        for coverage, group in polygons.items():
            canvas.fill_px(group, mix(colors["asphalt"], color, coverage))


def _visible_polygons(canvas: Canvas, quads: Quads, camera_world: np.ndarray, far_m: float, pose: EgoPose,
                      fade: bool) -> dict[float, list[np.ndarray]]:
    """Pixel polygons of the quads within `far_m` of the camera that can fall inside the image, by the share
    of their colour to paint them with (1; with `fade`, less for pieces thinner than a pixel).

    Runs of up to RUN_QUADS quads of one strip in front of the camera (of one coverage) are joined into one
    polygon (far fewer to fill); quads crossing the near plane are clipped one by one.
    """
    near = np.nonzero(np.linalg.norm(quads.centres - camera_world, axis=1) <= far_m + quads.radii)[0]
    if not len(near):
        return {}
    cam = canvas.to_cam(world_to_ego(quads.points[near], pose))
    z = cam[..., 2]
    ahead = (z >= NEAR_Z_M).all(axis=1)
    px = canvas.project(np.where(z[..., None] >= NEAR_Z_M, cam, 1.0))
    w, h, m = canvas.cam.width, canvas.cam.height, SCREEN_MARGIN_PX
    outside = ((px[..., 0] < -m).all(axis=1) | (px[..., 0] > w + m).all(axis=1)
               | (px[..., 1] < -m).all(axis=1) | (px[..., 1] > h + m).all(axis=1))
    level = _coverage_level(px) if fade else np.zeros(len(px), int)
    shown = ahead & ~outside & (level < len(COVERAGE))
    out: dict[float, list[np.ndarray]] = {}
    for k in np.nonzero(~ahead & (z >= NEAR_Z_M).any(axis=1))[0]:
        clipped = _clip_near(cam[k])
        if len(clipped) >= 3:
            out.setdefault(1.0, []).append(canvas.project(clipped))
    index = np.nonzero(shown)[0]
    if not len(index):
        return out
    # A run breaks where the strip or the coverage changes, a quad in between is not shown, or at RUN_QUADS.
    strip, level = quads.strip[near[index]], level[index]
    joined = (np.diff(near[index]) == 1) & (np.diff(strip) == 0) & (np.diff(level) == 0)
    starts = np.concatenate([[0], np.nonzero(~joined)[0] + 1])
    ends = np.concatenate([starts[1:], [len(index)]])
    for a, b in zip(starts, ends):
        group = out.setdefault(COVERAGE[level[a]], [])
        for c in range(a, b, RUN_QUADS):
            run = px[index[c:min(c + RUN_QUADS, b)]]
            group.append(np.concatenate([run[:, 0], run[-1:, 3], run[-1:, 2], run[::-1, 1]]))
    return out


def _coverage_level(px: np.ndarray) -> np.ndarray:
    """Per pixel quad (K, 4, 2): index into COVERAGE by its thickness (area over its longest side), or
    len(COVERAGE) for pieces too thin to show; thin only counts for pieces at least 2 pixels long."""
    x, y = px[..., 0], px[..., 1]
    area = 0.5 * np.abs((x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y).sum(axis=1))
    longest = np.linalg.norm(px - np.roll(px, -1, axis=1), axis=2).max(axis=1)
    thickness = area / np.maximum(longest, 1e-9)
    level = np.searchsorted(-THICKNESS_PX, -thickness, side="right")
    return np.where(longest < 2.0, 0, level)  # a speck (a far dash) keeps its colour: anti-aliasing blends it
