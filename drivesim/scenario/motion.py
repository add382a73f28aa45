"""How entities move along their lanes: speed and lateral profiles blended by actions, and each entity's
world pose over time on its `LanePath`.

`BlendedProfile` is a scalar that holds its value, then blends to each new target (docs/scenario-format.md,
"Action semantics"); the OpenSCENARIO runner uses it too. An entity's position along its path is
u(t) = u_start + the integral of its speed (closed form, exact for any frame rate); its offset r from its
lane's centre (metres to the right) is a profile of its lateral actions; its heading is the lane's heading
turned right by atan2(dr/dt, speed). With `reference_behind_m` d > 0 the point that follows the lane is d
behind the box centre (OpenSCENARIO's reference point): it is at (u - d, r), the heading is the lane's there
(turned as above), and the box centre is d ahead of it along that heading; u stays the box centre's.

    from drivesim.scenario.motion import BlendedProfile
    BlendedProfile(10.0, [(1.0, 2.0, 4.0)]).value([0.0, 2.0, 5.0])  # 10, 7, 4: braking to 4 m/s over 2 s
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

from drivesim.scenario.lane_path import LanePath, Poses


class BlendedProfile:
    """A scalar that holds its value, then blends to each new target (a smoothstep unless said otherwise).

    `changes` are (at_s, duration_s, target) or (at_s, duration_s, target, shape), shape one of
    format.ActionShape; a change starts from the value at its at_s, so overlapping changes hand over
    smoothly (a later change governs from its at_s on). `value`, `rate` and `integral` take arrays of times.

    Piecewise: each time is governed by one segment (the last change with at_s <= t; ties: the later one in
    the list), found by bisection, and the integral up to each segment's start is kept, so building a profile
    of n changes, or `append`ing a change that starts no earlier than the last one, costs O(1) a change
    (amortised) and an evaluation O(log n) a time: the OpenSCENARIO runner evaluates its profiles every frame
    while it records changes.
    """

    def __init__(self, initial: float, changes: Sequence[tuple] = ()):
        self.initial = float(initial)
        self.segments: list[tuple[float, float, float, float, str]] = []  # (t0, duration, v0, v1, shape)
        self._starts: list[float] = []  # t0 of each segment, for bisection
        # columns t0, duration, v0, v1, the integral from 0 to t0, the shape's index in _SHAPE_NAMES;
        # rows beyond len(segments) are spare room (doubled when full)
        self._table = np.zeros((6, 8))
        for change in sorted(changes, key=lambda c: c[0]):
            self.append(change)

    def append(self, change: tuple) -> None:
        """Add a change that starts no earlier than every change so far: the profile built anew with the
        change last in the list."""
        at, dur, target = (float(v) for v in change[:3])
        shape = change[3] if len(change) > 3 else "smoothstep"
        n = len(self.segments)
        if n and at < self._starts[-1]:
            raise ValueError(f"a change at {at:g} s appended after one at {self._starts[-1]:g} s")
        v0 = float(self.value(np.array(at)))
        if n:  # the last segment now ends at `at`: all it governs joins the integral before the new one
            t0, d, p0, p1, p_shape = self.segments[-1]
            before = float(_integral(self._table[4, n - 1], p0, p1, d, p_shape, np.array(at - t0)))
        else:
            before = self.initial * at
        if n == self._table.shape[1]:
            self._table = np.concatenate([self._table, np.zeros_like(self._table)], axis=1)
        self._table[:, n] = (at, dur, v0, target, before, _SHAPE_NAMES.index(shape))
        self.segments.append((at, dur, v0, target, shape))
        self._starts.append(at)

    def value(self, t: np.ndarray) -> np.ndarray:
        def blend(t, t0, dur, v0, v1, before, shape):
            u = np.clip((t - t0) / dur, 0.0, 1.0)
            return v0 + (v1 - v0) * _SHAPES[shape][0](u)
        t = np.asarray(t, float)
        return self._piecewise(t, np.full(t.shape, self.initial), blend)

    def rate(self, t: np.ndarray) -> np.ndarray:
        def slope(t, t0, dur, v0, v1, before, shape):
            u = np.clip((t - t0) / dur, 0.0, 1.0)
            # once a blend is over the value holds: its rate is 0 (a linear blend's slope does not go on)
            return np.where(t < t0 + dur, (v1 - v0) * _SHAPES[shape][1](u) / dur, 0.0)
        t = np.asarray(t, float)
        return self._piecewise(t, np.zeros(t.shape), slope)

    def integral(self, t: np.ndarray) -> np.ndarray:
        """Integral of the value from 0 to t (t >= 0)."""
        def area(t, t0, dur, v0, v1, before, shape):
            return _integral(before, v0, v1, dur, shape, t - t0)
        t = np.asarray(t, float)
        first = self._starts[0] if self._starts else math.inf
        return self._piecewise(t, self.initial * np.minimum(t, first), area)

    def _piecewise(self, t: np.ndarray, before_first: np.ndarray, fn) -> np.ndarray:
        """fn(t, t0, duration, v0, v1, integral before t0, shape) of the segment governing each time;
        `before_first` where none does yet."""
        n = len(self.segments)
        if not n:
            return before_first
        if t.ndim == 0:  # one time (the runner's frames): bisection on the list
            i = bisect.bisect_right(self._starts, float(t)) - 1
            if i < 0:
                return before_first
            *row, shape = self._table[:, i]
            return np.asarray(fn(t, *row, _SHAPE_NAMES[int(shape)]), float)
        table = self._table[:, :n]
        idx = np.searchsorted(table[0], t, side="right") - 1
        out = before_first.copy()
        rows = table[:, np.maximum(idx, 0)]
        for code in np.unique(rows[5][idx >= 0]):
            mask = (idx >= 0) & (rows[5] == code)
            out[mask] = fn(t[mask], *(column[mask] for column in rows[:5]), _SHAPE_NAMES[int(code)])
        return out


def _integral(before, v0, v1, dur, shape: str, s):
    """`before` plus the integral of a segment's value over the first s seconds it governs (s may run past
    the end of its blend: then the value holds)."""
    u = s / dur
    # integral of the shape over [0, u] in units of dur (smoothstep: u^3 - u^4/2), then 1 per unit.
    area = _SHAPES[shape][2]
    shape_area = np.where(u <= 1.0, area(u), area(1.0) + (u - 1.0))
    return before + v0 * s + (v1 - v0) * dur * shape_area


# Each shape of an action: (f(u), f'(u), integral of f from 0 to u) for u in [0, 1] (see format.ActionShape).
_SHAPES = {
    "smoothstep": (lambda u: u * u * (3 - 2 * u), lambda u: 6 * u * (1 - u), lambda u: u ** 3 - u ** 4 / 2),
    "linear": (lambda u: u, lambda u: np.ones_like(u), lambda u: u * u / 2),
    "sinusoidal": (lambda u: (1 - np.cos(np.pi * u)) / 2, lambda u: np.pi / 2 * np.sin(np.pi * u),
                   lambda u: u / 2 - np.sin(np.pi * u) / (2 * np.pi)),
    "step": (lambda u: np.ones_like(u), lambda u: np.zeros_like(u), lambda u: u),
}
_SHAPE_NAMES = list(_SHAPES)


@dataclass(frozen=True)
class Placement:
    """Where an entity starts and how it changes speed and lane: what `network.scenario_world` resolves."""

    path: LanePath
    r_start: float  # metres right of the path lane's centre at t = 0
    speed_mps: float
    speed_changes: tuple[tuple, ...] = ()  # BlendedProfile changes of the speed
    lateral_changes: tuple[tuple, ...] = ()  # BlendedProfile changes of r
    reference_behind_m: float = 0.0  # the box centre is this far ahead of the point that follows the lane


class EntityState(NamedTuple):
    """An entity at times t (arrays of the shape of t)."""

    u: np.ndarray  # metres along its path
    r: np.ndarray  # metres right of its lane's centre
    lateral_m: np.ndarray  # metres right of the left edge of the lanes of its direction
    speed_mps: np.ndarray
    lateral_rate: np.ndarray  # dr/dt, + to the right
    lane: Poses  # its box centre, and its lane's heading and pitch where it turns: without the yaw of a lane change
    heading: np.ndarray  # world heading: the lane's, turned right by atan2(lateral_rate, speed)


class EntityMotion:
    def __init__(self, placement: Placement):
        self.placement = placement
        self.path = placement.path
        self.speed = BlendedProfile(placement.speed_mps, placement.speed_changes)
        self.lateral = BlendedProfile(placement.r_start, placement.lateral_changes)

    def travel(self, t: np.ndarray | float) -> np.ndarray:
        """Distance driven since t = 0."""
        return self.speed.integral(np.asarray(t, float))

    def at(self, t: np.ndarray | float) -> EntityState:
        t = np.asarray(t, float)
        u = self.path.u_start + self.travel(t)
        r, speed, rate = self.lateral.value(t), self.speed.value(t), self.lateral.rate(t)
        lane, centre = self.path.poses_and_lateral(u, r)
        yaw = lateral_yaw(rate, speed)
        behind = self.placement.reference_behind_m
        if behind:
            lane = ahead_of_reference(self.path.poses(u - behind, r), yaw, behind)
        return EntityState(u, r, centre + r, speed, rate, lane, lane.heading - yaw)


def lateral_yaw(rate: np.ndarray | float, speed: np.ndarray | float) -> np.ndarray:
    """How far an entity is turned right of its lane: atan2(lateral rate, speed). A rate within float noise
    of 0 is 0, so a stopped car keeps its lane's heading (atan2(1e-15, 0) would turn it 90 degrees) while a
    pedestrian walking across the road at speed 0 along it still faces across."""
    rate = np.asarray(rate, float)
    return np.arctan2(np.where(np.abs(rate) < RATE_NOISE, 0.0, rate), speed)


RATE_NOISE = 1e-9  # m/s: below this a lateral rate is rounding left by a finished blend


def ahead_of_reference(reference: Poses, yaw: np.ndarray | float, d: float) -> Poses:
    """The box centre d metres ahead of its reference point along the entity's heading (the reference's lane
    heading turned right by `yaw`), up the reference's pitch; heading and pitch stay the reference's lane's."""
    heading = reference.heading - yaw
    flat = d * np.cos(reference.pitch)
    return Poses(reference.x + flat * np.cos(heading), reference.y + flat * np.sin(heading),
                 reference.z + d * np.sin(reference.pitch), reference.heading, reference.pitch)
