"""What the network is trained to predict (eps, v or x0) and the training loss.

x_t = alpha_t x0 + sigma_t eps;  v = alpha_t eps - sigma_t x0;  so
x0 = (x_t - sigma_t eps) / alpha_t = alpha_t x_t - sigma_t v.
Timesteps `t` are (B,) for one step per clip or (B, T) for one step per frame of (B, T, ...) video.

    python -c "import torch; from drivesim.diffusion import *; s = make_training_scheduler(DiffusionConfig()); x = torch.randn(2, 8, 4, 16, 32); n = torch.randn_like(x); t = sample_timesteps(2, 1000); print(training_target(x, n, t, s, 'v_prediction').shape)"
"""

from __future__ import annotations

import torch
from torch import Tensor

from drivesim.diffusion.schedule import PREDICTION_TYPES, alpha_sigma
from drivesim.errors import DrivesimError

__all__ = ["sample_timesteps", "add_noise", "training_target", "diffusion_loss", "predicted_original"]


def _check(prediction_type: str) -> None:
    if prediction_type not in PREDICTION_TYPES:
        raise DrivesimError(f"prediction_type must be one of {PREDICTION_TYPES}, got {prediction_type!r}")


def _per_step(fn, x0: Tensor, noise: Tensor, t: Tensor) -> Tensor:
    """Run a diffusers (sample, noise, timesteps) helper with per-frame timesteps (B, T) too."""
    if t.ndim == 1:
        return fn(x0, noise, t)
    flat = fn(x0.flatten(0, t.ndim - 1), noise.flatten(0, t.ndim - 1), t.flatten())
    return flat.reshape(x0.shape)


def sample_timesteps(shape: int | tuple[int, ...], num_train_timesteps: int,
                     generator: torch.Generator | None = None, device=None) -> Tensor:
    """Uniform training steps in [0, num_train_timesteps), as a LongTensor of `shape`."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    t = torch.randint(0, num_train_timesteps, shape, generator=generator)
    return t.to(device) if device is not None else t


def add_noise(x0: Tensor, noise: Tensor, t: Tensor, scheduler) -> Tensor:
    """x_t = alpha_t x0 + sigma_t noise (the scheduler's `add_noise`, per clip or per frame)."""
    return _per_step(scheduler.add_noise, x0, noise, t.to(x0.device))


def training_target(x0: Tensor, noise: Tensor, t: Tensor, scheduler, prediction_type: str) -> Tensor:
    """What the network should output at x_t: eps, or v = alpha_t eps - sigma_t x0 (`get_velocity`)."""
    _check(prediction_type)
    if prediction_type == "epsilon":
        return noise
    if prediction_type == "sample":
        return x0
    return _per_step(scheduler.get_velocity, x0, noise, t.to(x0.device))


def predicted_original(model_out: Tensor, x_t: Tensor, t: Tensor, scheduler,
                       prediction_type: str) -> tuple[Tensor, Tensor]:
    """(x0, eps) that a network output (eps, v or x0) at x_t means, per clip (t (B,)) or per frame (t (B, T))."""
    _check(prediction_type)
    alpha, sigma = alpha_sigma(scheduler, t, x_t)
    out = model_out.to(x_t.dtype)
    if prediction_type == "epsilon":
        return (x_t - sigma * out) / alpha, out
    if prediction_type == "v_prediction":
        return alpha * x_t - sigma * out, sigma * x_t + alpha * out
    return out, (x_t - alpha * out) / sigma


def item_means(err: Tensor, lead: int, pixel_weights: Tensor | None = None) -> Tensor:
    """Mean of `err` over every dim after the first `lead` (the items: clips or frames), weighted by
    `pixel_weights` (broadcastable to `err`) normalised per item, so they move the loss between pixels
    without changing its scale."""
    if pixel_weights is None:
        return err.flatten(lead).mean(-1)
    pw = pixel_weights.float().expand_as(err)
    return (err * pw).flatten(lead).mean(-1) / pw.flatten(lead).mean(-1).clamp(min=1e-8)


def diffusion_loss(model_out: Tensor, target: Tensor, weights: Tensor | None = None,
                   mask: Tensor | None = None, pixel_weights: Tensor | None = None) -> Tensor:
    """Mean squared error, optionally weighted per clip (B,) or per frame (B, T), and masked.

    `mask` (B,) or (B, T): 1 where an item counts, 0 where it is excluded (e.g. given context
    frames); the loss is the mean over counted items. `pixel_weights` (broadcastable to the
    output, e.g. (B, T, 1, h, w)) weights the error within each item and is normalised per item,
    so it moves the loss between pixels without changing its overall scale.
    """
    err = (model_out.float() - target.float()) ** 2
    lead = max([1] + [a.ndim for a in (weights, mask) if a is not None])
    per_item = item_means(err, lead, pixel_weights)  # (B,) or (B, T)

    def spread(a: Tensor) -> Tensor:  # (B,) -> (B, 1) against per-frame items
        return a.to(per_item).reshape(*a.shape, *([1] * (lead - a.ndim)))

    w = torch.ones_like(per_item) if weights is None else spread(weights).expand_as(per_item)
    if mask is None:
        return (w * per_item).mean()
    m = spread(mask).expand_as(per_item)
    return (w * m * per_item).sum() / m.sum().clamp(min=1.0)
