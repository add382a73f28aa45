"""Label drawing shared by the preview, overlay videos and dataset mosaics: boxes and lane lines.

Boxes are drawn in their class colour with an "id type" caption; a box at least half
occluded (Box.occlusion >= DASHED_FROM_OCCLUSION) is drawn dashed. Lane lines
(drivesim/scenario/lane_labels.py) are drawn by type: solid lines continuous, dashed lines dashed,
road edges thicker in their own colour.

    from drivesim.draw.overlay import draw_boxes, draw_lane_lines
    shown = draw_boxes(frame_rgb, frame_conditions.boxes, scale=(w / 1024, h / 512))
    shown = draw_lane_lines(shown, lane_lines, scale=(w / 1024, h / 512))
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from drivesim.scenario.labels import Box
from drivesim.scenario.lane_labels import LaneLine

# RGB, one per agent type; chosen to stay apart from each other by day and by night.
CLASS_COLORS: dict[str, tuple[int, int, int]] = {
    "car": (0, 200, 255),
    "truck": (255, 160, 0),
    "bus": (255, 220, 0),
    "pedestrian": (255, 60, 120),
    "cyclist": (80, 230, 80),
    "motorcycle": (190, 110, 255),
}
FALLBACK_COLOR = (230, 230, 230)
DASHED_FROM_OCCLUSION = 0.5
# RGB per lane line type: away from the class colours and from the white and yellow paint under them.
LANE_COLORS: dict[str, tuple[int, int, int]] = {"solid": (170, 255, 0), "dashed": (170, 255, 0),
                                                "edge": (255, 50, 50)}
LANE_DASH_PX = (14, 10)  # drawn, skipped: dashed lines are dashed in the picture, whatever their depth
_SUBPIXEL_BITS = 4  # cv2 draws at 1/16 px, so lines keep the labels' sub-pixel positions


def class_color(kind: str) -> tuple[int, int, int]:
    return CLASS_COLORS.get(kind, FALLBACK_COLOR)


def draw_boxes(image_rgb: np.ndarray, boxes: Sequence[Box], scale: tuple[float, float] = (1.0, 1.0),
               captions: bool = True, caption_min_height_px: float = 0.0) -> np.ndarray:
    """A copy of `image_rgb` (H, W, 3 uint8) with the boxes drawn; `scale` = (sx, sy) maps label
    pixels to this image's pixels. Far boxes are drawn first so near captions stay on top.
    Captions are skipped for boxes drawn lower than `caption_min_height_px` (declutters far traffic)."""
    out = np.ascontiguousarray(image_rgb, dtype=np.uint8).copy()
    h, w = out.shape[:2]
    thick = max(1, round(min(h, w) / 300))
    font_scale = float(np.clip(min(h, w) / 900, 0.3, 0.8))
    sx, sy = scale
    for box in sorted(boxes, key=lambda b: -b.distance_m):
        x0, y0, x1, y1 = box.bbox_xyxy
        p0 = (int(round(x0 * sx)), int(round(y0 * sy)))
        p1 = (int(round(x1 * sx)), int(round(y1 * sy)))
        color = class_color(box.type)
        if box.occlusion >= DASHED_FROM_OCCLUSION:
            _dashed_rect(out, p0, p1, color, thick)
        else:
            cv2.rectangle(out, p0, p1, color, thick)  # axis-aligned: crisp, no anti-aliasing
        if captions and p1[1] - p0[1] >= caption_min_height_px:
            _caption(out, f"{box.track_id} {box.type}", p0, p1, color, font_scale)
    return out


def _caption(img: np.ndarray, text: str, p0: tuple[int, int], p1: tuple[int, int],
             color: tuple[int, int, int], font_scale: float) -> None:
    """A filled label above the box (inside it when the box touches the top edge)."""
    font = cv2.FONT_HERSHEY_SIMPLEX
    (tw, th), base = cv2.getTextSize(text, font, font_scale, 1)
    x = int(np.clip(p0[0], 0, max(0, img.shape[1] - tw - 4)))
    y_top = p0[1] - th - base - 3
    if y_top < 0:
        y_top = p0[1]
    cv2.rectangle(img, (x, y_top), (x + tw + 4, y_top + th + base + 3), color, -1)
    ink = (0, 0, 0) if sum(color) > 380 else (255, 255, 255)
    cv2.putText(img, text, (x + 2, y_top + th + 1), font, font_scale, ink, 1, cv2.LINE_AA)


def _dashed_rect(img: np.ndarray, p0: tuple[int, int], p1: tuple[int, int],
                 color: tuple[int, int, int], thick: int, dash: int = 7) -> None:
    corners = [p0, (p1[0], p0[1]), p1, (p0[0], p1[1]), p0]
    for a, b in zip(corners[:-1], corners[1:]):
        length = max(abs(b[0] - a[0]), abs(b[1] - a[1]))
        for s in range(0, length, 2 * dash):
            e = min(s + dash, length)
            f0, f1 = s / max(length, 1), e / max(length, 1)
            q0 = (round(a[0] + (b[0] - a[0]) * f0), round(a[1] + (b[1] - a[1]) * f0))
            q1 = (round(a[0] + (b[0] - a[0]) * f1), round(a[1] + (b[1] - a[1]) * f1))
            cv2.line(img, q0, q1, color, thick)


def draw_lane_lines(image_rgb: np.ndarray, lines: Sequence[LaneLine],
                    scale: tuple[float, float] = (1.0, 1.0)) -> np.ndarray:
    """A copy of `image_rgb` (H, W, 3 uint8) with the lane lines drawn over it by type (LANE_COLORS);
    `scale` = (sx, sy) maps label pixels to this image's pixels. Edges are drawn twice as thick."""
    out = np.ascontiguousarray(image_rgb, dtype=np.uint8).copy()
    thick = max(1, round(min(out.shape[:2]) / 300))
    for line in lines:
        uv = np.asarray(line.uv, dtype=np.float64) * np.array(scale)
        color = LANE_COLORS.get(line.type, FALLBACK_COLOR)
        pieces = _dashes(uv, *LANE_DASH_PX) if line.type == "dashed" else [uv]
        fixed = [np.round(p * (1 << _SUBPIXEL_BITS)).astype(np.int32) for p in pieces if len(p) >= 2]
        if fixed:
            cv2.polylines(out, fixed, False, color, thick * (2 if line.type == "edge" else 1), cv2.LINE_AA,
                          _SUBPIXEL_BITS)
    return out


def _dashes(uv: np.ndarray, on: float, off: float) -> list[np.ndarray]:
    """The drawn pieces of a pixel polyline dashed `on` px, `off` px along its length."""
    steps = np.linalg.norm(np.diff(uv, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(steps)])
    pieces = []
    for start in np.arange(0.0, arc[-1], on + off):
        end = min(start + on, arc[-1])
        inside = (arc > start) & (arc < end)
        ends = [np.array([np.interp(a, arc, uv[:, 0]), np.interp(a, arc, uv[:, 1])]) for a in (start, end)]
        pieces.append(np.vstack([ends[0], uv[inside], ends[1]]))
    return pieces
