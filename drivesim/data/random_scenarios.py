"""Seeded random scenarios: the variety the procedural training data is rendered from.

    python -c "import numpy as np; from drivesim.data.random_scenarios import random_scenario; \
print(random_scenario(np.random.default_rng(0), 4.0, 10, 256, 128).model_dump_json(indent=1))"

Every sample is validated by the pydantic `Scenario` model and is also *sensible*: lanes exist,
agents in or entering the ego lane never drive into the camera, crossing pedestrians cross ahead.
"""

from __future__ import annotations

import numpy as np

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


def random_scenario(rng: np.random.Generator, duration_s: float, fps: float, width: int,
                    height: int, vary_camera: bool = False) -> Scenario:
    """One random valid scenario whose camera renders at `width` x `height` pixels.

    The camera keeps the scenario defaults (90 deg fov, 1.5 m high, level) unless `vary_camera`:
    the road-layout condition map is drawn with that default camera (conditions/box_maps.py),
    so training frames must be seen through it for the map to line up with the road.
    """
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
            ego_speed: float) -> list[dict]:
    types = list(AGENT_TYPE_WEIGHTS)
    weights = np.array([AGENT_TYPE_WEIGHTS[t] for t in types])
    count = int(rng.integers(0, MAX_NAMED_AGENTS + 1))
    agents: list[dict] = []
    occupied: list[tuple[int, float, float]] = []  # (lane, distance, length) of agents in lanes
    for i in range(count):
        kind = str(rng.choice(types, p=weights / weights.sum()))
        if kind == "pedestrian":
            agent = _pedestrian(rng, duration_s, lanes, lane_width, ego_speed)
        else:
            agent = _vehicle(rng, kind, duration_s, lanes, lane_width, ego_lane, ego_speed, occupied)
        if agent is not None:
            agent["id"] = f"{kind}_{i}"
            agents.append(agent)
    return agents


def _vehicle(rng: np.random.Generator, kind: str, duration_s: float, lanes: int, lane_width: float,
             ego_lane: int, ego_speed: float, occupied: list[tuple[int, float, float]]) -> dict | None:
    length = DEFAULT_SIZE_M[kind][0]
    for _ in range(10):  # a few tries to find a free spot; give up quietly on a crowded road
        if kind == "cyclist":
            lane = lanes - 1  # cyclists keep to the rightmost lane
        else:
            lane = int(rng.integers(0, lanes))
        distance = float(round(rng.uniform(-15.0, 70.0), 2))
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
        agent.pop("lane")  # ride near the right edge rather than mid-lane
        agent["lateral_m"] = float(round(lanes * lane_width - 0.8, 2))
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
                ego_speed: float) -> dict:
    road_right = lanes * lane_width
    start_left = bool(rng.random() < 0.5)
    lateral = -SIDEWALK_OFFSET_M if start_left else road_right + SIDEWALK_OFFSET_M
    agent: dict = {"type": "pedestrian", "lateral_m": float(round(lateral + rng.uniform(-0.5, 0.5), 2)),
                   "speed_mps": float(round(rng.uniform(0.0, 1.5), 2)), "actions": []}
    if rng.random() < 0.5:
        # Cross the road, starting when the ego is still well short of the crossing point.
        at_s = float(round(rng.uniform(0.0, 0.5) * duration_s, 3))
        walk = rng.uniform(*PEDESTRIAN_WALK_MPS)
        target = road_right + SIDEWALK_OFFSET_M if start_left else -SIDEWALK_OFFSET_M
        agent["actions"].append({"at_s": at_s, "lateral_m": float(round(target, 2)),
                                 "duration_s": float(round(abs(target - lateral) / walk, 2))})
        agent["speed_mps"] = 0.0
        ahead = ego_speed * (at_s + 1.0) + rng.uniform(15.0, 40.0)
        agent["distance_m"] = float(round(min(ahead, MAX_AGENT_DISTANCE_M), 2))
    else:
        agent["distance_m"] = float(round(rng.uniform(5.0, 60.0), 2))
    return agent
