"""Occlusion: the STRtree version gives exactly the shares of the quadratic scan, and scales.

    python -m pytest tests/test_boxes.py -x -q
"""

from __future__ import annotations

import time

import numpy as np
import pytest
import shapely

from drivesim.scenario.boxes import PlanningCancelled, occlusion_shares


def quadratic_occlusion(boxes_xyxy: np.ndarray) -> np.ndarray:
    """The previous algorithm, kept as the reference: every nearer box scanned for every box."""
    n = len(boxes_xyxy)
    out = np.zeros(n)
    if n < 2:
        return out
    geoms = shapely.box(boxes_xyxy[:, 0], boxes_xyxy[:, 1], boxes_xyxy[:, 2], boxes_xyxy[:, 3])
    areas = shapely.area(geoms)
    x0, y0, x1, y1 = boxes_xyxy.T
    for i in range(1, n):
        hit = np.nonzero((x0[:i] < x1[i]) & (x1[:i] > x0[i]) & (y0[:i] < y1[i]) & (y1[:i] > y0[i]))[0]
        if len(hit) == 0 or areas[i] <= 0:
            continue
        cover = shapely.union_all(geoms[hit]) if len(hit) > 1 else geoms[hit[0]]
        out[i] = min(1.0, shapely.intersection(cover, geoms[i]).area / areas[i])
    return out


def random_boxes(rng: np.random.Generator, n: int, spread: float, size: float) -> np.ndarray:
    xy = rng.uniform(0, spread, (n, 2))
    wh = rng.uniform(0, size, (n, 2))
    boxes = np.concatenate([xy, xy + wh], axis=1)
    # Snapped to a grid: shared edges (touching is not overlapping) and zero-area boxes occur too.
    snap = rng.random(n) < 0.3
    boxes[snap] = np.round(boxes[snap] / 8) * 8
    boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2])
    return boxes


@pytest.mark.parametrize("seed", range(40))
def test_shares_are_identical_to_the_quadratic_scan(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 120))
    boxes = random_boxes(rng, n, spread=float(rng.choice([50, 300, 1024])), size=float(rng.choice([5, 60, 300])))
    assert np.array_equal(occlusion_shares(boxes), quadratic_occlusion(boxes))


def test_twenty_thousand_scattered_boxes_take_seconds_not_minutes():
    rng = np.random.default_rng(0)
    boxes = random_boxes(rng, 20_000, spread=1024, size=10)
    start = time.process_time()
    shares = occlusion_shares(boxes)
    assert time.process_time() - start < 20  # about 1 s; the scan took minutes
    assert shares.shape == (20_000,) and 0 < shares.max() <= 1


def test_cancel_is_polled_inside_the_occlusion():
    rng = np.random.default_rng(1)
    boxes = random_boxes(rng, 2000, spread=1024, size=40)
    polls = []
    with pytest.raises(PlanningCancelled):
        occlusion_shares(boxes, cancelled=lambda: polls.append(1) or len(polls) >= 2)
    assert len(polls) == 2  # stopped at the second poll, not at the end
