"""Golden labels of version-1 scenarios: the engine must keep producing them to the digit.

Every exporter and the trained model read these labels, so the world-pose engine must reduce exactly
to the straight one-way road of version 1. The golden file holds, for every scenario in scenarios/*.yaml
and the synthetic ones below, every frame's labels (`FrameConditions.to_json()`'s keys, with the values
unrounded: a change of 1e-13 may flip the 4th decimal that to_json rounds to) plus the road state the
renderer draws from. It was written by the engine as it was before roads became worlds; regenerate it
only after a change that is MEANT to alter version-1 labels:

    DRIVESIM_WRITE_GOLDEN=1 python -m pytest tests/test_world_golden.py -q
"""

from __future__ import annotations

import functools
import gzip
import json
import os
from pathlib import Path

import pytest

from drivesim.scenario.engine import ScenarioEngine
from drivesim.scenario.format import Scenario
from drivesim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "world_golden_v1.json.gz"
TOLERANCE = 1e-6


def _synthetic() -> dict[str, dict]:
    """Version-1 scenarios that cover what the example files do not all cover."""
    base = {"version": 1, "duration_s": 4.0, "fps": 10}
    return {
        "lanes_and_lateral": {
            **base, "name": "lanes_and_lateral", "seed": 5,
            "road": {"lanes": 4, "lane_width_m": 3.2},
            "ego": {"lane": 2, "speed_mps": 14, "lateral_m": 7.5},
            "agents": [
                {"id": "l0", "type": "car", "lane": 0, "distance_m": 12, "speed_mps": 15},
                {"id": "l3", "type": "truck", "lane": 3, "distance_m": 30, "speed_mps": 12},
                {"id": "lat", "type": "motorcycle", "lateral_m": 4.1, "distance_m": 22, "speed_mps": 16},
                {"id": "ped", "type": "pedestrian", "lateral_m": -3.0, "distance_m": 18},
                {"id": "bike", "type": "cyclist", "lateral_m": 15.0, "distance_m": 9, "speed_mps": 5,
                 "size_m": [1.9, 0.7, 1.8]},
            ],
        },
        "action_shapes": {
            **base, "name": "action_shapes", "duration_s": 6.0, "seed": 9,
            "road": {"lanes": 3},
            "ego": {"lane": 1, "speed_mps": 12, "actions": [
                {"at_s": 0.5, "lane_change_to": 0, "duration_s": 2, "shape": "sinusoidal"},
                {"at_s": 1.0, "speed_mps": 16, "duration_s": 3, "shape": "linear"},
                {"at_s": 3.0, "lateral_m": 6.0, "duration_s": 2, "takes_over": True},
            ]},
            "agents": [
                {"id": "smooth", "type": "car", "lane": 2, "distance_m": 15, "speed_mps": 13, "actions": [
                    {"at_s": 1, "lane_change_to": 1, "duration_s": 2}]},
                {"id": "lin", "type": "car", "lane": 0, "distance_m": 25, "speed_mps": 10, "actions": [
                    {"at_s": 0.5, "speed_mps": 4, "duration_s": 2, "shape": "linear"},
                    {"at_s": 1.5, "lateral_m": 5.0, "duration_s": 1.5, "shape": "sinusoidal"},
                    {"at_s": 2.0, "speed_mps": 14, "duration_s": 2, "takes_over": True}]},
                {"id": "stepper", "type": "bus", "lane": 1, "distance_m": 40, "speed_mps": 11, "actions": [
                    {"at_s": 2, "lane_change_to": 2, "shape": "step"},
                    {"at_s": 2, "speed_mps": 0, "shape": "step"}]},
            ],
        },
        "negative_distance": {
            **base, "name": "negative_distance", "seed": 2,
            "ego": {"lane": 1, "speed_mps": 10},
            "agents": [
                {"id": "behind_fast", "type": "car", "lane": 0, "distance_m": -20, "speed_mps": 20},
                {"id": "alongside", "type": "truck", "lane": 2, "distance_m": -3, "speed_mps": 13},
                {"id": "behind_slow", "type": "car", "lane": 1, "distance_m": -10, "speed_mps": 5},
            ],
        },
        "crowded_night_events": {
            **base, "name": "crowded_night_events", "seed": 17, "duration_s": 8.0,
            "environment": {"time_of_day": "night", "crowdedness": 1.0, "events": [
                {"at_s": 3, "crowdedness": 0.3}, {"at_s": 5, "time_of_day": "day"},
                {"at_s": 6, "crowdedness": 0.8, "time_of_day": "night"}]},
            "road": {"lanes": 4, "lane_width_m": 3.5},
            "ego": {"lane": 1, "speed_mps": 18},
            "agents": [{"id": "lead", "type": "car", "lane": 1, "distance_m": 30, "speed_mps": 18}],
        },
        "crowded_moving_ego": {
            **base, "name": "crowded_moving_ego", "seed": 4, "duration_s": 6.0,
            "environment": {"crowdedness": 0.7},
            "road": {"lanes": 3, "lane_width_m": 2.8},
            "ego": {"lane": 0, "speed_mps": 9, "actions": [
                {"at_s": 1, "lane_change_to": 1, "duration_s": 2}, {"at_s": 2, "speed_mps": 3, "duration_s": 2}]},
            "agents": [{"id": "walker", "type": "pedestrian", "lateral_m": -2, "distance_m": 25, "actions": [
                {"at_s": 0.5, "lateral_m": 10.0, "duration_s": 5}]}],
        },
        "stopped_ego_crowded": {
            **base, "name": "stopped_ego_crowded", "seed": 23,
            "environment": {"crowdedness": 0.5},
            "road": {"lanes": 1, "lane_width_m": 3.0},
            "ego": {"lane": 0, "speed_mps": 0},
        },
        "pitch_and_optics": {
            **base, "name": "pitch_and_optics", "seed": 1, "fps": 7.5,
            "camera": {"width": 640, "height": 360, "fov_deg": 60, "mount_height_m": 2.2, "pitch_deg": 8},
            "environment": {"crowdedness": 0.2},
            "ego": {"lane": 2, "speed_mps": 20},
            "agents": [
                {"id": "near", "type": "car", "lane": 2, "distance_m": 6, "speed_mps": 19},
                {"id": "far", "type": "bus", "lane": 0, "distance_m": 150, "speed_mps": 15},
                {"id": "up_pitch_truck", "type": "truck", "lane": 1, "distance_m": 2, "speed_mps": 20},
            ],
        },
        "pitch_up": {
            **base, "name": "pitch_up", "seed": 8, "duration_s": 2.0,
            "camera": {"pitch_deg": -12, "fov_deg": 110},
            "agents": [{"id": "a", "type": "car", "lane": 0, "distance_m": 5, "speed_mps": 8}],
        },
    }


def _version1_road(scenario: Scenario) -> bool:
    road = scenario.road
    return (road.segments is None and road.opendrive is None and road.oncoming_lanes == 0
            and road.traffic == "right" and scenario.ego.position is None
            and all(a.position is None and a.route is None for a in scenario.agents) and scenario.ego.route is None)


def _cases() -> dict[str, Scenario]:
    files = {f"file:{p.name}": load_scenario(p) for p in sorted((ROOT / "scenarios").glob("*.yaml"))}
    cases = {name: s for name, s in files.items() if _version1_road(s)}  # examples of bent roads are not v1's
    for name, data in _synthetic().items():
        cases[f"synthetic:{name}"] = Scenario.model_validate(data)
    return cases


def _record(scenario: Scenario) -> list[dict]:
    out = []
    for fc in ScenarioEngine(scenario, scenario.seed).frames():
        road = fc.road
        labels = fc.to_json()
        for box, exact in zip(labels["boxes"], fc.boxes):
            for key in box:
                value = getattr(exact, key)
                box[key] = list(value) if isinstance(value, tuple) else value
        out.append({"labels": labels,
                    "road": [road.lanes, road.lane_width_m, road.ego_lateral_m, road.ego_speed_mps, road.ego_travel_m]})
    return out


def _assert_close(got, want, where: str) -> None:
    if isinstance(want, dict):
        assert isinstance(got, dict) and set(got) == set(want), f"{where}: keys {sorted(got)} != {sorted(want)}"
        for key in want:
            _assert_close(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), f"{where}: {len(got)} items, want {len(want)}"
        for k, (g, w) in enumerate(zip(got, want)):
            _assert_close(g, w, f"{where}[{k}]")
    elif isinstance(want, float) or isinstance(got, float):
        assert abs(got - want) <= TOLERANCE, f"{where}: {got} != {want}"
    else:
        assert got == want, f"{where}: {got!r} != {want!r}"


@functools.lru_cache(maxsize=1)
def _golden() -> dict[str, list[dict]]:
    with gzip.open(GOLDEN, "rt", encoding="utf-8") as f:
        return json.load(f)


CASES = _cases()


def test_golden_file_covers_every_case():
    if os.environ.get("DRIVESIM_WRITE_GOLDEN"):
        data = {name: _record(s) for name, s in CASES.items()}
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(GOLDEN, "wt", encoding="utf-8", compresslevel=9) as f:
            json.dump(data, f, separators=(",", ":"))
        _golden.cache_clear()
    assert GOLDEN.stat().st_size < 2 * 1024 * 1024
    assert set(_golden()) == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_version1_labels_match_golden(name):
    want = _golden()[name]
    got = _record(CASES[name])
    _assert_close(got, want, name)
    # labels.jsonl consumers read the exact text: the keys and their order stay as they were.
    assert [list(f["labels"]) for f in got] == [list(f["labels"]) for f in want]
