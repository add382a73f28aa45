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

from collections.abc import Callable

import torch
from torch import Tensor

from drivesim.conditions.encode import null_conditions, without_context
from drivesim.conditions.tensors import UNetConditions
from drivesim.sampling.samplers import Denoiser

__all__ = ["label_guidance", "context_guidance", "guided_output"]


def guided_output(model: Denoiser, x: Tensor, t: Tensor, uncond: UNetConditions, cond: UNetConditions,
                  scale: float, batched: bool = True, both: UNetConditions | None = None) -> Tensor:
    """f(x; uncond) + scale * (f(x; cond) - f(x; uncond)); batched = one forward of batch 2B
    (`both`: UNetConditions.cat([uncond, cond]) where the caller holds it)."""
    if batched:
        both = both if both is not None else UNetConditions.cat([uncond, cond])
        out_u, out_c = model(torch.cat([x, x]), torch.cat([t, t]), both).chunk(2)
    else:
        out_u, out_c = model(x, t, uncond), model(x, t, cond)
    return out_u + scale * (out_c - out_u)


def _paired(make_uncond: Callable[[UNetConditions], UNetConditions]
            ) -> Callable[[UNetConditions], tuple[UNetConditions, UNetConditions]]:
    """`pair(cond)` -> (uncond, cat([uncond, cond])), built once per cond object: a sampler passes the same
    cond at every step, so the model below sees the same objects too (and reuses its per-clip inputs)."""
    held: list = [None, None, None]

    def pair(cond: UNetConditions) -> tuple[UNetConditions, UNetConditions]:
        if held[0] is not cond:
            uncond = make_uncond(cond)
            held[:] = [cond, uncond, UNetConditions.cat([uncond, cond])]
        return held[1], held[2]

    return pair


def label_guidance(model: Denoiser, scale: float, batched: bool = True) -> Denoiser:
    """Classifier-free guidance on labels and boxes; scale 1 returns `model` unchanged."""
    if scale == 1.0:
        return model
    pair = _paired(null_conditions)

    def guided(x: Tensor, t: Tensor, cond: UNetConditions) -> Tensor:
        uncond, both = pair(cond)
        return guided_output(model, x, t, uncond, cond, scale, batched, both)

    return guided


def context_guidance(model: Denoiser, scale: float, batched: bool = True) -> Denoiser:
    """Context guidance f(z) + s (f(z; c_S) - f(z)); a pass-through where no frame has context."""
    if scale == 1.0:
        return model
    pair = _paired(without_context)

    def guided(x: Tensor, t: Tensor, cond: UNetConditions) -> Tensor:
        if cond.context_mask is None or not bool(cond.context_mask.any()):
            return model(x, t, cond)  # S = 0: both terms are the same pass
        uncond, both = pair(cond)
        return guided_output(model, x, t, uncond, cond, scale, batched, both)

    return guided
