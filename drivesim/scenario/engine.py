"""The scenario engine: a `Scenario` -> per-frame ground truth (`FrameConditions`), deterministic in the seed.

World model (docs/scenario-format.md): an ego-centric straight road. The ego drives at the centre of
`ego.lane` (or `ego.lateral_m`) at `ego.speed_mps`, changed over time by `ego.actions` like an agent's;
everything is expressed relative to the camera on it (which always looks along the road).
Road frame: x right, y down (ground y = 0), z forward; see `camera.py`.

Named agents:
- keep their lane (centre at (lane + 0.5) * lane_width_m right of the road's left edge) or
  `lateral_m`, and their speed, until an action changes them;
- an action blends from the value at its `at_s` to its target over `duration_s` with a
  smoothstep (3u^2 - 2u^3): lateral moves (`lane_change_to`, `lateral_m`) and speed changes
  alike; a later action takes over from wherever the earlier one had got to;
- an action's `shape` (smoothstep by default, linear, sinusoidal, step) is the curve of the blend;
- forward position z(t) = distance_m + integral of (agent speed - ego speed), integrated in
  closed form (exact for any frame rate);
- heading_rad = atan2(lateral velocity, forward speed): 0 along the road, positive yawing
  right (towards +x), pi for agents moving towards the camera. This is the sign of a rotation
  about the y-down axis, as KITTI's; the label's rotation_y = heading_rad - pi/2, so a car
  driving ahead of the ego has rotation_y = -pi/2 (see `boxes.py`).
Environment: frame i (t = i / fps) uses, for time_of_day and crowdedness separately, the
latest event with at_s <= t (ties: the later one in the file wins).
Background traffic: `traffic.py`. The ego's own car (EGO_SIZE_M, camera EGO_CAMERA_BEHIND_FRONT_M
behind its front) is kept clear of background traffic but never labelled; background traffic
also keeps out of the camera's line of sight to every named agent.

    drivesim plan scenarios/lead_brake.yaml -o out/labels.jsonl
    from drivesim.scenario.loader import load_scenario
    engine = ScenarioEngine(load_scenario("scenarios/lead_brake.yaml"))
    engine.frame(0).boxes, engine.agent_states(2.5)
"""

from __future__ import annotations

import math
from typing import Iterator, Sequence

import numpy as np

from drivesim.errors import ScenarioError
from drivesim.scenario.boxes import label_boxes
from drivesim.scenario.camera import PinholeCamera
from drivesim.scenario.checks import check_scenario
from drivesim.scenario.format import Action, Agent, Scenario
from drivesim.scenario.issues import ScenarioIssue, format_key_path
from drivesim.scenario.labels import AgentState, FrameConditions, RoadState
from drivesim.scenario.traffic import BackgroundTraffic, Obstacles, grid_times

EGO_SIZE_M = (4.5, 1.8, 1.5)
EGO_CAMERA_BEHIND_FRONT_M = 1.0


class BlendedProfile:
    """A scalar that holds its value, then blends to each new target (a smoothstep unless said otherwise).

    `changes` are (at_s, duration_s, target) or (at_s, duration_s, target, shape), shape one of
    format.ActionShape; a change starts from the value at its at_s, so overlapping changes hand over
    smoothly (a later change governs from its at_s on). `value`, `rate` and `integral` take arrays of times.
    """

    def __init__(self, initial: float, changes: Sequence[tuple] = ()):
        self.initial = float(initial)
        self.segments: list[tuple[float, float, float, float, str]] = []  # (t0, duration, v0, v1, shape)
        for change in sorted(changes, key=lambda c: c[0]):
            at, dur, target = change[:3]
            shape = change[3] if len(change) > 3 else "smoothstep"
            v0 = float(self.value(np.array([at]))[0])
            self.segments.append((float(at), float(dur), v0, float(target), shape))

    def value(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, float)
        out = np.full(t.shape, self.initial)
        for t0, dur, v0, v1, shape in self.segments:
            u = np.clip((t - t0) / dur, 0.0, 1.0)
            out = np.where(t >= t0, v0 + (v1 - v0) * _SHAPES[shape][0](u), out)
        return out

    def rate(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, float)
        out = np.zeros(t.shape)
        for t0, dur, v0, v1, shape in self.segments:
            u = np.clip((t - t0) / dur, 0.0, 1.0)
            out = np.where(t >= t0, (v1 - v0) * _SHAPES[shape][1](u) / dur, out)
        return out

    def integral(self, t: np.ndarray) -> np.ndarray:
        """Integral of the value from 0 to t (t >= 0)."""
        t = np.asarray(t, float)
        starts = [s[0] for s in self.segments] + [math.inf]
        out = self.initial * np.minimum(t, starts[0])
        for (t0, dur, v0, v1, shape), t_next in zip(self.segments, starts[1:]):
            s = np.clip(t, t0, t_next) - t0  # time this segment governs, up to t
            u = s / dur
            # integral of the shape over [0, u] in units of dur (smoothstep: u^3 - u^4/2), then 1 per unit.
            area = _SHAPES[shape][2]
            shape_area = np.where(u <= 1.0, area(u), area(1.0) + (u - 1.0))
            out = out + v0 * s + (v1 - v0) * dur * shape_area
        return out


# Each shape of an action: (f(u), f'(u), integral of f from 0 to u) for u in [0, 1] (see format.ActionShape).
_SHAPES = {
    "smoothstep": (lambda u: u * u * (3 - 2 * u), lambda u: 6 * u * (1 - u), lambda u: u ** 3 - u ** 4 / 2),
    "linear": (lambda u: u, lambda u: np.ones_like(u), lambda u: u * u / 2),
    "sinusoidal": (lambda u: (1 - np.cos(np.pi * u)) / 2, lambda u: np.pi / 2 * np.sin(np.pi * u),
                   lambda u: u / 2 - np.sin(np.pi * u) / (2 * np.pi)),
    "step": (lambda u: np.ones_like(u), lambda u: np.zeros_like(u), lambda u: u),
}


def action_changes(actions: Sequence[Action], lane_width_m: float) -> tuple[list[tuple], list[tuple]]:
    """(lateral changes, speed changes) of a list of actions, as BlendedProfile changes."""
    lateral, speed = [], []
    for a in actions:
        if a.lane_change_to is not None:
            lateral.append((a.at_s, a.duration_s, (a.lane_change_to + 0.5) * lane_width_m, a.shape))
        elif a.lateral_m is not None:
            lateral.append((a.at_s, a.duration_s, a.lateral_m, a.shape))
        if a.speed_mps is not None:
            speed.append((a.at_s, a.duration_s, a.speed_mps, a.shape))
    return lateral, speed


class EgoMotion:
    """The camera car: its lateral position and speed over time (constant unless `ego.actions` change them)."""

    def __init__(self, scenario: Scenario):
        ego, width = scenario.ego, scenario.road.lane_width_m
        start = ego.lateral_m if ego.lateral_m is not None else (ego.lane + 0.5) * width
        lateral, speed = action_changes(ego.actions, width)
        self.lateral = BlendedProfile(start, lateral)
        self.speed = BlendedProfile(ego.speed_mps, speed)
        self.constant = not ego.actions  # the common case, kept in its exact closed form
        self.speed_mps, self.lateral_m = float(ego.speed_mps), float(start)

    def travel(self, t: np.ndarray) -> np.ndarray:
        """Distance driven since t = 0."""
        return self.speed_mps * np.asarray(t, float) if self.constant else self.speed.integral(t)


class _NamedMotion:
    """One named agent's trajectory: lateral and speed profiles from its actions."""

    def __init__(self, agent: Agent, lane_width_m: float, ego: EgoMotion):
        self.agent = agent
        self.ego = ego
        start = (agent.lane + 0.5) * lane_width_m if agent.lane is not None else agent.lateral_m
        lateral, speed = action_changes(agent.actions, lane_width_m)
        self.lateral = BlendedProfile(start, lateral)
        self.speed = BlendedProfile(agent.speed_mps, speed)

    def at(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(lateral_m, z_m, speed_mps, heading_rad) at times t."""
        t = np.asarray(t, float)
        speed = self.speed.value(t)
        z = self.agent.distance_m + self.speed.integral(t) - self.ego.travel(t)
        heading = np.arctan2(self.lateral.rate(t), speed)
        return self.lateral.value(t), z, speed, heading


class ScenarioEngine:
    def __init__(self, scenario: Scenario, seed: int | None = None):
        _check_scenario(scenario)
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        self.camera = PinholeCamera.from_config(scenario.camera)
        self.num_frames = scenario.num_frames
        self.fps = scenario.fps
        self.ego = EgoMotion(scenario)
        self.ego_lateral_m = self.ego.lateral_m  # at t = 0; ego actions may move it (ego_lateral_at)
        self._named = [_NamedMotion(a, scenario.road.lane_width_m, self.ego) for a in scenario.agents]
        events = sorted(scenario.environment.events, key=lambda e: e.at_s)  # stable: file order on ties
        self._tod_events = [(e.at_s, e.time_of_day) for e in events if e.time_of_day is not None]
        self._crowd_events = [(e.at_s, e.crowdedness) for e in events if e.crowdedness is not None]
        grid = grid_times(scenario.duration_s)
        crowd = np.array([self.environment_at(float(t))[1] for t in grid])
        moving_ego = {} if self.ego.constant else {"ego_travel": self.ego.travel,
                                                       "ego_lateral_on_grid": self.ego.lateral.value(grid)}
        self.traffic = BackgroundTraffic(scenario, self.seed, self.camera, crowd, self._obstacles(grid), **moving_ego)

    # --- timeline --------------------------------------------------------------------------

    def environment_at(self, t: float) -> tuple[str, float]:
        """(time_of_day, crowdedness) in force at time t."""
        env = self.scenario.environment
        tod, crowd = env.time_of_day, env.crowdedness
        for at, value in self._tod_events:
            if at <= t + 1e-9:
                tod = value
        for at, value in self._crowd_events:
            if at <= t + 1e-9:
                crowd = value
        return tod, float(crowd)

    def ego_lateral_at(self, t: float) -> float:
        """The camera's position across the road at time t (metres right of the road's left edge)."""
        return float(self.ego.lateral.value(np.array(t)))

    def road_state(self, t: float) -> RoadState:
        road = self.scenario.road
        return RoadState(lanes=road.lanes, lane_width_m=road.lane_width_m, ego_lateral_m=self.ego_lateral_at(t),
                         ego_speed_mps=float(self.ego.speed.value(np.array(t))),
                         ego_travel_m=float(self.ego.travel(np.array(t))))

    def lateral_speeds(self, t: float) -> dict[str, float]:
        """Speed across the road (m/s, + to the right) at time t of the ego ("ego") and each named agent."""
        out = {"ego": float(self.ego.lateral.rate(np.array(t)))}
        for motion in self._named:
            out[motion.agent.id] = float(motion.lateral.rate(np.array(t)))
        return out

    def agent_states(self, t: float) -> list[AgentState]:
        """Every agent at time t (named first, in file order, then active background), unprojected."""
        states = []
        ego_lateral = self.ego_lateral_at(t)
        for motion in self._named:
            lat, z, speed, heading = (float(v) for v in motion.at(np.array(t)))
            a = motion.agent
            states.append(AgentState(track_id=a.id, type=a.type, x_m=lat - ego_lateral, z_m=z,
                                     lateral_m=lat, speed_mps=speed, heading_rad=heading,
                                     size_m=tuple(float(v) for v in a.size), is_background=False))
        bg = self.traffic.snapshot(t)
        for i, track_id in enumerate(bg.track_ids):
            lat = float(bg.lateral_m[i])
            states.append(AgentState(track_id=track_id, type=bg.types[i], x_m=lat - ego_lateral,
                                     z_m=float(bg.z_m[i]), lateral_m=lat, speed_mps=float(bg.speed_mps[i]),
                                     heading_rad=float(bg.heading_rad[i]),
                                     size_m=tuple(float(v) for v in bg.size_m[i]), is_background=True))
        return states

    def named_trajectory(self, agent_id: str, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A named agent at many times at once: (lateral_m, z_m, speed_mps, heading_rad) arrays."""
        for motion in self._named:
            if motion.agent.id == agent_id:
                return motion.at(np.asarray(t, float))
        raise KeyError(f"no named agent '{agent_id}' in scenario '{self.scenario.name}'")

    # --- frames ----------------------------------------------------------------------------

    def conditions_at(self, t: float, index: int = -1) -> FrameConditions:
        tod, crowd = self.environment_at(t)
        cam = self.camera
        return FrameConditions(index=index, timestamp_s=t, time_of_day=tod, crowdedness=crowd,
                               boxes=label_boxes(cam, self.agent_states(t)), road=self.road_state(t),
                               width=cam.width, height=cam.height)

    def frame(self, index: int) -> FrameConditions:
        if not 0 <= index < self.num_frames:
            raise IndexError(f"frame {index} is outside 0..{self.num_frames - 1}")
        return self.conditions_at(self.scenario.timestamp(index), index)

    def frames(self) -> Iterator[FrameConditions]:
        for i in range(self.num_frames):
            yield self.frame(i)

    # --- helpers ---------------------------------------------------------------------------

    def _obstacles(self, t: np.ndarray) -> Obstacles:
        """Named agents and the ego's car on the traffic grid, for keeping background traffic clear."""
        lat, z, speed, half_w, half_l = [], [], [], [], []
        for motion in self._named:
            la, zz, sp, hd = motion.at(t)
            length, width, _ = motion.agent.size
            lat.append(la), z.append(zz), speed.append(sp), half_l.append(length / 2)
            # A yawed agent sweeps wider: the lateral half extent of its rotated footprint.
            half_w.append(np.abs(np.cos(hd)) * width / 2 + np.abs(np.sin(hd)) * length / 2)
        ego_len, ego_w, _ = EGO_SIZE_M
        lat.append(np.full(t.shape, self.ego_lateral_m) if self.ego.constant else self.ego.lateral.value(t))
        z.append(np.full(t.shape, EGO_CAMERA_BEHIND_FRONT_M - ego_len / 2))
        speed.append(np.full(t.shape, self.scenario.ego.speed_mps) if self.ego.constant else self.ego.speed.value(t))
        half_w.append(np.full(t.shape, ego_w / 2))
        half_l.append(ego_len / 2)
        keep_visible = np.array([True] * len(self._named) + [False])  # not the ego's own car
        return Obstacles(lateral_m=np.stack(lat), z_m=np.stack(z), speed_mps=np.stack(speed),
                         half_width_m=np.stack(half_w), half_length_m=np.array(half_l), keep_visible=keep_visible)


def _check_scenario(scenario: Scenario) -> None:
    """The loader's cross-field rules (lanes that exist, unique ids, times inside the scenario)
    for a scenario built in code, e.g. over gRPC or by synth-data."""
    findings = check_scenario(scenario)
    if findings:
        raise ScenarioError([ScenarioIssue(f"scenario '{scenario.name}'", None, None, format_key_path(f.path),
                                           f.message, f.hint) for f in findings])
