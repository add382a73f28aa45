"""The controllability detector: a small road-user / background crop classifier, trained by drivesim
on frames of the procedural renderer whose scenario seeds the shipped default never saw.

Design (docs/eval.md, "Controllability"): a square crop around a box with context (crops.py,
32x32 RGB) -> 4 convolutions (24-32-64-64 channels, GroupNorm, SiLU, three stride-2) -> global
average -> 4 logits: background, vehicle (car, truck, bus), two-wheeler (motorcycle, cyclist),
pedestrian. A road user counts as *found* when P(background) < 0.5. Training data: random scenarios
drawn exactly as `drivesim synth-data` draws them, but with dataset seed DETECTOR_DATA_SEED
(the default was trained on seed 0), rendered at the eval camera's 512x256 at a few instants each;
crops of every visible box (jittered by up to 10 % of its size) and background boxes sampled away
from every label (crops.background_boxes). Batches are half background, half road users (classes
balanced); augmentation: flips, brightness / contrast, blur (generated frames are softer than the
renderer's) and noise. AdamW with a one-cycle schedule, on one CPU thread in a minute or two.

    python -c "from drivesim.eval.detector import DetectorConfig, CropClassifier; \
print(sum(p.numel() for p in CropClassifier(DetectorConfig()).parameters()))"
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from drivesim.errors import DrivesimError
from drivesim.eval.crops import CLASSES, CROP_SIZE, frame_crops
from drivesim.eval.frechet import read_feature_net_metadata, save_module

__all__ = ["DetectorConfig", "CropClassifier", "DETECTOR_DATA_SEED", "VALIDATION_DATA_SEED", "synth_scenarios",
           "render_crops",
           "train_crop_classifier", "road_user_scores", "crop_accuracy", "save_detector", "load_detector",
           "detector_metadata", "METADATA_KEY"]

METADATA_KEY = "drivesim_crop_classifier"  # safetensors metadata entry holding the DetectorConfig as JSON
# synth-data dataset seeds of the detector's training and validation frames. The shipped default was
# trained on `drivesim synth-data --seed 0`, whose clip i is drawn from default_rng([0, i]); these
# seeds give other streams (tests/test_controllability.py checks that no scenario seed is shared).
DETECTOR_DATA_SEED = 7_100_001
VALIDATION_DATA_SEED = 7_100_002
JITTER = 0.1  # box shift / scale augmentation of the training crops


@dataclass(frozen=True)
class DetectorConfig:
    channels: tuple[int, ...] = (24, 32, 64, 64)
    strides: tuple[int, ...] = (2, 1, 2, 2)  # 32 -> 16 at once: a cheap first layer (one CPU thread)
    crop_size: int = CROP_SIZE
    classes: tuple[str, ...] = CLASSES

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


class CropClassifier(nn.Module):
    """(B, 3, S, S) RGB in [-1, 1] -> (B, len(classes)) logits."""

    def __init__(self, config: DetectorConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        cin = 3
        for cout, stride in zip(config.channels, config.strides):
            layers += [nn.Conv2d(cin, cout, 3, stride=stride, padding=1), nn.GroupNorm(min(8, cout), cout), nn.SiLU()]
            cin = cout
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(cin, len(config.classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).mean(dim=(2, 3)))


# --- training data -------------------------------------------------------------------------------

def synth_scenarios(data_seed: int, clips: int, camera: tuple[int, int] = (512, 256), duration_s: float = 4.0,
                    fps: float = 10.0, mix: str = "v1") -> list:
    """The scenarios of clips 0..clips-1 of `drivesim synth-data --seed data_seed --mix mix` (scenario.yaml
    of each)."""
    from drivesim.data.synth import SynthConfig, clip_scenario_yaml
    from drivesim.scenario.loader import parse_scenario

    width, height = camera
    frames = max(1, int(round(duration_s * fps)))
    cfg = SynthConfig(output="", clips=clips, frames=frames, height=height, width=width, fps=fps, seed=data_seed,
                      mix=mix)
    return [parse_scenario(clip_scenario_yaml(cfg, i), f"synth-data seed {data_seed} clip {i}") for i in range(clips)]


def render_crops(data_seed: int, clips: int, camera: tuple[int, int] = (512, 256), instants: int = 4,
                 duration_s: float = 4.0, fps: float = 10.0, negatives: int = 6, jitter: float = JITTER,
                 ) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Crops and classes from `clips` random scenarios of synth-data dataset seed `data_seed`, each
    rendered at `instants` evenly spaced frames; also returns the scenario seeds used."""
    from drivesim.render.frames import render_frame
    from drivesim.scenario.engine import ScenarioEngine

    width, height = camera
    rng = np.random.default_rng([data_seed, 1])
    crops, classes, seeds = [], [], []
    for scenario in synth_scenarios(data_seed, clips, camera, duration_s, fps):
        engine = ScenarioEngine(scenario)
        seeds.append(int(engine.seed))
        for index in np.linspace(0, engine.num_frames - 1, instants).round().astype(int):
            conditions = engine.frame(int(index))
            image = render_frame(engine, conditions.timestamp_s, width, height)
            c, k = frame_crops(image, conditions, negatives, rng, jitter)
            crops.append(c)
            classes.append(k)
    return np.concatenate(crops), np.concatenate(classes), seeds


def _to_tensor(crops: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    b = x.shape[0]
    flip = torch.rand(b, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    gain = 0.6 + 0.8 * torch.rand(b, 1, 1, 1, generator=gen)  # brightness / contrast around the crop mean
    offset = 0.2 * (torch.rand(b, 1, 1, 1, generator=gen) - 0.5)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * gain + mean * (0.7 + 0.6 * torch.rand(b, 1, 1, 1, generator=gen)) + offset
    kernel = torch.tensor([1.0, 2.0, 1.0])
    kernel = (kernel[:, None] * kernel[None, :] / 16).expand(3, 1, 3, 3)
    blurred = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=3)
    twice = F.conv2d(F.pad(blurred, (1, 1, 1, 1), mode="replicate"), kernel, groups=3)
    pick = torch.rand(b, generator=gen)
    x = torch.where((pick < 0.25)[:, None, None, None], blurred, x)
    x = torch.where((pick > 0.8)[:, None, None, None], twice, x)
    x = x + 0.03 * torch.randn(x.shape, generator=gen)
    return x.clamp(-1, 1)


def train_crop_classifier(crops: np.ndarray, classes: np.ndarray, steps: int, seed: int = 0,
                          config: DetectorConfig = DetectorConfig(), batch: int = 64, lr: float = 3e-3,
                          ) -> tuple[CropClassifier, list[float]]:
    """Train a CropClassifier on (N, S, S, 3) uint8 crops with class indices; returns it (eval mode) and
    the loss of every step. Half of each batch is background, half road users with the classes balanced."""
    if steps < 1:
        raise DrivesimError(f"detector training needs >= 1 step, got {steps}")
    background = np.flatnonzero(classes == 0)
    users = np.flatnonzero(classes > 0)
    if len(background) == 0 or len(users) == 0:
        raise DrivesimError(f"the detector needs road-user and background crops to train on; got {len(users)} "
                            f"road-user and {len(background)} background crops (render more or bigger frames)")
    counts = np.bincount(classes[users], minlength=len(config.classes)).astype(np.float64)
    weights = 1.0 / counts[classes[users]]
    weights /= weights.sum()
    x_all = _to_tensor(crops)
    y_all = torch.from_numpy(classes.astype(np.int64))
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = CropClassifier(config)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.2)
    net.train()
    losses = []
    half = batch // 2
    for _ in range(steps):
        idx = np.concatenate([rng.choice(background, half), rng.choice(users, batch - half, p=weights)])
        x = _augment(x_all[idx], gen)
        loss = F.cross_entropy(net(x), y_all[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
    return net.eval().requires_grad_(False), losses


@torch.no_grad()
def road_user_scores(net: CropClassifier, crops: np.ndarray, batch: int = 512,
                     with_probs: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(P(road user) = 1 - P(background), most likely class index) per crop; with_probs: (P(road user),
    the (N, len(CLASSES)) class probabilities)."""
    if len(crops) == 0:
        return np.zeros(0), np.zeros((0, len(CLASSES)) if with_probs else 0, np.int64)
    probs = torch.cat([F.softmax(net(_to_tensor(crops[i:i + batch])), dim=1) for i in range(0, len(crops), batch)])
    return (1.0 - probs[:, 0]).numpy(), probs.numpy() if with_probs else probs.argmax(dim=1).numpy()


def crop_accuracy(net: CropClassifier, crops: np.ndarray, classes: np.ndarray) -> dict[str, float]:
    """Recall of road users (found as any road user), false-positive rate on background, class accuracy."""
    score, predicted = road_user_scores(net, crops)
    users, background = classes > 0, classes == 0
    found = score >= 0.5
    return {"road_user_recall": float(found[users].mean()) if users.any() else float("nan"),
            "background_false_positive_rate": float(found[background].mean()) if background.any() else float("nan"),
            "class_accuracy": float((predicted == classes).mean()),
            "road_users": int(users.sum()), "background": int(background.sum())}


# --- weights on disk ------------------------------------------------------------------------------

def save_detector(net: CropClassifier, path: Path, extra: dict[str, str] | None = None) -> None:
    """Weights + config (metadata METADATA_KEY) in one safetensors file, written atomically."""
    save_module(net, path, {METADATA_KEY: net.config.to_json(), **(extra or {})})


def detector_metadata(path: Path) -> dict[str, str]:
    return read_feature_net_metadata(path)  # any safetensors file's metadata


def load_detector(path: Path) -> CropClassifier:
    from safetensors.torch import load_file

    meta = detector_metadata(path)
    if METADATA_KEY not in meta:
        raise DrivesimError(f"{path} has no '{METADATA_KEY}' metadata entry; delete it to retrain the detector")
    data = json.loads(meta[METADATA_KEY])
    config = DetectorConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
    net = CropClassifier(config)
    try:
        net.load_state_dict(load_file(str(path)))
    except RuntimeError as err:
        raise DrivesimError(f"{path}: the weights do not fit its config ({err}); delete it to retrain") from err
    return net.eval().requires_grad_(False)
