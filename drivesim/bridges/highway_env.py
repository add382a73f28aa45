"""highway-env with drivesim's camera: a gymnasium wrapper (docs/simulators.md).

    pip install "drivesim[sim]"
    from drivesim.bridges.highway_env import DrivesimCamera
    env = DrivesimCamera("highway-v0", backend="schematic")        # or "diffusion", or server="host:port"
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(1)         # IDLE
    info["camera"].shape, info["camera_labels"].boxes              # (H, W, 3) uint8, the frame's labels

highway-env owns the world; the wrapper only looks at it. At every reset and step it reads the
env's vehicles (position, heading, speed, length, width) and the controlled ego, converts them into
drivesim's world state (a session step) and renders the camera frames of the elapsed time at the
header's fps. On a straight road of parallel lanes (highway-v0, highway-fast-v0) the step is in the
road frame (the ego's lateral position and speed, every other vehicle an actor), the camera looking
along the road; on any other road (merge-v0, roundabout-v0, intersection-v0, ...) every vehicle,
the ego included, is a world pose on the env's road network (`highway_road.env_network`, written to
a temporary OpenDRIVE file the session header names), and the camera turns with the ego. highway-env advances `simulation_frequency` sub-steps per env step (`AbstractEnv._simulate`
calls `road.step(dt)` for each); the wrapper records the world after each sub-step (it wraps that
road's `step`) and a frame between two sub-steps interpolates between them, so the camera sees the
env's own motion, never an extrapolation.

Coordinates: highway-env's x runs along the road, its y across it to the right of the driving
direction (lane k is at y = 4 k on its default road). `env_road` makes the env's lanes the road type
every reader builds (`drivesim.road.Road`), mirroring y (screen axes) into its right-handed world;
its `RoadFrame` counts lateral_m from the road's left edge, to the right, and distances forward from
the camera, which sits where the engine puts it: EGO_CAMERA_BEHIND_FRONT_M behind the ego's front, in
its centre, looking along the road. Headings: drivesim's are yaw to the right of the road's direction.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drivesim.errors import DrivesimError

try:
    import gymnasium
    import highway_env  # noqa: F401 - registers highway-v0 & co. with gymnasium
    from highway_env.road.lane import StraightLane
except ImportError as _err:  # the optional extra is missing
    class MissingDependency(DrivesimError, ImportError):
        """An optional dependency is not installed."""

    raise MissingDependency(f"the highway-env bridge needs highway-env ({_err}); install it with: "
                            'pip install "drivesim[sim]"') from _err

import drivesim.road as road_model  # the network model (its Road; format.Road is the scenario file's road)
from drivesim.bridges.highway_config import check_env_config, check_finite_state
from drivesim.bridges.highway_road import env_network, mirrored, road_id
from drivesim.bridges.opendrive_out import write_opendrive
from drivesim.scenario.engine import EGO_CAMERA_BEHIND_FRONT_M
from drivesim.scenario.format import DEFAULT_SIZE_M, Ego, Position, Road, Scenario
from drivesim.scenario.road import RoadFrame
from drivesim.scenario.trajectory import WorldState
from drivesim.scenario.world_state import Step, StepAgent
from drivesim.bridges.world_camera import WorldCamera
from drivesim.sources import ScenarioSource, read_scenario

__all__ = ["DrivesimCamera", "VehicleState", "DEFAULT_HEADER", "env_road"]

DEFAULT_HEADER = """\
version: 1
name: highway_env
duration_s: 1     # required by the format; the camera runs as long as the env steps
fps: 10
camera: {width: 512, height: 256, fov_deg: 90, mount_height_m: 1.5}
environment: {time_of_day: day, crowdedness: 0.5}
"""
VEHICLE_TYPE = "car"  # highway-env vehicles are cars (its trucks and buses are not told apart)
VEHICLE_HEIGHT_M = DEFAULT_SIZE_M[VEHICLE_TYPE][2]  # highway-env has no heights
_SAME = 1e-6  # metres / radians: equal within float noise


@dataclass(frozen=True)
class VehicleState:
    """One vehicle as highway-env reports it (its own frame and units), with its drivesim track id."""

    id: str
    position: tuple[float, float]  # [x, y] metres
    heading: float  # radians, 0 along +x, + towards +y
    speed: float  # m/s along the heading
    length: float
    width: float
    lane: int | None  # lane_index[2]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "position": list(self.position), "heading": self.heading, "speed": self.speed,
                "length": self.length, "width": self.width, "lane": self.lane}


def env_road(network: Any, env_name: str) -> RoadFrame:
    """drivesim's road on a highway-env RoadNetwork of parallel straight lanes (all of them, in the env's
    driving direction); a clear DrivesimError for roads drivesim cannot film.

    highway-env's y points right of its x (screen axes): mirrored (y -> -y, heading -> -heading) into the
    road's right-handed world, its lanes lie right of a reference line along their left edge, driven
    towards +s: drivesim lane k is road lane -(k + 1)."""
    lanes = network.lanes_list()
    curved = sorted({type(lane).__name__ for lane in lanes if type(lane) is not StraightLane})
    if curved:
        raise DrivesimError(f"{env_name}: drivesim's camera needs a straight road, this one has {', '.join(curved)} "
                            "lanes; use a straight-road env such as highway-v0 or highway-fast-v0")
    heading = float(lanes[0].heading)
    if any(abs(math.remainder(float(lane.heading) - heading, 2 * math.pi)) > _SAME for lane in lanes):
        raise DrivesimError(f"{env_name}: its lanes run in different directions (oncoming traffic or a "
                            "junction); drivesim's road has every lane in the ego's direction")
    width = float(lanes[0].width)
    if any(abs(float(lane.width) - width) > _SAME for lane in lanes):
        raise DrivesimError(f"{env_name}: its lanes have different widths; drivesim's lanes are all as wide")
    direction = np.array([math.cos(heading), math.sin(heading)])
    right = np.array([-direction[1], direction[0]])  # highway-env's direction_lateral
    offsets = sorted({round(float(np.dot(lane.start, right)) / width, 6) for lane in lanes})
    if any(abs(b - a - 1.0) > 1e-3 for a, b in zip(offsets, offsets[1:])):
        raise DrivesimError(f"{env_name}: its lanes are not side by side (gaps between them)")
    if len(offsets) > 8:
        raise DrivesimError(f"{env_name}: {len(offsets)} lanes; drivesim's road has at most 8")
    start = min(float(np.dot(lane.start, direction)) for lane in lanes)
    end = max(float(np.dot(lane.end, direction)) for lane in lanes)
    x0, y0 = start * direction + (offsets[0] - 0.5) * width * right  # the left edge where the lanes start
    ours = tuple(road_model.Lane(-(k + 1), "driving", widths=(road_model.LaneWidth(0.0, width),))
                 for k in range(len(offsets)))
    reference = road_model.ReferenceLine((road_model.Line(0.0, float(x0), -float(y0), -heading, end - start),))
    road = road_model.Road(id=env_name, length=end - start, planView=reference,
                           laneSections=(road_model.LaneSection(0.0, right=ours),))
    return RoadFrame(road, 1, tuple(lane.id for lane in ours), width, 0.0)


def default_config(env_id: str) -> dict[str, Any] | None:
    """The default config of a registered env id (None: not a highway-env env, its keys are not known); a
    DrivesimError naming highway-env's ids for an id that is not registered."""
    try:
        spec = gymnasium.spec(env_id)
    except gymnasium.error.Error as err:
        ours = sorted(k for k, v in gymnasium.registry.items() if str(v.entry_point).startswith("highway_env"))
        raise DrivesimError(f"{env_id!r} is not a registered env ({err}); highway-env's: {', '.join(ours)}") from None
    try:
        from gymnasium.envs.registration import load_env_creator

        creator = load_env_creator(spec.entry_point) if isinstance(spec.entry_point, str) else spec.entry_point
        return dict(creator.default_config())
    except Exception:  # noqa: BLE001 - not highway-env's AbstractEnv: no known keys
        return None


def _made(env_id: str, config: dict[str, Any] | None) -> Any:
    """gymnasium.make(env_id) with the config override; the env's own failure named with its config."""
    try:
        return gymnasium.make(env_id, config=config) if config else gymnasium.make(env_id)
    except DrivesimError:
        raise
    except Exception as err:
        raise DrivesimError(f"highway-env could not make {env_id} {_with_config(config)}: "
                            f"{type(err).__name__}: {err}") from err


def _with_config(config: dict[str, Any] | None) -> str:
    return f"with env config {config}" if config else "with its default config"


def _on_road(road: RoadFrame, position: tuple[float, float], heading: float) -> tuple[float, float, float]:
    """(forward metres, lateral_m, heading_rad) of a highway-env pose, mirrored into the road's world."""
    forward, lateral = road.locate(float(position[0]), -float(position[1]))
    return forward, lateral, road.yaw(-heading)


def vehicle_state(vehicle: Any, track_id: str) -> VehicleState:
    lane = getattr(vehicle, "lane_index", None)
    return VehicleState(id=track_id, position=(float(vehicle.position[0]), float(vehicle.position[1])),
                        heading=float(vehicle.heading), speed=float(vehicle.speed), length=float(vehicle.LENGTH),
                        width=float(vehicle.WIDTH), lane=int(lane[2]) if lane is not None else None)


def interpolate(a: VehicleState, b: VehicleState, w: float) -> VehicleState:
    """The state w of the way from a to b (0..1); the heading takes the short way round."""
    turn = math.remainder(b.heading - a.heading, 2 * math.pi)
    return VehicleState(b.id, (a.position[0] + w * (b.position[0] - a.position[0]),
                               a.position[1] + w * (b.position[1] - a.position[1])),
                        a.heading + w * turn, a.speed + w * (b.speed - a.speed), b.length, b.width,
                        a.lane if w < 0.5 else b.lane)


@dataclass(frozen=True)
class Snapshot:
    """The env's world after one sub-step: the ego and every other vehicle."""

    time_s: float  # simulation time since reset
    ego: VehicleState
    vehicles: tuple[VehicleState, ...]

    def between(self, later: "Snapshot", t: float) -> "Snapshot":
        """The world at time t between this snapshot and a later one (vehicles of the later one)."""
        span = later.time_s - self.time_s
        w = 1.0 if span <= 0 else min(1.0, max(0.0, (t - self.time_s) / span))
        before = {v.id: v for v in self.vehicles}
        vehicles = tuple(interpolate(before[v.id], v, w) if v.id in before else v for v in later.vehicles)
        return Snapshot(t, interpolate(self.ego, later.ego, w), vehicles)

    def world_state(self, road: RoadFrame | None) -> WorldState:
        """The session step of this world: the camera on the ego, every other vehicle an actor (world poses
        where `road` is None: a road that is not straight)."""
        if road is None:
            return self.world_pose_state()
        ego_s, ego_lateral, ego_yaw = _on_road(road, self.ego.position, self.ego.heading)
        camera_s = ego_s + self.ego.length / 2 - EGO_CAMERA_BEHIND_FRONT_M
        actors = []
        for v in self.vehicles:
            # reversing: drivesim's speeds are >= 0 along the heading, so the heading turns round
            s, lateral, yaw = _on_road(road, v.position, v.heading + (math.pi if v.speed < 0 else 0.0))
            speed = abs(v.speed)
            actors.append(StepAgent(id=v.id, type=VEHICLE_TYPE, distance_m=s - camera_s, speed_mps=speed,
                                    heading_rad=yaw, size_m=(v.length, v.width, VEHICLE_HEIGHT_M), lateral_m=lateral))
        # The camera looks along the road (it does not yaw with the ego); the road flows at the ego's
        # speed along it, and a reversing ego leaves the road still.
        ego_speed = max(0.0, self.ego.speed * math.cos(ego_yaw))
        return WorldState(Step(agents=tuple(actors), ego_speed_mps=ego_speed, ego_lateral_m=ego_lateral,
                               timestamps_s=(round(self.time_s, 9),)))

    def world_pose_state(self) -> WorldState:
        """The session step of this world in world poses: the camera EGO_CAMERA_BEHIND_FRONT_M behind the ego's
        front, looking along its heading; every other vehicle's centre and heading, mirrored."""
        e = self.ego
        ahead = e.length / 2 - EGO_CAMERA_BEHIND_FRONT_M
        camera = mirrored(e.position[0] + ahead * math.cos(e.heading), e.position[1] + ahead * math.sin(e.heading),
                          e.heading)
        # reversing: drivesim's speeds are >= 0 along the heading, so the heading turns round
        actors = tuple(StepAgent(id=v.id, type=VEHICLE_TYPE, speed_mps=abs(v.speed),
                                 size_m=(v.length, v.width, VEHICLE_HEIGHT_M),
                                 pose=mirrored(*v.position, v.heading + (math.pi if v.speed < 0 else 0.0)))
                       for v in self.vehicles)
        return WorldState(Step(agents=actors, ego_speed_mps=max(0.0, e.speed), ego_pose=camera,
                               timestamps_s=(round(self.time_s, 9),)))

    def to_json(self, step: int) -> dict[str, Any]:
        """The env_states.jsonl line: the world as highway-env reports it."""
        return {"step": step, "timestamp_s": round(self.time_s, 9), "ego": self.ego.to_json(),
                "vehicles": [v.to_json() for v in self.vehicles]}


class DrivesimCamera(gymnasium.Wrapper):
    """A highway-env env on a straight road, with drivesim's camera in every step's `info`.

    The env's observation, reward and action space are untouched (policies keep working); `info` gets:
    - "camera": (H, W, 3) uint8 RGB, the newest frame (at or before the env's time);
    - "camera_labels": its FrameConditions (boxes nearest first, a labels.jsonl line);
    - "camera_frames": every frame of this reset or step, oldest first, as ClientFrames (index,
      timestamp_s, image, labels); a step of 1 / policy_frequency s gives fps / policy_frequency frames;
    - "env_state": the world at the end of this reset or step as highway-env reports it (env_states.jsonl).

    `env`: a highway-env env or its id (made with `env_config`, which overrides its defaults);
    `header`: a session header (a Scenario, YAML text or a file, as `drivesim.sources.read_scenario`;
    default DEFAULT_HEADER) for the camera, fps, seed and environment; its road must be the env's or left out. Frames come from `backend`
    ("schematic", "diffusion" with `checkpoint`, `device` and `options`, or a loaded pipeline) in
    process, or from a drivesim server (`server="host:port"`, `token`, `tls_ca`). Each reset starts
    a new video (a new session), seeded by reset's seed, else `seed`, else the header's.
    """

    def __init__(self, env: Any, header: ScenarioSource | None = None, backend: str | Any = "schematic", *,
                 server: str | None = None, token: str | None = None, tls_ca: str | bytes | None = None,
                 checkpoint: str | None = None, device: str = "cpu", options: dict[str, Any] | None = None,
                 seed: int | None = None, env_config: dict[str, Any] | None = None):
        if isinstance(env, str):
            defaults = default_config(env)  # an id that is not registered: named here
            if env_config is not None:
                check_env_config(env_config, defaults, env)
            env = _made(env, env_config)
        elif env_config:
            raise DrivesimError("env_config applies to an env made from its id; configure your env yourself")
        self._env_config = env_config
        super().__init__(env)
        self.header = read_scenario(DEFAULT_HEADER, "DEFAULT_HEADER") if header is None else \
            read_scenario(header, "<header>")
        self._camera_args = dict(backend=backend, server=server, token=token, tls_ca=tls_ca, checkpoint=checkpoint,
                                 device=device, options=options)
        self.seed = seed
        self.camera: WorldCamera | None = None
        self.header_used: Scenario | None = None  # the header of the current episode: the env's road added
        self.road: RoadFrame | None = None  # None on a road that is not straight: world poses
        self.network: Any = None  # drivesim's RoadNetwork of the env's road (world poses only)
        self.road_file: str | None = None  # where that network is written (the header's road.opendrive)
        self._road_dir: tempfile.TemporaryDirectory | None = None
        self._ids: dict[int, tuple[Any, str]] = {}  # id(vehicle) -> (vehicle, track id); the object keeps the id
        self._subs: list[Snapshot] = []
        self._time = 0.0
        self._next_frame = 0
        self._steps = 0
        self._latest: Any = None

    @property
    def env_name(self) -> str:
        spec = getattr(self.env, "spec", None)
        return spec.id if spec is not None else type(self.env.unwrapped).__name__

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        try:
            obs, info = self.env.reset(seed=seed, options=options)
        except DrivesimError:
            raise
        except Exception as err:  # the env's own failure: name the env and the config that made it
            raise DrivesimError(f"{self.env_name} failed to reset {_with_config(self._env_config)}: "
                                f"{type(err).__name__}: {err}") from err
        base = self.env.unwrapped
        self._close_road()
        try:
            self.road = env_road(base.road.network, self.env_name)
        except DrivesimError:  # not parallel straight lanes: the env's own network, in world poses
            self.road, self.network = None, env_network(base.road.network, self.env_name)
            self._road_dir = tempfile.TemporaryDirectory(prefix="drivesim_highway_")
            self.road_file = str(write_opendrive(self.network, Path(self._road_dir.name) / "road.xodr",
                                                 self.env_name))
        self._ids.clear()
        self._time, self._next_frame, self._steps = 0.0, 0, 0
        self._record(base.road)
        self._subs = [self._snapshot()]
        first = self._subs[0].world_state(self.road).step
        self.header_used = (self._header_for(self.road, first) if self.road is not None
                            else self._world_header(base.vehicle, first))
        if self.camera is not None:
            self.camera.close()
            self.camera = None  # until the new one is up: a failed start leaves no half camera
        session_seed = seed if seed is not None else self.seed
        self.camera = WorldCamera(self.header_used, seed=session_seed, filename=self.env_name, header_file="header",
                                  **self._camera_args)
        return obs, self._info(info)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        if self.camera is None:
            raise DrivesimError("call reset() before step()")
        try:
            numbers = np.asarray(action, dtype=float)
        except (TypeError, ValueError):  # not numbers: the env's to judge
            numbers = np.zeros(0)
        if not np.isfinite(numbers).all():
            raise DrivesimError(f"{self.env_name}: the action {action!r} is not finite; give finite numbers")
        self._subs = self._subs[-1:]  # the world at the end of the previous step
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._steps += 1
        return obs, reward, terminated, truncated, self._info(info)

    def close(self) -> None:
        if self.camera is not None:
            self.camera.close()
            self.camera = None
        self._close_road()
        super().close()

    def _close_road(self) -> None:
        if self.camera is not None:  # its session reads the road file
            self.camera.close()
            self.camera = None
        if self._road_dir is not None:
            self._road_dir.cleanup()
            self._road_dir = self.road_file = None

    # --- internals ---------------------------------------------------------------------------

    def _header_for(self, road: RoadFrame, start: Step) -> Scenario:
        """The header with the env's road and the ego's start (a header naming another road is refused)."""
        ours = Road(lanes=len(road.lane_ids), lane_width_m=road.width_m)
        given = self.header.road
        if "road" in self.header.model_fields_set and given != ours:
            raise DrivesimError(f"the header's road ({given.lanes} lanes of {given.lane_width_m:g} m) is not "
                                f"{self.env_name}'s ({ours.lanes} lanes of {ours.lane_width_m:g} m); "
                                "leave road out of the header: the env's road is used")
        ego = Ego(lane=road.lane_of(start.ego_lateral_m),
                  speed_mps=min(start.ego_speed_mps, 100.0))  # the format's ego.speed_mps range
        return self.header.model_copy(update={"road": ours, "ego": ego})

    def _world_header(self, ego: Any, start: Step) -> Scenario:
        """The header on the env's road file, the ego placed where it starts (its lane, s along it)."""
        if "road" in self.header.model_fields_set:
            raise DrivesimError(f"{self.env_name}'s road is not straight: the session uses the env's own road "
                                "network; leave road out of the header")
        lane = ego.lane_index if getattr(ego, "lane_index", None) is not None else \
            self.env.unwrapped.road.network.get_closest_lane_index(ego.position, ego.heading)
        rid = road_id(lane)
        along = self.env.unwrapped.road.network.get_lane(lane).local_coordinates(ego.position)[0]
        s = min(max(float(along), 0.0), self.network.roads[rid].length)
        position = Position(road=rid, lane=-1, s=s)
        ego_config = Ego(position=position, speed_mps=min(start.ego_speed_mps, 100.0))
        return self.header.model_copy(update={"road": Road(opendrive=self.road_file), "ego": ego_config})

    def _record(self, road: Any) -> None:
        """Record the world after each of this road's sub-steps (the env's own simulation loop)."""
        original = road.step

        def step(dt: float) -> None:
            original(dt)
            self._time = round(self._time + dt, 9)  # sub-steps of 1/15 s add up without drift
            self._subs.append(self._snapshot())

        road.step = step

    def _snapshot(self) -> Snapshot:
        base = self.env.unwrapped
        ego = base.vehicle
        vehicles = tuple(vehicle_state(v, self._track_id(v)) for v in base.road.vehicles if v is not ego)
        snapshot = Snapshot(self._time, vehicle_state(ego, "ego"), vehicles)
        for v in (snapshot.ego, *vehicles):  # a NaN would make a world of NaNs: refused where it appears
            check_finite_state({"x": v.position[0], "y": v.position[1], "heading": v.heading, "speed": v.speed,
                                "length": v.length, "width": v.width}, v.id, self._time, self.env_name)
        return snapshot

    def _track_id(self, vehicle: Any) -> str:
        entry = self._ids.get(id(vehicle))
        if entry is None:  # first sight (the entry holds the vehicle, so its id() is never reused)
            entry = self._ids[id(vehicle)] = (vehicle, f"vehicle_{len(self._ids) + 1}")
        return entry[1]

    def _info(self, info: dict) -> dict:
        """The frames whose times have passed since the last call, and the world at the end."""
        fps = self.header_used.fps
        states = []
        while round(self._next_frame / fps, 9) <= self._time:
            t = round(self._next_frame / fps, 9)
            later = next(k for k, s in enumerate(self._subs) if s.time_s >= t - 1e-9)
            snap = self._subs[later] if later == 0 else self._subs[later - 1].between(self._subs[later], t)
            states.append(snap.world_state(self.road))
            self._next_frame += 1
        frames = self.camera.render(states)
        if frames:
            self._latest = frames[-1]
        info = dict(info)
        info.update(camera=self._latest.image, camera_labels=self._latest.labels, camera_frames=frames,
                    env_state=self._subs[-1].to_json(self._steps))
        return info
