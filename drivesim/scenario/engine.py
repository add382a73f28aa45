"""The scenario engine: a `Scenario` -> per-frame ground truth (`FrameConditions`), deterministic in the seed.

World model (docs/scenario-format.md): the road network of `network.scenario_world` (version 1's straight
road, an inline road of segments, or an OpenDRIVE file). Every entity, the ego included, drives along its
lane path (`lane_path.py`): its position along it is the integral of its speed, its offset from the lane's
centre follows its lateral actions (`motion.py`), and it has a world pose every frame. The camera sits on
the ego and looks along the ego's lane (`ego_view.py`); labels are the world poses seen from it.
Road frame: x right, y down (ground y = 0 below the camera), z forward; see `camera.py`. On version 1's
straight road all of this is version 1's ego-centric road, to the digit (tests/test_world_golden.py).

Named agents:
- keep their lane (centre at (lane + 0.5) * lane_width_m right of the road's left edge) or
  `lateral_m`, and their speed, until an action changes them;
- an action blends from the value at its `at_s` to its target over `duration_s` with a
  smoothstep (3u^2 - 2u^3): lateral moves (`lane_change_to`, `lateral_m`) and speed changes
  alike; a later action takes over from wherever the earlier one had got to;
- an action's `shape` (smoothstep by default, linear, sinusoidal, step) is the curve of the blend;
- position along the path = start + integral of its speed, in closed form (exact for any frame rate);
  on a straight road, z(t) = distance_m + integral of (agent speed - ego speed);
- heading: its lane's, turned right by atan2(lateral velocity, forward speed); seen from the camera,
  heading_rad is 0 along the camera's axis, positive yawing right (towards +x), pi for agents moving
  towards the camera. This is the sign of a rotation about the y-down axis, as KITTI's; the label's
  rotation_y = heading_rad - pi/2, so a car driving ahead of the ego has rotation_y = -pi/2 (`boxes.py`).
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

from typing import Iterator, Sequence

import numpy as np

from drivesim.errors import ScenarioError
from drivesim.road import WorldPose
from drivesim.scenario.boxes import label_boxes
from drivesim.scenario.camera import EgoPose, PinholeCamera
from drivesim.scenario.checks import check_scenario
from drivesim.scenario.ego_view import EgoView
from drivesim.scenario.format import Action, Scenario
from drivesim.scenario.issues import ScenarioIssue, format_key_path
from drivesim.scenario.labels import AgentState, FrameConditions, RoadState
from drivesim.scenario.motion import BlendedProfile, EntityMotion, EntityState, lateral_yaw
from drivesim.scenario.network import scenario_world
from drivesim.scenario.traffic import BackgroundTraffic, Obstacles, grid_times

__all__ = ["EGO_CAMERA_BEHIND_FRONT_M", "EGO_SIZE_M", "AgentState", "BlendedProfile", "ScenarioEngine",
           "action_changes"]

EGO_SIZE_M = (4.5, 1.8, 1.5)
EGO_CAMERA_BEHIND_FRONT_M = 1.0


def action_changes(actions: Sequence[Action], lane_width_m: float) -> tuple[list[tuple], list[tuple]]:
    """(lateral changes, speed changes) of a list of actions on version 1's road, as BlendedProfile changes
    (lateral targets in metres right of the road's left edge)."""
    lateral, speed = [], []
    for a in actions:
        if a.lane_change_to is not None:
            lateral.append((a.at_s, a.duration_s, (a.lane_change_to + 0.5) * lane_width_m, a.shape))
        elif a.lateral_m is not None:
            lateral.append((a.at_s, a.duration_s, a.lateral_m, a.shape))
        if a.speed_mps is not None:
            speed.append((a.at_s, a.duration_s, a.speed_mps, a.shape))
    return lateral, speed


class ScenarioEngine:
    def __init__(self, scenario: Scenario, seed: int | None = None):
        _check_scenario(scenario)
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        self.camera = PinholeCamera.from_config(scenario.camera)
        self.num_frames = scenario.num_frames
        self.fps = scenario.fps
        self.world = scenario_world(scenario)
        self.ego = EntityMotion(self.world.ego)
        self.view = EgoView(self.ego)
        self.ego_lateral_m = self.ego_lateral_at(0.0)  # at t = 0; ego actions may move it (ego_lateral_at)
        self._named = [(a, EntityMotion(p)) for a, p in zip(scenario.agents, self.world.agents)]
        events = sorted(scenario.environment.events, key=lambda e: e.at_s)  # stable: file order on ties
        self._tod_events = [(e.at_s, e.time_of_day) for e in events if e.time_of_day is not None]
        self._crowd_events = [(e.at_s, e.crowdedness) for e in events if e.crowdedness is not None]
        grid = grid_times(scenario.duration_s)
        crowd = np.array([self.environment_at(float(t))[1] for t in grid])
        self.traffic = BackgroundTraffic(scenario, self.seed, self.camera, crowd, self._obstacles(grid), self.view,
                                         self.world.traffic)

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
        """The camera's position across the road at time t (metres right of the left edge of the ego's lanes)."""
        return float(self.ego.at(t).lateral_m)

    def ego_pose(self, t: float) -> EgoPose:
        """Where the camera's road frame sits in the world at time t (the ground point below the camera)."""
        return self.view.ego_pose(t)

    def road_state(self, t: float) -> RoadState:
        road = self.scenario.road
        pose = self.ego_pose(t)
        return RoadState(lanes=road.lanes, lane_width_m=road.lane_width_m, ego_lateral_m=self.ego_lateral_at(t),
                         ego_speed_mps=float(self.ego.speed.value(np.array(t))),
                         ego_travel_m=float(self.ego.travel(np.array(t))),
                         ego_pose=WorldPose(pose.x, pose.y, pose.z, pose.heading, pose.pitch),
                         network=self.world.network)

    def lateral_speeds(self, t: float) -> dict[str, float]:
        """Speed across the road (m/s, + to the right) at time t of the ego ("ego") and each named agent."""
        out = {"ego": float(self.ego.lateral.rate(np.array(t)))}
        for agent, motion in self._named:
            out[agent.id] = float(motion.lateral.rate(np.array(t)))
        return out

    def agent_states(self, t: float) -> list[AgentState]:
        """Every agent at time t (named first, in file order, then active background), unprojected."""
        camera = self.view.pose(t)
        states = []
        for agent, motion in self._named:
            s = motion.at(t)
            x, y, z, yaw = (float(v) for v in EgoView.see(s.lane.x, s.lane.y, s.lane.z, s.heading, camera))
            states.append(AgentState(track_id=agent.id, type=agent.type, x_m=x, z_m=z, lateral_m=float(s.lateral_m),
                                     speed_mps=float(s.speed_mps), heading_rad=yaw,
                                     size_m=tuple(float(v) for v in agent.size), is_background=False, y_m=y,
                                     world=_world_pose(s.lane, s.heading)))
        bg = self.traffic.snapshot(t)
        if bg.track_ids:
            world, _ = self.view.along(bg.z_m, bg.lateral_m, t)
            heading = world.heading - bg.heading_rad
            xs, ys, zs, yaws = EgoView.see(world.x, world.y, world.z, heading, camera)
            for i, track_id in enumerate(bg.track_ids):
                states.append(AgentState(track_id=track_id, type=bg.types[i], x_m=float(xs[i]), z_m=float(zs[i]),
                                         lateral_m=float(bg.lateral_m[i]), speed_mps=float(bg.speed_mps[i]),
                                         heading_rad=float(yaws[i]), size_m=tuple(float(v) for v in bg.size_m[i]),
                                         is_background=True, y_m=float(ys[i]),
                                         world=WorldPose(float(world.x[i]), float(world.y[i]), float(world.z[i]),
                                                         float(heading[i]), float(world.pitch[i]))))
        return states

    def named_trajectory(self, agent_id: str, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """A named agent at many times at once: (lateral_m, z_m, speed_mps, heading_rad) arrays; z_m and
        heading_rad as the camera sees it at each time."""
        t = np.asarray(t, float)
        for agent, motion in self._named:
            if agent.id == agent_id:
                s = motion.at(t)
                _, _, z, yaw = EgoView.see(s.lane.x, s.lane.y, s.lane.z, s.heading, self.view.pose(t))
                return s.lateral_m, z, s.speed_mps, yaw
        raise KeyError(f"no named agent '{agent_id}' in scenario '{self.scenario.name}'")

    # --- frames ----------------------------------------------------------------------------

    def conditions_at(self, t: float, index: int = -1) -> FrameConditions:
        tod, crowd = self.environment_at(t)
        cam = self.camera
        road = self.road_state(t)
        return FrameConditions(index=index, timestamp_s=t, time_of_day=tod, crowdedness=crowd,
                               boxes=label_boxes(cam, self.agent_states(t)), road=road,
                               width=cam.width, height=cam.height, ego_pose=road.ego_pose,
                               world_labels=not self.world.version1_road)

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
        camera = self.view.pose(t)
        states: list[EntityState] = []
        half_w, half_l = [], []
        for agent, motion in self._named:
            s = motion.at(t)
            length, width, _ = agent.size
            states.append(s)
            yaw = lateral_yaw(s.lateral_rate, s.speed_mps)
            # A yawed agent sweeps wider: the lateral half extent of its rotated footprint.
            half_w.append(np.abs(np.cos(yaw)) * width / 2 + np.abs(np.sin(yaw)) * length / 2)
            half_l.append(length / 2)
        world_x = [s.lane.x for s in states]
        world_y = [s.lane.y for s in states]
        heading = [s.lane.heading for s in states]
        speed = [s.speed_mps * np.cos(s.lane.heading - camera.heading) for s in states]
        ego_len, ego_w, _ = EGO_SIZE_M
        back = EGO_CAMERA_BEHIND_FRONT_M - ego_len / 2  # the ego car's centre, ahead of the camera
        world_x.append(camera.x + back * np.cos(camera.heading))
        world_y.append(camera.y + back * np.sin(camera.heading))
        heading.append(camera.heading)
        speed.append(self.ego.speed.value(t))
        half_w.append(np.full(t.shape, ego_w / 2))
        half_l.append(ego_len / 2)
        xs, _, zs, _ = EgoView.see(np.stack(world_x), np.stack(world_y), 0.0, 0.0, camera)
        keep_visible = np.array([True] * len(self._named) + [False])  # not the ego's own car
        return Obstacles(world_x=np.stack(world_x), world_y=np.stack(world_y), lane_heading=np.stack(heading),
                         x_m=xs, z_m=zs, speed_mps=np.stack(speed), half_width_m=np.stack(half_w),
                         half_length_m=np.array(half_l), keep_visible=keep_visible)


def _world_pose(lane, heading) -> WorldPose:
    return WorldPose(float(lane.x), float(lane.y), float(lane.z), float(heading), float(lane.pitch))


def _check_scenario(scenario: Scenario) -> None:
    """The loader's cross-field rules (lanes that exist, unique ids, times inside the scenario)
    for a scenario built in code, e.g. over gRPC or by synth-data; the road's rules follow in scenario_world."""
    findings = check_scenario(scenario)
    if findings:
        raise ScenarioError([ScenarioIssue(f"scenario '{scenario.name}'", None, None, format_key_path(f.path),
                                           f.message, f.hint) for f in findings])
