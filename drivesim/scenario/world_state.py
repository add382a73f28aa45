"""World states of a closed loop (a session step, a trajectory line) -> labelled frame conditions.

    python -c "from drivesim.scenario.world_state import ClosedLoop; help(ClosedLoop.plan)"

The one world-state vocabulary of session steps, trajectory lines and bridges (docs/trajectory-format.md,
"World states"). The header scenario fixes the camera, fps, road, ego start and environment; its agents,
events and background traffic are not used (the simulator owns the world). Each step gives the ego and
every agent at the step's first timestamp, each in one of two forms (mixable within a step):
- road frame: the ego's `lateral_m` (metres right of the road's left edge) and `speed_mps` along the road;
  an agent's `lateral_m` or `x_m` and `distance_m` relative to the camera, `heading_rad` from its axis;
- world: a `WorldPose` (x, y, z, heading, pitch) in the header road's world frame (OpenDRIVE's inertial
  frame: z up, heading counter-clockwise from +x, pitch nose-up). The ego's pose is the camera's ground
  point (below the camera, heading where it looks: the camera turns and pitches with it); an agent's is
  its cuboid's bottom centre. A pose farther than MAX_OFF_ROAD_M from every lane of the header's road is
  refused (a frame mistake, e.g. a y axis pointing the other way).
Frames later in the same step extrapolate every agent (and a posed ego) at constant speed along its
heading. Boxes come from the engine's projection (`label_boxes`), so a session frame is labelled exactly
like a `drivesim generate` frame.

Time: frames are shown 1 / fps apart (the video's timeline), so frame k of a session (or trajectory) must be
at t0 + k / fps, t0 the first frame's timestamp, within FRAME_TIME_TOLERANCE of a frame interval; another
timestamp is refused, naming the gap found and the fps expected (`frame_time_problem`). Road travel
integrates the ego's speed over the timestamps.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from drivesim.errors import DrivesimError
from drivesim.road import Projector, RoadNetwork, WorldPose
from drivesim.scenario.boxes import PlanningCancelled, label_boxes
from drivesim.scenario.camera import EgoPose, PinholeCamera, ego_to_world
from drivesim.scenario.ego_frame import relative_yaw, world_to_ego_arrays
from drivesim.scenario.format import AGENT_TYPES, DEFAULT_SIZE_M, MAX_SIZE_M, Road, Scenario
from drivesim.scenario.labels import AgentState, Box, FrameConditions, RoadState

TIMES_OF_DAY = ("day", "night")
MAX_AGENT_ID_CHARS = 128  # ids become track ids in every label file: short, printable text
MAX_OFF_ROAD_M = 25.0  # a pose this far from every lane is a frame mistake, not a road user beside the road
FRAME_TIME_TOLERANCE = 0.25  # share of a frame interval a frame may sit off its place on the video's timeline
POSE_KEYS = ("x", "y", "z", "heading", "pitch")  # pitch may be left out (0)


class StepError(DrivesimError):
    """A session step the server cannot render (bad values, times going backwards, too many frames)."""


def as_pose(value: Any) -> Any:
    """A WorldPose from a WorldPose, a {x, y, z, heading[, pitch]} mapping or a 4- or 5-sequence; anything
    else is returned as it is (the step's checks then say what is wrong with it)."""
    if value is None or isinstance(value, WorldPose):
        return value
    if isinstance(value, Mapping) and set(value) <= set(POSE_KEYS) and set(POSE_KEYS[:4]) <= set(value):
        return WorldPose(*(value.get(k, 0.0) for k in POSE_KEYS))
    if isinstance(value, Sequence) and not isinstance(value, str) and len(value) in (4, 5):
        return WorldPose(*value, *([0.0] if len(value) == 4 else []))
    return value


@dataclass(frozen=True)
class StepAgent:
    """One agent as the simulator sees it at the step's first timestamp (SI units): in the road frame
    (lateral_m or x_m, distance_m, heading_rad) or by its world `pose` (bottom centre, world heading)."""

    id: str
    type: str
    distance_m: float | None = None  # road-frame z of the cuboid centre, camera -> agent
    speed_mps: float = 0.0  # along its heading
    heading_rad: float = 0.0  # 0 along the road, + yawing right (road frame only)
    size_m: tuple[float, float, float] | None = None  # None: the type's default
    lateral_m: float | None = None  # metres right of the road's left edge ...
    x_m: float | None = None  # ... or metres right of the camera (exactly one of the two)
    pose: WorldPose | None = None  # ... or the world pose instead of all three

    def __post_init__(self) -> None:
        object.__setattr__(self, "pose", as_pose(self.pose))


@dataclass(frozen=True)
class Step:
    agents: tuple[StepAgent, ...] = ()
    time_of_day: str | None = None  # None: keep the previous value
    crowdedness: float | None = None
    ego_speed_mps: float | None = None
    ego_lateral_m: float | None = None
    timestamps_s: tuple[float, ...] = ()  # empty: num_frames at the header's fps
    num_frames: int = 1
    ego_pose: WorldPose | None = None  # the camera's ground point in the world (instead of ego_lateral_m)

    def __post_init__(self) -> None:
        object.__setattr__(self, "ego_pose", as_pose(self.ego_pose))


def frame_time_problem(t: float, index: int, first_t: float, fps: float,
                       previous_t: float | None) -> tuple[str, str] | None:
    """(what is wrong, how to fix it) when frame `index` (0-based) at time t is not where the video shows it,
    first_t + index / fps (within FRAME_TIME_TOLERANCE of a frame interval); None when it is."""
    interval = 1.0 / fps
    expected = first_t + index * interval
    if abs(t - expected) <= FRAME_TIME_TOLERANCE * interval + 1e-9:
        return None
    gap = "" if previous_t is None else f"{_g(t - previous_t)} s after the previous frame ({_g(previous_t)} s): "
    return (f"{gap}frames are 1/fps = {_g(interval)} s apart (fps {_g(fps)}), so frame {index} belongs at "
            f"{_g(expected)} s (+- {_g(FRAME_TIME_TOLERANCE * interval)} s), got {_g(t)} s",
            f"give one state every {_g(interval)} s (resample the simulation to {_g(fps)} Hz), or set the "
            "header's fps to the simulation's rate")


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
        self.ego_pose: WorldPose | None = None  # at last_t, once a step gave the ego a world pose
        self.first_t: float | None = None
        self.last_t: float | None = None
        self.frame_index = 0
        self.steps = 0
        self.road = HeaderRoad(self)
        self.world_labels = not self.road.version1  # labels carry world poses (labels.FrameConditions)

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
        since = 0.0 if self.last_t is None else times[0] - self.last_t
        travel = self.ego_travel_m + ego_speed * since

        # The ego's world pose at times[0]: given, carried on from the last one given, or none (road frame).
        ego_pose = step.ego_pose
        if ego_pose is None and self.ego_pose is not None:
            ego_pose = _advance(self.ego_pose, ego_speed, since)
        self.road.check(where, "ego.pose", step.ego_pose)
        for i, a in enumerate(step.agents):
            _poll(cancelled, i)
            self.road.check(f"{where}: agents[{i}] ('{a.id}')", "pose", a.pose)
        if ego_pose is not None:
            ego_lateral = self.road.lateral(ego_pose, ego_lateral)
        world = self.world_labels or ego_pose is not None or any(a.pose is not None for a in step.agents)

        out = []
        for k, t in enumerate(times):
            if cancelled is not None and cancelled():
                raise PlanningCancelled
            dt = t - times[0]
            camera = (_advance(ego_pose, ego_speed, dt) if ego_pose is not None
                      else self.road.ego_pose(travel + ego_speed * dt, ego_lateral))
            if camera is None and any(a.pose is not None for a in step.agents):
                raise StepError(f"{where}: agents with a world pose need the ego's world pose: give ego.pose "
                                f"({self.road.why_no_pose})")
            to_world = None if camera is None else EgoPose(*camera)  # once per frame: its axes are cached
            states = []
            for j, a in enumerate(step.agents):
                _poll(cancelled, j)
                states.append(_state_at(a, dt, ego_speed, ego_lateral, camera, to_world))
            pose = camera if world else None
            out.append(FrameConditions(
                index=self.frame_index + k, timestamp_s=t, time_of_day=tod, crowdedness=crowd,
                boxes=label_boxes(self.camera, states, cancelled),
                road=RoadState(lanes=self.header.road.lanes, lane_width_m=self.header.road.lane_width_m,
                               ego_lateral_m=ego_lateral, ego_speed_mps=ego_speed,
                               ego_travel_m=travel + ego_speed * dt, ego_pose=pose,
                               network=self.road.network),
                width=self.camera.width, height=self.camera.height, ego_pose=pose, world_labels=world))

        # Commit only once the whole step is planned.
        self.time_of_day, self.crowdedness = tod, crowd
        self.ego_speed_mps, self.ego_lateral_m = ego_speed, ego_lateral
        self.ego_travel_m = travel + ego_speed * (times[-1] - times[0])
        if ego_pose is not None:
            self.ego_pose = _advance(ego_pose, ego_speed, times[-1] - times[0])
        self.world_labels = world
        self.first_t = times[0] if self.first_t is None else self.first_t
        self.last_t = times[-1]
        self.frame_index += len(times)
        self.steps += 1
        return out

    def _times(self, step: Step, where: str) -> list[float]:
        fps = self.header.fps
        first = 0.0 if self.first_t is None else self.first_t
        if step.timestamps_s:
            times = [float(t) for t in step.timestamps_s]
            if any(b <= a for a, b in zip(times, times[1:])):
                raise StepError(f"{where}: timestamps_s must be strictly increasing, got {times}")
        else:
            times = [round(first + (self.frame_index + k) / fps, 9) for k in range(step.num_frames or 1)]
        if self.last_t is not None and times[0] <= self.last_t:
            raise StepError(f"{where}: timestamps must come after the previous frame at {self.last_t} s, "
                            f"got {times[0]} s")
        if times[0] < 0:
            raise StepError(f"{where}: timestamps must be >= 0 s, got {times[0]}")
        first = times[0] if self.first_t is None else self.first_t
        previous = self.last_t
        for k, t in enumerate(times):
            problem = frame_time_problem(t, self.frame_index + k, first, fps, previous)
            if problem is not None:
                raise StepError(f"{where}: timestamps_s[{k}]: {problem[0]} -- {problem[1]}")
            previous = t
        return times


class HeaderRoad:
    """The header's road as a world: where a road-frame ego stands on it, and how far poses are from its lanes.

    Version 1's straight road (no segments, no OpenDRIVE) is endless: its world is the engine's, x along the
    road from the ego's start and y = -lateral_m (`straight_world.py`), and nothing is built. Other roads are
    built once, when first needed: the network (for the distance of a pose from the lanes and the lateral
    position of a posed ego) and the ego's lane path from the header's ego (for a road-frame ego)."""

    def __init__(self, loop: ClosedLoop):
        self.loop = loop
        road = loop.header.road
        self.version1 = (road.segments is None and road.opendrive is None and road.oncoming_lanes == 0
                         and road.traffic == "right")
        self._projector: Projector | None = None
        self._path: Any = None  # the ego's LanePath; False: the header cannot place the ego
        self.why_no_pose = ""

    def ego_pose(self, travel: float, lateral: float) -> WorldPose | None:
        """The road-frame ego's camera pose after `travel` metres, `lateral` right of its lanes' left edge."""
        if self.version1:
            return WorldPose(float(travel), -float(lateral), 0.0, 0.0, 0.0)
        path = self._ego_path()
        if path is None:
            return None
        p = path.poses_at_lateral(path.u_start + travel, lateral)
        return WorldPose(float(p.x), float(p.y), float(p.z), float(p.heading), float(p.pitch))

    def lateral(self, pose: WorldPose, default: float) -> float:
        """Metres right of the left edge of the lanes driven the pose's way where it stands (the ego's
        `lateral_m` for the road-layout condition); `default` beside every lane."""
        if self.version1:
            return -float(pose.y)
        from drivesim.scenario.lane_path import left_edge

        point = self._projector_().project(pose.x, pose.y, pose.heading)
        if point is None or point.lane is None:
            return default
        road = self._projector_().network.roads[point.road]
        direction = road.direction(point.lane)
        left, _ = left_edge(road, road.section_index(point.s), direction, np.array(point.s))
        return float((float(left) - point.t) * direction)

    def check(self, where: str, key: str, pose: WorldPose | None) -> None:
        """A StepError when a given pose is farther than MAX_OFF_ROAD_M from every lane (how far, which road)."""
        if pose is None:
            return
        if self.version1:
            road = self.loop.header.road
            distance, road_id, s = max(0.0, pose.y, -road.lanes * road.lane_width_m - pose.y), "main", pose.x
        else:
            point = self._projector_().project(pose.x, pose.y, pose.heading)
            distance, road_id, s = point.distance, point.road, point.s
        if distance > MAX_OFF_ROAD_M:
            raise StepError(f"{where}: {key} ({_g(pose.x)}, {_g(pose.y)}) is {distance:.1f} m from the nearest lane "
                            f"of the header's road (road '{road_id}' at s = {s:.1f} m); poses more than "
                            f"{_g(MAX_OFF_ROAD_M)} m off the road are refused -- give poses in the road's world "
                            "frame (x, y, z up, heading counter-clockwise from +x; a simulator whose y points "
                            "right of x mirrors y and heading)")

    @property
    def network(self) -> RoadNetwork | None:
        """The header road's network (for the road condition maps); None on version 1's endless road, which
        the maps draw from the road state's lanes."""
        return None if self.version1 else self._projector_().network

    def _ego_path(self) -> Any:
        if self._path is None:
            from drivesim.scenario.network import scenario_world

            try:
                self._path = scenario_world(self.loop.header).ego.path
            except DrivesimError as err:
                self._path, self.why_no_pose = False, f"the header cannot place a road-frame ego: {err}"
        return self._path or None

    def _projector_(self) -> Projector:
        if self._projector is None:
            self._projector = Projector(header_network(self.loop.header))
        return self._projector


def header_network(header: Scenario) -> RoadNetwork:
    """The road network of a header's road (without placing anyone on it, unlike `scenario_world`)."""
    from drivesim.scenario.inline_road import inline_road

    road = header.road
    if road.opendrive is not None:
        from drivesim.scenario.file_formats import read_road_network

        return read_road_network(os.path.abspath(road.opendrive))
    if road.segments is not None:
        return RoadNetwork.of([inline_road(road)])
    from drivesim.scenario.network import scenario_network

    return scenario_network(header)


AGENT_POLL = 256  # agents between two looks at a cancel flag in the per-agent loops of `plan`


def _poll(cancelled: Callable[[], bool] | None, k: int) -> None:
    """Raises PlanningCancelled every AGENT_POLL agents once `cancelled()` is true."""
    if cancelled is not None and k % AGENT_POLL == AGENT_POLL - 1 and cancelled():
        raise PlanningCancelled


def _advance(pose: WorldPose, speed: float, dt: float) -> WorldPose:
    """The pose after dt seconds at constant speed along its heading (climbing as its pitch says)."""
    d = speed * dt
    h, p = pose.heading, pose.pitch
    return WorldPose(pose.x + d * math.cos(h) * math.cos(p), pose.y + d * math.sin(h) * math.cos(p),
                     pose.z + d * math.sin(p), h, p)


def _state_at(a: StepAgent, dt: float, ego_speed: float, ego_lateral: float,
              camera: WorldPose | None, to_world: EgoPose | None = None) -> AgentState:
    """The agent after dt seconds at constant speed and heading, seen from the camera at that time."""
    size = tuple(float(v) for v in (a.size_m if a.size_m is not None else DEFAULT_SIZE_M[a.type]))
    if a.pose is not None:  # world form: moved in the world, then seen from the camera
        pose = _advance(a.pose, a.speed_mps, dt)
        x, y, z = (float(v) for v in world_to_ego_arrays(pose.x, pose.y, pose.z, camera.x, camera.y, camera.z,
                                                         camera.heading, camera.pitch))
        yaw = float(relative_yaw(pose.heading, camera.heading))
        return AgentState(track_id=a.id, type=a.type, x_m=x, z_m=z, lateral_m=x + ego_lateral, speed_mps=a.speed_mps,
                          heading_rad=yaw, size_m=size, is_background=False, y_m=y, world=pose)
    # road frame: relative to the ego, which moves forward at its own speed
    x0 = a.x_m if a.x_m is not None else a.lateral_m - ego_lateral
    x = x0 + a.speed_mps * math.sin(a.heading_rad) * dt
    z = a.distance_m + (a.speed_mps * math.cos(a.heading_rad) - ego_speed) * dt
    world = None
    if camera is not None:
        wx, wy, wz = (float(v) for v in ego_to_world(np.array([x, 0.0, z]), to_world or EgoPose(*camera)))
        world = WorldPose(wx, wy, wz, math.remainder(camera.heading - a.heading_rad, 2 * math.pi), camera.pitch)
    return AgentState(track_id=a.id, type=a.type, x_m=x, z_m=z, lateral_m=x + ego_lateral,
                      speed_mps=a.speed_mps, heading_rad=a.heading_rad, size_m=size, is_background=False, world=world)


def _check_step(step: Step, where: str, max_frames: int) -> None:
    if not isinstance(step, Step):
        raise StepError(f"{where}: expected a Step, got {type(step).__name__}")
    if not isinstance(step.timestamps_s, (tuple, list)) or not isinstance(step.agents, (tuple, list)):
        raise StepError(f"{where}: timestamps_s and agents must be sequences, got {type(step.timestamps_s).__name__} "
                        f"and {type(step.agents).__name__}")
    if isinstance(step.num_frames, bool) or not isinstance(step.num_frames, int) or step.num_frames < 0:
        raise StepError(f"{where}: num_frames must be a whole number >= 0 (0 means 1), got {step.num_frames!r}")
    n = len(step.timestamps_s) or (step.num_frames or 1)
    if n > max_frames:
        raise StepError(f"{where}: asks for {n} frames; this server renders at most {max_frames} per step "
                        "(split it into several steps)")
    _finite(where, "timestamps_s", *step.timestamps_s)
    _check_environment(where, step.time_of_day, step.crowdedness)
    if step.ego_speed_mps is not None and not (_is_finite(step.ego_speed_mps) and step.ego_speed_mps >= 0):
        raise StepError(f"{where}: ego.speed_mps must be a finite number >= 0, got {step.ego_speed_mps}")
    _finite(where, "ego.lateral_m", *([step.ego_lateral_m] if step.ego_lateral_m is not None else []))
    if step.ego_pose is not None:
        if step.ego_lateral_m is not None:
            raise StepError(f"{where}: ego: give either pose (world) or lateral_m (road frame), not both")
        _check_pose(where, "ego.pose", step.ego_pose)
    seen: set[str] = set()
    for i, a in enumerate(step.agents):
        at = f"{where}: agents[{i}]"
        if not isinstance(a, StepAgent):
            raise StepError(f"{at}: expected a StepAgent, got {type(a).__name__}")
        if not isinstance(a.id, str) or not a.id:
            raise StepError(f"{at}: id must be non-empty text, got {a.id!r:.40}; give every agent a stable id")
        if len(a.id) > MAX_AGENT_ID_CHARS or not a.id.isprintable():
            raise StepError(f"{at}: id must be printable text of at most {MAX_AGENT_ID_CHARS} characters, "
                            f"got {a.id[:40]!r}{'...' if len(a.id) > 40 else ''} ({len(a.id)} characters)")
        if a.id in seen:
            raise StepError(f"{at}: id '{a.id}' is used twice in this step")
        seen.add(a.id)
        if a.type not in AGENT_TYPES:
            raise StepError(f"{at} ('{a.id}'): type must be one of {', '.join(AGENT_TYPES)}, got '{a.type}'")
        if a.pose is not None:
            if a.lateral_m is not None or a.x_m is not None or a.distance_m is not None or a.heading_rad:
                raise StepError(f"{at} ('{a.id}'): give either pose (world: its heading included) or lateral_m / "
                                "x_m, distance_m and heading_rad (road frame), not both")
            _check_pose(f"{at} ('{a.id}')", "pose", a.pose)
        else:
            if (a.lateral_m is None) == (a.x_m is None):
                raise StepError(f"{at} ('{a.id}'): set exactly one of lateral_m or x_m, or give a world pose")
            if a.distance_m is None:
                raise StepError(f"{at} ('{a.id}'): distance_m is missing (or give a world pose)")
            _finite(at, "position", a.distance_m, a.x_m if a.x_m is not None else a.lateral_m)
        _finite(at, "speed_mps / heading_rad", a.speed_mps, a.heading_rad)
        if a.speed_mps < 0:
            raise StepError(f"{at} ('{a.id}'): speed_mps must be >= 0 (turn its heading by pi to drive backwards)")
        if a.size_m is not None:
            _check_size(f"{at} ('{a.id}')", a.size_m)


def check_conditions(fc: FrameConditions, where: str) -> None:
    """A StepError naming the field when a frame's conditions, given directly rather than planned from a
    step (`VideoPipeline.session(...).step([FrameConditions, ...])`), hold a value the scenario format does
    not allow: a time of day other than day / night, crowdedness outside 0..1, any number that is not
    finite (NaN would silently condition the networks on nothing) or beyond MAX_MAGNITUDE, an unknown box
    type, a field of the wrong type or length (a str among the boxes, a 2-number bbox), a road outside the
    format's ranges (road.lanes 1e9 filled gigabytes drawing the lane lines)."""
    if fc.time_of_day is None or fc.crowdedness is None:  # a frame states both (a step may leave them as they were)
        raise StepError(f"{where}: time_of_day and crowdedness must be given, got {fc.time_of_day!r} and "
                        f"{fc.crowdedness!r}")
    _check_environment(where, fc.time_of_day, fc.crowdedness)
    if not _is_whole(fc.index) or fc.index < 0:
        raise StepError(f"{where}: index must be a whole number >= 0, got {fc.index!r:.40}")
    _finite(where, "timestamp_s", fc.timestamp_s)
    if not (_is_whole(fc.width) and _is_whole(fc.height) and fc.width > 0 and fc.height > 0):
        raise StepError(f"{where}: width and height must be whole numbers > 0, got {fc.width!r} x {fc.height!r}")
    if not isinstance(fc.boxes, (tuple, list)):
        raise StepError(f"{where}: boxes must be a tuple or list of Box, got {type(fc.boxes).__name__}")
    for k, b in enumerate(fc.boxes):
        _check_box(f"{where}: boxes[{k}]", b)
    if fc.ego_pose is not None:
        _planned_pose(where, "ego_pose", fc.ego_pose)
    if fc.road is not None:
        _check_road(where, fc.road)


def _check_environment(where: str, time_of_day: Any, crowdedness: Any) -> None:
    """A step's or a frame's environment (None: not given) within the scenario format's values."""
    if time_of_day is not None and time_of_day not in TIMES_OF_DAY:
        raise StepError(f"{where}: environment.time_of_day must be 'day' or 'night', got {time_of_day!r:.40}")
    if crowdedness is not None and not (_is_number(crowdedness) and 0.0 <= crowdedness <= 1.0):
        raise StepError(f"{where}: environment.crowdedness must be a number in 0..1, got {crowdedness!r:.40}")


def _check_size(at: str, size: Any) -> None:
    """An agent's or a box's size_m: length, width and height in (0, MAX_SIZE_M] (the scenario format's)."""
    if not (isinstance(size, (tuple, list)) and len(size) == 3
            and all(_is_finite(v) and 0 < v <= MAX_SIZE_M for v in size)):
        raise StepError(f"{at}: size_m must be three numbers in (0, {MAX_SIZE_M:g}] m (length, width, height), "
                        f"got {size!r:.80}")


_BOX_VECTORS = (("bbox_xyxy", 4), ("location_m", 3), ("size_m", 3))  # a Box's tuples and their lengths


def _check_box(at: str, b: Any) -> None:
    if not isinstance(b, Box):
        raise StepError(f"{at} must be a Box (drivesim.scenario.labels.Box), got {type(b).__name__}")
    if not isinstance(b.track_id, str) or not b.track_id:
        raise StepError(f"{at}: track_id must be non-empty text, got {b.track_id!r:.40}")
    if b.type not in AGENT_TYPES:
        raise StepError(f"{at}: type must be one of {', '.join(AGENT_TYPES)}, got {b.type!r:.40}")
    for name, n in _BOX_VECTORS:
        value = getattr(b, name)
        if not isinstance(value, (tuple, list)) or len(value) != n:
            raise StepError(f"{at}: {name} must be {n} numbers, got {value!r:.80}")
        _finite(at, name, *value)
    _check_size(at, b.size_m)
    _finite(at, "truncation / occlusion / rotation_y / distance_m", b.truncation, b.occlusion, b.rotation_y,
            b.distance_m)
    if not (0.0 <= b.truncation <= 1.0 and 0.0 <= b.occlusion <= 1.0):
        raise StepError(f"{at}: truncation and occlusion must be in 0..1, got {b.truncation}, {b.occlusion}")
    if b.world_pose is not None:
        _planned_pose(at, "world_pose", b.world_pose)


def _check_road(where: str, road: Any) -> None:
    """The road of a frame's conditions within the scenario format's road ranges (its lanes are drawn)."""
    if not isinstance(road, RoadState):
        raise StepError(f"{where}: road must be a RoadState or None, got {type(road).__name__}")
    lanes, width = _format_range("lanes"), _format_range("lane_width_m")
    if not _is_whole(road.lanes) or not lanes[0] <= road.lanes <= lanes[1]:
        raise StepError(f"{where}: road.lanes must be a whole number in {lanes[0]}..{lanes[1]} (the scenario "
                        f"format's road.lanes), got {road.lanes!r:.40}")
    # finite, not capped: a long session's travel passes any cap on one step's numbers
    _numbers(where, "road.lane_width_m / ego_lateral_m / ego_speed_mps / ego_travel_m", road.lane_width_m,
             road.ego_lateral_m, road.ego_speed_mps, road.ego_travel_m)
    if not width[0] < road.lane_width_m <= width[1]:
        raise StepError(f"{where}: road.lane_width_m must be in ({width[0]:g}, {width[1]:g}] m (the scenario "
                        f"format's road.lane_width_m), got {road.lane_width_m!r}")
    if road.ego_pose is not None:
        _planned_pose(where, "road.ego_pose", road.ego_pose)


def _format_range(key: str) -> tuple[float, float]:
    """(lower, upper) bound of the scenario format's road key, read from format.Road: one source of truth."""
    metadata = Road.model_fields[key].metadata
    low = next(getattr(m, a) for m in metadata for a in ("ge", "gt") if getattr(m, a, None) is not None)
    high = next(m.le for m in metadata if getattr(m, "le", None) is not None)
    return low, high


def _planned_pose(where: str, key: str, pose: Any) -> None:
    # finite, not capped: a planned frame's poses are in the map's frame, whose coordinates may be large
    if not isinstance(pose, WorldPose):
        raise StepError(f"{where}: {key} must be {{x, y, z, heading[, pitch]}} (or a WorldPose), got {pose!r:.80}")
    _numbers(where, key, *pose)


def _numbers(where: str, name: str, *values: Any) -> None:
    if not all(_is_number(v) for v in values):
        raise StepError(f"{where}: {name} must be finite numbers, got {list(values)}")


def _is_whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _check_pose(where: str, key: str, pose: Any) -> None:
    if not isinstance(pose, WorldPose):
        raise StepError(f"{where}: {key} must be {{x, y, z, heading[, pitch]}} (or a WorldPose), got {pose!r:.80}")
    _finite(where, key, *pose)
    if abs(pose.pitch) >= math.pi / 2:
        raise StepError(f"{where}: {key}.pitch must be within (-pi/2, pi/2) radians, got {pose.pitch:g}")


MAX_MAGNITUDE = 1e6  # metres, seconds, m/s: anything larger is a unit mistake, not a scene


def _is_finite(v: float) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and abs(v) <= MAX_MAGNITUDE


def _finite(where: str, name: str, *values: float) -> None:
    if not all(_is_finite(v) for v in values):
        raise StepError(f"{where}: {name} must be finite numbers of magnitude <= {MAX_MAGNITUDE:g}, "
                        f"got {list(values)}")


def _g(x: float) -> str:
    return f"{x:.6g}"
