"""The real clips of `--data` that generated video is compared with: windows at the generated frame
rate, the feature network (the user's, a cached one or one trained here) and their features.
Both the main section (Fréchet distance, ablations) and the drift section measure against them.

    python -c "from drivesim.eval.real import spread; print(spread(100, 5))"
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from drivesim.errors import DrivesimError
from drivesim.eval.ablations import to_uint8_video
from drivesim.eval.frechet import (VideoFeatureNet, data_fingerprint, load_feature_net, read_feature_net_metadata,
                                   save_feature_net, targets_from_conditions, train_feature_net, video_features)
from drivesim.eval.settings import EvalSettings

__all__ = ["RealClips", "real_clips", "real_windows", "clip_seeds", "spread", "FEATURE_FILE"]

FEATURE_FILE = "feature_net.safetensors"
FINGERPRINT_KEY = "data_fingerprint"


@dataclass
class RealClips:
    """The real side of every comparison: which clips, their windows, the feature network and features."""

    clips: list  # the ClipInfo used (spread over --data)
    stride: int  # every k-th frame of them: about the generated frame rate
    windows: np.ndarray  # (N, frames, H, W, 3) uint8 at the feature network's size
    net: VideoFeatureNet
    net_info: dict[str, Any]  # report.json's "feature_net"
    features: np.ndarray  # video_features(net, windows)


def real_clips(data_dir: Path, clips: Sequence, user_net: VideoFeatureNet | None, s: EvalSettings, out_dir: Path,
               log: Callable[[str], None]) -> RealClips:
    """Windows of up to `s.max_real_clips` of `clips`, the feature network (trained or reused), their features."""
    subset = [clips[i] for i in spread(len(clips), s.max_real_clips)]
    stride = _frame_stride(subset, s.fps)
    fcfg = user_net.config if user_net else s.feature_net
    real, real_conditions = real_windows(data_dir, subset, fcfg.frames, (fcfg.height, fcfg.width), stride)
    log(f"real clips: {len(subset)} of {len(clips)}, {len(real)} windows of {fcfg.frames} frames (stride {stride})")
    if len(real) < 2:
        raise DrivesimError(f"{data_dir} gives only {len(real)} clip window(s) of {fcfg.frames} frames; the Fréchet "
                            "distance needs at least 2: add clips or longer clips")
    net, net_info = _feature_net(user_net, s, real, real_conditions, subset, stride, out_dir, log)
    return RealClips(subset, stride, real, net, net_info, video_features(net, real))


def real_windows(root: Path, clips: Sequence, frames: int, size: tuple[int, int], stride: int,
                 limit: int | None = None) -> tuple[np.ndarray, list]:
    """Windows (N, frames, H, W, 3) uint8 of the clips at `size` (cover + centre crop), and their conditions."""
    from drivesim.data.clips import ClipDataset

    try:
        ds = ClipDataset(root, frames, size=size, frame_stride=stride, clips=clips)
    except DrivesimError as err:
        raise DrivesimError(f"drivesim eval needs real clips of at least {(frames - 1) * stride + 1} frames in "
                            f"{root} ({frames}-frame windows at frame stride {stride}): {err}") from err
    indices = spread(len(ds), limit) if limit else range(len(ds))
    items = [ds[i] for i in indices]
    return np.stack([to_uint8_video(it["frames"][None])[0] for it in items]), [it["conditions"] for it in items]


def clip_seeds(clips: Iterable) -> set[int]:
    """Scenario seeds of the --data clips (synth-data's meta.json): the detector must not train on them."""
    seeds = set()
    for clip in clips:
        try:
            seed = json.loads((clip.path / "meta.json").read_text(encoding="utf-8")).get("scenario_seed")
        except (OSError, ValueError):
            continue  # real footage has no meta.json / scenario seed
        if seed is not None:
            seeds.add(int(seed))
    return seeds


def spread(count: int, limit: int) -> list[int]:
    """Up to `limit` indices spread evenly over range(count)."""
    if count <= limit:
        return list(range(count))
    return sorted({int(round(i)) for i in np.linspace(0, count - 1, limit)})


def _frame_stride(clips: Sequence, fps: float) -> int:
    """Take every k-th frame of the real clips so they run at about the generated frame rate."""
    rates = [c.fps for c in clips if c.fps]
    return max(1, int(round(float(np.median(rates)) / fps))) if rates else 1


def _feature_net(user_net: VideoFeatureNet | None, s: EvalSettings, real: np.ndarray, conditions: list, clips,
                 stride: int, out_dir: Path, log) -> tuple[VideoFeatureNet, dict[str, Any]]:
    """The user's network, the cached one trained on the same data and settings, or a freshly trained one."""
    if user_net is not None:
        return user_net, {"source": "user", "path": str(s.features_weights), "config": dataclasses.asdict(user_net.config)}
    fingerprint = data_fingerprint([f"{c.clip_id}:{c.num_frames}:{c.width}x{c.height}" for c in clips] +
                                   [s.feature_net.to_json(), f"stride={stride}", f"steps={s.feature_steps}",
                                    f"seed={s.seed}", f"windows={len(real)}"])
    cache = out_dir / FEATURE_FILE
    info = {"path": str(cache), "fingerprint": fingerprint, "config": dataclasses.asdict(s.feature_net),
            "steps": s.feature_steps}
    if cache.is_file() and read_feature_net_metadata(cache).get(FINGERPRINT_KEY) == fingerprint:
        log(f"feature network: reusing {cache}")
        return load_feature_net(cache), {**info, "source": "cached"}
    start = time.perf_counter()
    net, losses = train_feature_net(real, targets_from_conditions(conditions), s.feature_net, steps=s.feature_steps,
                                    seed=s.seed)
    save_feature_net(net, cache, extra={FINGERPRINT_KEY: fingerprint})
    seconds = time.perf_counter() - start
    log(f"feature network: trained {s.feature_steps} steps in {seconds:.1f} s, saved {cache}")
    return net, {**info, "source": "trained", "seconds": round(seconds, 1),
                 "final_losses": {k: round(v, 4) for k, v in losses.items()}}
