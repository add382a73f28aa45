"""The controllability detector: a small road-user / background crop classifier, trained by drivesim
on frames of the procedural renderer whose scenario seeds the shipped default never saw.

Design (docs/eval.md, "Controllability"): a square crop around a box with context (crops.py,
32x32 RGB) -> 4 convolutions (24-32-64-64 channels, GroupNorm, SiLU, three stride-2) -> global
average -> 4 logits: background, vehicle (car, truck, bus), two-wheeler (motorcycle, cyclist),
pedestrian. A road user counts as *found* when P(background) < 0.5. Training data: random scenarios
drawn exactly as `drivesim synth-data` draws them, of both mixes of roads (DETECTOR_MIXES), but with
dataset seed DETECTOR_DATA_SEED (the default was trained on seed 0), rendered at the eval camera's
512x256 at a few instants each; crops of every visible box (jittered by up to 10 % of its size) and
background boxes sampled away from every label (crops.background_boxes). Batches are half background, half road users (classes
balanced); augmentation: flips, brightness / contrast, blur (generated frames are softer than the
renderer's) and noise. AdamW with a one-cycle schedule, on one CPU thread in a minute or two.

    python -c "from drivesim.eval.detector import DetectorConfig, CropClassifier; \
print(sum(p.numel() for p in CropClassifier(DetectorConfig()).parameters()))"
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from drivesim.errors import DrivesimError
from drivesim.eval.crops import CLASSES, CROP_SIZE, frame_crops
from drivesim.eval.frechet import data_fingerprint, read_feature_net_metadata, save_module

__all__ = ["DetectorConfig", "CropClassifier", "DETECTOR_DATA_SEED", "VALIDATION_DATA_SEED", "DETECTOR_MIXES",
           "synth_scenarios", "render_crops", "train_crop_classifier", "road_user_scores", "crop_accuracy",
           "save_detector", "load_detector", "detector_metadata", "METADATA_KEY", "DETECTOR_FILE", "DetectorPlan",
           "detector_plan", "trained_detector"]

METADATA_KEY = "drivesim_crop_classifier"  # safetensors metadata entry holding the DetectorConfig as JSON
# synth-data dataset seeds of the detector's training and validation frames. The shipped default was
# trained on `drivesim synth-data --seed 0`, whose clip i is drawn from default_rng([0, i]); these
# seeds give other streams (tests/test_controllability.py checks that no scenario seed is shared).
DETECTOR_DATA_SEED = 7_100_001
VALIDATION_DATA_SEED = 7_100_002
# The roads of its crops: straight motorways (v1) and the world's bends, junctions and oncoming lanes
# (a detector of v1 crops alone found 14-49 % of the road users in rendered junction and oncoming frames
# by night: car fronts and headlights it had never seen).
DETECTOR_MIXES = ("v1", "world")
JITTER = 0.1  # box shift / scale augmentation of the training crops
DETECTOR_FILE = "detector.safetensors"
FINGERPRINT_KEY = "data_fingerprint"
VALIDATION_KEY = "validation"  # held-out accuracy, JSON, kept in the cached file's metadata


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
                 mix: str = "v1") -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Crops and classes from `clips` random scenarios of synth-data dataset seed `data_seed` and roads
    `mix`, each rendered at `instants` evenly spaced frames; also returns the scenario seeds used."""
    from drivesim.render.frames import render_frame
    from drivesim.scenario.engine import ScenarioEngine

    width, height = camera
    rng = np.random.default_rng([data_seed, 1])
    crops, classes, seeds = [], [], []
    for scenario in synth_scenarios(data_seed, clips, camera, duration_s, fps, mix):
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


# --- the detector, cached ------------------------------------------------------------------------

@dataclass
class DetectorPlan:
    clips: int
    steps: int
    camera: tuple[int, int] = (512, 256)
    instants: int = 4
    validation_clips: int = 16
    seed: int = 0
    mixes: tuple[str, ...] = DETECTOR_MIXES  # `clips` (and `validation_clips`) scenarios of each
    config: DetectorConfig = field(default_factory=DetectorConfig)

    def fingerprint(self) -> str:
        return data_fingerprint([self.config.to_json(), f"data={DETECTOR_DATA_SEED}x{self.clips}x{self.instants}",
                                 f"validation={VALIDATION_DATA_SEED}x{self.validation_clips}",
                                 f"camera={self.camera}", f"steps={self.steps}", f"seed={self.seed}",
                                 "crops=" + "+".join(self.mixes)])

    def scenarios(self, data_seed: int, clips: int) -> list:
        return [sc for mix in self.mixes for sc in synth_scenarios(data_seed, clips, self.camera, mix=mix)]

    def crops(self, data_seed: int, clips: int, jitter: float = JITTER) -> tuple[np.ndarray, np.ndarray]:
        parts = [render_crops(data_seed, clips, self.camera, self.instants, jitter=jitter, mix=mix)
                 for mix in self.mixes]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def detector_plan(s, camera: tuple[int, int]) -> DetectorPlan:
    """The detector of EvalSettings `s` (controllability and drift share it, and so its cache)."""
    return DetectorPlan(clips=s.detector_clips, steps=s.detector_steps, camera=camera, seed=s.seed,
                        validation_clips=max(1, s.detector_clips // 4))


def trained_detector(plan: DetectorPlan, out_dir: Path, log: Callable[[str], None],
                     excluded_seeds: set[int] = frozenset()) -> tuple[CropClassifier, dict[str, Any]]:
    """The detector cached in out_dir/DETECTOR_FILE when its fingerprint matches, else trained on
    rendered frames (seeds checked against `excluded_seeds`), validated on other ones, and saved."""
    cache = Path(out_dir) / DETECTOR_FILE
    fingerprint = plan.fingerprint()
    info: dict[str, Any] = {"path": str(cache), "fingerprint": fingerprint, "data_seed": DETECTOR_DATA_SEED,
                            "validation_seed": VALIDATION_DATA_SEED, "clips": plan.clips, "instants": plan.instants,
                            "validation_clips": plan.validation_clips, "steps": plan.steps,
                            "mixes": list(plan.mixes)}
    # Checked on every run, a cached detector too: --data may be another folder this time.
    shared = {int(sc.seed) for seed, clips in ((DETECTOR_DATA_SEED, plan.clips),
                                               (VALIDATION_DATA_SEED, plan.validation_clips))
              for sc in plan.scenarios(seed, clips)} & set(excluded_seeds)
    if shared:
        raise DrivesimError(f"the detector's rendered scenarios share seed(s) {sorted(shared)[:5]} with the "
                            "--data clips or the evaluated scenarios; change DETECTOR_DATA_SEED in "
                            "drivesim/eval/detector.py")
    if cache.is_file():
        meta = detector_metadata(cache)
        if meta.get(FINGERPRINT_KEY) == fingerprint:
            log(f"controllability: reusing the detector {cache}")
            stored = json.loads(meta.get(VALIDATION_KEY, "{}"))
            return load_detector(cache), {**info, **stored, "source": "cached"}
    start = time.perf_counter()
    crops, classes = plan.crops(DETECTOR_DATA_SEED, plan.clips)
    held = {mix: dataclasses.replace(plan, mixes=(mix,)).crops(VALIDATION_DATA_SEED, plan.validation_clips, jitter=0.0)
            for mix in plan.mixes}
    log(f"controllability: rendered {len(crops)} training crops ({int((classes > 0).sum())} road users) from "
        f"{plan.clips} unseen scenarios of each of {', '.join(plan.mixes)} in {time.perf_counter() - start:.0f} s; "
        f"training {plan.steps} steps")
    net, losses = train_crop_classifier(crops, classes, plan.steps, plan.seed, plan.config)
    validation = crop_accuracy(net, np.concatenate([c for c, _ in held.values()]),
                               np.concatenate([k for _, k in held.values()]))
    stored = {"seconds": round(time.perf_counter() - start, 1), "validation": validation,
              "validation_by_mix": {mix: crop_accuracy(net, c, k) for mix, (c, k) in held.items()},
              "first_loss": round(float(np.mean(losses[:20])), 4), "final_loss": round(float(np.mean(losses[-20:])), 4),
              "training_crops": int(len(crops)), "training_road_users": int((classes > 0).sum())}
    save_detector(net, cache, extra={FINGERPRINT_KEY: fingerprint, VALIDATION_KEY: json.dumps(stored)})
    log(f"controllability: detector trained in {stored['seconds']:.0f} s; held-out rendered frames: road-user "
        f"recall {validation['road_user_recall']:.3f}, background false positives "
        f"{validation['background_false_positive_rate']:.3f}; saved {cache}")
    return net, {**info, **stored, "source": "trained"}
