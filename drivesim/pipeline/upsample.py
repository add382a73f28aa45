"""Video super-resolution: the pixel-space video upsampler (x4) on overlapping chunks of frames,
then a resize to the scenario camera's size.

Each chunk of `upsampler_chunk_frames` decoded frames is resized x4 (bicubic), noise-augmented to
`UpsamplerConfig.inference_noise_level` and given to the upsampler as cond.low_res together with
that level (Video LDM §3.2). Chunks overlap by `overlap` frames, cross-faded like the decoder's
windows; noise is drawn per output frame (seeded by its index), so an overlapped frame starts
from the same noise in both chunks and the two results agree closely. With `--student` (and an upsampler
student in the bundle) the student samples each chunk in its own LCM steps.

    python -c "from drivesim.pipeline.upsample import upsample, resize_frame; help(upsample)"
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import cv2
import numpy as np
import torch
from torch import Tensor

from drivesim.conditions.encode import upsampler_conditions
from drivesim.diffusion.schedule import make_scheduler
from drivesim.models.upsampler import noise_augment, resize_low_res
from drivesim.pipeline.context import RunContext
from drivesim.pipeline.options import clip_generator
from drivesim.pipeline.windows import blended_windows

__all__ = ["upsample", "upsampler_chunk_fn", "resize_frame", "to_uint8", "UPSAMPLE_OVERLAP"]

UPSAMPLE_OVERLAP = 2  # frames shared by consecutive chunks


def upsampler_chunk_fn(run: RunContext) -> Callable[[list[tuple[int, Tensor]]], Tensor]:
    """`process(chunk)`: the upsampled frames (T, 3, s*H, s*W) in [-1, 1] of a chunk of (index, decoded frame)."""
    cfg = run.bundle.config
    ucfg, diffusion = cfg.upsampler, cfg.upsampler_diffusion
    alphas_cumprod = make_scheduler("ddim", diffusion).alphas_cumprod
    level = ucfg.inference_noise_level
    student = run.students.get("upsampler")
    net = run.bundle.students["upsampler"] if student else run.bundle.upsampler

    def upsampler(x: Tensor, t: Tensor, cond) -> Tensor:
        return net(x, t, cond, image_only=run.options.image_only)

    denoiser = run.counted(upsampler)

    def process(items: list[tuple[int, Tensor]]) -> Tensor:
        indices = [i for i, _ in items]
        with run.compute("upsample"):
            # 1. resize x4 and noise-augment the low-res conditioning, per frame (same noise for a
            #    frame in two chunks)
            bicubic = resize_low_res(torch.stack([f for _, f in items])[None].clamp(-1, 1), ucfg.scale_factor)
            low = torch.cat([noise_augment(bicubic[:, j:j + 1], level, alphas_cumprod,
                                           clip_generator(run.seed, "sr-aug", i)) for j, i in enumerate(indices)],
                            dim=1)
            cond = upsampler_conditions(low, level)
            if ucfg.num_layout_channels:  # the boxes at the output size: detail drawn where road users are
                boxes = run.unet_conditions(indices, tuple(low.shape[-2:]), ucfg.num_layout_channels)
                cond = cond.replace(layout=boxes.layout, layout_null=boxes.layout_null)
            # 2. sample the high-res frames from per-frame noise
            noise = torch.stack([run.noise(tuple(low.shape[2:]), "sr", i) for i in indices])[None]
            fresh = lambda k: torch.stack([run.noise(tuple(low.shape[2:]), f"sr-lcm{k}", i)  # noqa: E731
                                           for i in indices])[None]
            out = run.bundle.upsampler.from_target(
                run.draw(student, denoiser, noise, cond, diffusion, run.sr_sampler,
                         student.steps if student else run.sr_steps, fresh), bicubic)
        run.stats.upsample_chunks += 1
        return out[0]

    return process


def upsample(run: RunContext, frames: Iterable[tuple[int, Tensor]], chunk: int | None = None,
             overlap: int = UPSAMPLE_OVERLAP) -> Iterator[tuple[int, Tensor]]:
    """Yield (index, frame (3, s*H, s*W) in [-1, 1]) for every decoded (index, frame (3, H, W))."""
    chunk = chunk or run.bundle.config.upsampler_chunk_frames
    overlap = min(overlap, chunk - 1)
    yield from blended_windows(frames, upsampler_chunk_fn(run), chunk, overlap)


def to_uint8(frame: Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] -> (H, W, 3) uint8 RGB."""
    x = ((frame.detach().float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(1, 2, 0).cpu().numpy()


def resize_frame(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize to the camera's size: INTER_AREA when shrinking (no aliasing), INTER_CUBIC when growing.
    A different aspect ratio stretches the frame, which keeps it aligned with the labels (they are
    in camera pixels and the models' layout maps are the same boxes scaled to the model's size)."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    shrink = width * height < w * h
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
