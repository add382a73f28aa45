"""Condition adherence: does the generated video follow the scenario's time of day and boxes?

- Night/day luminance ratio: the same held-out scenario generated as day and as night (same seed);
  mean BT.601 luma of the night video over that of the day video. Night footage is dark, so a model
  that follows the label gives a ratio well below 1 (target <= 0.6).
- Box adherence: the scenario generated with its named agents and without them (same seed, so the
  same noise); mean absolute pixel change inside the named agents' boxes over the change outside
  every box. A model that draws agents where the boxes say changes the image there and little
  elsewhere (target >= 2).

    python -c "import numpy as np; from drivesim.eval.adherence import luminance_ratio; \
print(luminance_ratio(np.full((2, 4, 4, 3), 40, np.uint8), np.full((2, 4, 4, 3), 200, np.uint8)))"
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from drivesim.errors import DrivesimError
from drivesim.scenario.labels import Box

__all__ = ["mean_luminance", "luminance_ratio", "box_mask", "box_masks", "BoxAdherence", "box_adherence",
           "is_background"]

EPS = 1e-6


def _check_video(frames: np.ndarray, name: str) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise DrivesimError(f"{name} must be a video (T, H, W, 3) RGB with T >= 1, got shape {frames.shape}")
    return frames


def mean_luminance(frames: np.ndarray) -> float:
    """Mean BT.601 luma (0..255) over every pixel of every frame (T, H, W, 3) RGB uint8."""
    frames = _check_video(frames, "frames")
    return float(np.mean([cv2.cvtColor(f.astype(np.uint8), cv2.COLOR_RGB2GRAY).mean() for f in frames]))


def luminance_ratio(night: np.ndarray, day: np.ndarray) -> float:
    """Mean luminance of the night video over that of the day video (< 1: night is darker)."""
    return mean_luminance(night) / max(mean_luminance(day), EPS)


def is_background(box: Box) -> bool:
    """Seeded background traffic (track ids bg_<n>) rather than a scenario's named agent."""
    return box.track_id.startswith("bg_")


def box_mask(boxes: Sequence[Box], height: int, width: int) -> np.ndarray:
    """(H, W) bool: pixels covered by any of the boxes (bbox_xyxy in this frame's pixels, pixel i = [i, i+1))."""
    mask = np.zeros((height, width), bool)
    for box in boxes:
        x0, y0, x1, y1 = box.bbox_xyxy
        c0, r0 = max(int(np.floor(x0)), 0), max(int(np.floor(y0)), 0)
        c1, r1 = min(int(np.ceil(x1)), width), min(int(np.ceil(y1)), height)
        if c1 > c0 and r1 > r0:
            mask[r0:r1, c0:c1] = True
    return mask


def box_masks(boxes_per_frame: Sequence[Sequence[Box]], height: int, width: int) -> np.ndarray:
    """(T, H, W) bool, one `box_mask` per frame."""
    return np.stack([box_mask(boxes, height, width) for boxes in boxes_per_frame])


@dataclass(frozen=True)
class BoxAdherence:
    inside: float  # mean |with - without| inside the named agents' boxes, 0..255
    outside: float  # the same outside every box
    ratio: float  # inside / outside
    inside_share: float  # share of the pixels that were inside


def box_adherence(with_agents: np.ndarray, without_agents: np.ndarray, inside: np.ndarray,
                  outside: np.ndarray | None = None) -> BoxAdherence:
    """Mean absolute pixel change between the two videos (T, H, W, 3) inside `inside` (T, H, W) over the
    change inside `outside` (default: everything not inside). Frames without inside pixels add nothing
    to the inside mean. Raises when no frame has a box."""
    a = _check_video(with_agents, "with_agents").astype(np.float32)
    b = _check_video(without_agents, "without_agents").astype(np.float32)
    if a.shape != b.shape:
        raise DrivesimError(f"box adherence compares videos of one shape, got {a.shape} and {b.shape}")
    inside = np.asarray(inside, bool)
    outside = ~inside if outside is None else np.asarray(outside, bool) & ~inside
    if inside.shape != a.shape[:3] or outside.shape != a.shape[:3]:
        raise DrivesimError(f"box masks must be (T, H, W) = {a.shape[:3]}, got {inside.shape} and {outside.shape}")
    if not inside.any():
        raise DrivesimError("box adherence needs at least one box in view: no frame of the scenario has a named "
                            "agent's box")
    if not outside.any():
        raise DrivesimError("box adherence needs pixels outside the boxes, but the boxes cover every frame")
    change = np.abs(a - b).mean(axis=-1)  # (T, H, W), per pixel over RGB
    inside_mean, outside_mean = float(change[inside].mean()), float(change[outside].mean())
    return BoxAdherence(inside=inside_mean, outside=outside_mean, ratio=inside_mean / max(outside_mean, EPS),
                        inside_share=float(inside.mean()))
