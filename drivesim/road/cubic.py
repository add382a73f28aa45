"""Piecewise cubics in s: OpenDRIVE's elevation, laneOffset and lane width records.

Each record holds `a + b ds + c ds^2 + d ds^3`, valid from its start to the next record's start;
`ds` is measured from the record's own start. Elevation and laneOffset start at road `s`, a lane
width at `sOffset` from its lane section's start; the caller passes those starts.

    import numpy as np
    from drivesim.road.cubic import piecewise_cubic
    value, slope = piecewise_cubic([0.0, 10.0], [(1, 0, 0, 0), (1, 0.1, 0, 0)], np.array([5.0, 12.0]))
    # value == [1.0, 1.2], slope == [0.0, 0.1]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def piecewise_cubic(starts: Sequence[float], coefficients: Sequence[Sequence[float]],
                    s: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Value and d/ds of the record in force at each `s` (before the first start: the first record,
    extrapolated). No records: zero everywhere."""
    s = np.asarray(s, dtype=float)
    if len(starts) == 0:
        return np.zeros_like(s), np.zeros_like(s)
    starts_a = np.asarray(starts, dtype=float)
    coeffs = np.asarray(coefficients, dtype=float).reshape(-1, 4)
    # side="right": at a record's own start the new record is in force
    index = np.clip(np.searchsorted(starts_a, s, side="right") - 1, 0, len(starts_a) - 1)
    a, b, c, d = np.moveaxis(coeffs[index], -1, 0)
    ds = s - starts_a[index]
    value = a + ds * (b + ds * (c + ds * d))
    slope = b + ds * (2 * c + ds * 3 * d)
    return value, slope


def cubic_minimum(a: float, b: float, c: float, d: float, length: float) -> tuple[float, float]:
    """The smallest value of `a + b x + c x^2 + d x^3` over x in [0, length] and the x where it is:
    the ends and every stationary point inside (used to prove a lane width never goes negative)."""
    candidates = [0.0, max(length, 0.0)]
    for root in np.roots([3 * d, 2 * c, b]) if (d or c) else []:
        if abs(root.imag) < 1e-12 and 0.0 < root.real < length:
            candidates.append(float(root.real))
    values = [a + x * (b + x * (c + x * d)) for x in candidates]
    k = int(np.argmin(values))
    return float(values[k]), candidates[k]


@dataclass(frozen=True)
class CubicRecord:
    """`a + b ds + c ds^2 + d ds^3` from road `s` on: an <elevation> or a <laneOffset> record."""

    s: float
    a: float
    b: float = 0.0
    c: float = 0.0
    d: float = 0.0


# OpenDRIVE's names for the two records of this shape
Elevation = CubicRecord
LaneOffset = CubicRecord


def evaluate_records(records: Sequence[CubicRecord], s: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
    """Value and d/ds of a road-level profile (elevation: z; laneOffset: t of the centre lane)."""
    return piecewise_cubic([r.s for r in records], [(r.a, r.b, r.c, r.d) for r in records], s)
