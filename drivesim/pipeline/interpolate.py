"""Frame-rate interpolation: between each two consecutive latents, predict the frames in between.

The interpolator is the prediction model's mask mechanism turned around (Video LDM §3.1.2):
a clip of factor + 1 frames whose first and last frames are given as context (m_S = 1 there)
and whose factor - 1 in-between frames are sampled, conditioned on the boxes at the in-between
timestamps and on the rate flag (0: T -> 4T, 1: 4T -> 16T). One pass turns latents `s` output frames
apart into latents `s / factor` apart; two passes give x16.

    python -c "from drivesim.pipeline.interpolate import interpolate; help(interpolate)"
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

import torch
from torch import Tensor

from drivesim.pipeline.context import RunContext
from drivesim.sampling.guidance import label_guidance
from drivesim.sampling.samplers import sample

__all__ = ["interpolate"]

Latents = Iterable[tuple[int, Tensor]]  # (output frame index, latent (C, h, w)), in order


def interpolate(run: RunContext, latents: Latents, rate: int, factor: int = 4) -> Iterator[tuple[int, Tensor]]:
    """Yield the input latents with factor - 1 interpolated latents between each consecutive pair."""
    cfg = run.bundle.config
    channels, (h, w) = cfg.autoencoder.latent_channels, cfg.latent_size
    frames = factor + 1

    def interpolator(x: Tensor, t: Tensor, cond) -> Tensor:
        return run.bundle.interpolator(x, t, cond)

    denoiser = label_guidance(run.counted(interpolator), run.guidance,
                              batched=run.options.batched_guidance)
    stream = iter(latents)
    previous = next(stream, None)
    if previous is None:
        return
    for current in stream:
        (i0, z0), (i1, z1) = previous, current
        if (i1 - i0) % factor:
            raise ValueError(f"keyframes {i0} and {i1} are not a multiple of {factor} frames apart")
        # 1. the clip: both ends given, the factor - 1 frames between them to predict
        indices = [i0 + j * (i1 - i0) // factor for j in range(frames)]
        context = torch.zeros(1, frames, channels, h, w, device=run.device)
        context[0, 0], context[0, -1] = z0, z1
        mask = torch.zeros(1, frames, device=run.device)
        mask[0, 0] = mask[0, -1] = 1.0
        cond = replace(run.unet_conditions(indices, cfg.layout_size), context=context, context_mask=mask,
                       rate=torch.tensor([rate], device=run.device))
        # 2. sample the in-between frames (noise seeded by the segment's first frame)
        noise = run.noise((1, frames, channels, h, w), f"interpolate-{rate}", i0)
        with run.compute("interpolate"):
            z = sample(run.sampler, denoiser, noise, cond, cfg.diffusion, run.steps)
        run.stats.interpolation_clips += 1
        # 3. the first end and the new frames; the last end starts the next segment
        yield i0, z0
        for j in range(1, factor):
            yield indices[j], z[0, j].clone()
        previous = current
    yield previous
