"""Temporal consistency: optical-flow warp error (how much a video flickers beyond its motion).

For each pair of consecutive frames, OpenCV's Farneback flow from frame t to t+1 warps frame t+1
back onto frame t (`cv2.remap`); the warp error is the mean absolute difference between the warped
frame and frame t, in [0, 1] units, over the pixels whose flow stays inside the image. Smooth motion
is explained by the flow and costs little; flicker (content that changes from frame to frame
without moving) is not. `drivesim eval` compares the video model with `--image-only` generation of
the same scenario (target: video <= 0.7 x image-only). A frozen or blurred video also scores low,
so read it beside the Fréchet distance.

    python -c "import numpy as np; from drivesim.eval.temporal import warp_error; \
print(warp_error(np.zeros((4, 32, 32, 3), np.uint8)), warp_error(np.random.randint(0, 255, (4, 32, 32, 3), np.uint8)))"
"""

from __future__ import annotations

import cv2
import numpy as np

from drivesim.errors import DrivesimError

__all__ = ["farneback_flow", "warp_back", "warp_errors", "warp_error"]

# cv2.calcOpticalFlowFarneback(prev, next, flow, pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags)
FARNEBACK = dict(pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5, poly_sigma=1.2, flags=0)


def _gray(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(frame, np.uint8), cv2.COLOR_RGB2GRAY)


def farneback_flow(frame: np.ndarray, next_frame: np.ndarray) -> np.ndarray:
    """Dense flow (H, W, 2) from `frame` to `next_frame` (RGB uint8): frame(y, x) ~ next(y + dy, x + dx)."""
    return cv2.calcOpticalFlowFarneback(_gray(frame), _gray(next_frame), None, **FARNEBACK)


def warp_back(next_frame: np.ndarray, flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`next_frame` warped onto the previous frame's grid with `flow`, and the (H, W) mask of pixels
    whose source lies inside the image."""
    h, w = flow.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    map_x, map_y = grid_x + flow[..., 0], grid_y + flow[..., 1]
    warped = cv2.remap(next_frame, map_x, map_y, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    valid = (map_x >= 0) & (map_x <= w - 1) & (map_y >= 0) & (map_y <= h - 1)
    return warped, valid


def warp_errors(frames: np.ndarray) -> np.ndarray:
    """Warp error of each consecutive pair of a video (T, H, W, 3) RGB uint8: (T - 1,) in [0, 1]."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise DrivesimError(f"warp error needs a video (T, H, W, 3) RGB, got shape {frames.shape}")
    if len(frames) < 2:
        raise DrivesimError(f"warp error needs at least 2 frames, got {len(frames)}")
    frames = frames.astype(np.uint8, copy=False)
    out = []
    for frame, next_frame in zip(frames[:-1], frames[1:]):
        warped, valid = warp_back(next_frame, farneback_flow(frame, next_frame))
        diff = np.abs(warped.astype(np.float32) - frame.astype(np.float32)).mean(axis=-1) / 255.0
        out.append(float(diff[valid].mean()) if valid.any() else float(diff.mean()))
    return np.asarray(out)


def warp_error(frames: np.ndarray) -> float:
    """Mean warp error over a video's consecutive frame pairs (0: perfectly explained by motion)."""
    return float(warp_errors(frames).mean())
