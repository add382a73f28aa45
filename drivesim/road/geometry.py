"""Reference-line pieces in closed form: OpenDRIVE's <line>, <arc> and <spiral> (a clothoid).

Every piece is one `<geometry>` record: it starts at road coordinate `s`, at world (`x`, `y`) with
heading `hdg` (radians, counter-clockwise from +x), and runs `length` metres. `evaluate(s)` takes
ROAD s (absolute, not relative to the piece), scalar or array, and returns a `PlanPoint` of arrays
of the same shape: x, y, hdg and curvature (1/m, positive turning left). Outside the piece's range
the formula is extrapolated. Field names are OpenDRIVE's attribute names, so a reader maps a record
1:1 (`curvStart`, `curvEnd`).

    from drivesim.road.geometry import Arc
    quarter = Arc(s=0.0, x=0.0, y=0.0, hdg=0.0, length=50 * 3.141592653589793, curvature=0.01)
    quarter.evaluate(quarter.length)  # x = 100, y = 100, hdg = pi/2
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import numpy as np
from scipy.special import fresnel

# 16-point Gauss-Legendre on [0, 1]: spirals whose curvature barely changes, and arc lengths of cubics
_LEGENDRE_X, _LEGENDRE_W = np.polynomial.legendre.leggauss(16)
GAUSS_NODES, GAUSS_WEIGHTS = (_LEGENDRE_X + 1) / 2, _LEGENDRE_W / 2
# Largest heading change integrated by one Gauss-Legendre interval (radians): error far below 1 um.
_GAUSS_MAX_TURN_RAD = 0.5
# Fresnel differences lose digits far from the clothoid's zero-curvature point; beyond this estimated
# rounding error (metres) a spiral is integrated by quadrature instead.
_FRESNEL_MAX_ERROR_M = 1e-7


class PlanPoint(NamedTuple):
    """A point of the reference line in the plan view (arrays of one shape)."""

    x: np.ndarray
    y: np.ndarray
    hdg: np.ndarray
    curvature: np.ndarray


@dataclass(frozen=True)
class Piece:
    """The attributes every <geometry> record has."""

    s: float
    x: float
    y: float
    hdg: float
    length: float

    element: ClassVar[str] = "geometry"

    def evaluate(self, s: np.ndarray | float) -> PlanPoint:
        raise NotImplementedError

    def end(self) -> PlanPoint:
        """Where the piece ends (scalars in 0-d arrays)."""
        return self.evaluate(self.s + self.length)


@dataclass(frozen=True)
class Line(Piece):
    element: ClassVar[str] = "line"

    def evaluate(self, s: np.ndarray | float) -> PlanPoint:
        ds = np.asarray(s, dtype=float) - self.s
        return PlanPoint(self.x + ds * math.cos(self.hdg), self.y + ds * math.sin(self.hdg),
                         np.full_like(ds, self.hdg), np.zeros_like(ds))


@dataclass(frozen=True)
class Arc(Piece):
    curvature: float

    element: ClassVar[str] = "arc"

    def evaluate(self, s: np.ndarray | float) -> PlanPoint:
        ds = np.asarray(s, dtype=float) - self.s
        return _arc(self.x, self.y, self.hdg, self.curvature, ds)


@dataclass(frozen=True)
class Spiral(Piece):
    """A clothoid: curvature linear in s from `curvStart` (at `s`) to `curvEnd` (at `s + length`)."""

    curvStart: float  # camelCase: OpenDRIVE's attribute names, so a reader maps records 1:1
    curvEnd: float

    element: ClassVar[str] = "spiral"

    @property
    def curvDot(self) -> float:
        """d curvature / ds (OpenDRIVE 1.8's name for it)."""
        return (self.curvEnd - self.curvStart) / self.length

    def evaluate(self, s: np.ndarray | float) -> PlanPoint:
        ds = np.asarray(s, dtype=float) - self.s
        k0, rate = self.curvStart, self.curvDot
        if rate == 0.0:
            return _arc(self.x, self.y, self.hdg, k0, ds)
        hdg = self.hdg + ds * (k0 + 0.5 * rate * ds)
        curvature = k0 + rate * ds
        scale = math.sqrt(math.pi / abs(rate))
        rounding = 1e-15 * (1.0 + (k0 * k0 + self.curvEnd ** 2) / abs(rate)) * scale
        if rounding < _FRESNEL_MAX_ERROR_M:
            dx, dy = _clothoid_fresnel(self.hdg, k0, rate, ds)
        else:
            dx, dy = _integrate_heading(self.hdg, k0, rate, ds)
        return PlanPoint(self.x + dx, self.y + dy, hdg, curvature)


def _arc(x: float, y: float, hdg: float, curvature: float, ds: np.ndarray) -> PlanPoint:
    # chord = 2 sin(k ds / 2) / k = ds sinc(k ds / 2), along the mean heading: exact, and a line as k -> 0
    half_turn = 0.5 * curvature * ds
    chord = ds * np.sinc(half_turn / math.pi)
    return PlanPoint(x + chord * np.cos(hdg + half_turn), y + chord * np.sin(hdg + half_turn),
                     hdg + 2 * half_turn, np.full_like(ds, curvature))


def _clothoid_fresnel(hdg: float, k0: float, rate: float, ds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offset from the start by Fresnel integrals, any start curvature.

    heading(ds) = hdg + k0 ds + rate ds^2 / 2 = phi + rate u^2 / 2 with u = ds + k0 / rate and
    phi = hdg - k0^2 / (2 rate): the clothoid through its zero-curvature point. With u = scale tau,
    scale = sqrt(pi / |rate|):  int e^(i heading) = scale e^(i phi) [dC + i sign(rate) dS] over tau.
    """
    sign = 1.0 if rate > 0 else -1.0
    scale = math.sqrt(math.pi / abs(rate))
    tau0 = (k0 / rate) / scale
    tau1 = (ds + k0 / rate) / scale
    s0, c0 = fresnel(tau0)
    s1, c1 = fresnel(tau1)
    phi = hdg - k0 * k0 / (2 * rate)
    integral = scale * np.exp(1j * phi) * ((c1 - c0) + 1j * sign * (s1 - s0))
    return integral.real, integral.imag


def _integrate_heading(hdg: float, k0: float, rate: float, ds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offset from the start by composite Gauss-Legendre over [0, ds] of e^(i heading)."""
    flat = np.atleast_1d(ds).ravel()
    turn = np.abs(flat) * (abs(k0) + 0.5 * abs(rate) * np.abs(flat))
    intervals = int(max(1, math.ceil(float(turn.max(initial=0.0)) / _GAUSS_MAX_TURN_RAD)))
    # nodes of every interval, as fractions of ds: (intervals * 16,)
    fractions = ((np.arange(intervals)[:, None] + GAUSS_NODES[None, :]) / intervals).ravel()
    weights = np.tile(GAUSS_WEIGHTS, intervals) / intervals
    at = flat[:, None] * fractions[None, :]
    heading = hdg + at * (k0 + 0.5 * rate * at)
    dx = flat * (np.cos(heading) @ weights)
    dy = flat * (np.sin(heading) @ weights)
    return dx.reshape(np.shape(ds)), dy.reshape(np.shape(ds))
