"""Held-out evaluation scenarios, their day/night and no-agents variants, and running one through a pipeline.

The scenarios are written here by hand (layouts `random_scenarios.py` does not produce: a close
convoy, a cut-in right in front of the camera, a bus pulling out) with fixed seeds outside the
training data's draws, so `drivesim eval` measures generalisation to scenarios it was not trained on.
Each has named agents close enough to the camera that their boxes cover a fair share of the frame
(box adherence) and a time of day that `with_time_of_day` flips (luminance ratio).

    python -c "from drivesim.eval.scenarios import held_out_scenarios; \
[print(s.name, s.duration_s, len(s.agents)) for s in held_out_scenarios(3)]"
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from drivesim.errors import DrivesimError
from drivesim.scenario.format import Scenario
from drivesim.scenario.labels import FrameConditions

__all__ = ["HELD_OUT", "held_out_scenarios", "with_time_of_day", "without_named_agents", "GeneratedVideo",
           "generate_video"]

# Plain scenario data (the YAML schema v1 as dicts); camera and duration are set by held_out_scenarios.
HELD_OUT: tuple[dict[str, Any], ...] = (
    dict(name="eval_convoy_cut_in", seed=910_001,
         environment=dict(time_of_day="day", crowdedness=0.25), road=dict(lanes=3, lane_width_m=3.5),
         ego=dict(lane=1, speed_mps=14),
         agents=[dict(id="lead", type="car", lane=1, distance_m=14, speed_mps=13),
                 dict(id="truck", type="truck", lane=2, distance_m=18, speed_mps=12.5),
                 dict(id="cutter", type="car", lane=0, distance_m=10, speed_mps=15.5,
                      actions=[dict(at_s=1.0, lane_change_to=1, duration_s=2.0)])]),
    dict(name="eval_bus_pull_out", seed=910_002,
         environment=dict(time_of_day="day", crowdedness=0.4), road=dict(lanes=2, lane_width_m=3.2),
         ego=dict(lane=1, speed_mps=9),
         agents=[dict(id="bus", type="bus", lane=0, distance_m=16, speed_mps=2,
                      actions=[dict(at_s=0.5, speed_mps=8, duration_s=2.5)]),
                 dict(id="cyclist", type="cyclist", lateral_m=6.0, distance_m=11, speed_mps=6),
                 dict(id="van", type="car", lane=1, distance_m=20, speed_mps=8.5)]),
    dict(name="eval_highway_trucks", seed=910_003,
         environment=dict(time_of_day="day", crowdedness=0.15), road=dict(lanes=4, lane_width_m=3.75),
         ego=dict(lane=2, speed_mps=25),
         agents=[dict(id="truck_a", type="truck", lane=1, distance_m=15, speed_mps=22),
                 dict(id="truck_b", type="truck", lane=3, distance_m=22, speed_mps=23),
                 dict(id="moto", type="motorcycle", lane=2, distance_m=-6, speed_mps=31,
                      actions=[dict(at_s=0.5, lane_change_to=1, duration_s=1.5)])]),
)


def held_out_scenarios(count: int, duration_s: float = 4.0, width: int = 512, height: int = 256,
                       fps: float = 10.0) -> list[Scenario]:
    """The first `count` held-out scenarios at the given camera size, duration and frame rate."""
    if not 1 <= count <= len(HELD_OUT):
        raise DrivesimError(f"there are {len(HELD_OUT)} held-out evaluation scenarios; asked for {count}")
    out = []
    for data in HELD_OUT[:count]:
        full = dict(data, version=1, duration_s=float(duration_s), fps=float(fps),
                    camera=dict(width=int(width), height=int(height), fov_deg=90))
        out.append(Scenario.model_validate(full))
    return out


def with_time_of_day(scenario: Scenario, time_of_day: str) -> Scenario:
    """The same scenario at `time_of_day` throughout (time-of-day events dropped)."""
    data = scenario.model_dump(mode="json")
    env = data["environment"]
    env["time_of_day"] = time_of_day
    env["events"] = [e for e in env["events"] if e.get("crowdedness") is not None]
    for event in env["events"]:
        event["time_of_day"] = None
    data["name"] = f"{scenario.name}_{time_of_day}"
    return Scenario.model_validate(data)


def without_named_agents(scenario: Scenario) -> Scenario:
    """The same scenario with no named agents (background traffic, road, seed and camera unchanged)."""
    data = scenario.model_dump(mode="json")
    data["agents"] = []
    data["name"] = f"{scenario.name}_no_agents"
    return Scenario.model_validate(data)


@dataclass
class GeneratedVideo:
    """One generation run: frames (T, H, W, 3) uint8 RGB at the camera's size, their labels, wall time."""

    name: str
    frames: np.ndarray
    labels: list[FrameConditions]
    seconds: float
    keyframe_clips: int


def generate_video(bundle, scenario: Scenario, options) -> GeneratedVideo:
    """Run `scenario` through a VideoPipeline on `bundle` with GenerateOptions `options`; timed from the
    first pulled frame to the last (model loading excluded)."""
    from drivesim.pipeline import VideoPipeline

    pipeline = VideoPipeline(bundle, options)
    start = time.perf_counter()
    frames, labels = [], []
    for frame in pipeline.frames(scenario):
        frames.append(frame.image)
        labels.append(frame.labels)
    seconds = time.perf_counter() - start
    return GeneratedVideo(name=scenario.name, frames=np.stack(frames), labels=labels, seconds=seconds,
                          keyframe_clips=pipeline.run.stats.keyframe_clips)
