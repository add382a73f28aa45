"""Fréchet distance between generated and real clips in the feature space of a small video network.

No pretrained I3D can be downloaded here, so `drivesim eval` trains its own feature network on the
--data clips (a few hundred steps, under a minute on a CPU): a small 3D-conv net whose targets come
from the labels (night, crowdedness, box count, ego speed) plus two self-supervised ones (is the
clip played forwards? is it steady, or does it flicker frame to frame?). Its penultimate layer
(`VideoFeatureNet.features`) is the feature space, as I3D's logits layer is for FVD. The numbers are comparable between runs that use
the same feature network (the report names its file and data fingerprint), not with published FVDs.

    python -c "import numpy as np; from drivesim.eval.frechet import frechet_distance; \
a = np.random.randn(200, 8); print(frechet_distance(a, a), frechet_distance(a, a + 1))"

A user's own network: any `VideoFeatureNet` shape (see FeatureNetConfig) saved as safetensors with
its config in the metadata (`save_feature_net`), passed as `--features-weights FILE.safetensors`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from safetensors import SafetensorError, safe_open
from safetensors.torch import save
from torch import Tensor, nn

from drivesim.errors import DrivesimError
from drivesim.output.files import atomic_write_bytes

__all__ = ["FeatureNetConfig", "VideoFeatureNet", "FeatureTargets", "sqrtm_psd", "frechet_distance",
           "targets_from_conditions", "train_feature_net", "save_feature_net", "load_feature_net",
           "video_features", "resize_video", "video_windows", "read_feature_net_metadata", "data_fingerprint",
           "save_module",
           "METADATA_KEY"]

METADATA_KEY = "drivesim_feature_net"  # safetensors metadata entry holding the FeatureNetConfig as JSON
HEADS = ("night", "crowdedness", "boxes", "ego_speed", "in_order", "steady")  # outputs of VideoFeatureNet.heads
FLICKER_GAIN, FLICKER_OFFSET = 0.25, 0.15  # per-frame, per-channel jitter of the "not steady" examples
TEMPORAL_TARGETS = ("in_order", "steady")
# The label targets are learned within ~50 steps and, at full weight, crowd out the temporal ones
# (the steady head then stays at chance); at this weight all are learned together.
LABEL_WEIGHT = 0.2
MAX_BOXES = 20.0  # box counts are regressed as log1p(n) / log1p(MAX_BOXES)
MAX_SPEED_MPS = 30.0


# --- the Fréchet distance ----------------------------------------------------------------------

def sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition (no scipy).
    Tiny negative eigenvalues from rounding are clipped to 0."""
    sym = (matrix + matrix.T) / 2
    values, vectors = np.linalg.eigh(sym)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (N, D) and (M, D):
    |mu_a - mu_b|^2 + tr(C_a) + tr(C_b) - 2 tr((C_a C_b)^(1/2)).

    tr((C_a C_b)^(1/2)) is computed as tr((S C_b S)^(1/2)) with S = C_a^(1/2): S C_b S is symmetric
    PSD and has the same eigenvalues as C_a C_b, so only `eigh` is needed (stable, no scipy)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[1]:
        raise DrivesimError(f"frechet_distance needs two (N, D) feature arrays of equal D, got {a.shape} and {b.shape}")
    if len(a) < 2 or len(b) < 2:
        raise DrivesimError(f"frechet_distance needs at least 2 feature vectors per set, got {len(a)} and {len(b)}")
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    root_a = sqrtm_psd(cov_a)
    cross = np.linalg.eigvalsh((root_a @ cov_b @ root_a + (root_a @ cov_b @ root_a).T) / 2)
    trace_cross = float(np.sqrt(np.clip(cross, 0.0, None)).sum())
    value = float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2.0 * trace_cross)
    return max(value, 0.0)  # rounding can leave -1e-12 for identical sets


# --- the feature network -------------------------------------------------------------------------

@dataclass
class FeatureNetConfig:
    """Shape of a VideoFeatureNet; stored as JSON in the safetensors metadata (METADATA_KEY)."""

    frames: int = 8  # clip length the network sees
    height: int = 48  # frames are resized (cv2 INTER_AREA) to height x width
    width: int = 96
    channels: tuple[int, ...] = (16, 32, 64)  # one 3D-conv stage each; every stage halves H and W
    feature_dim: int = 64  # width of the penultimate layer: the Fréchet feature space

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)
        if self.frames < 2 or self.height < 8 or self.width < 8 or not self.channels or self.feature_dim < 2:
            raise DrivesimError(f"feature network config is not usable: {self}; need frames >= 2, height and "
                                "width >= 8, at least one stage of channels and feature_dim >= 2")

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))


def _groups(channels: int) -> int:
    return math.gcd(channels, 8)


class VideoFeatureNet(nn.Module):
    """(B, T, 3, H, W) in [-1, 1] -> features (B, feature_dim); `heads` predicts the label targets.

    3D-conv stages halve H and W and keep every frame; the result is pooled over space per frame,
    a 1D convolution over the frame axis compares neighbouring frames' global statistics (what
    flicker changes), then it is pooled over time and projected to the features."""

    def __init__(self, config: FeatureNetConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        previous = 6  # RGB and its change from the previous frame
        for ch in config.channels:
            layers += [nn.Conv3d(previous, ch, 3, stride=(1, 2, 2), padding=1), nn.GroupNorm(_groups(ch), ch),
                       nn.SiLU()]
            previous = ch
        self.body = nn.Sequential(*layers)
        self.temporal = nn.Conv1d(previous, previous, 3, padding=1)
        self.project = nn.Linear(2 * previous, config.feature_dim)
        self.heads = nn.Linear(config.feature_dim, len(HEADS))

    def features(self, video: Tensor) -> Tensor:
        x = rearrange(video, "b t c h w -> b c t h w")
        change = torch.cat([torch.zeros_like(x[:, :, :1]), x[:, :, 1:] - x[:, :, :-1]], dim=2)
        x = self.body(torch.cat([x, change], dim=1)).mean(dim=(3, 4))  # (B, C, T)
        change = F.silu(self.temporal(x)).mean(dim=2)  # how neighbouring frames differ, averaged over time
        return F.silu(self.project(torch.cat([x.mean(dim=2), change], dim=1)))

    def forward(self, video: Tensor) -> Tensor:
        return self.heads(self.features(video))


# --- training on labelled clips --------------------------------------------------------------------

@dataclass(frozen=True)
class FeatureTargets:
    """Per-window label targets (N,) each; ego_speed is NaN where the clip has no road state."""

    night: np.ndarray
    crowdedness: np.ndarray
    boxes: np.ndarray
    ego_speed: np.ndarray


def targets_from_conditions(windows: Sequence[Sequence]) -> FeatureTargets:
    """Targets of each window from its FrameConditions: night share, mean crowdedness, mean box count
    (log-scaled to 0..1), mean ego speed / MAX_SPEED_MPS."""
    night, crowd, boxes, speed = [], [], [], []
    for conditions in windows:
        night.append(np.mean([fc.time_of_day == "night" for fc in conditions]))
        crowd.append(np.mean([fc.crowdedness for fc in conditions]))
        boxes.append(np.log1p(np.mean([len(fc.boxes) for fc in conditions])) / np.log1p(MAX_BOXES))
        roads = [fc.road for fc in conditions if fc.road is not None]
        speed.append(np.mean([r.ego_speed_mps for r in roads]) / MAX_SPEED_MPS if roads else np.nan)
    return FeatureTargets(*(np.asarray(v, np.float32) for v in (night, crowd, boxes, speed)))


def _to_tensor(videos: np.ndarray) -> Tensor:
    """(N, T, H, W, 3) uint8 -> (N, T, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(videos).permute(0, 1, 4, 2, 3).float() / 127.5 - 1.0


def _reversed(video: Tensor) -> Tensor:
    """The clip played backwards: the "not in order" examples. (Shuffled frames would jump, which looks
    like flicker to the steady head and stalls both tasks; reversal keeps motion smooth.)"""
    return video.flip(0)


def _flickering(video: Tensor, generator: torch.Generator) -> Tensor:
    """The clip with an independent colour gain and offset per frame and channel: what a per-frame model's
    flicker looks like, so the features learn to tell it from steady footage."""
    t, c = video.shape[:2]
    gain = 1 + (torch.rand(t, c, 1, 1, generator=generator) * 2 - 1) * FLICKER_GAIN
    offset = (torch.rand(t, c, 1, 1, generator=generator) * 2 - 1) * FLICKER_OFFSET
    return (video * gain + offset).clamp(-1, 1)


def train_feature_net(videos: np.ndarray, targets: FeatureTargets, config: FeatureNetConfig, steps: int = 300,
                      batch: int = 16, lr: float = 2e-3, seed: int = 0) -> tuple[VideoFeatureNet, dict[str, float]]:
    """Train a VideoFeatureNet on real windows (N, T, H, W, 3) uint8 at the config's size; returns the
    network (eval mode) and its final training losses. Deterministic in `seed`; global RNG untouched."""
    if len(videos) < 2:
        raise DrivesimError(f"the feature network needs at least 2 real clip windows to train on, got {len(videos)}; "
                            "add clips to --data or make them longer")
    n = len(videos)
    labels = torch.from_numpy(np.stack([targets.night, targets.crowdedness, targets.boxes,
                                        np.nan_to_num(targets.ego_speed, nan=0.0)], 1))
    has_speed = torch.from_numpy(~np.isnan(targets.ego_speed))
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = VideoFeatureNet(config)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps, pct_start=0.1)
    net.train()
    losses: dict[str, float] = {}
    for _ in range(steps):
        idx = torch.randint(0, n, (min(batch, n),), generator=generator)
        video = _to_tensor(videos[idx.numpy()])
        in_order = (torch.rand(len(idx), generator=generator) < 0.5).float()
        video = torch.stack([v if keep else _reversed(v) for v, keep in zip(video, in_order)])
        steady = (torch.rand(len(idx), generator=generator) < 0.5).float()
        video = torch.stack([v if keep else _flickering(v, generator) for v, keep in zip(video, steady)])
        flip = torch.rand(len(idx), generator=generator) < 0.5  # left-right mirror: labels unchanged
        video = torch.where(flip.view(-1, 1, 1, 1, 1), video.flip(-1), video)
        out = net(video)
        y, speed_mask = labels[idx], has_speed[idx]
        parts = {
            "night": F.binary_cross_entropy_with_logits(out[:, 0], y[:, 0]),
            "crowdedness": F.mse_loss(out[:, 1], y[:, 1]),
            "boxes": F.mse_loss(out[:, 2], y[:, 2]),
            "ego_speed": (F.mse_loss(out[:, 3][speed_mask], y[:, 3][speed_mask]) if speed_mask.any()
                          else out[:, 3].sum() * 0.0),
            "in_order": F.binary_cross_entropy_with_logits(out[:, 4], in_order),
            "steady": F.binary_cross_entropy_with_logits(out[:, 5], steady),
        }
        loss = sum(v * (1.0 if k in TEMPORAL_TARGETS else LABEL_WEIGHT) for k, v in parts.items())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        losses = {k: float(v.detach()) for k, v in parts.items()}
    return net.eval().requires_grad_(False), losses


# --- saving and loading (safetensors only) ---------------------------------------------------------

def save_module(net: nn.Module, path: Path, metadata: dict[str, str]) -> None:
    """A module's weights and string metadata in one safetensors file, written atomically (the eval's
    cached networks: this feature network, the controllability detector)."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    atomic_write_bytes(Path(path), save(tensors, metadata=metadata))


def save_feature_net(net: VideoFeatureNet, path: Path, extra: dict[str, str] | None = None) -> None:
    """Weights + config (metadata METADATA_KEY) in one safetensors file, written atomically."""
    save_module(net, path, {METADATA_KEY: net.config.to_json(), **(extra or {})})


def read_feature_net_metadata(path: Path) -> dict[str, str]:
    """The string metadata of any safetensors file (DrivesimError when it is unreadable)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as err:
        raise DrivesimError(f"{path} is not a readable safetensors file ({err})") from err


def load_feature_net(path: Path) -> VideoFeatureNet:
    """A VideoFeatureNet from a safetensors file whose metadata holds its FeatureNetConfig
    (METADATA_KEY, JSON). The `heads.*` tensors are optional: only the features are used."""
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise DrivesimError(f"feature weights {path} do not exist; pass a .safetensors file (docs/eval.md)")
    meta = read_feature_net_metadata(path)
    if METADATA_KEY not in meta:
        raise DrivesimError(f"{path} has no '{METADATA_KEY}' metadata entry with the network's config (frames, "
                            "height, width, channels, feature_dim as JSON); see docs/eval.md for the interface")
    try:
        config = FeatureNetConfig(**json.loads(meta[METADATA_KEY]))
    except (ValueError, TypeError) as err:
        raise DrivesimError(f"{path}: metadata '{METADATA_KEY}' is not a valid feature network config: {err}") from err
    net = VideoFeatureNet(config)
    tensors = load_file(str(path))
    expected = net.state_dict()
    wrong = [k for k, v in expected.items() if not k.startswith("heads.") and
             (k not in tensors or tensors[k].shape != v.shape)]
    if wrong:
        raise DrivesimError(f"{path}: tensor {wrong[0]!r} is missing or has the wrong shape for the config in its "
                            f"metadata ({len(wrong)} such tensor(s)); the weights must match VideoFeatureNet(config)")
    net.load_state_dict({k: tensors.get(k, v) for k, v in expected.items()})
    return net.eval().requires_grad_(False)


def data_fingerprint(items: Sequence[str]) -> str:
    """A short hash of what the feature net was trained on (clip ids, sizes, settings)."""
    return hashlib.sha256("\n".join(items).encode()).hexdigest()[:16]


# --- features of videos --------------------------------------------------------------------------

def resize_video(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (T, height, width, 3), cv2 INTER_AREA when shrinking (as the data loaders)."""
    if frames.shape[1:3] == (height, width):
        return frames
    shrink = height * width < frames.shape[1] * frames.shape[2]
    mode = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    return np.stack([cv2.resize(f, (width, height), interpolation=mode) for f in frames])


def video_windows(frames: np.ndarray, length: int, hop: int) -> np.ndarray:
    """Windows (N, length, H, W, 3) every `hop` frames of one video (T, H, W, 3); none when T < length."""
    starts = range(0, len(frames) - length + 1, hop)
    if not starts:
        return np.zeros((0, length, *frames.shape[1:]), frames.dtype)
    return np.stack([frames[s:s + length] for s in starts])


@torch.no_grad()
def video_features(net: VideoFeatureNet, windows: np.ndarray, batch: int = 32) -> np.ndarray:
    """Features (N, feature_dim) of windows (N, T, H, W, 3) uint8 (resized to the net's size here)."""
    cfg = net.config
    if len(windows) == 0:
        return np.zeros((0, cfg.feature_dim), np.float64)
    if windows.shape[1] != cfg.frames:
        raise DrivesimError(f"the feature network takes {cfg.frames}-frame windows, got {windows.shape[1]}")
    out = []
    for start in range(0, len(windows), batch):
        chunk = np.stack([resize_video(w, cfg.height, cfg.width) for w in windows[start:start + batch]])
        out.append(net.features(_to_tensor(chunk)).double().numpy())
    return np.concatenate(out)
