"""A road's reference line: OpenDRIVE's <planView>, its <geometry> pieces in order of s.

Road coordinates: `s` along the reference line (metres from the road's start), `t` to its left
(perpendicular, positive counter-clockwise of the heading). The piece in force at an `s` is the last
one starting at or before it; before the first piece and after the last one, the end pieces are
extrapolated.

    from drivesim.road import Arc, Line, ReferenceLine
    line = ReferenceLine((Line(0.0, 0.0, 0.0, 0.0, 10.0), Arc(10.0, 10.0, 0.0, 0.0, 20.0, 0.05)))
    x, y, hdg = line.pose([0.0, 10.0, 30.0])
    line.to_world(5.0, 2.0)  # 2 m left of the reference line at s = 5: (5, 2)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from drivesim.road.geometry import Arc, Line, PlanPoint, Spiral
from drivesim.road.parametric import ParamPoly3, Poly3

Geometry = Line | Arc | Spiral | Poly3 | ParamPoly3
GEOMETRY_TYPES: tuple[type, ...] = (Line, Arc, Spiral, Poly3, ParamPoly3)


@dataclass(frozen=True)
class ReferenceLine:
    geometries: tuple[Geometry, ...]

    @property
    def length(self) -> float:
        last = self.geometries[-1]
        return last.s + last.length

    @cached_property
    def _starts(self) -> np.ndarray:
        return np.array([g.s for g in self.geometries], dtype=float)

    def piece_index(self, s: np.ndarray | float) -> np.ndarray:
        return np.clip(np.searchsorted(self._starts, s, side="right") - 1, 0, len(self.geometries) - 1)

    def evaluate(self, s: np.ndarray | float) -> PlanPoint:
        """x, y, hdg and curvature at road `s` (arrays of the shape of `s`)."""
        s = np.asarray(s, dtype=float)
        index = self.piece_index(s)
        out = [np.empty(s.shape) for _ in range(4)]
        for k in np.unique(index):
            where = index == k
            for column, values in zip(out, self.geometries[k].evaluate(s[where])):
                column[where] = values
        return PlanPoint(*out)

    def pose(self, s: np.ndarray | float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x, y and heading (radians, counter-clockwise from +x) of the reference line at `s`."""
        x, y, hdg, _ = self.evaluate(s)
        return x, y, hdg

    def to_world(self, s: np.ndarray | float, t: np.ndarray | float) -> tuple[np.ndarray, np.ndarray]:
        """World x, y of road coordinates (s, t)."""
        x, y, hdg = self.pose(s)
        return x - t * np.sin(hdg), y + t * np.cos(hdg)
