"""Shared by tests/test_sampling.py, test_pipeline.py and test_generate.py: a micro random bundle
(the tiny config shrunk to 16x32 keyframes, 4-frame clips) and short scenarios, so a whole
generation takes about a second on 2 CPU cores."""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import torch

from drivesim.models.bundle import build_bundle
from drivesim.models.configs import BundleConfig, get_config
from drivesim.scenario.format import Scenario

# The micro models are far too small to gain from two threads, and on a loaded 2-core machine
# OpenMP threads waiting on each other make them 10x slower.
torch.set_num_threads(1)


# A session header (closed-loop scenario without agents): tests/test_serve.py, test_pipeline_session.py.
HEADER = """\
version: 1
name: loop
duration_s: 1
fps: 10
camera: {width: 128, height: 64}
ego: {lane: 1, speed_mps: 10}
"""


def micro_config() -> BundleConfig:
    cfg = get_config("tiny")
    return dataclasses.replace(
        cfg, name="micro", frame_size=(16, 32), clip_frames=4, decoder_window=4, upsampler_chunk_frames=4,
        upsampler_patch_size=(16, 16), diffusion=dataclasses.replace(cfg.diffusion, num_inference_steps=2))


@lru_cache(maxsize=None)
def _cached_bundle(seed: int):
    return build_bundle(micro_config(), seed=seed)


def micro_bundle(seed: int = 0):
    """A fresh-weights micro bundle (cached per seed: treat it as read-only)."""
    return _cached_bundle(seed)


def scenario(duration_s: float = 2.0, fps: float = 10.0, width: int = 128, height: int = 64, **extra) -> Scenario:
    data = dict(name="test_drive", seed=3, duration_s=duration_s, fps=fps,
                camera=dict(width=width, height=height, fov_deg=90),
                environment=dict(time_of_day="day", crowdedness=0.3),
                road=dict(lanes=3, lane_width_m=3.5), ego=dict(lane=1, speed_mps=12),
                agents=[dict(id="lead", type="car", lane=1, distance_m=15, speed_mps=10,
                             actions=[dict(at_s=min(0.5, duration_s / 2), lane_change_to=2, duration_s=1.0)])])
    data.update(extra)
    return Scenario(**data)


SCENARIO_YAML = """\
version: 1
name: test_drive
seed: 3
duration_s: {duration_s}
fps: 10
camera: {{width: 128, height: 64, fov_deg: 90}}
environment: {{time_of_day: night, crowdedness: 0.4}}
road: {{lanes: 3, lane_width_m: 3.5}}
ego: {{lane: 1, speed_mps: 12}}
agents:
  - id: lead
    type: car
    lane: 1
    distance_m: 15
    speed_mps: 10
"""
