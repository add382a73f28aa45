"""The road-adherence segmenter: a small fully-convolutional net that marks lane lines and road edges in a
frame, trained by drivesim on frames of the procedural renderer whose scenarios no model was trained on.

Design (docs/eval.md, "Road adherence"): RGB frame -> conv stride 2 (1/2) -> conv stride 2 (1/4) ->
three dilated convs (dilation 2, 4, 8: a receptive field of about 120 px, enough to follow a dashed line
across its gaps) -> up to 1/2, joined with the first layer's features -> conv -> 2 logits per pixel
(lane line, road edge), upsampled to the frame's size. Targets: the masks of the road the frame shows
(`RenderPipeline(masks=True)`, i.e. `conditions/road_maps.road_masks`: lane lines as the labels' whole
polylines, dashes' gaps included), pixels inside labelled boxes ignored (a road user may cover the road).
Training frames: random scenarios of the `world` mix (bends, two-way roads, junctions, straight roads),
drawn exactly as `drivesim synth-data --mix world` draws them but with dataset seed SEGMENTER_DATA_SEED
(the models were trained on seed 0), rendered at the eval camera's 512x256 at a few instants each.
Random 128x256 crops, flips, colour, blur (generated frames are softer than the renderer's) and noise;
BCE with the line pixels weighted up; AdamW, one-cycle, a minute or two on one CPU thread.

    python -c "from drivesim.eval.lane_segmenter import SegmenterConfig, LaneSegmenter; \
print(sum(p.numel() for p in LaneSegmenter(SegmenterConfig()).parameters()))"
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
from drivesim.eval.detector import synth_scenarios
from drivesim.eval.frechet import data_fingerprint, read_feature_net_metadata, save_module
from drivesim.scenario.labels import FrameConditions

__all__ = ["SegmenterConfig", "LaneSegmenter", "SEGMENTER_DATA_SEED", "SEGMENTER_VALIDATION_SEED", "SEGMENTER_MIX",
           "TARGETS", "SEGMENTER_FILE", "SegmenterPlan", "box_ignore_mask", "frame_targets", "render_frames",
           "train_segmenter", "predict", "save_segmenter", "load_segmenter", "trained_segmenter"]

METADATA_KEY = "drivesim_lane_segmenter"  # safetensors metadata entry holding the SegmenterConfig as JSON
FINGERPRINT_KEY = "data_fingerprint"
VALIDATION_KEY = "validation"
SEGMENTER_FILE = "lane_segmenter.safetensors"
# synth-data dataset seeds of the segmenter's training and validation frames: the models are trained on
# `drivesim synth-data --seed 0` (v1 and world mixes), whose clip i is drawn from default_rng([0, i]);
# these seeds give other streams (tests/test_eval_roads.py checks that no scenario seed is shared).
SEGMENTER_DATA_SEED = 7_200_001
SEGMENTER_VALIDATION_SEED = 7_200_002
SEGMENTER_MIX = "world"
TARGETS = ("lane_lines", "road_edges")  # the output channels, road_masks' keys
CROP = (128, 256)  # training crop (h, w) at the frame's resolution
POS_WEIGHT = 4.0  # line pixels are ~1 % of a frame: weighted up in the loss


@dataclass(frozen=True)
class SegmenterConfig:
    channels: tuple[int, int, int] = (16, 32, 48)  # at 1/2, 1/4 and 1/8 of the frame
    dilations: tuple[int, ...] = (1, 2, 4)  # the context convs at 1/8
    fuse: tuple[int, int] = (24, 16)  # the convs that join context and detail at 1/4 (3x3) and 1/2 (1x1)
    targets: tuple[str, ...] = TARGETS

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


def _block(cin: int, cout: int, stride: int = 1, dilation: int = 1, kernel: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride=stride, padding=dilation * (kernel // 2), dilation=dilation),
                         nn.GroupNorm(min(8, cout), cout), nn.SiLU())


def _up(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class LaneSegmenter(nn.Module):
    """(B, 3, H, W) RGB in [-1, 1], H and W multiples of 8 -> (B, len(targets), H, W) logits."""

    def __init__(self, config: SegmenterConfig):
        super().__init__()
        self.config = config
        c1, c2, c3 = config.channels
        f1, f2 = config.fuse
        self.stem = _block(3, c1, stride=2)
        self.down = _block(c1, c2, stride=2)
        self.down2 = _block(c2, c3, stride=2)
        self.context = nn.Sequential(*[_block(c3, c3, dilation=d) for d in config.dilations])
        self.fuse_quarter = _block(c3 + c2, f1)
        self.fuse_half = _block(f1 + c1, f2, kernel=1)
        self.head = nn.Conv2d(f2, len(config.targets), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        half = self.stem(x)
        quarter = self.down(half)
        context = self.context(self.down2(quarter))
        quarter = self.fuse_quarter(torch.cat([_up(context, quarter), quarter], dim=1))
        logits = self.head(self.fuse_half(torch.cat([_up(quarter, half), half], dim=1)))
        return _up(logits, x)


# --- labels and training frames ------------------------------------------------------------------

def box_ignore_mask(labels: FrameConditions, height: int, width: int) -> np.ndarray:
    """(height, width) bool: the pixels inside any labelled box (boxes scaled from the labels' camera size),
    where a road user may hide the road; left out of training and scoring."""
    out = np.zeros((height, width), bool)
    sx, sy = width / max(labels.width, 1), height / max(labels.height, 1)
    for box in labels.boxes:
        x0, y0, x1, y1 = box.bbox_xyxy
        c0, r0 = max(int(np.floor(x0 * sx)), 0), max(int(np.floor(y0 * sy)), 0)
        c1, r1 = min(int(np.ceil(x1 * sx)), width), min(int(np.ceil(y1 * sy)), height)
        out[r0:r1, c0:c1] = True
    return out


def frame_targets(masks: dict[str, np.ndarray]) -> np.ndarray:
    """(len(TARGETS), H, W) bool from a frame's road masks (GeneratedFrame.masks)."""
    return np.stack([masks[name] for name in TARGETS])


def render_frames(data_seed: int, clips: int, camera: tuple[int, int] = (512, 256), instants: int = 4,
                  duration_s: float = 4.0, fps: float = 10.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[int]]:
    """Frames (N, H, W, 3) uint8, targets (N, len(TARGETS), H, W) bool and ignore masks (N, H, W) bool of
    `clips` random world-mix scenarios of synth-data dataset seed `data_seed`, each rendered at `instants`
    evenly spaced frames; also the scenario seeds used."""
    from drivesim.pipeline.generate import RenderPipeline
    from drivesim.scenario.engine import ScenarioEngine

    width, height = camera
    renderer = RenderPipeline(masks=True)
    frames, targets, ignore, seeds = [], [], [], []
    for scenario in synth_scenarios(data_seed, clips, camera, duration_s, fps, mix=SEGMENTER_MIX):
        engine = ScenarioEngine(scenario)
        seeds.append(int(engine.seed))
        for index in np.linspace(0, engine.num_frames - 1, instants).round().astype(int):
            frame = renderer.frame(engine, engine.frame(int(index)))
            frames.append(frame.image)
            targets.append(frame_targets(frame.masks))
            ignore.append(box_ignore_mask(frame.labels, height, width))
    return np.stack(frames), np.stack(targets), np.stack(ignore), seeds


# --- training ------------------------------------------------------------------------------------

def _to_tensor(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Colour gain and offset, blur (3x3 once or twice, or a x4 shrink and grow: generated frames are
    softer than the renderer's) and noise; per sample."""
    b = x.shape[0]
    gain = 0.6 + 0.8 * torch.rand(b, 1, 1, 1, generator=gen)
    offset = 0.3 * (torch.rand(b, 1, 1, 1, generator=gen) - 0.5)
    tint = 1.0 + 0.1 * (torch.rand(b, 3, 1, 1, generator=gen) - 0.5)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = ((x - mean) * gain + mean) * tint + offset
    pick = torch.rand(b, generator=gen)
    x = x.clone()
    for low, high, blur in ((0.0, 0.25, 1), (0.25, 0.45, 2), (0.45, 0.6, 0)):  # blurred samples only
        rows = torch.nonzero((pick >= low) & (pick < high)).flatten()
        if len(rows):
            x[rows] = _blurred(x[rows], blur)
    x = x + 0.04 * torch.rand(b, 1, 1, 1, generator=gen) * torch.randn(x.shape, generator=gen)
    return x.clamp(-1, 1)


def _blurred(x: torch.Tensor, times: int) -> torch.Tensor:
    """A 3x3 binomial blur `times` times, or (times = 0) a x4 shrink and grow."""
    if times == 0:
        return F.interpolate(F.avg_pool2d(x, 4), size=x.shape[-2:], mode="bilinear", align_corners=False)
    kernel = torch.tensor([1.0, 2.0, 1.0])
    kernel = (kernel[:, None] * kernel[None, :] / 16).expand(3, 1, 3, 3)
    for _ in range(times):
        x = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel, groups=3)
    return x


def train_segmenter(frames: np.ndarray, targets: np.ndarray, ignore: np.ndarray, steps: int, seed: int = 0,
                    config: SegmenterConfig = SegmenterConfig(), batch: int = 8, lr: float = 4e-3,
                    crop: tuple[int, int] = CROP) -> tuple[LaneSegmenter, list[float]]:
    """Train a LaneSegmenter on (N, H, W, 3) uint8 frames with (N, len(TARGETS), H, W) bool targets, pixels
    where `ignore` (N, H, W) is True left out; random `crop`s, flips and `_augment`. Returns the net (eval
    mode) and the loss of every step."""
    if steps < 1:
        raise DrivesimError(f"segmenter training needs >= 1 step, got {steps}")
    n, h, w = frames.shape[:3]
    ch, cw = min(crop[0], h) // 8 * 8, min(crop[1], w) // 8 * 8
    if n == 0 or ch < 8 or cw < 8:
        raise DrivesimError(f"the lane segmenter needs frames at least 8x8 to train on; got {n} of {w}x{h}")
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = LaneSegmenter(config)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.2)
    pos_weight = torch.full((len(config.targets), 1, 1), POS_WEIGHT)
    net.train()
    losses = []
    for _ in range(steps):
        idx = rng.integers(0, n, batch)
        tops, lefts = rng.integers(0, h - ch + 1, batch), rng.integers(0, w - cw + 1, batch)
        flips = rng.random(batch) < 0.5
        xs, ys, ms = [], [], []
        for i, top, left, flip in zip(idx, tops, lefts, flips):
            window = (slice(top, top + ch), slice(left, left + cw))
            x, y, m = frames[i][window], targets[i][(slice(None), *window)], ignore[i][window]
            if flip:
                x, y, m = x[:, ::-1], y[:, :, ::-1], m[:, ::-1]
            xs.append(x)
            ys.append(y)
            ms.append(m)
        x = _augment(_to_tensor(np.stack(xs)), gen)
        y = torch.from_numpy(np.ascontiguousarray(np.stack(ys))).float()
        keep = torch.from_numpy(~np.ascontiguousarray(np.stack(ms)))[:, None].float()
        per_pixel = F.binary_cross_entropy_with_logits(net(x), y, pos_weight=pos_weight, reduction="none")
        loss = (per_pixel * keep).sum() / (keep.sum() * len(config.targets)).clamp(min=1.0)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses.append(float(loss.detach()))
    return net.eval().requires_grad_(False), losses


@torch.no_grad()
def predict(net: LaneSegmenter, frames: np.ndarray, batch: int = 4) -> np.ndarray:
    """(N, len(targets), H, W) float32 probabilities of (N, H, W, 3) uint8 frames (padded to multiples of 8)."""
    n, h, w = frames.shape[:3]
    ph, pw = -h % 8, -w % 8
    out = []
    for i in range(0, n, batch):
        x = _to_tensor(frames[i:i + batch])
        if ph or pw:
            x = F.pad(x, (0, pw, 0, ph), mode="replicate")
        out.append(torch.sigmoid(net(x))[..., :h, :w].numpy())
    return np.concatenate(out) if out else np.zeros((0, len(net.config.targets), h, w), np.float32)


# --- weights on disk, cached ---------------------------------------------------------------------

def save_segmenter(net: LaneSegmenter, path: Path, extra: dict[str, str] | None = None) -> None:
    """Weights + config (metadata METADATA_KEY) in one safetensors file, written atomically."""
    save_module(net, path, {METADATA_KEY: net.config.to_json(), **(extra or {})})


def load_segmenter(path: Path) -> LaneSegmenter:
    from safetensors.torch import load_file

    meta = read_feature_net_metadata(path)
    if METADATA_KEY not in meta:
        raise DrivesimError(f"{path} has no '{METADATA_KEY}' metadata entry; delete it to retrain the segmenter")
    data = json.loads(meta[METADATA_KEY])
    config = SegmenterConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
    net = LaneSegmenter(config)
    try:
        net.load_state_dict(load_file(str(path)))
    except RuntimeError as err:
        raise DrivesimError(f"{path}: the weights do not fit its config ({err}); delete it to retrain") from err
    return net.eval().requires_grad_(False)


@dataclass
class SegmenterPlan:
    clips: int
    steps: int
    camera: tuple[int, int] = (512, 256)
    instants: int = 4
    validation_clips: int = 8
    seed: int = 0
    config: SegmenterConfig = field(default_factory=SegmenterConfig)

    def fingerprint(self) -> str:
        return data_fingerprint([self.config.to_json(), f"data={SEGMENTER_DATA_SEED}x{self.clips}x{self.instants}",
                                 f"validation={SEGMENTER_VALIDATION_SEED}x{self.validation_clips}",
                                 f"mix={SEGMENTER_MIX}", f"camera={self.camera}", f"steps={self.steps}",
                                 f"seed={self.seed}", "masks=v1"])


def trained_segmenter(plan: SegmenterPlan, out_dir: Path, log: Callable[[str], None],
                      validate: Callable[[LaneSegmenter, np.ndarray, np.ndarray, np.ndarray], dict[str, Any]],
                      excluded_seeds: set[int] = frozenset()) -> tuple[LaneSegmenter, dict[str, Any]]:
    """The segmenter cached in out_dir/SEGMENTER_FILE when its fingerprint matches, else trained on rendered
    frames (seeds checked against `excluded_seeds`), scored by `validate(net, frames, targets, ignore)` on
    other rendered frames, and saved."""
    cache = Path(out_dir) / SEGMENTER_FILE
    fingerprint = plan.fingerprint()
    info: dict[str, Any] = {"path": str(cache), "fingerprint": fingerprint, "data_seed": SEGMENTER_DATA_SEED,
                            "validation_seed": SEGMENTER_VALIDATION_SEED, "mix": SEGMENTER_MIX, "clips": plan.clips,
                            "instants": plan.instants, "validation_clips": plan.validation_clips, "steps": plan.steps}
    shared = {int(sc.seed) for seed, clips in ((SEGMENTER_DATA_SEED, plan.clips),
                                               (SEGMENTER_VALIDATION_SEED, plan.validation_clips))
              for sc in synth_scenarios(seed, clips, plan.camera, mix=SEGMENTER_MIX)} & set(excluded_seeds)
    if shared:
        raise DrivesimError(f"the lane segmenter's rendered scenarios share seed(s) {sorted(shared)[:5]} with the "
                            "--data clips or the evaluated scenarios; change SEGMENTER_DATA_SEED in "
                            "drivesim/eval/lane_segmenter.py")
    if cache.is_file():
        meta = read_feature_net_metadata(cache)
        if meta.get(FINGERPRINT_KEY) == fingerprint:
            log(f"road adherence: reusing the lane segmenter {cache}")
            return load_segmenter(cache), {**info, **json.loads(meta.get(VALIDATION_KEY, "{}")), "source": "cached"}
    start = time.perf_counter()
    frames, targets, ignore, _ = render_frames(SEGMENTER_DATA_SEED, plan.clips, plan.camera, plan.instants)
    rendered_s = time.perf_counter() - start
    log(f"road adherence: rendered {len(frames)} frames of {plan.clips} unseen world scenarios in {rendered_s:.0f} s; "
        f"training the lane segmenter {plan.steps} steps")
    net, losses = train_segmenter(frames, targets, ignore, plan.steps, plan.seed, plan.config)
    del frames, targets, ignore
    held = render_frames(SEGMENTER_VALIDATION_SEED, plan.validation_clips, plan.camera, 2)
    validation = validate(net, *held[:3])
    stored = {"seconds": round(time.perf_counter() - start, 1), "render_seconds": round(rendered_s, 1),
              "validation": validation, "validation_frames": int(len(held[0])),
              "first_loss": round(float(np.mean(losses[:10])), 4), "final_loss": round(float(np.mean(losses[-10:])), 4)}
    save_segmenter(net, cache, extra={FINGERPRINT_KEY: fingerprint, VALIDATION_KEY: json.dumps(stored)})
    log(f"road adherence: lane segmenter trained in {stored['seconds']:.0f} s (loss {stored['first_loss']:.3f} -> "
        f"{stored['final_loss']:.3f}); saved {cache}")
    return net, {**info, **stored, "source": "trained"}
