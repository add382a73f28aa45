"""Procedural dashcam frames from the scenario engine's state, drawn with OpenCV.

The frame is drawn with the engine's own camera (`engine.camera.scaled(width, height)`), so every
agent sits exactly where its label's box says (boxes are in the scenario camera's pixels; scale
them by width / camera.width). Layers, back to front:
1. backdrop (cached per scene): sky with a horizon that follows the camera pitch, distant
   skyline / tree line / hills, the ground's base colour fading into haze;
2. ground: on version 1's straight road (`is_straight_road`) verges, asphalt, patches, crossings, lane
   dashes (flowing with `ego_travel_m`) and edge lines, exactly as the trained model saw them
   (`scenery.py`); on any other road the network's lane surfaces, junctions and road marks seen from the
   ego's world pose (`network_ground.py`);
3. roadside objects (`scenery.py`, or along the network's roads `network_scenery.py`) and agents
   (`actors.py`, at their pose seen from the camera) together, far to near (painter's order);
4. night: the image is multiplied by a light map (ambient + the ego's headlight beams + street-light
   pools) and emissive sources (tail lights, headlights, lamps, lit windows) are added with a bloom;
5. camera: vignette and a seeded sensor grain.
Everything is a pure function of (scenario, seed, t, size): rendering is deterministic.

    python -m drivesim.render.frames scenarios/night_merge.yaml -o /tmp/frame.png --t 2.0 --size 256x512
    python -m drivesim.render.frames scenarios/curve_oncoming.yaml -o /tmp/curve.png --t 6.5
"""

from __future__ import annotations

import argparse
import math
from functools import lru_cache
from typing import TYPE_CHECKING

import cv2
import numpy as np

from drivesim.render.actors import draw_agent
from drivesim.render.canvas import Canvas, hash01, mix
from drivesim.render.network_geometry import network_geometry
from drivesim.render.network_ground import draw_network_ground
from drivesim.render.network_scenery import network_roadside_items
from drivesim.render.scenery import RoadGeometry, SceneStyle, draw_ground, roadside_items, scene_style
from drivesim.scenario.camera import PinholeCamera
from drivesim.scenario.network import is_straight_road

if TYPE_CHECKING:
    from drivesim.scenario.engine import ScenarioEngine

NIGHT_AMBIENT = 0.16  # share of daylight that lights the scene at night
DAY_VISIBILITY_M, NIGHT_VISIBILITY_M = 450.0, 160.0
SKY_DAY = ((78, 132, 205), (190, 208, 228))  # (zenith, horizon)
SKY_NIGHT = ((3, 4, 10), (14, 16, 28))
CITY_GLOW = (46, 34, 28)  # orange light pollution at the horizon of built-up scenes
HAZE_DAY = (188, 200, 215)
HAZE_NIGHT = (30, 32, 42)
HEADLIGHT_GAIN = 0.85  # peak extra light of the ego's beams on the road, in units of daylight
GRAIN_SIGMA = 3.0  # sensor noise, in 8-bit levels


def render_frame(engine: "ScenarioEngine", t: float, width: int, height: int) -> np.ndarray:
    """The frame at time t as an (height, width, 3) RGB uint8 image."""
    cam = engine.camera.scaled(width, height)
    seed = int(engine.seed)
    style = scene_style(seed)
    time_of_day, _ = engine.environment_at(t)
    night = time_of_day == "night"

    canvas = Canvas.blank(cam, night=night, haze=HAZE_NIGHT if night else HAZE_DAY,
                          visibility_m=NIGHT_VISIBILITY_M if night else DAY_VISIBILITY_M)
    canvas.img[:] = _backdrop(cam, style, night)
    if is_straight_road(engine.scenario):  # version 1's road, drawn as the trained model saw it
        road = RoadGeometry.from_state(engine.road_state(t))
        draw_ground(canvas, style, road)
        canvas.occlude_glow = night  # from here on, surfaces hide the lights behind them
        items = roadside_items(canvas, style, road)
    else:  # any other road: the network around the ego, seen from its pose
        geometry = network_geometry(engine.world.network, style.sidewalk_m, style.seed)
        pose = engine.ego_pose(t)
        draw_network_ground(canvas, style, geometry, pose)
        canvas.occlude_glow = night
        items = network_roadside_items(canvas, style, geometry, pose)
    for agent in engine.agent_states(t):
        centre = canvas.to_cam(np.array([[agent.x_m, agent.y_m - agent.size_m[2] / 2, agent.z_m]]))[0]
        items.append((float(np.linalg.norm(centre)), lambda c, a=agent: draw_agent(c, a, t)))
    for _distance, draw in sorted(items, key=lambda it: -it[0]):
        draw(canvas)

    image = _expose(canvas) if night else canvas.img
    frame_key = int(round(t * 1000.0))
    return _camera_effects(image, seed, frame_key)


# --- backdrop --------------------------------------------------------------------------------

def _backdrop(cam: PinholeCamera, style: SceneStyle, night: bool) -> np.ndarray:
    return _backdrop_cached(cam.width, cam.height, round(cam.fx, 6), round(cam.mount_height_m, 6),
                            round(cam.pitch_deg, 6), style, night)


@lru_cache(maxsize=16)
def _backdrop_cached(width: int, height: int, fx: float, mount: float, pitch: float, style: SceneStyle,
                     night: bool) -> np.ndarray:
    cam = PinholeCamera(width=width, height=height, fx=fx, fy=fx, cx=width / 2, cy=height / 2,
                        mount_height_m=mount, pitch_deg=pitch)
    horizon = cam.horizon_v()
    rows = np.arange(height, dtype=np.float64) + 0.5
    img = np.zeros((height, width, 3), np.float32)

    # Sky: zenith colour high up, horizon colour (and city glow) down at the horizon.
    zenith, low = SKY_NIGHT if night else SKY_DAY
    if night and style.kind in ("urban", "suburban"):
        low = mix(low, CITY_GLOW, 0.8)
    w = np.clip((rows - (horizon - 0.9 * height)) / (0.9 * height), 0.0, 1.0) ** 1.5
    sky = np.array(zenith)[None] * (1 - w[:, None]) + np.array(low)[None] * w[:, None]
    img[:] = sky[:, None, :]
    if night:
        img = img / NIGHT_AMBIENT  # the light map multiplies it back down
        _stars(img, style, horizon)
    else:
        _clouds(img, style, horizon)

    # Ground: the verge colour, fading into haze with the distance of each row's ground point.
    ground_d = _ground_distance(cam, rows)
    haze, vis = (HAZE_NIGHT, NIGHT_VISIBILITY_M) if night else (HAZE_DAY, DAY_VISIBILITY_M)
    k = 1.0 - np.exp(-ground_d / vis)
    ground = np.array(style.verge)[None] * (1 - k[:, None]) + np.array(haze)[None] * k[:, None]
    below = np.isfinite(ground_d)
    img[below] = ground[below][:, None, :]
    _silhouettes(img, style, horizon, night)
    return np.clip(img, 0, 255).astype(np.uint8)


def _ground_distance(cam: PinholeCamera, rows: np.ndarray) -> np.ndarray:
    """Forward distance of the ground point seen at each image row (inf above the horizon)."""
    p = math.radians(cam.pitch_deg)
    ray_y = (rows - cam.cy) / cam.fy  # camera frame ray (0, ray_y, 1)
    # Road frame: y_road = cos(p) * ray_y + sin(p); z_road = -sin(p) * ray_y + cos(p).
    down = math.cos(p) * ray_y + math.sin(p)
    fwd = -math.sin(p) * ray_y + math.cos(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(down > 1e-6, cam.mount_height_m * fwd / down, np.inf)
    return z


def _clouds(img: np.ndarray, style: SceneStyle, horizon: float) -> None:
    h, w = img.shape[:2]
    rng = np.random.default_rng([style.seed, 7600])
    coarse = rng.random((6, 12)).astype(np.float32)
    field = cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)
    fine = cv2.resize(rng.random((12, 24)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    cover = 0.35 + 0.35 * float(hash01(style.seed, 7601)[()])
    amount = np.clip((0.7 * field + 0.3 * fine - (1 - cover)) * 2.5, 0, 1)
    rows = np.arange(h)[:, None]
    amount *= np.clip((horizon - rows) / max(0.15 * h, 1.0), 0, 1)  # thin out towards the horizon
    img += (np.array([238, 240, 245], np.float32) - img) * (0.75 * amount[..., None])


def _stars(img: np.ndarray, style: SceneStyle, horizon: float) -> None:
    if style.kind in ("urban",):
        return  # light pollution
    h, w = img.shape[:2]
    rng = np.random.default_rng([style.seed, 7700])
    n = int(w * h / 900)
    ys, xs = rng.integers(0, max(1, int(horizon) - 2), n), rng.integers(0, w, n)
    if horizon > 2:
        img[ys, xs] = np.clip(img[ys, xs] + rng.uniform(60, 200, (n, 1)) / NIGHT_AMBIENT, 0, 255 / NIGHT_AMBIENT)


def _silhouettes(img: np.ndarray, style: SceneStyle, horizon: float, night: bool) -> None:
    """Distant skyline (urban), tree line or hills just above the horizon."""
    h, w = img.shape[:2]
    if not -0.2 * h < horizon < 1.2 * h:
        return
    rng = np.random.default_rng([style.seed, 7800])
    if style.kind == "urban":
        edges = np.sort(rng.integers(0, w, max(4, w // 12)))
        tops = np.zeros(w)
        for a, b in zip(np.concatenate([[0], edges]), np.concatenate([edges, [w]])):
            tops[a:b] = rng.uniform(0.02, 0.12) * h
        color = (58, 60, 72) if not night else (12, 12, 16)
    else:
        base = cv2.resize(rng.random((1, 8)).astype(np.float32), (w, 1), interpolation=cv2.INTER_CUBIC)[0]
        bumps = cv2.resize(rng.random((1, max(8, w // 6))).astype(np.float32), (w, 1),
                           interpolation=cv2.INTER_LINEAR)[0]
        hills = 0.06 if style.kind in ("rural", "highway") else 0.03
        tops = (hills * base + 0.015 * bumps) * h
        color = (95, 112, 100) if not night else (8, 9, 12)
    if night:
        color = tuple(c / NIGHT_AMBIENT for c in color)
    top_rows = horizon - tops
    rows = np.arange(h)[:, None]
    mask = (rows >= top_rows[None, :]) & (rows < horizon + 0.5)
    img[mask] = color
    if style.kind == "urban" and night:  # a few lit windows in the distant skyline
        lit = mask & (rng.random((h, w)) < 0.03)
        img[lit] = np.array([200, 170, 110]) / NIGHT_AMBIENT


# --- night light -----------------------------------------------------------------------------

@lru_cache(maxsize=16)
def _headlight_map(width: int, height: int, fx: float, mount: float, pitch: float) -> np.ndarray:
    """(H, W) light the ego's low beams add: two cones on the road and whatever stands in them."""
    cam = PinholeCamera(width=width, height=height, fx=fx, fy=fx, cx=width / 2, cy=height / 2,
                        mount_height_m=mount, pitch_deg=pitch)
    u = (np.arange(width) + 0.5 - cam.cx) / cam.fx
    v = (np.arange(height) + 0.5 - cam.cy) / cam.fy
    rays = np.stack(np.broadcast_arrays(u[None, :], v[:, None], np.ones((height, width))), axis=-1)
    rays_road = rays @ cam.rotation  # camera-frame directions -> road frame
    down, fwd = rays_road[..., 1], rays_road[..., 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        z_ground = np.where(down > 1e-6, mount * fwd / down, np.inf)
    z = np.minimum(z_ground, 35.0)  # above the ground: assume a surface standing ~35 m ahead
    scale = z / np.maximum(fwd, 1e-6)
    x = rays_road[..., 0] * scale
    above_ground = np.clip(-(rays_road[..., 1] * scale - mount), 0.0, None)  # height of the lit point
    beams = sum(np.exp(-(((x - xb) / (0.5 + 0.2 * z)) ** 2)) for xb in (-0.7, 0.7))
    reach = np.clip((z - 1.5) / 4.0, 0, 1) * np.exp(-z / 28.0)
    light = HEADLIGHT_GAIN * beams * reach * np.exp(-above_ground / 1.6)
    return np.where(fwd > 0, light, 0.0).astype(np.float32)


def _expose(canvas: Canvas) -> np.ndarray:
    """Night composition: albedo x (ambient + headlights + lamp pools) + emissive glow with bloom."""
    cam = canvas.cam
    h, w = cam.height, cam.width
    light = _headlight_map(w, h, round(cam.fx, 6), round(cam.mount_height_m, 6), round(cam.pitch_deg, 6))
    pools = canvas.light
    if pools is not None and pools.any():
        k = max(3, int(0.03 * w) | 1)
        pools = cv2.GaussianBlur(pools, (k, k), 0)
        light = light + pools
    lit = canvas.img.astype(np.float32) * (NIGHT_AMBIENT + light)[..., None]
    glow = canvas.glow.astype(np.float32)
    if glow.any():
        sigma = max(1.0, 0.012 * w)
        bloom = cv2.GaussianBlur(glow, (0, 0), sigma) * 2.0 + cv2.GaussianBlur(glow, (0, 0), 3 * sigma) * 1.5
        lit += glow + bloom
    return np.clip(lit, 0, 255).astype(np.uint8)


# --- camera effects --------------------------------------------------------------------------

@lru_cache(maxsize=16)
def _vignette(width: int, height: int) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    r2 = ((xx - width / 2) / (width / 2)) ** 2 + ((yy - height / 2) / (height / 2)) ** 2
    return (1.0 - 0.12 * r2)[..., None].astype(np.float32)


@lru_cache(maxsize=8)
def _grain_tile(width: int, height: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 7900])
    return rng.normal(0.0, GRAIN_SIGMA, (height + 16, width + 16, 1)).astype(np.float32)


def _camera_effects(image: np.ndarray, seed: int, frame_key: int) -> np.ndarray:
    h, w = image.shape[:2]
    tile = _grain_tile(w, h, seed)
    dy, dx = (int(v * 16) for v in hash01(seed, 7901, frame_key, np.arange(2)))  # grain moves frame to frame
    out = image.astype(np.float32) * _vignette(w, h) + tile[dy:dy + h, dx:dx + w]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    """Render one frame of a scenario to a PNG (a quick look at what training data looks like)."""
    from drivesim.scenario.engine import ScenarioEngine
    from drivesim.scenario.loader import load_scenario

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("scenario")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--t", type=float, default=0.0)
    p.add_argument("--size", default="256x512", help="HxW")
    args = p.parse_args(argv)
    h, w = (int(v) for v in args.size.lower().split("x"))
    frame = render_frame(ScenarioEngine(load_scenario(args.scenario)), args.t, w, h)
    cv2.imwrite(args.output, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
