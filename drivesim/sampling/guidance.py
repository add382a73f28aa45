"""Guidance as wrappers around a denoiser: `guidance(model) -> model`, so they stack.

    model = label_guidance(context_guidance(unet_denoiser, 1.5), 2.0)   # both, one batched forward

Both wrappers compute `f(z; u) + s * (f(z; c) - f(z; u))`; they differ in what the "unconditional"
input u drops:
- label_guidance: classifier-free guidance (Ho & Salimans 2022, arXiv:2207.12598) on the labels
  and boxes (time of day, crowdedness, ego speed, layout maps); context, rate and low-res inputs stay.
- context_guidance: Video LDM's context guidance (Blattmann et al. 2023, §3.1.1),
  `f(z) + s * (f(z; c_S) - f(z))`: u is the same input with the context mask m_S set to 0 (S = 0).
(`null_conditions` and `without_context` of drivesim.conditions.encode build the two u's.)
The conditional and unconditional inputs go through ONE forward pass, concatenated along the batch.
"""

from __future__ import annotations

import torch
from torch import Tensor

from drivesim.conditions.encode import null_conditions, without_context
from drivesim.conditions.tensors import UNetConditions
from drivesim.sampling.samplers import Denoiser

__all__ = ["label_guidance", "context_guidance", "guided_output"]


def guided_output(model: Denoiser, x: Tensor, t: Tensor, uncond: UNetConditions, cond: UNetConditions,
                  scale: float, batched: bool = True) -> Tensor:
    """f(x; uncond) + scale * (f(x; cond) - f(x; uncond)); batched = one forward of batch 2B."""
    if batched:
        both = model(torch.cat([x, x]), torch.cat([t, t]), UNetConditions.cat([uncond, cond]))
        out_u, out_c = both.chunk(2)
    else:
        out_u, out_c = model(x, t, uncond), model(x, t, cond)
    return out_u + scale * (out_c - out_u)


def label_guidance(model: Denoiser, scale: float, batched: bool = True) -> Denoiser:
    """Classifier-free guidance on labels and boxes; scale 1 returns `model` unchanged."""
    if scale == 1.0:
        return model

    def guided(x: Tensor, t: Tensor, cond: UNetConditions) -> Tensor:
        return guided_output(model, x, t, null_conditions(cond), cond, scale, batched)

    return guided


def context_guidance(model: Denoiser, scale: float, batched: bool = True) -> Denoiser:
    """Context guidance f(z) + s (f(z; c_S) - f(z)); a pass-through where no frame has context."""
    if scale == 1.0:
        return model

    def guided(x: Tensor, t: Tensor, cond: UNetConditions) -> Tensor:
        if cond.context_mask is None or not bool(cond.context_mask.any()):
            return model(x, t, cond)  # S = 0: both terms are the same pass
        return guided_output(model, x, t, without_context(cond), cond, scale, batched)

    return guided
