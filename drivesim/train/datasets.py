"""What each training stage reads: frames, clips at a frame spacing given in seconds, patches.

Clips are read with the data module (`drivesim.data.clips`); this module only decides which
frames: a stage asks for frames `spacing_s` seconds apart (keyframes: 1 / keyframe_fps), and
each clip's own frame rate (meta.json `fps`; the config's output_fps when absent) turns that
into a frame stride, so 10 fps synth-data and 30 fps footage train the same model. Collate
functions build the condition tensors in the loader's workers.

    python -c "from drivesim.train.datasets import clip_dataset; help(clip_dataset)"
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import ConcatDataset, Dataset, Sampler

from drivesim.conditions.box_maps import NUM_LAYOUT_CHANNELS, render_layouts
from drivesim.conditions.encode import build_conditions
from drivesim.data.clips import Clip, ClipDataset, FrameDataset, collate_clips
from drivesim.errors import DrivesimError

__all__ = ["EpochSampler", "RateMix", "PatchCrops", "clip_dataset", "frame_dataset", "collate_frames",
           "collate_video", "collate_patches"]

SPACING_TOLERANCE = 0.25  # a stride may miss the wanted spacing by this share before we say so


def frame_dataset(root: str, clips: list[Clip], size: tuple[int, int]) -> FrameDataset:
    """Every frame of every clip, resized and centre-cropped to `size` (H, W)."""
    return FrameDataset(root, size=size, frame_stride=1, clips=clips)


def clip_dataset(root: str, clips: list[Clip], num_frames: int, size: tuple[int, int], spacing_s: float,
                 default_fps: float, notes: list[str]) -> Dataset:
    """Windows of `num_frames` frames `spacing_s` seconds apart (every start frame), clips grouped
    by frame rate. Appends to `notes` what the user should know (rates, clips too short)."""
    groups: dict[float, list[Clip]] = {}
    for clip in clips:
        groups.setdefault(clip.fps or default_fps, []).append(clip)
    if any(c.fps is None for c in clips):
        notes.append(f"clips without meta.json fps are taken to run at {default_fps:g} fps (the config's output_fps)")
    parts, errors = [], []
    for fps, members in sorted(groups.items()):
        exact = fps * spacing_s
        stride = max(1, round(exact))
        if abs(stride - exact) > SPACING_TOLERANCE * exact:
            notes.append(f"{len(members)} clip(s) at {fps:g} fps cannot give frames {spacing_s:.3g} s apart; "
                         f"using a stride of {stride} frame(s) ({stride / fps:.3g} s)")
        try:
            parts.append(ClipDataset(root, num_frames, size, frame_stride=stride, hop=1, clips=members))
        except DrivesimError as err:
            errors.append(str(err))
    if not parts:
        raise DrivesimError(errors[0])
    if errors:
        notes.append(f"skipped clips too short for {num_frames} frames {spacing_s:.3g} s apart: {errors[0]}")
    return parts[0] if len(parts) == 1 else ConcatDataset(parts)


class RateMix(Dataset):
    """Interpolation windows of every rate, interleaved: item i has rate i % len(datasets)."""

    def __init__(self, datasets: Sequence[Dataset]):
        self.datasets = list(datasets)
        self.length = len(self.datasets) * max(len(d) for d in self.datasets)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, Any]:
        rate = index % len(self.datasets)
        ds = self.datasets[rate]
        return {**ds[(index // len(self.datasets)) % len(ds)], "rate": torch.tensor(rate)}


class PatchCrops(Dataset):
    """Random `patch` (h, w) crops of clips (same position in every frame) and their `factor`-times
    area-downsampled copies: items dict(high=(T, 3, h, w), low=(T, 3, h/f, w/f)) in [-1, 1], and with
    `layout` the same crop of the frames' layout maps drawn at the frame size (T, K, h, w)."""

    def __init__(self, clips: Dataset, patch: tuple[int, int], factor: int, seed: int = 0, layout: bool = False,
                 channels: int = NUM_LAYOUT_CHANNELS):
        self.clips, self.patch, self.factor, self.seed, self.layout = clips, patch, factor, seed, layout
        self.channels = channels  # layout channels of the upsampler (6 today; 11 with the road channels)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, index: int) -> dict[str, Any]:
        item = self.clips[index]
        frames = item["frames"]  # (T, 3, H, W)
        (ph, pw), (h, w) = self.patch, frames.shape[-2:]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        y0, x0 = int(rng.integers(0, h - ph + 1)), int(rng.integers(0, w - pw + 1))
        high = frames[..., y0:y0 + ph, x0:x0 + pw].contiguous()
        out = {"high": high, "low": F.avg_pool2d(high, self.factor)}
        if self.layout:  # drawn whole, then cropped: boxes cut by the patch edge stay cut there
            maps = render_layouts(item["conditions"], (h, w), channels=self.channels)
            out["layout"] = torch.from_numpy(np.ascontiguousarray(maps[..., y0:y0 + ph, x0:x0 + pw]))
        return out


class EpochSampler(Sampler[int]):
    """A fresh permutation per epoch, from (seed, epoch) only: resuming at step s replays the order."""

    def __init__(self, length: int, seed: int):
        self.length, self.seed, self.epoch = length, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(torch.randperm(self.length, generator=generator).tolist())


# --- collate functions (run in the loader's workers) ---------------------------------------------

def collate_frames(items: list[dict[str, Any]], layout_size: tuple[int, int] | None = None,
                   channels: int = NUM_LAYOUT_CHANNELS) -> dict[str, Any]:
    """FrameDataset items -> frames (B, 3, H, W), clip_id (B,), indices (B, 1) [+ cond (B, 1) with
    layout maps at `layout_size`]."""
    batch = {"frames": torch.stack([it["frame"] for it in items]), "clip_id": [it["clip_id"] for it in items],
             "indices": torch.tensor([[it["index"]] for it in items])}
    if layout_size is not None:
        batch["cond"] = build_conditions([[it["conditions"]] for it in items], layout_size, channels=channels)
    return batch


def collate_video(items: list[dict[str, Any]], layout_size: tuple[int, int] | None = None,
                  channels: int = NUM_LAYOUT_CHANNELS) -> dict[str, Any]:
    """ClipDataset items -> frames (B, T, 3, H, W), clip_id (B,), indices (B, T) [+ cond (B, T)] [+ rate (B,)]."""
    batch = collate_clips(items)
    out = {"frames": batch["frames"], "clip_id": batch["clip_id"], "indices": batch["indices"]}
    if layout_size is not None:
        out["cond"] = build_conditions(batch["conditions"], layout_size, channels=channels)
    if "rate" in batch:
        out["rate"] = batch["rate"]
    return out


def collate_patches(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: torch.stack([it[key] for it in items]) for key in ("high", "low", "layout") if key in items[0]}


def collate_with(fn, **kwargs):
    """A picklable collate function with fixed arguments (workers are separate processes)."""
    return partial(fn, **kwargs)
