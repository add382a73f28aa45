"""Occlusion: the cover version gives the shares of the quadratic scan (to rounding), and scales, piles included.

    python -m pytest tests/test_boxes.py -x -q
"""

from __future__ import annotations

import time
import tracemalloc

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


def assert_same_shares(boxes: np.ndarray) -> None:
    """The scan's shares to rounding: leaving a hidden box out of a union moves the last bits of an area."""
    np.testing.assert_allclose(occlusion_shares(boxes), quadratic_occlusion(boxes), rtol=0, atol=1e-12)


@pytest.mark.parametrize("seed", range(40))
def test_shares_are_the_quadratic_scans(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(0, 120))
    assert_same_shares(random_boxes(rng, n, spread=float(rng.choice([50, 300, 1024])),
                                    size=float(rng.choice([5, 60, 300]))))


@pytest.mark.parametrize("seed", range(6))
def test_shares_of_piles_staircases_and_nests_are_the_quadratic_scans(seed):
    """The shapes that exercise the cover: hidden boxes left out, boxes taking over the ones inside
    them, many pieces merged into one."""
    rng = np.random.default_rng(seed)
    n = 150
    pile = np.tile([[40.0, 30.0, 90.0, 60.0]], (n, 1)) + rng.uniform(-3, 3, (n, 4)) * (seed % 3 > 0)
    k = np.arange(n, dtype=float)[:, None]
    step = rng.uniform(0.05, 2.0)
    staircase = np.hstack([k * step, 0 * k, k * step + 50, 0 * k + 40]) + [0, 0, 0, seed]
    diagonal = np.hstack([k * step, k * step / 2, k * step + 50, k * step / 2 + 40])
    nest = np.hstack([100 - k * step, 100 - k, 200 + k * step, 200 + k])
    for boxes in (pile, staircase, diagonal, nest, rng.permutation(np.vstack([pile, staircase]))):
        assert_same_shares(boxes)


def test_twenty_thousand_scattered_boxes_take_seconds_not_minutes():
    rng = np.random.default_rng(0)
    boxes = random_boxes(rng, 20_000, spread=1024, size=10)
    start = time.process_time()
    shares = occlusion_shares(boxes)
    assert time.process_time() - start < 20  # about 1 s; the scan took minutes
    assert shares.shape == (20_000,) and 0 < shares.max() <= 1


def test_five_thousand_boxes_piled_on_one_spot_cost_what_their_count_costs():
    """Before: every overlapping pair was listed and every box unioned with all nearer ones, the square
    of the pile (5,000: 10 s and 1.2 GB; 20,000: minutes and 12 GB). Now a box hidden by one nearer box
    is hidden by the cover, and the cover stays one box."""
    rng = np.random.default_rng(2)
    exact = np.tile([[300.0, 200.0, 400.0, 260.0]], (5000, 1))
    jittered = exact + rng.uniform(-2, 2, exact.shape)
    for boxes in (exact, jittered):
        tracemalloc.start()
        start = time.process_time()
        shares = occlusion_shares(boxes)
        took = time.process_time() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 50 * 2**20  # a few MB (before: 1.2 GB, the pairs alone are 25 million)
        assert took < 5  # about 0.1 s exact, 0.4 s jittered (before: 5 s and 10 s)
        assert shares[0] == 0 and (shares[1:] >= 0.98).sum() >= 4990  # the pile shows its front box


def test_cancel_is_polled_inside_the_occlusion():
    rng = np.random.default_rng(1)
    boxes = random_boxes(rng, 2000, spread=1024, size=40)
    polls = []
    with pytest.raises(PlanningCancelled):
        occlusion_shares(boxes, cancelled=lambda: polls.append(1) or len(polls) >= 2)
    assert len(polls) == 2  # stopped at the second poll, not at the end
