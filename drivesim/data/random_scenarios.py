"""Seeded random scenarios: the variety the procedural training data is rendered from.

    python -c "import numpy as np; from drivesim.data.random_scenarios import random_scenario; \
print(random_scenario(np.random.default_rng(0), 4.0, 10, 256, 128).model_dump_json(indent=1))"
    python -c "import numpy as np; from drivesim.data.random_scenarios import random_scenario; \
print(random_scenario(np.random.default_rng(3), 4.0, 10, 256, 128, mix='world').road)"

A *mix* says which roads are drawn (MIXES, docs/data-format.md "The random mix"): `v1`, the default,
is version 1's straight one-way road, draw for draw what it always was (the shipped model's training
data stays reproducible); `world` also draws bends (clothoid in, arc, clothoid out) of both directions
and radii 60-1000 m, two-way roads with oncoming traffic, left-hand traffic, and junction scenarios on
the example crossing (scenarios/roads/crossing.xodr) -- straight roads being one case among several;
`world2` draws the same cases with bends down to 40 m and more junctions.

Every sample is validated by the pydantic `Scenario` model and is also *sensible*: lanes exist,
agents in or entering the ego lane never drive into the camera, crossing pedestrians cross ahead.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from drivesim.errors import DrivesimError
from drivesim.road import DRIVING_TYPES
from drivesim.scenario.file_formats import read_road_network
from drivesim.scenario.format import DEFAULT_SIZE_M, Scenario

# How often each agent type is sampled (named agents); roughly a city/highway mix.
AGENT_TYPE_WEIGHTS: dict[str, float] = {
    "car": 0.52, "truck": 0.12, "bus": 0.06, "motorcycle": 0.07, "cyclist": 0.08, "pedestrian": 0.15,
}
MAX_NAMED_AGENTS = 6
PEDESTRIAN_WALK_MPS = (0.9, 1.8)
SIDEWALK_OFFSET_M = 1.5  # pedestrians wait this far outside the road edge
MIN_GAP_AHEAD_M = 9.0  # closest an agent in the ego lane may ever get to the camera
MAX_AGENT_DISTANCE_M = 900.0  # the schema allows up to 1000 m

# Which road each mix draws, and how often (docs/data-format.md, "The random mix").
MIXES: dict[str, dict[str, float]] = {
    "v1": {"straight": 1.0},  # the previous default's data: version 1's straight one-way road only
    "world": {"straight": 0.15, "bends": 0.25, "two_way": 0.35, "junction": 0.25},  # the shipped default's
    # the test split's bends are tighter than most of `world`'s and its junctions are drawn only in part:
    # more junctions, and bends down to 40 m
    "world2": {"straight": 0.15, "bends": 0.2, "two_way": 0.3, "junction": 0.35},
}
LEFT_HAND_SHARE = 0.25  # of the bends and two-way draws: left-hand traffic
LANE_COUNT_P = (0.2, 0.35, 0.3, 0.15)  # 1, 2, 3, 4 lanes in the ego's direction (bends, two-way)
ONCOMING_COUNT_P = (0.55, 0.3, 0.1, 0.05)  # 1, 2, 3, 4 oncoming lanes (two-way)
TWO_WAY_CURVED_SHARE = 0.75  # two-way roads that bend (the rest are straight)
BEND_RADIUS_M = {"world": (60.0, 1000.0), "world2": (40.0, 1000.0)}  # by mix: drawn log-uniformly, either direction
TRANSITION_M = (15.0, 60.0)  # clothoid into and out of each bend
MAX_TURN_RAD = np.pi / 2  # a bend turns at most a quarter circle
VIEW_AHEAD_M = 300.0  # the drawn road reaches this far past the ego's last position
# Named road users start near enough to be seen: boxes under 2 px are not labelled (scenario/boxes.py), a
# car 60 m away is 4 px wide at 128x256.
AHEAD_M = (-10.0, 60.0)  # named vehicles in the ego's lanes: mostly ahead
ONCOMING_AHEAD_M = (15.0, 70.0)
VEHICLE_TYPES = ("car", "truck", "bus", "motorcycle")


def random_scenario(rng: np.random.Generator, duration_s: float, fps: float, width: int,
                    height: int, vary_camera: bool = False, mix: str = "v1") -> Scenario:
    """One random valid scenario whose camera renders at `width` x `height` pixels, of the road cases of
    `mix` (MIXES).

    The camera keeps the scenario defaults (90 deg fov, 1.5 m high, level) unless `vary_camera`:
    the road-layout condition map is drawn with that default camera (conditions/box_maps.py),
    so training frames must be seen through it for the map to line up with the road.
    """
    if mix not in MIXES:
        raise DrivesimError(f"unknown scenario mix {mix!r}; known mixes: {', '.join(MIXES)}")
    if mix == "v1":  # no draw before the road's: version 1's sequence of draws, unchanged
        return _straight_scenario(rng, duration_s, fps, width, height, vary_camera)
    cases = list(MIXES[mix])
    weights = np.array([MIXES[mix][c] for c in cases])
    case = str(rng.choice(cases, p=weights / weights.sum()))
    if case == "straight":
        return _straight_scenario(rng, duration_s, fps, width, height, vary_camera)
    if case == "junction":
        return _junction_scenario(rng, duration_s, fps, width, height, vary_camera)
    return _inline_scenario(rng, duration_s, fps, width, height, vary_camera, two_way=case == "two_way",
                            bend_radius_m=BEND_RADIUS_M[mix])


def _straight_scenario(rng: np.random.Generator, duration_s: float, fps: float, width: int, height: int,
                       vary_camera: bool) -> Scenario:
    """Version 1's straight one-way road (the `v1` mix, and the `straight` case of the others)."""
    lanes = int(rng.integers(2, 5))
    lane_width = float(round(rng.uniform(3.0, 3.8), 2))
    ego_lane = int(rng.integers(0, lanes))
    # Mostly moving traffic, sometimes crawling or stopped (queues, lights).
    ego_speed = float(round(rng.choice([rng.uniform(8.0, 30.0), rng.uniform(0.0, 6.0)], p=[0.85, 0.15]), 2))
    seed = int(rng.integers(0, 2**31 - 1))
    data = {
        "version": 1,
        "name": f"synth_{seed}",
        "seed": seed,
        "duration_s": float(duration_s),
        "fps": float(fps),
        "camera": _camera(rng, width, height, vary_camera),
        "environment": _environment(rng, duration_s),
        "road": {"lanes": lanes, "lane_width_m": lane_width},
        "ego": {"lane": ego_lane, "speed_mps": ego_speed},
        "agents": _agents(rng, duration_s, lanes, lane_width, ego_lane, ego_speed),
    }
    return Scenario.model_validate(data)


def _camera(rng: np.random.Generator, width: int, height: int, vary: bool) -> dict:
    camera: dict = {"width": int(width), "height": int(height)}
    if vary:
        camera.update(fov_deg=float(round(rng.uniform(70.0, 100.0), 1)),
                      mount_height_m=float(round(rng.uniform(1.3, 1.7), 2)),
                      pitch_deg=float(round(rng.uniform(-1.0, 4.0), 2)))
    return camera


def _environment(rng: np.random.Generator, duration_s: float) -> dict:
    env: dict = {
        "time_of_day": "night" if rng.random() < 0.5 else "day",
        "crowdedness": float(round(rng.uniform(0.0, 1.0), 3)),
        "events": [],
    }
    if rng.random() < 0.2:  # an occasional change mid-clip (tunnel exit, traffic thickening)
        event: dict = {"at_s": float(round(rng.uniform(0.2, 0.8) * duration_s, 3))}
        if rng.random() < 0.5:
            event["time_of_day"] = "day" if env["time_of_day"] == "night" else "night"
        else:
            event["crowdedness"] = float(round(rng.uniform(0.0, 1.0), 3))
        env["events"].append(event)
    return env


def _agents(rng: np.random.Generator, duration_s: float, lanes: int, lane_width: float, ego_lane: int,
            ego_speed: float, ahead_m: tuple[float, float] = (-15.0, 70.0), left_hand: bool = False,
            edges: tuple[float, float] | None = None) -> list[dict]:
    """Named agents in the ego's lanes and crossing the road (`edges`: the road's left and right edge as
    lateral_m, version 1's road by default)."""
    types = list(AGENT_TYPE_WEIGHTS)
    weights = np.array([AGENT_TYPE_WEIGHTS[t] for t in types])
    count = int(rng.integers(0, MAX_NAMED_AGENTS + 1))
    agents: list[dict] = []
    occupied: list[tuple[int, float, float]] = []  # (lane, distance, length) of agents in lanes
    for i in range(count):
        kind = str(rng.choice(types, p=weights / weights.sum()))
        if kind == "pedestrian":
            agent = _pedestrian(rng, duration_s, lanes, lane_width, ego_speed, edges)
        else:
            agent = _vehicle(rng, kind, duration_s, lanes, lane_width, ego_lane, ego_speed, occupied, ahead_m,
                             left_hand)
        if agent is not None:
            agent["id"] = f"{kind}_{i}"
            agents.append(agent)
    return agents


def _vehicle(rng: np.random.Generator, kind: str, duration_s: float, lanes: int, lane_width: float,
             ego_lane: int, ego_speed: float, occupied: list[tuple[int, float, float]],
             ahead_m: tuple[float, float] = (-15.0, 70.0), left_hand: bool = False) -> dict | None:
    length = DEFAULT_SIZE_M[kind][0]
    for _ in range(10):  # a few tries to find a free spot; give up quietly on a crowded road
        if kind == "cyclist":
            lane = 0 if left_hand else lanes - 1  # cyclists keep to the kerb's lane
        else:
            lane = int(rng.integers(0, lanes))
        distance = float(round(rng.uniform(*ahead_m), 2))
        if any(l == lane and abs(distance - d) < (length + ln) / 2 + 4.0 for l, d, ln in occupied):
            continue
        if lane == ego_lane and distance < MIN_GAP_AHEAD_M + length / 2:
            continue
        break
    else:
        return None
    cruise = {"cyclist": 6.0, "bus": 0.8 * ego_speed}.get(kind, ego_speed)
    speed = float(round(max(0.0, cruise + rng.normal(0.0, 3.0)), 2))
    agent: dict = {"type": kind, "lane": lane, "distance_m": distance, "speed_mps": speed, "actions": []}
    if kind == "cyclist":
        agent.pop("lane")  # ride near the kerb rather than mid-lane
        agent["lateral_m"] = 0.8 if left_hand else float(round(lanes * lane_width - 0.8, 2))
    elif rng.random() < 0.4 and lanes > 1:
        step = int(rng.choice([-1, 1]))
        target = lane + step if 0 <= lane + step < lanes else lane - step
        agent["actions"].append({
            "at_s": float(round(rng.uniform(0.0, 0.7) * duration_s, 3)),
            "lane_change_to": int(target),
            "duration_s": float(round(rng.uniform(1.5, 4.0), 2)),
        })
    if rng.random() < 0.3:
        agent["actions"].append({
            "at_s": float(round(rng.uniform(0.0, 0.8) * duration_s, 3)),
            "speed_mps": float(round(max(0.0, speed + rng.normal(0.0, 4.0)), 2)),
            "duration_s": float(round(rng.uniform(1.0, 3.0), 2)),
        })
    _keep_clear_of_ego(agent, duration_s, ego_lane, ego_speed, length)
    agent["actions"].sort(key=lambda a: a["at_s"])  # the loader wants actions in time order
    occupied.append((lane, distance, length))
    return agent


def _keep_clear_of_ego(agent: dict, duration_s: float, ego_lane: int, ego_speed: float, length: float) -> None:
    """Agents that are or will be in the ego lane ahead must not close in on the camera."""
    lanes_used = {agent.get("lane")} | {a.get("lane_change_to") for a in agent["actions"]}
    if ego_lane not in lanes_used:
        return
    if agent["distance_m"] < MIN_GAP_AHEAD_M + length / 2:
        # Behind or beside the camera: no lane change into the ego lane.
        agent["actions"] = [a for a in agent["actions"] if a.get("lane_change_to") != ego_lane]
        return
    # Slowest speed that keeps the gap over the whole clip.
    slack = agent["distance_m"] - length / 2 - MIN_GAP_AHEAD_M
    min_speed = max(0.0, ego_speed - slack / max(duration_s, 1e-3))
    agent["speed_mps"] = float(round(max(agent["speed_mps"], min_speed) + 0.01, 2))
    for action in agent["actions"]:
        if action.get("speed_mps") is not None:
            action["speed_mps"] = float(round(max(action["speed_mps"], min_speed) + 0.01, 2))


def _pedestrian(rng: np.random.Generator, duration_s: float, lanes: int, lane_width: float,
                ego_speed: float, edges: tuple[float, float] | None = None) -> dict:
    road_left, road_right = edges if edges is not None else (0.0, lanes * lane_width)
    start_left = bool(rng.random() < 0.5)
    lateral = road_left - SIDEWALK_OFFSET_M if start_left else road_right + SIDEWALK_OFFSET_M
    agent: dict = {"type": "pedestrian", "lateral_m": float(round(lateral + rng.uniform(-0.5, 0.5), 2)),
                   "speed_mps": float(round(rng.uniform(0.0, 1.5), 2)), "actions": []}
    if rng.random() < 0.5:
        # Cross the road, starting when the ego is still well short of the crossing point.
        at_s = float(round(rng.uniform(0.0, 0.5) * duration_s, 3))
        walk = rng.uniform(*PEDESTRIAN_WALK_MPS)
        target = road_right + SIDEWALK_OFFSET_M if start_left else road_left - SIDEWALK_OFFSET_M
        agent["actions"].append({"at_s": at_s, "lateral_m": float(round(target, 2)),
                                 "duration_s": float(round(abs(target - lateral) / walk, 2))})
        agent["speed_mps"] = 0.0
        ahead = ego_speed * (at_s + 1.0) + rng.uniform(15.0, 40.0)
        agent["distance_m"] = float(round(min(ahead, MAX_AGENT_DISTANCE_M), 2))
    else:
        agent["distance_m"] = float(round(rng.uniform(5.0, 60.0), 2))
    return agent


# --- the world mix: inline roads that bend, two-way roads ------------------------------------------

def _inline_scenario(rng: np.random.Generator, duration_s: float, fps: float, width: int, height: int,
                     vary_camera: bool, two_way: bool, bend_radius_m: tuple[float, float]) -> Scenario:
    """An inline road (`road.segments`): one-way with bends, or two-way, straight or bending."""
    lanes = int(rng.choice([1, 2, 3, 4], p=LANE_COUNT_P))
    oncoming = int(rng.choice([1, 2, 3, 4], p=ONCOMING_COUNT_P)) if two_way else 0
    lane_width = float(round(rng.uniform(3.0, 3.8), 2))
    left_hand = bool(rng.random() < LEFT_HAND_SHARE)
    ego_lane = int(rng.integers(0, lanes))
    ego_speed = float(round(rng.choice([rng.uniform(6.0, 28.0), rng.uniform(0.0, 6.0)], p=[0.85, 0.15]), 2))
    seed = int(rng.integers(0, 2**31 - 1))
    start = float(round(rng.uniform(20.0, 120.0), 1))  # the ego's s: room behind it for agents
    length = start + ego_speed * duration_s + VIEW_AHEAD_M
    curved = not two_way or rng.random() < TWO_WAY_CURVED_SHARE
    segments = _bends(rng, length, bend_radius_m) if curved else [{"straight": float(round(length, 1))}]
    # Lane ids of the inline road: right lanes -1, -2, ... under right-hand traffic, left lanes under left-hand.
    ego_lane_id = lanes - ego_lane if left_hand else -(ego_lane + 1)
    edges = (0.0, (lanes + oncoming) * lane_width) if left_hand else (-oncoming * lane_width, lanes * lane_width)
    agents = _agents(rng, duration_s, lanes, lane_width, ego_lane, ego_speed, AHEAD_M, left_hand, edges)
    if oncoming:
        agents += _oncoming(rng, start, oncoming, left_hand)
    data = {
        "version": 1, "name": f"synth_{seed}", "seed": seed, "duration_s": float(duration_s), "fps": float(fps),
        "camera": _camera(rng, width, height, vary_camera),
        "environment": _environment(rng, duration_s),
        "road": {"lanes": lanes, "lane_width_m": lane_width, "oncoming_lanes": oncoming,
                 "traffic": "left" if left_hand else "right", "segments": segments},
        "ego": {"position": {"road": INLINE_ROAD, "lane": ego_lane_id, "s": start}, "speed_mps": ego_speed},
        "agents": agents,
    }
    return Scenario.model_validate(data)


INLINE_ROAD = "main"  # the id of a scenario's inline road (docs/scenario-format.md, "Inline roads")


def _bends(rng: np.random.Generator, length_m: float, radius_m: tuple[float, float]) -> list[dict]:
    """Road pieces at least `length_m` long: a straight, then bends (clothoid, arc, clothoid) of random
    direction and radius, some with straights between them."""
    segments: list[dict] = [{"straight": float(round(rng.uniform(20.0, 100.0), 1))}]
    total = segments[0]["straight"]
    while total < length_m:
        radius = float(np.exp(rng.uniform(*np.log(radius_m))))
        radius = float(round(radius if rng.random() < 0.5 else -radius, 1))  # positive: a left bend
        transition = float(round(rng.uniform(*TRANSITION_M), 1))
        arc = float(round(rng.uniform(20.0, min(250.0, abs(radius) * MAX_TURN_RAD)), 1))
        segments += [{"clothoid": {"length": transition, "curvature_start": 0.0, "curvature_end": 1.0 / radius}},
                     {"arc": {"length": arc, "radius": radius}},
                     {"clothoid": {"length": transition, "curvature_start": 1.0 / radius, "curvature_end": 0.0}}]
        total += 2 * transition + arc
        if rng.random() < 0.5:
            straight = float(round(rng.uniform(20.0, 150.0), 1))
            segments.append({"straight": straight})
            total += straight
    return segments


def _oncoming(rng: np.random.Generator, ego_s: float, oncoming: int, left_hand: bool) -> list[dict]:
    """1-3 vehicles in the oncoming lanes ahead, driving towards the camera. They are placed by `position`
    (an agent placed by lane or lateral_m drives the ego's direction): the oncoming lanes are the inline
    road's left lanes 1, 2, ... under right-hand traffic, its right lanes under left-hand traffic."""
    agents: list[dict] = []
    taken: list[tuple[int, float]] = []
    for j in range(int(rng.integers(1, 4))):
        kind = str(rng.choice(VEHICLE_TYPES, p=[0.7, 0.12, 0.08, 0.1]))
        lane = int(rng.integers(0, oncoming))  # 0: the oncoming lane next to the ego's lanes
        distance = float(round(rng.uniform(*ONCOMING_AHEAD_M), 2))
        if any(lane == k and abs(distance - d) < 15.0 for k, d in taken):
            continue
        taken.append((lane, distance))
        lane_id = -(lane + 1) if left_hand else lane + 1
        agents.append({"id": f"oncoming_{kind}_{j}", "type": kind,
                       "position": {"road": INLINE_ROAD, "lane": lane_id, "s": float(round(ego_s + distance, 2))},
                       "speed_mps": float(round(rng.uniform(6.0, 22.0), 2)), "actions": []})
    return agents


# --- the world mix: junctions ----------------------------------------------------------------------

def example_road(name: str) -> Path:
    """An OpenDRIVE example of scenarios/roads: the wheel's copy (`drivesim/example_roads`, setup.py), else
    the source checkout's."""
    package = Path(__file__).resolve().parents[1]  # drivesim/
    wheel = package / "example_roads" / name
    return wheel if wheel.is_file() else package.parent / "scenarios" / "roads" / name


JUNCTION_ROAD_FILE = example_road("crossing.xodr")
JUNCTION_APPROACH_M = (12.0, 45.0)  # the ego starts this far before the junction
JUNCTION_OTHERS_M = (8.0, 45.0)  # other road users start this far before it, on any arm
CROSSING_NEAR_JUNCTION_M = (3.0, 10.0)  # pedestrians cross an arm this far from the junction
KERB_GAP_M = 1.25  # a waiting pedestrian stands this far beyond the road's edge


@dataclass(frozen=True)
class _Arm:
    """A road into a junction: the lane driven towards it, the lane driven away, and where s meets it."""

    road: str
    length: float
    inbound: int  # lane id driven towards the junction
    outbound: int
    junction_at_end: bool  # the junction is at s = length (else at s = 0)

    def s_before(self, distance: float) -> float:
        """s of the point `distance` metres before the junction."""
        return self.length - distance if self.junction_at_end else distance


def _junction_scenario(rng: np.random.Generator, duration_s: float, fps: float, width: int, height: int,
                       vary_camera: bool) -> Scenario:
    """A junction of the example crossing: the ego approaches it and goes straight or turns; oncoming and
    crossing traffic come from the other arms with their own routes; pedestrians cross an arm near it."""
    arms, borders = _junction_arms(str(JUNCTION_ROAD_FILE))
    ego_arm = arms[int(rng.integers(0, len(arms)))]
    ego_speed = float(round(rng.uniform(4.0, 12.0), 2))
    seed = int(rng.integers(0, 2**31 - 1))
    ego_distance = float(round(rng.uniform(*JUNCTION_APPROACH_M), 1))
    ego: dict = {"position": {"road": ego_arm.road, "lane": ego_arm.inbound, "s": ego_arm.s_before(ego_distance)},
                 "route": [ego_arm.road, _exit(rng, arms, ego_arm)], "speed_mps": ego_speed, "actions": []}
    if rng.random() < 0.4:  # slows for the junction
        ego["actions"].append({"at_s": float(round(rng.uniform(0.0, 0.5) * duration_s, 3)),
                               "speed_mps": float(round(rng.uniform(2.5, 6.0), 2)),
                               "duration_s": float(round(rng.uniform(1.0, 3.0), 2))})
    agents: list[dict] = []
    others = [arm for arm in arms if arm is not ego_arm]
    for j in range(int(rng.integers(1, 4))):  # oncoming and crossing traffic, each with its own route
        arm = others[int(rng.integers(0, len(others)))]
        kind = str(rng.choice(VEHICLE_TYPES + ("cyclist",), p=[0.62, 0.1, 0.06, 0.1, 0.12]))
        distance = float(round(rng.uniform(*JUNCTION_OTHERS_M), 1))
        if any(a["position"]["road"] == arm.road and abs(a["position"]["s"] - arm.s_before(distance)) < 12.0
               for a in agents):
            continue
        agents.append({"id": f"{kind}_{j}", "type": kind,
                       "position": {"road": arm.road, "lane": arm.inbound, "s": arm.s_before(distance)},
                       "route": [arm.road, _exit(rng, arms, arm)], "speed_mps": float(round(rng.uniform(4.0, 11.0), 2)),
                       "actions": []})
    if ego_distance > 20.0 and rng.random() < 0.5:  # a lead vehicle in the ego's lane, no slower than the ego
        gap = float(round(rng.uniform(10.0, min(30.0, ego_distance - 5.0)), 1))
        agents.append({"id": "lead", "type": "car",
                       "position": {"road": ego_arm.road, "lane": ego_arm.inbound,
                                    "s": ego_arm.s_before(ego_distance - gap)},
                       "route": [ego_arm.road, _exit(rng, arms, ego_arm)],
                       "speed_mps": float(round(ego_speed + rng.uniform(0.5, 3.0), 2)), "actions": []})
    for j in range(int(rng.integers(1, 3))):  # mostly across the arm the ego comes in by, between it and the junction
        arm = ego_arm if rng.random() < 0.7 else arms[int(rng.integers(0, len(arms)))]
        near = (CROSSING_NEAR_JUNCTION_M[0], min(CROSSING_NEAR_JUNCTION_M[1], ego_distance - 5.0))
        agents.append(_junction_pedestrian(rng, duration_s, arm, borders, j, near))
    data = {
        "version": 1, "name": f"synth_{seed}", "seed": seed, "duration_s": float(duration_s), "fps": float(fps),
        "camera": _camera(rng, width, height, vary_camera),
        "environment": _environment(rng, duration_s),
        "road": {"opendrive": str(JUNCTION_ROAD_FILE)},
        "ego": ego,
        "agents": agents,
    }
    return Scenario.model_validate(data)


def _exit(rng: np.random.Generator, arms: list[_Arm], entry: _Arm) -> str:
    """Another arm to leave by: straight on, left or right (no U-turns)."""
    exits = [arm.road for arm in arms if arm is not entry]
    return exits[int(rng.integers(0, len(exits)))]


def _junction_pedestrian(rng: np.random.Generator, duration_s: float, arm: _Arm,
                         borders: dict[str, tuple[float, float, float, float]], j: int,
                         near: tuple[float, float] = CROSSING_NEAR_JUNCTION_M) -> dict:
    """A pedestrian at the kerb of an arm near the junction who crosses it (or, sometimes, waits)."""
    # t of the road's left and right edge, of the inbound lane's centre and of the centre line
    left_t, right_t, inbound_centre_t, centre_t = borders[arm.road]
    start_left = bool(rng.random() < 0.5)
    t_start = left_t + KERB_GAP_M if start_left else right_t - KERB_GAP_M
    t_target = right_t - KERB_GAP_M if start_left else left_t + KERB_GAP_M
    distance = float(round(rng.uniform(*near), 1))
    # Placed on the inbound lane, offset (towards +t) to the kerb; lateral_m counts metres right of the
    # left edge of the inbound lanes, the centre line, looking the way the inbound lane is driven.
    agent: dict = {"id": f"pedestrian_{j}", "type": "pedestrian",
                   "position": {"road": arm.road, "lane": arm.inbound, "s": arm.s_before(distance),
                                "offset": float(round(t_start - inbound_centre_t, 2))},
                   "speed_mps": 0.0, "actions": []}
    if rng.random() < 0.8:
        walk = rng.uniform(*PEDESTRIAN_WALK_MPS)
        agent["actions"].append({"at_s": float(round(rng.uniform(0.0, 0.4) * duration_s, 3)),
                                 "lateral_m": float(round((centre_t - t_target) * _side(arm), 2)),
                                 "duration_s": float(round(abs(t_target - t_start) / walk, 2))})
    return agent


def _side(arm: _Arm) -> float:
    """+1 where the inbound lane is driven along +s: its left is the road's left (+t)."""
    return 1.0 if arm.junction_at_end else -1.0


@functools.lru_cache(maxsize=4)
def _junction_arms(path: str) -> tuple[list[_Arm], dict[str, tuple[float, float, float, float]]]:
    """The arms of the junction in a road file, with the t of each arm's edges, inbound lane centre and
    centre line (halfway along it)."""
    if not Path(path).is_file():
        raise DrivesimError(f"the 'world' scenario mix draws junctions on {path}, which is missing; run from a "
                            "source checkout of drivesim (the example roads are in scenarios/roads/)")
    network = read_road_network(path)
    arms, borders = [], {}
    for road in network.roads.values():
        ends = [(link, at_end) for link, at_end in ((road.successor, True), (road.predecessor, False))
                if link is not None and link.elementType == "junction"]
        if road.in_junction or not ends:
            continue
        at_end = ends[0][1]
        lanes = road.laneSections[0].lanes
        driving = [k for k, lane in lanes.items() if k and lane.type in DRIVING_TYPES]
        inbound = [k for k in driving if road.direction(k) == (1 if at_end else -1)]
        outbound = [k for k in driving if road.direction(k) == (-1 if at_end else 1)]
        if not inbound or not outbound:
            continue
        lane = min(inbound, key=abs)  # the inbound lane next to the centre line
        arms.append(_Arm(road.id, road.length, lane, min(outbound, key=abs), at_end))
        s = road.length / 2
        edges = road.borders(s)
        borders[road.id] = (max(t for _, t in edges.values()), min(t for _, t in edges.values()),
                            float(road.lane_center_t(lane, s)[0]), edges[0][1])
    return arms, borders
