"""Reference-line pieces given as cubics in the piece's own u/v frame: OpenDRIVE's <poly3> and
<paramPoly3>, evaluated at road s by inverting their arc length numerically.

The u/v frame has its origin at the record's (`x`, `y`), u along `hdg`, v to its left.
- Poly3: v = a + b u + c u^2 + d u^3 (a curve over u).
- ParamPoly3: u = aU + bU p + cU p^2 + dU p^3, v = aV + ... + dV p^3, with p in [0, length] for
  `pRange="arcLength"` and in [0, 1] for `pRange="normalized"`.
Road s is arc length along the curve: the arc length of p (Gauss-Legendre on a fine grid) is inverted
by interpolation and Newton steps, to far below a millimetre. A paramPoly3 whose true arc length over
its p range differs from `length` is stretched to it (its end is where its p range ends).

    from drivesim.road.parametric import Poly3
    bend = Poly3(s=0.0, x=0.0, y=0.0, hdg=0.0, length=30.0, a=0.0, b=0.0, c=0.002, d=0.0)
    bend.evaluate([0.0, 15.0, 30.0]).hdg
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar, Literal

import numpy as np

from drivesim.road.geometry import GAUSS_NODES, GAUSS_WEIGHTS, Piece, PlanPoint

PRange = Literal["arcLength", "normalized"]
P_RANGES: tuple[str, ...] = ("arcLength", "normalized")
_GRID_STEP_M = 0.5  # arc-length table spacing along the curve
_GRID_MIN, _GRID_MAX = 64, 200_000
_NEWTON_STEPS = 3


@dataclass(frozen=True)
class Poly3(Piece):
    a: float
    b: float
    c: float
    d: float

    element: ClassVar[str] = "poly3"

    @cached_property
    def curve(self) -> CubicCurve:
        # the curve's end lies at u <= length (arc length >= u), so a table over u in [0, length] covers it
        return CubicCurve((0.0, 1.0, 0.0, 0.0), (self.a, self.b, self.c, self.d), self.length, self.length)

    def evaluate(self, s: np.ndarray | float) -> PlanPoint:
        ds = np.asarray(s, dtype=float) - self.s
        return self.curve.plan_point(self, self.curve.p_at(ds))


@dataclass(frozen=True)
class ParamPoly3(Piece):
    aU: float  # camelCase: OpenDRIVE's attribute names, so a reader maps records 1:1
    bU: float
    cU: float
    dU: float
    aV: float
    bV: float
    cV: float
    dV: float
    pRange: PRange = "normalized"  # OpenDRIVE 1.4's default

    element: ClassVar[str] = "paramPoly3"

    @property
    def p_end(self) -> float:
        return self.length if self.pRange == "arcLength" else 1.0

    @cached_property
    def curve(self) -> CubicCurve:
        return CubicCurve((self.aU, self.bU, self.cU, self.dU), (self.aV, self.bV, self.cV, self.dV),
                          self.p_end, self.length)

    def evaluate(self, s: np.ndarray | float) -> PlanPoint:
        ds = np.asarray(s, dtype=float) - self.s
        stretch = self.curve.total / self.length  # 1 when the record's length is the curve's
        return self.curve.plan_point(self, self.curve.p_at(ds * stretch))


class CubicCurve:
    """u(p), v(p) cubic, with a table of arc length over p in [0, p_end] to invert it."""

    def __init__(self, u: Sequence[float], v: Sequence[float], p_end: float, length: float):
        self.u = np.asarray(u, dtype=float)
        self.v = np.asarray(v, dtype=float)
        coarse = np.linspace(0.0, p_end, _GRID_MIN + 1)  # a polyline's length: the curve's, roughly
        polyline = float(np.hypot(*np.diff(self._position(coarse), axis=1)).sum())
        steps = int(min(_GRID_MAX, max(_GRID_MIN, math.ceil(max(length, polyline) / _GRID_STEP_M))))
        self.grid = np.linspace(0.0, p_end, steps + 1)
        pieces = self._arc_length(self.grid[:-1], self.grid[1:])
        self.table = np.concatenate([[0.0], np.cumsum(pieces)])
        self.total = float(self.table[-1])

    def _derivatives(self, p: np.ndarray) -> tuple[np.ndarray, ...]:
        (_, bu, cu, du), (_, bv, cv, dv) = self.u, self.v
        return (bu + p * (2 * cu + 3 * du * p), bv + p * (2 * cv + 3 * dv * p),
                2 * cu + 6 * du * p, 2 * cv + 6 * dv * p)

    def speed(self, p: np.ndarray) -> np.ndarray:
        du, dv, _, _ = self._derivatives(p)
        return np.hypot(du, dv)

    def _arc_length(self, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
        at = p0[..., None] + (p1 - p0)[..., None] * GAUSS_NODES
        return (p1 - p0) * (self.speed(at) @ GAUSS_WEIGHTS)

    def p_at(self, arc_length: np.ndarray) -> np.ndarray:
        """The p where the arc length from p = 0 is `arc_length` (extrapolated beyond the table)."""
        i = np.clip(np.searchsorted(self.table, arc_length, side="right") - 1, 0, len(self.grid) - 2)
        p0, s0 = self.grid[i], self.table[i]
        p = p0 + (arc_length - s0) * (self.grid[i + 1] - p0) / (self.table[i + 1] - s0)
        # Newton (ds/dp = speed), kept inside the table interval that holds the answer
        low = np.where(arc_length >= 0.0, p0, -np.inf)
        high = np.where(arc_length <= self.total, self.grid[i + 1], np.inf)
        for _ in range(_NEWTON_STEPS):
            p = p - (s0 + self._arc_length(p0, p) - arc_length) / np.maximum(self.speed(p), 1e-12)
            p = np.clip(p, low, high)
        return p

    def _position(self, p: np.ndarray) -> np.ndarray:
        return np.stack([np.polynomial.polynomial.polyval(p, self.u), np.polynomial.polynomial.polyval(p, self.v)])

    def plan_point(self, piece: Piece, p: np.ndarray) -> PlanPoint:
        """World point at parameter p of the curve set in `piece`'s u/v frame."""
        u, v = self._position(p)
        du, dv, ddu, ddv = self._derivatives(p)
        cos, sin = math.cos(piece.hdg), math.sin(piece.hdg)
        curvature = (du * ddv - dv * ddu) / np.maximum(np.hypot(du, dv), 1e-12) ** 3
        return PlanPoint(piece.x + u * cos - v * sin, piece.y + u * sin + v * cos,
                         piece.hdg + np.arctan2(dv, du), curvature)
