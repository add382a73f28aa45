"""World states of a closed loop (a session step, a trajectory line) -> labelled frame conditions.

    python -c "from drivesim.scenario.world_state import ClosedLoop; help(ClosedLoop.plan)"

The header scenario fixes the camera, road, ego start and environment; its agents, events
and background traffic are not used (the simulator owns the world). Each step gives every
agent's state at the step's first timestamp in the road frame; frames later in the same
step extrapolate each agent at constant speed along its heading, relative to the ego, which
moves forward at its own speed. Boxes come from the engine's projection (`label_boxes`),
so a session frame is labelled exactly like a `drivesim generate` frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from drivesim.errors import DrivesimError
from drivesim.scenario.boxes import PlanningCancelled, label_boxes
from drivesim.scenario.camera import PinholeCamera
from drivesim.scenario.format import AGENT_TYPES, DEFAULT_SIZE_M, Scenario
from drivesim.scenario.labels import AgentState, FrameConditions, RoadState

TIMES_OF_DAY = ("day", "night")
MAX_AGENT_ID_CHARS = 128  # ids become track ids in every label file: short, printable text


class StepError(DrivesimError):
    """A session step the server cannot render (bad values, times going backwards, too many frames)."""


@dataclass(frozen=True)
class StepAgent:
    """One agent as the simulator sees it at the step's first timestamp (road frame, SI units)."""

    id: str
    type: str
    distance_m: float  # road-frame z of the cuboid centre, camera -> agent
    speed_mps: float = 0.0  # along its heading
    heading_rad: float = 0.0  # 0 along the road, + yawing right
    size_m: tuple[float, float, float] | None = None  # None: the type's default
    lateral_m: float | None = None  # metres right of the road's left edge ...
    x_m: float | None = None  # ... or metres right of the camera (exactly one of the two)


@dataclass(frozen=True)
class Step:
    agents: tuple[StepAgent, ...] = ()
    time_of_day: str | None = None  # None: keep the previous value
    crowdedness: float | None = None
    ego_speed_mps: float | None = None
    ego_lateral_m: float | None = None
    timestamps_s: tuple[float, ...] = ()  # empty: num_frames at the header's fps
    num_frames: int = 1


class ClosedLoop:
    """The running state of one session: time, ego, environment and the frame counter."""

    def __init__(self, header: Scenario, max_frames_per_step: int = 64):
        self.header = header
        self.camera = PinholeCamera.from_config(header.camera)
        self.max_frames_per_step = max_frames_per_step
        self.time_of_day = header.environment.time_of_day
        self.crowdedness = header.environment.crowdedness
        self.ego_speed_mps = header.ego.speed_mps
        self.ego_lateral_m = (header.ego.lane + 0.5) * header.road.lane_width_m
        self.ego_travel_m = 0.0
        self.last_t: float | None = None
        self.frame_index = 0
        self.steps = 0

    def plan(self, step: Step, cancelled: Callable[[], bool] | None = None) -> list[FrameConditions]:
        """The step's frame conditions; raises StepError (and changes nothing) on a bad step.
        With `cancelled`, raises PlanningCancelled (and changes nothing) soon after it turns true."""
        where = f"step {self.steps}"
        _check_step(step, where, self.max_frames_per_step)
        times = self._times(step, where)
        ego_speed = self.ego_speed_mps if step.ego_speed_mps is None else step.ego_speed_mps
        ego_lateral = self.ego_lateral_m if step.ego_lateral_m is None else step.ego_lateral_m
        tod = step.time_of_day or self.time_of_day
        crowd = self.crowdedness if step.crowdedness is None else step.crowdedness

        travel = self.ego_travel_m + (0.0 if self.last_t is None else ego_speed * (times[0] - self.last_t))
        road = self.header.road
        out = []
        for k, t in enumerate(times):
            if cancelled is not None and cancelled():
                raise PlanningCancelled
            dt = t - times[0]
            states = [_state_at(a, dt, ego_speed, ego_lateral) for a in step.agents]
            out.append(FrameConditions(
                index=self.frame_index + k, timestamp_s=t, time_of_day=tod, crowdedness=crowd,
                boxes=label_boxes(self.camera, states, cancelled),
                road=RoadState(lanes=road.lanes, lane_width_m=road.lane_width_m, ego_lateral_m=ego_lateral,
                               ego_speed_mps=ego_speed, ego_travel_m=travel + ego_speed * dt),
                width=self.camera.width, height=self.camera.height))

        # Commit only once the whole step is planned.
        self.time_of_day, self.crowdedness = tod, crowd
        self.ego_speed_mps, self.ego_lateral_m = ego_speed, ego_lateral
        self.ego_travel_m = travel + ego_speed * (times[-1] - times[0])
        self.last_t = times[-1]
        self.frame_index += len(times)
        self.steps += 1
        return out

    def _times(self, step: Step, where: str) -> list[float]:
        if step.timestamps_s:
            times = [float(t) for t in step.timestamps_s]
            if any(b <= a for a, b in zip(times, times[1:])):
                raise StepError(f"{where}: timestamps_s must be strictly increasing, got {times}")
        else:
            n = step.num_frames or 1
            start = 0.0 if self.last_t is None else self.last_t + 1.0 / self.header.fps
            times = [round(start + k / self.header.fps, 9) for k in range(n)]
        if self.last_t is not None and times[0] <= self.last_t:
            raise StepError(f"{where}: timestamps must come after the previous frame at {self.last_t} s, "
                            f"got {times[0]} s")
        if times[0] < 0:
            raise StepError(f"{where}: timestamps must be >= 0 s, got {times[0]}")
        return times


def _state_at(a: StepAgent, dt: float, ego_speed: float, ego_lateral: float) -> AgentState:
    """The agent after dt seconds at constant speed and heading, relative to the ego."""
    x0 = a.x_m if a.x_m is not None else a.lateral_m - ego_lateral
    x = x0 + a.speed_mps * math.sin(a.heading_rad) * dt
    z = a.distance_m + (a.speed_mps * math.cos(a.heading_rad) - ego_speed) * dt
    size = a.size_m if a.size_m is not None else DEFAULT_SIZE_M[a.type]
    return AgentState(track_id=a.id, type=a.type, x_m=x, z_m=z, lateral_m=x + ego_lateral,
                      speed_mps=a.speed_mps, heading_rad=a.heading_rad,
                      size_m=tuple(float(v) for v in size), is_background=False)


def _check_step(step: Step, where: str, max_frames: int) -> None:
    n = len(step.timestamps_s) or (step.num_frames or 1)
    if n > max_frames:
        raise StepError(f"{where}: asks for {n} frames; this server renders at most {max_frames} per step "
                        "(split it into several steps)")
    _finite(where, "timestamps_s", *step.timestamps_s)
    if step.time_of_day is not None and step.time_of_day not in TIMES_OF_DAY:
        raise StepError(f"{where}: environment.time_of_day must be 'day' or 'night', got '{step.time_of_day}'")
    if step.crowdedness is not None and not (0.0 <= step.crowdedness <= 1.0):
        raise StepError(f"{where}: environment.crowdedness must be in 0..1, got {step.crowdedness}")
    if step.ego_speed_mps is not None and not (_is_finite(step.ego_speed_mps) and step.ego_speed_mps >= 0):
        raise StepError(f"{where}: ego.speed_mps must be a finite number >= 0, got {step.ego_speed_mps}")
    _finite(where, "ego.lateral_m", *([step.ego_lateral_m] if step.ego_lateral_m is not None else []))
    seen: set[str] = set()
    for i, a in enumerate(step.agents):
        at = f"{where}: agents[{i}]"
        if not a.id:
            raise StepError(f"{at}: id is empty; give every agent a stable id")
        if len(a.id) > MAX_AGENT_ID_CHARS or not a.id.isprintable():
            raise StepError(f"{at}: id must be printable text of at most {MAX_AGENT_ID_CHARS} characters, "
                            f"got {a.id[:40]!r}{'...' if len(a.id) > 40 else ''} ({len(a.id)} characters)")
        if a.id in seen:
            raise StepError(f"{at}: id '{a.id}' is used twice in this step")
        seen.add(a.id)
        if a.type not in AGENT_TYPES:
            raise StepError(f"{at} ('{a.id}'): type must be one of {', '.join(AGENT_TYPES)}, got '{a.type}'")
        if (a.lateral_m is None) == (a.x_m is None):
            raise StepError(f"{at} ('{a.id}'): set exactly one of lateral_m or x_m")
        _finite(at, "position", a.distance_m, a.x_m if a.x_m is not None else a.lateral_m)
        _finite(at, "speed_mps / heading_rad", a.speed_mps, a.heading_rad)
        if a.speed_mps < 0:
            raise StepError(f"{at} ('{a.id}'): speed_mps must be >= 0 (turn heading_rad by pi to drive backwards)")
        if a.size_m is not None and not (len(a.size_m) == 3 and all(_is_finite(v) and v > 0 for v in a.size_m)):
            raise StepError(f"{at} ('{a.id}'): size_m must be three numbers > 0 (length, width, height)")


MAX_MAGNITUDE = 1e6  # metres, seconds, m/s: anything larger is a unit mistake, not a scene


def _is_finite(v: float) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v) and abs(v) <= MAX_MAGNITUDE


def _finite(where: str, name: str, *values: float) -> None:
    if not all(_is_finite(v) for v in values):
        raise StepError(f"{where}: {name} must be finite numbers of magnitude <= {MAX_MAGNITUDE:g}, "
                        f"got {list(values)}")
