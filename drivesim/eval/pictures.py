"""The eval's sample pictures: frames shrunk to tiles, labelled rows of tiles (strips), written as PNG.

Boxes are drawn with drivesim.draw.overlay and files written with drivesim.output.files (atomic);
this module only lays tiles out, so every section's samples look alike.

    python -c "import numpy as np; from drivesim.eval.pictures import strip; \
print(strip([('row', [np.zeros((64, 128, 3), np.uint8)] * 3)]).shape)"
"""

from __future__ import annotations


import cv2
import numpy as np


__all__ = ["TILE_WIDTH", "tile", "strip"]

TILE_WIDTH = 256


def tile(frame: np.ndarray) -> np.ndarray:
    """`frame` (H, W, 3) resized to TILE_WIDTH wide, aspect kept (area-averaged when shrinking)."""
    h, w = frame.shape[:2]
    height = max(1, round(h * TILE_WIDTH / w))
    mode = cv2.INTER_AREA if w > TILE_WIDTH else cv2.INTER_NEAREST
    return cv2.resize(np.ascontiguousarray(frame), (TILE_WIDTH, height), interpolation=mode)


def strip(rows: list[tuple[str, list[np.ndarray]]]) -> np.ndarray:
    """A mosaic: one row per (label, frames), frames resized to TILE_WIDTH wide, the label on the first."""
    lines = []
    for label, frames in rows:
        tiles = [tile(f) for f in frames]
        height = max(t.shape[0] for t in tiles)
        tiles = [np.pad(t, ((0, height - t.shape[0]), (0, 2), (0, 0))) for t in tiles]
        line = np.concatenate(tiles, axis=1)
        # black under white: the label reads on bright day frames and dark night ones
        cv2.putText(line, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(line, label, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
        lines.append(line)
    width = max(line.shape[1] for line in lines)
    lines = [np.pad(line, ((0, 2), (0, width - line.shape[1]), (0, 0))) for line in lines]
    return np.concatenate(lines, axis=0)

