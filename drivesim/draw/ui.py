"""The preview's drawing kit: its colours and fonts, text labels that keep clear of each other, badges,
and footprints with heading arrows (shared by the preview's layout and its two bird's-eye views).

    from drivesim.draw.ui import footprint, place_label
    placed = []
    place_label(image, "lead", (40, 60), (0, 200, 255), placed)  # a second label near it moves out of the way
    footprint(image, corners_px, (0, 200, 255), filled=True, arrow=(tail_px, head_px))
"""

from __future__ import annotations

import cv2
import numpy as np

UI_BG = (22, 24, 29)
UI_TEXT = (235, 237, 240)
UI_DIM = (150, 155, 165)
PANEL_BG = (30, 33, 38)

FONT = cv2.FONT_HERSHEY_SIMPLEX
FONT_TITLE = cv2.FONT_HERSHEY_DUPLEX
SUBPIXEL = 16  # cv2's shift=4: polylines keep sub-pixel positions


def place_label(img: np.ndarray, text: str, at: tuple[int, int], color: tuple[int, int, int],
                placed: list[tuple[int, int, int, int]]) -> None:
    """Write `text` near `at` (baseline left), moved up or down to stay clear of earlier labels."""
    (tw, th), _ = cv2.getTextSize(text, FONT, 0.45, 1)
    x = int(np.clip(at[0], 2, max(2, img.shape[1] - tw - 3)))
    for dy in (0, 14, -14, 28, -28, 42, -42, 56):
        y = at[1] + dy
        rect = (x, y - th - 2, x + tw, y + 3)
        if all(rect[2] < r[0] or rect[0] > r[2] or rect[3] < r[1] or rect[1] > r[3] for r in placed):
            break
    placed.append(rect)
    cv2.rectangle(img, (rect[0] - 2, rect[1]), (rect[2] + 2, rect[3]), PANEL_BG, -1)
    cv2.putText(img, text, (x, y), FONT, 0.45, color, 1, cv2.LINE_AA)


def badge(img: np.ndarray, text: str, at: tuple[int, int]) -> None:
    x, y = at
    cv2.circle(img, (x + 11, y + 11), 12, (250, 250, 250), -1, cv2.LINE_AA)
    cv2.putText(img, text, (x + 5, y + 17), FONT, 0.55, (20, 20, 20), 2, cv2.LINE_AA)


def dashed_h(img: np.ndarray, start: tuple[int, int], length: int, color: tuple[int, int, int]) -> None:
    for s in range(0, length, 10):
        cv2.line(img, (start[0] + s, start[1]), (start[0] + min(s + 5, length), start[1]), color, 2)


def polyline(img: np.ndarray, points_px: np.ndarray, color: tuple[int, int, int], thickness: int = 1,
             closed: bool = False) -> None:
    """An anti-aliased polyline at sub-pixel positions ((n, 2) pixels)."""
    pts = np.round(np.clip(points_px, -1e5, 1e5) * SUBPIXEL).astype(np.int32)
    cv2.polylines(img, [pts], closed, color, thickness, cv2.LINE_AA, shift=4)


def footprint(img: np.ndarray, corners_px: np.ndarray, color: tuple[int, int, int], filled: bool,
              arrow: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """A road user's footprint ((4, 2) pixel corners), filled or outlined, with an arrow along its heading
    (`arrow`: tail and head in pixels)."""
    pts = np.round(np.clip(corners_px, -1e5, 1e5) * SUBPIXEL).astype(np.int32)
    if filled:
        cv2.fillPoly(img, [pts], color, cv2.LINE_AA, shift=4)
    else:
        cv2.polylines(img, [pts], True, color, 1, cv2.LINE_AA, shift=4)
    if arrow is not None:
        tail, head = (tuple(int(v) for v in np.round(np.clip(p, -1e5, 1e5) * SUBPIXEL)) for p in arrow)
        length = float(np.linalg.norm(np.subtract(arrow[1], arrow[0])))
        cv2.arrowedLine(img, tail, head, color if not filled else (245, 245, 245), 1, cv2.LINE_AA, shift=4,
                        tipLength=min(0.5, 6.0 / max(length, 1.0)))
