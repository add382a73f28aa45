"""Keyframes: autoregressive rollout of the prediction model with bounded context (flat memory).

Clip 0 is sampled from scratch (S = 0 context frames); every later clip is given the last
S = 2 generated keyframes as context (the paper starts from one image-model frame, hence S = 1
then 2; our first clip is a whole clip, so two frames exist at once) and generates the clip's
other T - S frames. Only those <= 2 latents survive a clip, so memory does not
grow with the video's length. Keyframe k is output frame k * stride; every clip is conditioned on
the scenario's labels and boxes at its keyframes' timestamps (layout maps at latent size). With
`--student` (and a keyframe student in the bundle) the student samples each clip in its own LCM
steps, without guidance passes.
`choose_keyframe_stride` picks the stride for a frame rate; the offline pipeline (generate.py) and
closed-loop sessions (session.py) both take it from here.

    python -c "from drivesim.pipeline.rollout import KeyframeRollout; help(KeyframeRollout)"
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace

import torch
from torch import Tensor

from drivesim.models.configs import BundleConfig
from drivesim.pipeline.context import RunContext
from drivesim.sampling.guidance import context_guidance, label_guidance

__all__ = ["KeyframeRollout", "choose_keyframe_stride", "interpolation_passes"]


def choose_keyframe_stride(config: BundleConfig, fps: float, image_only: bool = False) -> int:
    """Output frames per keyframe: factor ** p with p in {0, 1, 2} (0, 1 or 2 interpolation passes),
    whose keyframe rate fps / stride is closest, as a ratio, to the rate the bundle's keyframe
    model was trained at. Tiny bundle at 10 fps: 4 (2.5 fps keyframes); paper bundle at 30 fps: 16."""
    factor = config.interpolation_factor
    if image_only or factor <= 1:
        return 1
    candidates = [factor ** p for p in range(3)]
    return min(candidates, key=lambda s: (round(abs(math.log(fps / s / config.keyframe_fps)), 9),
                                          s != config.keyframe_stride))


def interpolation_passes(stride: int, factor: int) -> int:
    """How many interpolation passes (x `factor` each) fill in `stride` - 1 frames between keyframes."""
    return round(math.log(stride, factor)) if stride > 1 else 0


class KeyframeRollout:
    """Keyframe latents (C, h, w), clip by clip; `context` holds at most `max_context` latents."""

    def __init__(self, run: RunContext, stride: int):
        cfg = run.bundle.config
        opts = run.options
        self.run = run
        self.stride = stride
        self.clip_frames = cfg.clip_frames
        use_context = cfg.unet.use_context and not opts.image_only  # the image model has no context path
        self.max_context = min(cfg.context_frames, 2, cfg.clip_frames - 1) if use_context else 0
        self.context: list[Tensor] = []  # the last <= max_context generated keyframe latents
        self.student = run.students.get("keyframe")  # --student: guidance folded in, no guidance pass
        net = run.bundle.students["keyframe"] if self.student else run.bundle.unet
        self.steps = self.student.steps if self.student else run.steps  # a clip's steps

        def unet(x: Tensor, t: Tensor, cond) -> Tensor:
            return net(x, t, cond, image_only=opts.image_only)

        model = run.counted(unet)
        if self.max_context and not self.student:
            model = context_guidance(model, opts.context_guidance, batched=opts.batched_guidance)
        self.denoiser = model if self.student else label_guidance(model, run.guidance, batched=opts.batched_guidance)

    def sample_clip(self, first: int, new: int | None = None, steps: int | None = None) -> tuple[list[int], Tensor]:
        """One clip: the held context keyframes as its first S frames, then keyframes first, first + 1, ...
        Returns the clip's output frame indices and its latents (T, C, h, w), context frames put back
        exactly. The noise is seeded by `first`, so the same context and first keyframe give the same
        noise (a closed-loop session resamples a provisional keyframe that way). `new`: sample only
        that many new keyframes, a shorter clip (default: fill the clip); `steps`: default `self.steps`."""
        run, cfg = self.run, self.run.bundle.config
        frames = self.clip_frames if new is None else min(len(self.context) + new, self.clip_frames)
        channels, (h, w) = cfg.autoencoder.latent_channels, cfg.latent_size
        # 1. the clip: S context keyframes (the last ones generated), then T - S new ones
        given = len(self.context)
        indices = [k * self.stride for k in range(first - given, first - given + frames)]
        cond = run.unet_conditions(indices, cfg.layout_size)
        context = torch.zeros(1, frames, channels, h, w, device=run.device)
        if self.max_context:
            mask = torch.zeros(1, frames, device=run.device)
            if given:
                context[0, :given] = torch.stack(self.context)
                mask[0, :given] = 1.0
            cond = replace(cond, context=context, context_mask=mask)
        # 2. sample it from its own seeded noise
        noise = run.noise((1, frames, channels, h, w), "keyframes", first)
        with run.compute("keyframes"):
            z = run.draw(self.student, self.denoiser, noise, cond, cfg.diffusion, run.sampler, steps or self.steps,
                         lambda i: run.noise(noise.shape, f"keyframes-lcm{i}", first))
            z[:, :given] = context[:, :given]  # context frames are given, not regenerated
        run.stats.keyframe_clips += 1
        return indices, z[0]

    def remember(self, latents: list[Tensor], keep: int) -> None:
        """Hold the last `keep` (<= max_context) of `latents`, the newest keyframes, as the next clip's context."""
        keep = min(keep, self.max_context, len(latents))
        self.context = [z.clone() for z in latents[len(latents) - keep:]] if keep else []
        self.run.stats.cached_latents = len(self.context)
        self.run.stats.max_cached_latents = max(self.run.stats.max_cached_latents, len(self.context))

    def keyframes(self, count: int) -> Iterator[tuple[int, Tensor]]:
        """Yield (output frame index, latent) for keyframes 0 .. count-1, each clip as soon as it is sampled."""
        done = 0
        while done < count:
            given = len(self.context)
            indices, z = self.sample_clip(done)
            # keep only what the next clip needs: the last max_context keyframes (S = 2 from the second
            # clip on -- the first clip already made T keyframes, so there is no reason to drop one)
            self.remember(list(z), self.max_context)
            # hand the new keyframes downstream (the last clip may overshoot: drop the extra)
            new = min(self.clip_frames - given, count - done)
            for j in range(given, given + new):
                yield indices[j], z[j].clone()
            done += new
