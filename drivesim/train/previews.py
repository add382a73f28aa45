"""Preview images written every K training steps: is the stage learning what it should?

Autoencoder / decoder: input frames over their reconstructions. Diffusion stages: a short DDIM
sample (few steps, cheap on a CPU) from the preview batch's conditions over the real frames
(video: frame 0 given as context; interpolation: both ends given; upsampler: bicubic low-res,
sample, real patch). A student being distilled (`drivesim train distill`) previews as its teacher's stage,
sampled in its own few steps with the LCM sampler. One PNG per preview in
BUNDLE/.train/RUN/previews/step-NNNNNNNN.png.

    python -c "from drivesim.train.previews import PREVIEWS; print(sorted(PREVIEWS))"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from drivesim.sampling.samplers import sample_ddim, sample_lcm
from drivesim.train.distill import Distillation
from drivesim.train.stages import Trainee, encode_frames, interpolation_mask, upsampler_inputs

__all__ = ["PREVIEWS", "grid"]

MAX_COLUMNS = 8  # images per row of a preview


def grid(rows: list[Tensor], gap: int = 2) -> np.ndarray:
    """Rows of images (N, 3, H, W) in [-1, 1] (every row resized to the first row's H, W) -> RGB uint8."""
    h, w = rows[0].shape[-2:]
    lines = []
    for row in rows:
        row = row[:MAX_COLUMNS].detach().float().cpu().clamp(-1, 1)
        if row.shape[-2:] != (h, w):
            row = F.interpolate(row, size=(h, w), mode="nearest")
        padded = F.pad(row, (0, gap, 0, gap), value=1.0)  # white separators
        lines.append(torch.cat(list(padded), dim=-1))
    width = max(line.shape[-1] for line in lines)
    image = torch.cat([F.pad(line, (0, width - line.shape[-1]), value=1.0) for line in lines], dim=-2)
    return ((image + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()


def _sample(t: Trainee, shape: tuple[int, ...], cond, generator: torch.Generator, steps: int,
            image_only: bool = False, given: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
    """DDIM sample with the plain module (a student: its own LCM steps); frames where mask = 1 are the given context."""
    noise = torch.randn(shape, generator=generator).to(t.device)
    model = lambda x, s, c: t.module(x, s, c, image_only=image_only)  # noqa: E731
    cfg = t.config
    if isinstance(cfg, Distillation):
        out = sample_lcm(model, noise, cond, t.diffusion, cfg.student_steps, solver_steps=cfg.solver_steps,
                         timestep_scaling=cfg.timestep_scaling, generator=generator)
    else:
        out = sample_ddim(model, noise, cond, t.diffusion, steps)
    if given is not None:
        keep = mask[:, :, None, None, None].bool()
        out = torch.where(keep, given, out)
    return out


def _decode(t: Trainee, z: Tensor) -> Tensor:
    """Latents (..., C, h, w) -> frames with the image decoder (what the preview compares)."""
    frames = t.frozen["autoencoder"].decode(z.reshape(-1, *z.shape[-3:]))
    return frames.reshape(*z.shape[:-3], *frames.shape[1:])


# --- one function per stage ----------------------------------------------------------------------

def autoencoder_preview(t: Trainee, batch: dict[str, Any], generator: torch.Generator) -> np.ndarray:
    x = batch["frames"][:MAX_COLUMNS].to(t.device)
    recon, _ = t.module(x, sample=False)
    return grid([x, recon])


def decoder_preview(t: Trainee, batch: dict[str, Any], generator: torch.Generator) -> np.ndarray:
    x = batch["frames"][:1].to(t.device)  # one clip: real / image decoder / temporal decoder
    z = encode_frames(t.frozen["autoencoder"], x)
    return grid([x[0], t.module(z, image_only=True)[0], t.module(z)[0]])


def image_preview(t: Trainee, batch: dict[str, Any], generator: torch.Generator) -> np.ndarray:
    n = min(4, batch["frames"].shape[0])
    x = batch["frames"][:n].to(t.device)
    z = encode_frames(t.frozen["autoencoder"], x)[:, None]
    cond = batch["cond"].select(slice(0, n)).to(t.device)
    out = _sample(t, tuple(z.shape), cond, generator, t.config.preview_steps, image_only=True)
    return grid([x, _decode(t, out[:, 0])])


def video_preview(t: Trainee, batch: dict[str, Any], generator: torch.Generator) -> np.ndarray:
    x = batch["frames"][:1].to(t.device)
    z = encode_frames(t.frozen["autoencoder"], x)
    mask = torch.zeros(z.shape[:2], device=t.device)
    mask[:, 0] = 1.0  # S = 1: the first real frame is given
    cond = batch["cond"].select(0).to(t.device).replace(context=z * mask[:, :, None, None, None], context_mask=mask)
    out = _sample(t, tuple(z.shape), cond, generator, t.config.preview_steps, given=z, mask=mask)
    return grid([x[0], _decode(t, out[0])])


def interpolation_preview(t: Trainee, batch: dict[str, Any], generator: torch.Generator) -> np.ndarray:
    x = batch["frames"][:1].to(t.device)
    z = encode_frames(t.frozen["autoencoder"], x)
    mask = interpolation_mask(*z.shape[:2]).to(z)
    cond = batch["cond"].select(0).to(t.device).replace(
        context=z * mask[:, :, None, None, None], context_mask=mask, rate=batch["rate"][:1].to(t.device).long())
    out = _sample(t, tuple(z.shape), cond, generator, t.config.preview_steps, given=z, mask=mask)
    return grid([x[0], _decode(t, out[0])])


def upsampler_preview(t: Trainee, batch: dict[str, Any], generator: torch.Generator) -> np.ndarray:
    spatial = t.config.phase == "spatial"
    n = min(4, batch["high"].shape[0]) if spatial else 1
    high, low = batch["high"][:n].to(t.device), batch["low"][:n].to(t.device)
    layout = batch["layout"][:n] if "layout" in batch else None
    cond, bicubic = upsampler_inputs(t, low, generator, level=t.bundle.config.upsampler.inference_noise_level,
                                     layout=layout)
    out = t.module.from_target(_sample(t, tuple(high.shape), cond, generator, t.config.preview_steps,
                                       image_only=spatial), bicubic)
    return grid([bicubic.flatten(0, 1), out.flatten(0, 1), high.flatten(0, 1)])


PREVIEWS: dict[str, Callable[[Trainee, dict[str, Any], torch.Generator], np.ndarray]] = {
    "autoencoder": autoencoder_preview, "image": image_preview, "decoder": decoder_preview,
    "video": video_preview, "interpolation": interpolation_preview, "upsampler": upsampler_preview,
    "distill-keyframe": video_preview, "distill-interpolator": interpolation_preview,
    "distill-upsampler": upsampler_preview,
}
