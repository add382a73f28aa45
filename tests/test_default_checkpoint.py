"""The shipped default bundle (checkpoints/default): complete, small, trained, and it obeys day/night."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from drivesim.models.bundle import PARTS, load_bundle
from drivesim.pipeline import GenerateOptions, VideoPipeline
from drivesim.scenario.format import Scenario

pytestmark = pytest.mark.precision  # arithmetic-dependent: CI runs these again in fp32 (README)

DEFAULT = Path(__file__).resolve().parents[1] / "checkpoints" / "default"
STAGES = {"autoencoder", "image", "decoder", "video", "interpolation", "upsampler"}


def test_bundle_is_complete_small_and_fp16():
    files = sorted(p.name for p in DEFAULT.iterdir() if p.is_file())
    assert {f"{part}.safetensors" for part in PARTS} <= set(files)
    assert not [f for f in files if f.endswith((".pt", ".ckpt", ".pth", ".bin", ".pkl"))]
    assert sum((DEFAULT / f).stat().st_size for f in files) <= 40 * 2**20
    assert STAGES <= set(json.loads((DEFAULT / "stages.json").read_text())["stages"])


def _mean_luminance(time_of_day: str) -> float:
    torch.set_num_threads(1)
    scenario = Scenario.model_validate({
        "name": "night_day_check", "seed": 5, "duration_s": 0.8, "fps": 10,
        "camera": {"width": 256, "height": 128}, "environment": {"time_of_day": time_of_day},
        "ego": {"lane": 1, "speed_mps": 12},
        "agents": [{"id": "lead", "type": "car", "lane": 1, "distance_m": 15, "speed_mps": 10}]})
    pipeline = VideoPipeline(load_bundle(DEFAULT), GenerateOptions(steps=4, progress=False))
    frames = [f.image for f in pipeline.frames(scenario)]
    assert len(frames) == scenario.num_frames and frames[0].shape == (128, 256, 3)
    return float(np.mean(frames))


def test_default_generates_darker_night_than_day():
    assert _mean_luminance("night") < 0.6 * _mean_luminance("day")


def test_readme_is_a_model_card_with_front_matter():
    import yaml

    text = (DEFAULT / "README.md").read_text()
    assert text.startswith("---\n")
    card = yaml.safe_load(text.split("---\n")[1])
    assert card["license"] == "apache-2.0"
    assert card["tags"] and card["datasets"] and card["metrics"]
    assert "# checkpoints/default" in text.split("---\n", 2)[2]  # the card's own text follows
