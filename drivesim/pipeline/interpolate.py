"""Frame-rate interpolation: between each two consecutive latents, predict the frames in between.

The interpolator is the prediction model's mask mechanism turned around (Video LDM §3.1.2):
a clip of factor + 1 frames whose first and last frames are given as context (m_S = 1 there)
and whose factor - 1 in-between frames are sampled, conditioned on the boxes at the in-between
timestamps and on the rate flag (0: T -> 4T, 1: 4T -> 16T). One pass turns latents `s` output frames
apart into latents `s / factor` apart; two passes give x16.

Segments are independent given their two ends, so several are sampled as one batch: the small
latent forwards cost ~1.35x less per segment in batches of 4 on a CPU (docs/performance.md); each
segment keeps its own seeded noise, so batching does not change what it samples. With `--student` (and an
interpolator student in the bundle) the student samples the segments in its own LCM steps, no guidance pass.

    python -c "from drivesim.pipeline.interpolate import interpolate; help(interpolate)"
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace

import torch
from torch import Tensor

from drivesim.conditions.tensors import UNetConditions
from drivesim.pipeline.context import RunContext
from drivesim.sampling.guidance import label_guidance

__all__ = ["interpolate", "interpolate_segments", "SEGMENT_BATCH"]

Latent = tuple[int, Tensor]  # (output frame index, latent (C, h, w))
SEGMENT_BATCH = 4  # segments per forward in the offline stream


def interpolate_segments(run: RunContext, segments: list[tuple[Latent, Latent]], rate: int,
                         factor: int = 4) -> list[list[Latent]]:
    """The factor - 1 in-between latents of each (start, end) pair, every pair in one batched sampling."""
    if not segments:
        return []
    cfg = run.bundle.config
    channels, (h, w) = cfg.autoencoder.latent_channels, cfg.latent_size
    frames = factor + 1
    conds, noises, all_indices = [], [], []
    for (i0, z0), (i1, z1) in segments:
        if (i1 - i0) % factor:
            raise ValueError(f"keyframes {i0} and {i1} are not a multiple of {factor} frames apart")
        # 1. the clip: both ends given, the factor - 1 frames between them to predict
        indices = [i0 + j * (i1 - i0) // factor for j in range(frames)]
        context = torch.zeros(1, frames, channels, h, w, device=run.device)
        context[0, 0], context[0, -1] = z0, z1
        mask = torch.zeros(1, frames, device=run.device)
        mask[0, 0] = mask[0, -1] = 1.0
        conds.append(replace(run.unet_conditions(indices, cfg.layout_size, cfg.interpolator.num_layout_channels), context=context, context_mask=mask,
                             rate=torch.tensor([rate], device=run.device)))
        # noise seeded by the segment's first frame: the same whatever else shares the batch
        noises.append(run.noise((1, frames, channels, h, w), f"interpolate-{rate}", i0))
        all_indices.append(indices)

    # 2. sample the in-between frames of every segment at once
    student = run.students.get("interpolator")
    net = run.bundle.students["interpolator"] if student else run.bundle.interpolator

    def interpolator(x: Tensor, t: Tensor, cond) -> Tensor:
        return net(x, t, cond)

    denoiser = run.counted(interpolator)
    if not student:
        denoiser = label_guidance(denoiser, run.guidance, batched=run.options.batched_guidance)

    def fresh(i: int) -> Tensor:  # a student's step noise, per segment as its starting noise
        return torch.cat([run.noise((1, frames, channels, h, w), f"interpolate-{rate}-lcm{i}", start[0])
                          for start, _ in segments])

    with run.compute("interpolate"):
        z = run.draw(student, denoiser, torch.cat(noises), UNetConditions.cat(conds), cfg.diffusion, run.sampler,
                     student.steps if student else run.interpolation_steps, fresh)
    run.stats.interpolation_clips += len(segments)
    return [[(indices[j], z[k, j].clone()) for j in range(1, factor)] for k, indices in enumerate(all_indices)]


def interpolate(run: RunContext, latents: Iterable[Latent], rate: int, factor: int = 4,
                batch: int | None = None) -> Iterator[Latent]:
    """Yield the input latents with factor - 1 interpolated latents between each consecutive pair,
    `batch` (default SEGMENT_BATCH) consecutive pairs sampled together (fewer at the stream's end)."""
    batch = batch or SEGMENT_BATCH
    stream = iter(latents)
    previous = next(stream, None)
    if previous is None:
        return
    while True:
        pairs: list[tuple[Latent, Latent]] = []
        for current in stream:
            pairs.append((previous, current))
            previous = current
            if len(pairs) == batch:
                break
        if not pairs:
            break
        for (start, _), between in zip(pairs, interpolate_segments(run, pairs, rate, factor)):
            yield start
            yield from between
    yield previous
