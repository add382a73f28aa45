"""Drawing primitives for the procedural renderer: 3D polygons in the road frame onto an image.

A `Canvas` holds the three layers a frame is composed from (see `render.py`):
- `img`: the albedo image (RGB uint8) every surface is painted into, far to near (painter's order);
- `glow`: emissive sources (lamps, tail lights, lit windows) that are bloomed and added at the end;
- `light`: extra illumination (street-light pools) multiplied into the night image; None by day.

Polygons are given in road-frame metres (x right, y down, z forward; ground y = 0), clipped
against the camera's near plane, projected with the frame's `PinholeCamera` and filled with
anti-aliased edges at 1/8-pixel precision.

    canvas = Canvas.blank(camera, night=False)
    canvas.poly(np.array([[-1, 0, 5], [1, 0, 5], [1, 0, 9], [-1, 0, 9]]), (90, 90, 95))
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from drivesim.scenario.camera import PinholeCamera

NEAR_Z_M = 0.05  # camera-frame near plane for drawing (labels use 0.1 m; drawing closer is harmless)
SHIFT = 3  # fillPoly fractional bits: vertices at 1/8 pixel
_SCALE = float(1 << SHIFT)
_MAX_PX = 1.0e6  # vertices are clamped here so int32 maths cannot overflow

# Sunlight direction (towards the sun) in the road frame: high, slightly right and behind the camera.
SUN_DIR = np.array([0.35, -1.0, -0.45]) / np.linalg.norm([0.35, -1.0, -0.45])

Color = tuple[float, float, float]


def stable_hash(text: str) -> int:
    """A process-independent hash (Python's `hash` is salted per process)."""
    return zlib.crc32(text.encode("utf-8"))


def hash01(*keys: np.ndarray | int) -> np.ndarray:
    """Uniform [0, 1) floats from integer keys (broadcast), via the splitmix64 finaliser.

    Lets roadside objects be a pure function of (scene seed, slot along the road), so they stay
    put while the ego drives past them, with no random state to carry between frames.
    """
    arrays = np.broadcast_arrays(*[np.asarray(k, dtype=np.int64) for k in keys])
    with np.errstate(over="ignore"):
        x = np.full(arrays[0].shape, 0x9E3779B97F4A7C15, dtype=np.uint64)
        for i, k in enumerate(arrays):
            x ^= k.astype(np.uint64) + np.uint64(0x632BE59BD9B4E019 * (i + 1) & 0xFFFFFFFFFFFFFFFF)
            x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def shade(color: Color, factor: float) -> Color:
    return (color[0] * factor, color[1] * factor, color[2] * factor)


def mix(a: Color, b: Color, w: float) -> Color:
    """(1 - w) * a + w * b."""
    return (a[0] + (b[0] - a[0]) * w, a[1] + (b[1] - a[1]) * w, a[2] + (b[2] - a[2]) * w)


def _clip_near(pts_cam: np.ndarray) -> np.ndarray:
    """Sutherland-Hodgman against the plane z = NEAR_Z_M; (N, 3) -> (M, 3), possibly empty."""
    inside = pts_cam[:, 2] >= NEAR_Z_M
    if inside.all():
        return pts_cam
    if not inside.any():
        return pts_cam[:0]
    out = []
    n = len(pts_cam)
    for i in range(n):
        a, b = pts_cam[i], pts_cam[(i + 1) % n]
        ia, ib = inside[i], inside[(i + 1) % n]
        if ia:
            out.append(a)
        if ia != ib:
            t = (NEAR_Z_M - a[2]) / (b[2] - a[2])
            out.append(a + t * (b - a))
    return np.array(out)


@dataclass
class Canvas:
    cam: PinholeCamera
    img: np.ndarray  # (H, W, 3) uint8 RGB albedo
    glow: np.ndarray  # (H, W, 3) uint8 RGB emissive sources
    light: np.ndarray | None  # (H, W) float32 extra night light, None by day
    night: bool
    haze: Color  # colour distant surfaces fade to
    visibility_m: float  # distance at which surfaces are ~63% haze
    occlude_glow: bool = False  # opaque surfaces also blank the glow layer (lights behind them)

    @classmethod
    def blank(cls, cam: PinholeCamera, night: bool, haze: Color = (180, 190, 200),
              visibility_m: float = 300.0) -> "Canvas":
        h, w = cam.height, cam.width
        return cls(cam=cam, img=np.zeros((h, w, 3), np.uint8), glow=np.zeros((h, w, 3), np.uint8),
                   light=np.zeros((h, w), np.float32) if night else None, night=night, haze=haze,
                   visibility_m=visibility_m)

    # --- geometry --------------------------------------------------------------------------
    def __post_init__(self) -> None:
        # The camera's pose, computed once (PinholeCamera.road_to_camera rebuilds it per call).
        self.centre = self.cam.centre_road
        self._rot_t = self.cam.rotation.T
        self._tan_half_fov = (self.cam.width / 2.0) / self.cam.fx
        self._f = np.array([self.cam.fx, self.cam.fy])
        self._c = np.array([self.cam.cx, self.cam.cy])

    def to_cam(self, pts_road: np.ndarray) -> np.ndarray:
        """Road frame -> camera frame; the same transform as `PinholeCamera.road_to_camera`."""
        return (np.asarray(pts_road, dtype=np.float64) - self.centre) @ self._rot_t

    def sphere_visible(self, centre_road: np.ndarray, radius_m: float) -> bool:
        """False when a bounding sphere is surely outside the view (behind, or beside the frustum)."""
        x, _, z = self.to_cam(np.asarray(centre_road, float)[None])[0]
        if z < NEAR_Z_M - radius_m:
            return False
        # Distance to the side planes of the horizontal frustum, x = +-z * tan(fov / 2).
        norm = math.sqrt(1.0 + self._tan_half_fov ** 2)
        return (abs(x) - z * self._tan_half_fov) / norm < radius_m

    def project(self, pts_cam: np.ndarray) -> np.ndarray:
        """Camera frame (z > 0) -> OpenCV drawing coordinates, clamped.

        The pinhole maths of `PinholeCamera.project` (labels: pixel i spans [i, i+1)), shifted by half
        a pixel because OpenCV puts pixel i's centre at i.
        """
        return np.clip(pts_cam[..., :2] / pts_cam[..., 2:3] * self._f + self._c - 0.5, -_MAX_PX, _MAX_PX)

    def project_poly(self, pts_road: np.ndarray) -> np.ndarray | None:
        """(N, 3) road-frame polygon -> (M, 2) pixel polygon after near-plane clipping, or None."""
        pts = _clip_near(self.to_cam(pts_road))
        if len(pts) < 3:
            return None
        return self.project(pts)

    def px_per_m(self, depth_m: float) -> float:
        """Pixels one metre spans at camera depth `depth_m` (for line widths and levels of detail)."""
        return self.cam.fx / max(depth_m, NEAR_Z_M)

    def depth(self, pt_road: np.ndarray) -> float:
        return float(self.to_cam(np.asarray(pt_road, float)[None])[0, 2])

    def hazed(self, color: Color, distance_m: float) -> Color:
        return mix(color, self.haze, 1.0 - math.exp(-max(distance_m, 0.0) / self.visibility_m))

    # --- filling -----------------------------------------------------------------------------
    def fill_px(self, polys_px: list[np.ndarray], color: Color, layer: np.ndarray | None = None) -> None:
        """Fill pixel polygons (each (M, 2) float) with anti-aliased edges."""
        if not polys_px:
            return
        self._fill_fixed([np.round(p * _SCALE).astype(np.int32) for p in polys_px], color, layer)

    def _fill_fixed(self, pts: list[np.ndarray], color: Color, layer: np.ndarray | None = None) -> None:
        """Fill polygons already in fillPoly's fixed point (int32, SHIFT fractional bits)."""
        target = self.img if layer is None else layer
        cv2.fillPoly(target, pts, _rgb(color), lineType=cv2.LINE_AA, shift=SHIFT)
        if layer is None and self.occlude_glow:
            cv2.fillPoly(self.glow, pts, (0, 0, 0), lineType=cv2.LINE_AA, shift=SHIFT)

    def poly(self, pts_road: np.ndarray, color: Color, glow: Color | None = None) -> np.ndarray | None:
        """Fill one road-frame polygon; with `glow`, also paint it into the glow layer. Returns its pixels."""
        px = self.project_poly(pts_road)
        if px is None:
            return None
        self.fill_px([px], color)
        if glow is not None:
            self.fill_px([px], glow, self.glow)
        return px

    def polys(self, polys_road: np.ndarray, color: Color, glow: Color | None = None) -> None:
        """Fill many (K, N, 3) road-frame polygons of one colour with one fillPoly call."""
        if len(polys_road) == 0:
            return
        cam_pts = self.to_cam(polys_road)
        front = (cam_pts[..., 2] >= NEAR_Z_M).all(axis=1)
        # One rounding for the whole block (the same numbers as polygon by polygon, far fewer calls).
        out = list(np.round(self.project(cam_pts[front]) * _SCALE).astype(np.int32))
        for k in np.nonzero(~front)[0]:  # the few crossing the near plane are clipped one by one
            clipped = _clip_near(cam_pts[k])
            if len(clipped) >= 3:
                out.append(np.round(self.project(clipped) * _SCALE).astype(np.int32))
        if not out:
            return
        self._fill_fixed(out, color)
        if glow is not None:
            self._fill_fixed(out, glow, self.glow)

    def line(self, a_road: np.ndarray, b_road: np.ndarray, width_m: float, color: Color) -> None:
        """A 3D segment drawn as a line whose pixel width follows its depth (limbs, poles, frames)."""
        pts = self.to_cam(np.stack([a_road, b_road]))
        if (pts[:, 2] < NEAR_Z_M).any():
            return
        uv = self.project(pts)
        thick = max(1, int(round(width_m * self.px_per_m(float(pts[:, 2].mean())))))
        p0, p1 = (np.round(uv * _SCALE).astype(np.int64).clip(-2**28, 2**28)).tolist()
        cv2.line(self.img, tuple(p0), tuple(p1), _rgb(color), thick, cv2.LINE_AA, SHIFT)
        if self.occlude_glow:
            cv2.line(self.glow, tuple(p0), tuple(p1), (0, 0, 0), thick, cv2.LINE_AA, SHIFT)

    def disc(self, centre_road: np.ndarray, radius_m: float, color: Color,
             glow: Color | None = None, glow_scale: float = 1.0) -> None:
        """A camera-facing disc (tree crowns, heads, lamp bulbs)."""
        c = self.to_cam(np.asarray(centre_road, float)[None])[0]
        if c[2] < NEAR_Z_M:
            return
        u, v = self.project(c)
        r = radius_m * self.px_per_m(c[2])
        if abs(u) > 4 * self.cam.width + r or abs(v) > 4 * self.cam.height + r:
            return
        centre = (int(round(u * _SCALE)), int(round(v * _SCALE)))
        cv2.circle(self.img, centre, max(1, int(round(r * _SCALE))), _rgb(color), -1, cv2.LINE_AA, SHIFT)
        if self.occlude_glow and glow is None:
            cv2.circle(self.glow, centre, max(1, int(round(r * _SCALE))), (0, 0, 0), -1, cv2.LINE_AA, SHIFT)
        if glow is not None:
            rg = max(1, int(round(r * glow_scale * _SCALE)))
            cv2.circle(self.glow, centre, rg, _rgb(glow), -1, cv2.LINE_AA, SHIFT)

    def add_light(self, pts_road: np.ndarray, amount: float) -> None:
        """Brighten a ground polygon at night (street-light pools); no-op by day."""
        if self.light is None:
            return
        px = self.project_poly(pts_road)
        if px is not None:
            cv2.fillPoly(self.light, [np.round(px * _SCALE).astype(np.int32)], float(amount),
                         lineType=cv2.LINE_8, shift=SHIFT)


# --- solids --------------------------------------------------------------------------------
# Corner i of a hexahedron: bit 0 = front (+u), bit 1 = right (+v), bit 2 = top, as in
# drivesim.scenario.boxes.cuboid_corners. Side faces list bottom-a, bottom-b, top-b, top-a so a
# sub-rectangle (s along a->b, r bottom->top) can be placed on them (windows, lights).
FACES: dict[str, tuple[int, int, int, int]] = {
    "back": (0, 2, 6, 4), "front": (1, 3, 7, 5), "left": (0, 1, 5, 4), "right": (2, 3, 7, 6),
    "top": (4, 5, 7, 6),
}


@dataclass(frozen=True)
class Pose:
    """An agent's local frame on the road: u forward, v right, h up (metres), origin at the bottom centre."""

    origin: np.ndarray  # (3,) road frame
    fwd: np.ndarray
    right: np.ndarray

    @classmethod
    def on_road(cls, x_m: float, z_m: float, heading_rad: float, y_m: float = 0.0) -> "Pose":
        """Standing at (x_m, z_m), its ground `y_m` below the camera's ground (0 on a flat road), yawed
        `heading_rad` (0 along z, + towards +x)."""
        return cls(origin=np.array([x_m, y_m, z_m]),
                   fwd=np.array([math.sin(heading_rad), 0.0, math.cos(heading_rad)]),
                   right=np.array([math.cos(heading_rad), 0.0, -math.sin(heading_rad)]))

    def to_road(self, uvh: np.ndarray) -> np.ndarray:
        uvh = np.asarray(uvh, float)
        return (self.origin + uvh[..., 0:1] * self.fwd + uvh[..., 1:2] * self.right
                - uvh[..., 2:3] * np.array([0.0, 1.0, 0.0]))


def hexahedron(pose: Pose, u: tuple[float, float], v: tuple[float, float], h: tuple[float, float],
               top_u: tuple[float, float] | None = None, top_v: tuple[float, float] | None = None) -> np.ndarray:
    """(8, 3) road-frame corners of a box in the pose's frame; `top_*` taper the top (cabins, hoods)."""
    tu, tv = top_u or u, top_v or v
    local = np.array([[(tu if i & 4 else u)[i & 1], (tv if i & 4 else v)[(i >> 1) & 1], h[(i >> 2) & 1]]
                      for i in range(8)])
    return pose.to_road(local)


def face_rect(corners: np.ndarray, face: str, s: tuple[float, float], r: tuple[float, float]) -> np.ndarray:
    """(4, 3) sub-rectangle of a side face: s along the face's bottom edge, r from bottom to top, both 0..1."""
    a, b, tb, ta = (corners[i] for i in FACES[face])

    def at(si: float, ri: float) -> np.ndarray:
        bottom, top = a + (b - a) * si, ta + (tb - ta) * si
        return bottom + (top - bottom) * ri

    return np.stack([at(s[0], r[0]), at(s[1], r[0]), at(s[1], r[1]), at(s[0], r[1])])


_FACE_NAMES = tuple(FACES)
_FACE_IDX = np.array([FACES[n] for n in _FACE_NAMES])  # (5, 4)


def visible_faces(canvas: Canvas, corners: np.ndarray, faces: tuple[str, ...] = _FACE_NAMES) -> dict[str, float]:
    """Faces of a convex solid facing the camera -> their sunlight shading factor (Lambert + ambient)."""
    q = corners[_FACE_IDX]  # (5, 4, 3)
    a, b, c = q[:, 1] - q[:, 0], q[:, 2] - q[:, 0], q[:, 3] - q[:, 0]
    normal = _cross(a, b) + _cross(b, c)  # a quad's area-weighted normal (robust for trapezoids)
    centre = q.mean(axis=1)
    outward = np.sign(np.einsum("fk,fk->f", normal, centre - corners.mean(axis=0)))
    normal = normal * np.where(outward == 0, 1.0, outward)[:, None]
    facing = np.einsum("fk,fk->f", normal, canvas.centre - centre) > 1e-9
    lambert = normal @ SUN_DIR / (np.linalg.norm(normal, axis=1) + 1e-12)
    return {name: 0.55 + 0.5 * max(0.0, float(lambert[i]))
            for i, name in enumerate(_FACE_NAMES) if facing[i] and name in faces}


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cross product of (N, 3) arrays (np.cross is slow for small inputs)."""
    return np.stack([a[:, 1] * b[:, 2] - a[:, 2] * b[:, 1], a[:, 2] * b[:, 0] - a[:, 0] * b[:, 2],
                     a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]], axis=1)


def draw_solid(canvas: Canvas, corners: np.ndarray, color: Color, distance_m: float,
               faces: tuple[str, ...] = _FACE_NAMES) -> dict[str, float]:
    """Paint the visible faces of a convex hexahedron, shaded and hazed; returns the visible faces."""
    vis = visible_faces(canvas, corners, faces)
    cam_pts = canvas.to_cam(corners)
    if (cam_pts[:, 2] >= NEAR_Z_M).all():  # the usual case: project the 8 corners once
        uv = canvas.project(cam_pts)
        for name, k in vis.items():
            canvas.fill_px([uv[list(FACES[name])]], canvas.hazed(shade(color, k), distance_m))
    else:
        for name, k in vis.items():
            canvas.poly(corners[list(FACES[name])], canvas.hazed(shade(color, k), distance_m))
    return vis


def _rgb(color: Color) -> tuple[float, float, float]:
    return (min(255.0, max(0.0, color[0])), min(255.0, max(0.0, color[1])), min(255.0, max(0.0, color[2])))
