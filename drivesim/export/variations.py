"""Seeded variations of a scenario, so one scenario file yields several distinct clips.

    drivesim export scenarios/ -o out/dataset --variations 4 --seed 0 --source schematic

Variation k (1-based) of a scenario is a pure function of (the scenario, --seed, k):
- time of day: odd k flip day <-> night (the start value and every event), so N variations
  split evenly between day and night; even k keep it;
- crowdedness: shifted by a uniform draw in +-CROWDEDNESS_JITTER (start and every event),
  clipped to [0, 1];
- each agent: speed (and every speed action) times a draw in SPEED_FACTOR_RANGE, start
  distance times a draw in DISTANCE_FACTOR_RANGE;
- seed: a fresh engine seed (new background traffic, new diffusion noise).
The result is validated like a file (schema + cross-field checks); a draw that fails is
redrawn (MAX_ATTEMPTS times), so every exported variation is a valid scenario.
"""

from __future__ import annotations

import hashlib
import json
import random
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from drivesim.errors import DrivesimError
from drivesim.scenario.checks import cross_field_findings
from drivesim.scenario.format import Scenario

CROWDEDNESS_JITTER = 0.2
SPEED_FACTOR_RANGE = (0.8, 1.2)
DISTANCE_FACTOR_RANGE = (0.85, 1.15)
MAX_ATTEMPTS = 20
_MAX_SPEED_MPS, _DISTANCE_RANGE_M = 100.0, (-500.0, 1000.0)  # the schema's bounds


@dataclass(frozen=True)
class Variation:
    index: int  # 1..N; 0 is the scenario as written
    scenario: Scenario
    changes: dict[str, Any]  # what was changed, kept in the clip record and the manifest


def scenario_digest(scenario: Scenario) -> str:
    """sha256 of the scenario's canonical JSON: the same content gives the same variations."""
    canonical = json.dumps(scenario.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def make_variations(scenario: Scenario, export_seed: int, count: int) -> list[Variation]:
    if count < 0:
        raise DrivesimError(f"--variations must be >= 0, got {count}")
    return [make_variation(scenario, export_seed, k) for k in range(1, count + 1)]


def make_variation(scenario: Scenario, export_seed: int, index: int) -> Variation:
    """Variation `index` (>= 1) of `scenario`, deterministic from `export_seed`."""
    digest = scenario_digest(scenario)
    problems: list[str] = []
    for attempt in range(MAX_ATTEMPTS):
        # String seeds hash with sha512: the same draws on every platform and Python version.
        rng = random.Random(f"drivesim-variation:{export_seed}:{digest}:{index}:{attempt}")
        data, changes = _jitter(scenario.model_dump(mode="json"), rng, flip_time_of_day=index % 2 == 1)
        data["name"] = f"{scenario.name}_v{index:02d}"
        problems = [f"{'.'.join(map(str, f.path))}: {f.message}" for f in cross_field_findings(data)]
        if not problems:
            try:
                return Variation(index, Scenario.model_validate(data), changes)
            except ValidationError as err:
                problems = [str(e["msg"]) for e in err.errors()]
    raise DrivesimError(f"scenario '{scenario.name}': variation {index} is invalid after {MAX_ATTEMPTS} draws "
                        f"({'; '.join(problems[:3])}); export it with fewer --variations or change --seed")


def _jitter(data: dict[str, Any], rng: random.Random, flip_time_of_day: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    env = data["environment"]
    delta = round(rng.uniform(-CROWDEDNESS_JITTER, CROWDEDNESS_JITTER), 4)

    def crowd(c: float) -> float:
        return round(min(max(c + delta, 0.0), 1.0), 4)

    def tod(t: str) -> str:
        return {"day": "night", "night": "day"}[t] if flip_time_of_day else t

    env["time_of_day"] = tod(env["time_of_day"])
    env["crowdedness"] = crowd(env["crowdedness"])
    for event in env["events"]:
        if event.get("time_of_day") is not None:
            event["time_of_day"] = tod(event["time_of_day"])
        if event.get("crowdedness") is not None:
            event["crowdedness"] = crowd(event["crowdedness"])

    agents: dict[str, dict[str, float]] = {}
    for agent in data["agents"]:
        speed_f = round(rng.uniform(*SPEED_FACTOR_RANGE), 4)
        dist_f = round(rng.uniform(*DISTANCE_FACTOR_RANGE), 4)
        agent["speed_mps"] = round(min(agent["speed_mps"] * speed_f, _MAX_SPEED_MPS), 3)
        low, high = _DISTANCE_RANGE_M
        agent["distance_m"] = round(min(max(agent["distance_m"] * dist_f, low), high), 3)
        for action in agent["actions"]:
            if action.get("speed_mps") is not None:
                action["speed_mps"] = round(min(action["speed_mps"] * speed_f, _MAX_SPEED_MPS), 3)
        agents[agent["id"]] = {"speed_factor": speed_f, "distance_factor": dist_f}

    data["seed"] = rng.randrange(0, 2**31 - 1)
    changes = {"time_of_day_flipped": flip_time_of_day, "crowdedness_delta": delta, "agents": agents,
               "seed": data["seed"]}
    return data, changes
