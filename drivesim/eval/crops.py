"""Box crops for the controllability detector: which labels count as visible, square crops with
context around a box, and background boxes placed away from every label.

A road user "is visible" when the camera sees most of it and it is big enough to recognise:
occlusion <= 0.3, truncation <= 0.5 (most of it inside the image), box at least 14 px tall and
7 px wide at a 512 px wide camera (scaled with the width; road users on foot or on two wheels are
about a third as wide as tall). Crops are square (the box's longer side plus a context margin on
every side, so aspect ratio and shape survive the resize), edge-replicated where they leave the
image, and resized to CROP_SIZE.

    python -c "import numpy as np; from drivesim.eval.crops import square_crop; \
print(square_crop(np.zeros((256, 512, 3), np.uint8), (100, 120, 140, 150)).shape)"
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from drivesim.scenario.labels import Box, FrameConditions

__all__ = ["CLASSES", "CLASS_OF_TYPE", "CROP_SIZE", "CONTEXT", "MIN_HEIGHT_PX", "MIN_WIDTH_PX", "MAX_OCCLUSION",
           "MAX_TRUNCATION", "DISTANCE_BANDS", "HIDDEN_GROUPS", "is_visible", "visible_boxes", "hidden_group",
           "distance_band", "square_crop",
           "background_boxes", "frame_crops"]

CLASSES = ("background", "vehicle", "two_wheeler", "pedestrian")
CLASS_OF_TYPE = {"car": 1, "truck": 1, "bus": 1, "motorcycle": 2, "cyclist": 2, "pedestrian": 3}
CROP_SIZE = 32  # pixels of the square crop the classifier sees
CONTEXT = 0.25  # margin on each side, as a share of the box's longer side
REFERENCE_WIDTH = 512  # the eval camera's width; the pixel thresholds below are for it
MIN_HEIGHT_PX, MIN_WIDTH_PX = 14.0, 7.0
MAX_OCCLUSION, MAX_TRUNCATION = 0.3, 0.5
DISTANCE_BANDS = (("<15 m", 0.0, 15.0), ("15-30 m", 15.0, 30.0), (">30 m", 30.0, float("inf")))


def is_visible(box: Box, width: int) -> bool:
    """Mostly visible and big enough at a camera `width` pixels wide (thresholds scale with it)."""
    scale = width / REFERENCE_WIDTH
    x0, y0, x1, y1 = box.bbox_xyxy
    return (box.occlusion <= MAX_OCCLUSION and box.truncation <= MAX_TRUNCATION
            and y1 - y0 >= MIN_HEIGHT_PX * scale and x1 - x0 >= MIN_WIDTH_PX * scale)


def visible_boxes(conditions: FrameConditions, width: int) -> list[Box]:
    return [b for b in conditions.boxes if is_visible(b, width)]


HIDDEN_GROUPS = ("occluded (> 0.3)", "truncated (> 0.5)", "small (< 14 px tall)")


def hidden_group(box: Box, width: int) -> str | None:
    """Why a labelled box is left out of the visible set (the first reason of HIDDEN_GROUPS); None when
    it is visible. Exports ship these boxes too: the eval measures what the frames show under them."""
    if is_visible(box, width):
        return None
    if box.occlusion > MAX_OCCLUSION:
        return HIDDEN_GROUPS[0]
    if box.truncation > MAX_TRUNCATION:
        return HIDDEN_GROUPS[1]
    return HIDDEN_GROUPS[2]


def distance_band(box: Box) -> str:
    for name, low, high in DISTANCE_BANDS:
        if low <= box.distance_m < high:
            return name
    return DISTANCE_BANDS[-1][0]


def square_crop(image: np.ndarray, bbox: Sequence[float], size: int = CROP_SIZE,
                context: float = CONTEXT) -> np.ndarray:
    """The (size, size, 3) crop centred on `bbox` (x0, y0, x1, y1): side = longer side x (1 + 2 context)."""
    x0, y0, x1, y1 = (float(v) for v in bbox)
    side = max(x1 - x0, y1 - y0, 1.0) * (1 + 2 * context)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
    n = max(int(round(side)), 1)
    h, w = image.shape[:2]
    pad = max(0, -left, -top, left + n - w, top + n - h)
    if pad:  # the square leaves the image: repeat the edge pixels (the same for road users and background)
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        left, top = left + pad, top + pad
    patch = image[top:top + n, left:left + n]
    mode = cv2.INTER_AREA if n > size else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(patch), (size, size), interpolation=mode)


def _intersects(box: tuple[float, float, float, float], others: Sequence[tuple[float, ...]], gap: float) -> bool:
    x0, y0, x1, y1 = box
    return any(x0 < b[2] + gap and b[0] - gap < x1 and y0 < b[3] + gap and b[1] - gap < y1 for b in others)


def background_boxes(conditions: FrameConditions, width: int, height: int, count: int,
                     rng: np.random.Generator, tries: int = 30) -> list[tuple[float, float, float, float]]:
    """Up to `count` boxes (they may overlap each other) that overlap no labelled box (any box, visible or
    not, 2 px apart), inside
    the image. Their shapes are those of the frame's visible boxes (else of a typical car or person at
    10-30 m), so a classifier cannot tell them apart by size; half keep the source box's bottom row
    (road and verge beside it: the hard negatives), half are placed anywhere below the top fifth."""
    labelled = [b.bbox_xyxy for b in conditions.boxes]
    scale = width / REFERENCE_WIDTH
    shapes = [(b.bbox_xyxy[2] - b.bbox_xyxy[0], b.bbox_xyxy[3] - b.bbox_xyxy[1], b.bbox_xyxy[3])
              for b in visible_boxes(conditions, width)]
    out: list[tuple[float, float, float, float]] = []
    for k in range(count):
        for _ in range(tries):
            if shapes:
                w, h, bottom = shapes[int(rng.integers(len(shapes)))]
            else:
                h = float(rng.uniform(MIN_HEIGHT_PX, 60.0)) * scale
                w, bottom = h * float(rng.choice([0.4, 1.0, 1.5])), float(rng.uniform(0.5, 1.0)) * height
            w, h = min(w, width - 1.0), min(h, height - 1.0)
            if k % 2 and shapes:
                y1 = min(max(bottom + float(rng.normal(0, 0.1 * h)), h), float(height))
            else:
                y1 = float(rng.uniform(max(h, 0.2 * height), height))
            x0 = float(rng.uniform(0, width - w))
            box = (x0, y1 - h, x0 + w, y1)
            if not _intersects(box, labelled, 2.0):
                out.append(box)
                break
    return out


def frame_crops(image: np.ndarray, conditions: FrameConditions, negatives: int, rng: np.random.Generator,
                jitter: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Crops (N, S, S, 3) uint8 and classes (N,) of one frame: every visible box (its CLASS_OF_TYPE),
    then up to `negatives` background boxes (class 0). `jitter` > 0 shifts and scales each box by up to
    that share of its size (training augmentation: generated road users need not sit pixel-exact)."""
    h, w = image.shape[:2]
    crops, classes = [], []
    for box in visible_boxes(conditions, w):
        crops.append(square_crop(image, _jittered(box.bbox_xyxy, jitter, rng)))
        classes.append(CLASS_OF_TYPE[box.type])
    for box in background_boxes(conditions, w, h, negatives, rng):
        crops.append(square_crop(image, _jittered(box, jitter, rng)))
        classes.append(0)
    if not crops:
        return np.zeros((0, CROP_SIZE, CROP_SIZE, 3), np.uint8), np.zeros(0, np.int64)
    return np.stack(crops), np.array(classes, np.int64)


def _jittered(bbox: Sequence[float], jitter: float, rng: np.random.Generator) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in bbox)
    if jitter <= 0:
        return x0, y0, x1, y1
    bw, bh = x1 - x0, y1 - y0
    dx, dy = rng.uniform(-jitter, jitter, 2) * (bw, bh)
    s = 1 + float(rng.uniform(-jitter, jitter))
    cx, cy = (x0 + x1) / 2 + dx, (y0 + y1) / 2 + dy
    return cx - bw * s / 2, cy - bh * s / 2, cx + bw * s / 2, cy + bh * s / 2
