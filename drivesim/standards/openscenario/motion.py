"""What the runner records of each entity: its changes of speed and lateral position, and the motion they
make, computed with the very profiles drivesim's engine uses (`engine.BlendedProfile`), so that the
converted scenario (`convert.py`) runs the same motion in drivesim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from drivesim.scenario.engine import BlendedProfile
from drivesim.standards.openscenario.model import EntityDef
from drivesim.standards.openscenario.xmltree import Element

SHAPES = {"cubic": "smoothstep", "linear": "linear", "sinusoidal": "sinusoidal", "step": "step"}
# Peak rate of each shape relative to the mean rate (esmini's TransitionDynamics).
PEAK = {"linear": 1.0, "cubic": 1.5, "sinusoidal": math.pi / 2}


@dataclass
class Change:
    """One recorded change of an entity's speed or lateral position (becomes a `format.Action`)."""

    at: float
    duration: float
    target: float
    shape: str  # a drivesim shape
    takes_over: bool
    node: Element
    lane: Optional[int] = None  # a drivesim lane, where the target is that lane's centre
    lead: float = 0.0  # seconds it is recorded before the step that starts it (esmini's stepping, runner.py)


class Motion:
    """One entity's motion as drivesim computes it: speed and lateral profiles from the recorded changes."""

    def __init__(self, entity: EntityDef, u0: float, lateral0: float, speed0: float):
        self.entity, self.u0 = entity, u0
        self.initial = {"speed": speed0, "lateral": lateral0}
        self.changes: dict[str, list[Change]] = {"speed": [], "lateral": []}
        self._profiles: dict[str, BlendedProfile] = {}
        self._blends = {"speed": (-math.inf, -math.inf), "lateral": (-math.inf, -math.inf)}  # latest start, end

    def profile(self, prop: str) -> BlendedProfile:
        if prop not in self._profiles:
            self._profiles[prop] = BlendedProfile(self.initial[prop], [_segment(c) for c in self.changes[prop]])
        return self._profiles[prop]

    def add(self, prop: str, change: Change) -> None:
        change.takes_over = self.busy(prop, change.at)
        self.changes[prop].append(change)
        if change.shape != "step":
            last_at, last_end = self._blends[prop]
            self._blends[prop] = (max(last_at, change.at), max(last_end, change.at + change.duration - 1e-9))
        profile = self._profiles.get(prop)
        if profile is not None and (not profile.segments or change.at >= profile.segments[-1][0]):
            profile.append(_segment(change))  # no earlier than every change so far: the same as built anew
        else:
            self._profiles.pop(prop, None)

    def set_initial(self, prop: str, value: float) -> None:
        """The value before any change (an <Init> action that steps to it)."""
        self.initial[prop] = value
        self._profiles.pop(prop, None)

    def busy(self, prop: str, t: float) -> bool:
        """Whether an earlier change of `prop` is still blending at t."""
        last_at, last_end = self._blends[prop]
        if t >= last_at:  # every blend has begun (the runner asks at the time it records): is one still going?
            return t < last_end
        return any(c.shape != "step" and c.at <= t < c.at + c.duration - 1e-9 for c in self.changes[prop])

    def value(self, prop: str, t: float) -> float:
        """`prop` as esmini has it at frame time t: a change recorded `lead` seconds before the step that
        started it is read that much later in its profile (the position, the profile's integral, is not)."""
        return float(self.profile(prop).value(np.array(t - self.lead(prop, t))))

    def rate(self, prop: str, t: float) -> float:
        """The rate of `prop` as esmini has it at frame time t (see `value`)."""
        return rate(self.profile(prop), t - self.lead(prop, t))

    def lead(self, prop: str, t: float) -> float:
        """The lead of the change governing `prop` at frame time t: the last one whose step has begun."""
        for c in reversed(self.changes[prop]):  # the latest first: at the frame's time it has begun
            if c.at + c.lead <= t + 1e-9:
                return c.lead
        return 0.0


def rate(profile: BlendedProfile, t: float) -> float:
    """The profile's rate at t, 0 once the change governing t is over."""
    return float(profile.rate(np.array(t)))


def _segment(change: Change) -> tuple:
    """A recorded change as a BlendedProfile change (a step lasts 1 ns)."""
    return change.at, max(change.duration, 1e-9), change.target, change.shape
